"""Multi-layer perceptrons for grokking: the embedding MLP of the PAIR explorable, the
quadratic-activation MLP of Gromov 2023 / Doshi et al. 2023, and Omnigrok's deep MLP.

Inputs are either operand tokens, embedded by a shared W_E [vocab, d_embed] and concatenated
("embed", a factored embedding) or summed ("embed-sum": blind to operand order, so a model trained
on the pairs a ≤ b of a commutative task sees every pair; PAIR's symmetric setting), or one-hot
encoded and concatenated ("onehot", Gromov),
or real-valued features ("features", digits). Hidden layers: W_in/b_in, then
blocks.{i}.W/b for deeper nets, then W_out/b_out to the classes, or, ``tied`` (PAIR's notebook model:
logits = (W_out·h)·W_Eᵀ), back to the embedding width and through W_E's transpose. PAIR's hidden
projection shared by both operands, ReLU(W·e_a + W·e_b), is the "embed-sum" input.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from groklab.interp.parity import parity_bit_weights
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
    """N(0, 1/fan_in) (or N(0, init_std²)) for every weight, zero biases; or, with ``init = "uniform"``,
    PyTorch's defaults: U(±1/√fan_in) for weights and biases, N(0, 1) for W_E (init scale: see trainer).
    ``tied``: W_out maps to the embedding width, and W_E's transpose maps on to the classes (PAIR)."""
    d_in = input_width(cfg, T, vocab, n_features)
    widths = [d_in] + [cfg.d_mlp] * cfg.n_layers + [cfg.d_embed if cfg.tied else n_classes]
    uniform = cfg.init == "uniform"
    ks = iter(jax.random.split(key, 2 + len(widths) * (2 if uniform else 1)))

    def draw(shape, fan_in):
        if uniform:
            bound = 1 / math.sqrt(fan_in)
            return jax.random.uniform(next(ks), shape, jnp.float32, -bound, bound)
        std = cfg.init_std if cfg.init_std is not None else 1 / math.sqrt(fan_in)
        return std * jax.random.normal(next(ks), shape, jnp.float32)

    p: Params = {}
    if cfg.input in ("embed", "embed-sum"):
        p["W_E"] = jax.random.normal(next(ks), (vocab, cfg.d_embed), jnp.float32) if uniform else \
            draw((vocab, cfg.d_embed), cfg.d_embed)
    names = ["W_in"] + [f"blocks.{i}.W" for i in range(1, cfg.n_layers)] + ["W_out"]
    for i, nm in enumerate(names):
        p[nm] = draw((widths[i], widths[i + 1]), widths[i])
        if cfg.bias:
            p[nm.replace("W", "b")] = draw((widths[i + 1],), widths[i]) if uniform else \
                jnp.zeros((widths[i + 1],), jnp.float32)
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
    quadratic MLP spend two thirds of a step in that matmul otherwise). Embedded inputs do the same with
    per-operand tables W_E·W_in (vocab × d_mlp each) when ``embed_table`` asks for it: other rounding
    than the [batch, T·d_embed] @ W_in matmul, so old runs' numbers need it off."""
    if cfg.input == "embed-sum":     # (Σ_t W_E[x_t]) W_in = Σ_t (W_E W_in)[x_t]: project the vocabulary once
        table = p["W_E"] @ p["W_in"]
        h = table[x[:, 0]]
        for t in range(1, x.shape[1]):
            h = h + table[x[:, t]]
        return h
    if cfg.input == "embed" and cfg.embed_table:   # [W_E[x_0], W_E[x_1], ...] W_in = Σ_t (W_E W_in[block t])[x_t]
        W, d = p["W_in"], cfg.d_embed
        h = (p["W_E"] @ W[:d])[x[:, 0]]
        for t in range(1, x.shape[1]):
            h = h + (p["W_E"] @ W[t * d:(t + 1) * d])[x[:, t]]
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


def forward(p: Params, x: jax.Array, cfg, vocab: int | None, n_classes: int | None = None) -> jax.Array:
    """Logits [batch, n_classes] (``tied``: through W_E[:n_classes]ᵀ after W_out)."""
    out = hidden(p, x, cfg, vocab) @ p["W_out"]
    out = out + p["b_out"] if cfg.bias else out
    return out @ p["W_E"][:n_classes].T if cfg.tied else out


def flops_per_example(cfg, d_in: int, n_classes: int, T: int | None = None) -> float:
    """Forward FLOPs per example as computed: a one-hot first layer is T row gathers summed
    (T·d_mlp adds, see ``_first_layer``), every other layer a matmul (2·fan_in·fan_out)."""
    widths = [d_in] + [cfg.d_mlp] * cfg.n_layers + ([cfg.d_embed, n_classes] if cfg.tied else [n_classes])
    flops = [2 * a * b for a, b in zip(widths[:-1], widths[1:])]
    if (cfg.input in ("onehot", "embed-sum") or (cfg.input == "embed" and cfg.embed_table)) and T is not None:
        flops[0] = T * cfg.d_mlp                 # gathered rows summed (embed-sum's and embed_table's tables: per step)
    return float(sum(flops))


# ---------------------------------------------------------------------------------------------- readouts
# Weights read off the parameters for interpretability (numpy, float64). vocab None: real-valued inputs.
def _f64(p: Params, name: str) -> np.ndarray:
    return np.asarray(p[name], np.float64)


def token_weights(p: Params, cfg, T: int, vocab: int | None) -> np.ndarray | None:
    """Weights read per input token [vocab, ·]: W_E (embed, embed-sum) or, one-hot, the W_in block
    of each operand side by side [vocab, T·d_mlp]; None for real-valued inputs."""
    if vocab is None:
        return None
    if cfg.input in ("embed", "embed-sum"):
        return _f64(p, "W_E")
    W = _f64(p, "W_in")
    return np.concatenate([W[i * vocab:(i + 1) * vocab] for i in range(T)], axis=1)


def neuron_weights(p: Params, cfg, vocab: int | None) -> np.ndarray | None:
    """How a token in the first position feeds each first-layer neuron [d_mlp, vocab]:
    (W_E·W_in[:d_embed])ᵀ, or one-hot W_in[:vocab]ᵀ; None for real-valued inputs."""
    if vocab is None:
        return None
    if cfg.input in ("embed", "embed-sum"):
        return (_f64(p, "W_E") @ _f64(p, "W_in")[:cfg.d_embed]).T
    return _f64(p, "W_in")[:vocab].T


def unembedding(p: Params, cfg, n_classes: int) -> np.ndarray:
    """The map from the last hidden layer to the logits: W_out [d_mlp, n_classes] (``tied``: W_out·W_E[:C]ᵀ)."""
    if cfg.tied:
        return _f64(p, "W_out") @ _f64(p, "W_E")[:n_classes].T
    return _f64(p, "W_out")


def bit_weights(p: Params, cfg, T: int, vocab: int | None) -> np.ndarray | None:
    """``parity_bit_weights`` of the first layer [d_mlp, T] for bit inputs: real-valued features
    (one row of W_in per input), or tokens of a 2-entry vocabulary one-hot encoded or embedded (the
    one-hot weights the embedding amounts to, bit by bit). None for other tokens and for embed-sum
    (the bits' positions are summed away)."""
    if vocab is None:
        return parity_bit_weights(_f64(p, "W_in"), T, "bits")
    if vocab != 2 or cfg.input == "embed-sum":
        return None
    if cfg.input == "onehot":
        return parity_bit_weights(_f64(p, "W_in"), T, "one_hot")
    W = _f64(p, "W_in").reshape(T, cfg.d_embed, -1)
    eff = np.einsum("vd,ndh->nvh", _f64(p, "W_E")[:2], W).reshape(2 * T, -1)
    return parity_bit_weights(eff, T, "one_hot")
