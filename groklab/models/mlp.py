"""Multi-layer perceptrons for grokking: the embedding MLP of the PAIR explorable, the
quadratic-activation MLP of Gromov 2023 / Doshi et al. 2023, and Omnigrok's deep MLP.

Inputs are either operand tokens, embedded by a shared W_E [vocab, d_embed] and concatenated
("embed", a factored embedding) or summed ("embed-sum": blind to operand order, so a model trained
on the pairs a ≤ b of a commutative task sees every pair; PAIR's symmetric setting), or one-hot
encoded and concatenated ("onehot", Gromov),
or real-valued features ("features", digits). Hidden layers: W_in/b_in, then
blocks.{i}.W/b for deeper nets, then W_out/b_out to the classes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from groklab.models.transformer import _act

Params = dict[str, jax.Array]


def input_width(cfg, T: int, vocab: int | None, n_features: int | None) -> int:
    if cfg.input == "embed":
        return T * cfg.d_embed
    if cfg.input == "embed-sum":
        return cfg.d_embed
    if cfg.input == "onehot":
        return T * vocab
    return n_features


def init(key: jax.Array, cfg, T: int, vocab: int | None, n_features: int | None, n_classes: int) -> Params:
    """N(0, 1/fan_in) (or N(0, init_std²)) for every weight; zero biases (init scale: see trainer)."""
    d_in = input_width(cfg, T, vocab, n_features)
    widths = [d_in] + [cfg.d_mlp] * cfg.n_layers + [n_classes]
    ks = iter(jax.random.split(key, 2 + len(widths)))
    def nrm(shape, fan_in):
        std = cfg.init_std if cfg.init_std is not None else 1 / math.sqrt(fan_in)
        return std * jax.random.normal(next(ks), shape, jnp.float32)

    p: Params = {}
    if cfg.input in ("embed", "embed-sum"):
        p["W_E"] = nrm((vocab, cfg.d_embed), cfg.d_embed)
    names = ["W_in"] + [f"blocks.{i}.W" for i in range(1, cfg.n_layers)] + ["W_out"]
    for i, nm in enumerate(names):
        p[nm] = nrm((widths[i], widths[i + 1]), widths[i])
        if cfg.bias:
            p[nm.replace("W", "b")] = jnp.zeros((widths[i + 1],), jnp.float32)
    return p


def _inputs(p: Params, x: jax.Array, cfg, vocab: int | None) -> jax.Array:
    if cfg.input == "embed":
        e = p["W_E"][x]                                           # (batch, pos, d_embed)
        return e.reshape(x.shape[0], -1)
    if cfg.input == "embed-sum":
        return p["W_E"][x].sum(1)                                 # (batch, d_embed): order-blind
    if cfg.input == "onehot":
        return jax.nn.one_hot(x, vocab, dtype=jnp.float32).reshape(x.shape[0], -1)
    return x.astype(jnp.float32)


def _first_layer(p: Params, x: jax.Array, cfg, vocab: int | None) -> jax.Array:
    """The first layer's pre-activations without its bias: ``_inputs(x) @ W_in``.

    One-hot inputs select rows of W_in, so the product is computed as the sum of the T selected rows
    (a gather, T·d_mlp adds per example) instead of a [batch, T·vocab] @ [T·vocab, d_mlp] matmul:
    the same numbers, up to the order of a float sum, at a fraction of the FLOPs (Gromov's and Doshi's
    quadratic MLP spend two thirds of a step in that matmul otherwise)."""
    if cfg.input == "embed-sum":     # (Σ_t W_E[x_t]) W_in = Σ_t (W_E W_in)[x_t]: project the vocabulary once
        table = p["W_E"] @ p["W_in"]
        h = table[x[:, 0]]
        for t in range(1, x.shape[1]):
            h = h + table[x[:, t]]
        return h
    if cfg.input != "onehot":
        return _inputs(p, x, cfg, vocab) @ p["W_in"]
    W = p["W_in"]
    h = W[x[:, 0]]
    for t in range(1, x.shape[1]):
        h = h + W[t * vocab + x[:, t]]
    return h


def hidden(p: Params, x: jax.Array, cfg, vocab: int | None) -> jax.Array:
    """Post-activation neurons of the last hidden layer: [batch, d_mlp]."""
    h = _first_layer(p, x, cfg, vocab)
    for i in range(cfg.n_layers):
        nm = "W_in" if i == 0 else f"blocks.{i}.W"
        if i > 0:
            h = h @ p[nm]
        if cfg.bias:
            h = h + p[nm.replace("W", "b")]
        h = _act(cfg.act, h)
    return h


def forward(p: Params, x: jax.Array, cfg, vocab: int | None) -> jax.Array:
    """Logits [batch, n_classes]."""
    out = hidden(p, x, cfg, vocab) @ p["W_out"]
    return out + p["b_out"] if cfg.bias else out


def flops_per_example(cfg, d_in: int, n_classes: int, T: int | None = None) -> float:
    """Forward FLOPs per example as computed: a one-hot first layer is T row gathers summed
    (T·d_mlp adds, see ``_first_layer``), every other layer a matmul (2·fan_in·fan_out)."""
    widths = [d_in] + [cfg.d_mlp] * cfg.n_layers + [n_classes]
    flops = [2 * a * b for a, b in zip(widths[:-1], widths[1:])]
    if cfg.input in ("onehot", "embed-sum") and T is not None:
        flops[0] = T * cfg.d_mlp                 # gathered rows summed (embed-sum's table is per step)
    return float(sum(flops))
