"""Decoder-only transformer over the tokens `a b =` (Nanda et al. 2023; Power et al. 2022).

Weights are named as in Elhage et al. and TransformerLens so an interpretability reader finds
them: W_E [d_vocab, d_model], W_pos [n_ctx, d_model], blocks.{l}.attn.W_Q/W_K/W_V
[n_heads, d_model, d_head], W_O [n_heads, d_head, d_model], blocks.{l}.mlp.W_in [d_model, d_mlp],
b_in, W_out [d_mlp, d_model], b_out, W_U [d_model, n_classes]. No attention biases (as Nanda); MLP
biases unless ``bias = false`` (Power et al.); LayerNorm placed pre, post (Power et al.) or on the
residual stream (Grokfast), see ``_block``; initialised as Nanda et al. or as PyTorch (``init``).

The loss reads only the logits at the last position (`=`), so by default the last block computes
its query, MLP and unembedding at that position alone (``full=True`` computes every position;
tests check both give the same logits). In the first block each token's Q/K/V projection is a
function of (token, position) only, so it is computed once per vocabulary entry and gathered.

GrokTransfer (``embed_from``; Xu et al. 2025): the embedding is the product W_E = A·B of W_E_A [d_vocab,
embed_rank] (a weaker model's embedding, written in by the trainer) and W_E_B [embed_rank, d_model]; the
parameters hold A and B, and ``embedded`` materialises W_E at the top of every forward and readout, so
everything downstream (the per-vocabulary attention tables, a tied unembedding, the readouts) sees A·B.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

Params = dict[str, jax.Array]


def _drawer(key: jax.Array, n: int, cfg):
    """Parameter draws in order: ``w(shape, fan_in, std)`` a weight, ``b(shape, fan_in)`` a bias,
    ``e(shape, std)`` an embedding. ``init = "normal"``: N(0, std²) weights, zero biases (no key drawn, so
    the draws of earlier versions are unchanged); ``"uniform"``: PyTorch's defaults, U(±1/√fan_in) for
    nn.Linear weights and biases and N(0, 1) for nn.Embedding."""
    uniform = cfg.init == "uniform"
    ks = iter(jax.random.split(key, n))

    def w(shape, fan_in, std):
        if uniform:
            bound = 1 / math.sqrt(fan_in)
            return jax.random.uniform(next(ks), shape, jnp.float32, -bound, bound)
        return std * jax.random.normal(next(ks), shape, jnp.float32)

    def b(shape, fan_in):
        return w(shape, fan_in, 0.0) if uniform else jnp.zeros(shape, jnp.float32)

    def e(shape, std):
        return jax.random.normal(next(ks), shape, jnp.float32) * (1.0 if uniform else std)

    return w, b, e


def final_ln(cfg) -> bool:
    """Whether a LayerNorm precedes the unembedding (every placement but post-LN, whose blocks end in one)."""
    return cfg.layernorm and cfg.ln_place != "post"


def init(key: jax.Array, cfg, d_vocab: int, n_ctx: int, n_classes: int) -> Params:
    """Nanda et al.'s initialisation: N(0, 1/d_model) for most weights, N(0, 1/d_vocab) for W_U, zero
    biases; or, with ``init = "uniform"``, PyTorch's defaults (see ``_drawer``).

    The init-scale factor is applied by the trainer (it may differ between ensemble members).
    """
    d = cfg.d_model
    sd = 1 / math.sqrt(d)
    w, bias, emb = _drawer(key, 4 + (9 if cfg.init == "uniform" else 7) * cfg.n_layers, cfg)
    if cfg.embed_from is None:
        p: Params = {"W_E": emb((d_vocab, d), sd), "W_pos": emb((n_ctx, d), sd)}
    else:      # A is a placeholder the trainer overwrites; B takes W_E's draw, so the other weights are unchanged
        r = cfg.embed_rank
        p = {"W_E_A": jnp.zeros((d_vocab, r), jnp.float32), "W_E_B": w((r, d), r, 1 / math.sqrt(r)),
             "W_pos": emb((n_ctx, d), sd)}
    return blocks_and_head(p, cfg, w, bias, n_classes)


def embedded(p: Params, cfg=None) -> Params:
    """``p`` with W_E = W_E_A·W_E_B when it holds the factors (GrokTransfer), else ``p`` itself. With
    ``embed_frozen`` no gradient reaches A (the trainer also zeroes its updates, weight decay included)."""
    if "W_E_B" not in p:
        return p
    A = p["W_E_A"]
    if cfg is not None and cfg.embed_frozen:
        A = jax.lax.stop_gradient(A)
    return {**p, "W_E": A @ p["W_E_B"]}


def blocks_and_head(p: Params, cfg, w, bias, n_out: int) -> Params:
    """Add the blocks, the final LayerNorm and W_U [d_model, n_out] to ``p``, drawing from ``w``/``bias``
    (a ``_drawer``'s) in one fixed order; shared by this model and ``models.lm``."""
    d, h, m = cfg.d_model, cfg.n_heads, cfg.d_mlp
    dh = d // h
    sd = 1 / math.sqrt(d)
    for layer in range(cfg.n_layers):
        b = f"blocks.{layer}."
        for name in ("W_Q", "W_K", "W_V"):
            p[b + "attn." + name] = w((h, d, dh), d, sd)
        p[b + "attn.W_O"] = w((h, dh, d), d, sd)
        p[b + "mlp.W_in"] = w((d, m), d, sd)
        p[b + "mlp.W_out"] = w((m, d), m, sd)
        if cfg.bias:
            p[b + "mlp.b_in"] = bias((m,), d)
            p[b + "mlp.b_out"] = bias((d,), m)
        if cfg.layernorm:
            for ln in ("ln1", "ln2"):
                p[b + ln + ".w"] = jnp.ones((d,), jnp.float32)
                p[b + ln + ".b"] = jnp.zeros((d,), jnp.float32)
    if final_ln(cfg):
        p["ln_final.w"] = jnp.ones((d,), jnp.float32)
        p["ln_final.b"] = jnp.zeros((d,), jnp.float32)
    if not cfg.tied:
        p["W_U"] = w((d, n_out), d, 1 / math.sqrt(n_out))
    return p


def _act(name: str, x: jax.Array) -> jax.Array:
    if name == "relu":
        return jax.nn.relu(x)
    if name == "gelu":
        return jax.nn.gelu(x, approximate=False)
    if name == "tanh":
        return jnp.tanh(x)
    return x * x  # quadratic


def _ln(p: Params, name: str, x: jax.Array, on: bool) -> jax.Array:
    if not on:
        return x
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + 1e-5) * p[name + ".w"] + p[name + ".b"]


def _unembed(p: Params, cfg, x: jax.Array, n_classes: int) -> jax.Array:
    W_U = p["W_E"][:n_classes].T if cfg.tied else p["W_U"]
    return x @ W_U


def _attention(p: Params, b: str, x: jax.Array, tokens: jax.Array, cfg, per_vocab: bool,
               last_only: bool) -> jax.Array:
    """Causal attention output of block ``b``: (batch, q, d_model), q = 1 if ``last_only`` else pos.

    ``per_vocab`` (block 0 without LayerNorm): Q/K/V of (token, position) pairs are projected once
    per vocabulary entry and gathered. With one block and the answer query alone, q depends on the
    last token only and k_s on (token_s, s), so every score is an entry of a (pos, vocab, vocab,
    head) table made by one small matmul, and each example gathers its scores from it.
    """
    B, T = tokens.shape
    h, d = cfg.n_heads, cfg.d_model
    dh = d // h
    W_O = p[b + "attn.W_O"]
    if per_vocab:
        def proj(w):                                              # (vocab rows, pos rows) -> (.., head, d_head)
            W = p[b + "attn." + w]
            return jnp.einsum("vd,hdk->vhk", p["W_E"], W), jnp.einsum("td,hdk->thk", p["W_pos"][:T], W)
        (qE, qP), (kE, kP), (vE, vP) = proj("W_Q"), proj("W_K"), proj("W_V")
        V = p["W_E"].shape[0]
        if last_only and _score_table_fits(V, T, h):
            K = kE[None] + kP[:, None]                            # (pos, vocab, head, d_head)
            table = jnp.einsum("uhk,svhk->suvh", qE + qP[-1], K) / math.sqrt(dh)
            idx = (jnp.arange(T)[None, :] * V + tokens[:, -1:]) * V + tokens
            attn = jax.nn.softmax(table.reshape(T * V * V, h)[idx], axis=1)   # (batch, src, head)
            z = sum(attn[:, s, :, None] * (vE[tokens[:, s]] + vP[s]) for s in range(T))   # (batch, head, d_head)
            return (z.reshape(B, d) @ W_O.reshape(d, d))[:, None]
        k = kE[tokens] + kP                                       # (batch, pos, head, d_head)
        v = vE[tokens] + vP
        q = (qE[tokens[:, -1]] + qP[-1])[:, None] if last_only else qE[tokens] + qP
    else:
        k = jnp.einsum("bpd,hdk->bphk", x, p[b + "attn.W_K"])
        v = jnp.einsum("bpd,hdk->bphk", x, p[b + "attn.W_V"])
        q = jnp.einsum("bpd,hdk->bphk", x[:, -1:] if last_only else x, p[b + "attn.W_Q"])
    scores = jnp.einsum("bqhk,bshk->bhqs", q, k) / math.sqrt(dh)  # (batch, head, q, src)
    mask = jnp.tril(jnp.ones((T, T), bool))
    scores = jnp.where((mask[-1:] if last_only else mask)[None, None], scores, -jnp.inf)
    z = jnp.einsum("bhqs,bshk->bqhk", jax.nn.softmax(scores, axis=-1), v)   # (batch, q, head, d_head)
    return jnp.einsum("bqhk,hkd->bqd", z, W_O)


def _score_table_fits(vocab: int, T: int, heads: int) -> bool:
    """The score table of a one-block model is used while it stays small (≤ 4M entries)."""
    return T * vocab * vocab * heads <= 4_000_000


def _affine(p: Params, w: str, b: str, x: jax.Array) -> jax.Array:
    """x·W, plus the bias where the model has one (``bias = false`` models have none)."""
    out = x @ p[w]
    return out + p[b] if b in p else out


def _block(p: Params, layer: int, resid: jax.Array, tokens: jax.Array, cfg, per_vocab: bool,
           last_only: bool) -> tuple[jax.Array, jax.Array]:
    """One block: (the residual stream after it, its MLP neurons), both at the last position alone when
    ``last_only``. LayerNorm as ``cfg.ln_place`` says: "pre" normalizes each branch's input, "post" the
    sum after each branch (Power et al.), "resid" the stream itself before attention and the MLP's
    input (Grokfast: ``x = ln_1(x); x = x + attn(x); x = x + mlp(ln_2(x))``)."""
    b = f"blocks.{layer}."
    ln, place = cfg.layernorm, cfg.ln_place
    if ln and place == "resid":
        resid = _ln(p, b + "ln1", resid, True)
    x = _ln(p, b + "ln1", resid, ln and place == "pre")
    attn_out = _attention(p, b, x, tokens, cfg, per_vocab=per_vocab, last_only=last_only)
    resid = _ln(p, b + "ln1", (resid[:, -1:] if last_only else resid) + attn_out, ln and place == "post")
    x = _ln(p, b + "ln2", resid, ln and place != "post")
    hidden = _act(cfg.act, _affine(p, b + "mlp.W_in", b + "mlp.b_in", x))   # (batch, q, d_mlp)
    resid = _ln(p, b + "ln2", resid + _affine(p, b + "mlp.W_out", b + "mlp.b_out", hidden), ln and place == "post")
    return resid, hidden


def forward(p: Params, tokens: jax.Array, cfg, n_classes: int, full: bool = False) -> jax.Array:
    """Logits at the last position.  tokens: int [batch, pos] (the '=' token included).

    Returns [batch, n_classes]. With ``full`` every position runs through every layer.
    """
    T = tokens.shape[1]
    p = embedded(p, cfg)
    resid = p["W_E"][tokens] + p["W_pos"][:T]                     # (batch, pos, d_model)
    for layer in range(cfg.n_layers):
        resid, _ = _block(p, layer, resid, tokens, cfg, per_vocab=layer == 0 and not cfg.layernorm and not full,
                          last_only=(layer == cfg.n_layers - 1) and not full)
    x = _ln(p, "ln_final", resid[:, -1], final_ln(cfg))
    return _unembed(p, cfg, x, n_classes)


def mlp_activations(p: Params, tokens: jax.Array, cfg) -> jax.Array:
    """Post-activation MLP neurons of the last block at the last position: [batch, d_mlp]."""
    T = tokens.shape[1]
    p = embedded(p, cfg)
    resid = p["W_E"][tokens] + p["W_pos"][:T]
    for layer in range(cfg.n_layers):
        resid, hidden = _block(p, layer, resid, tokens, cfg, per_vocab=False, last_only=False)
    return hidden[:, -1]


def flops_per_example(cfg, T: int, n_classes: int, d_vocab: int | None = None) -> float:
    """Forward multiply-adds ×2 per example of the computation ``forward`` performs (for the
    benchmark's GFLOP/s): the last block at the answer position only, and, in block 0 without
    LayerNorm, no Q/K/V projections per example (they are computed once per vocabulary entry and
    position, a per-step cost of 6·(vocab + T)·d² that does not grow with the batch and is left out);
    with one such block the scores are gathered from a table (a per-step T·vocab²·d cost, left out), and
    GrokTransfer's W_E = A·B is one vocab × rank × d product per step (left out too)."""
    d, m = cfg.d_model, cfg.d_mlp
    total = 0
    for layer in range(cfg.n_layers):
        per_vocab = layer == 0 and not cfg.layernorm
        if layer < cfg.n_layers - 1:
            qkv = 0 if per_vocab else 3 * T * d * d
            total += 2 * (qkv + 2 * T * T * d + T * d * d + 2 * T * d * m)
        else:
            qkv = 0 if per_vocab else 2 * T * d * d + d * d
            table = per_vocab and d_vocab is not None and _score_table_fits(d_vocab, T, cfg.n_heads)
            total += 2 * (qkv + (1 if table else 2) * T * d + d * d + 2 * d * m)
    return float(total + 2 * d * n_classes)


def activation_width(cfg, T: int, n_classes: int) -> int:
    """Floats per example in the widest activation ``forward`` makes, which sizes an ensemble's member groups
    (``train.ensemble.group_size``): in a block before the last, T·max(d_model, d_mlp, n_heads·T) (residual
    stream and Q/K/V, MLP neurons, attention scores at every position); in the last, which runs at the answer
    position alone, the T·d_model residual stream, keys and values beside the d_mlp neurons; the logits."""
    d, m, h = cfg.d_model, cfg.d_mlp, cfg.n_heads
    widest = max(n_classes, T * d, m)
    if cfg.n_layers > 1:
        widest = max(widest, T * max(m, h * T))
    return int(widest)


# ---------------------------------------------------------------------------------------------- readouts
# Weights read off the parameters for interpretability (numpy, float64; LayerNorm ignored).
def _f64(p: Params, name: str) -> np.ndarray:
    if name == "W_E" and name not in p and "W_E_B" in p:     # GrokTransfer's factors: their product
        return np.asarray(p["W_E_A"], np.float64) @ np.asarray(p["W_E_B"], np.float64)
    return np.asarray(p[name], np.float64)


def token_weights(p: Params, vocab: int) -> np.ndarray:
    """The embedding of each input token: W_E[:vocab] [vocab, d_model] (the '=' row left out)."""
    return _f64(p, "W_E")[:vocab]


def neuron_weights(p: Params, vocab: int) -> np.ndarray:
    """How each input token feeds the first block's MLP neurons through the OV circuit:
    (W_E[:vocab]·Σ_h W_V^h W_O^h·W_in)ᵀ [d_mlp, vocab]. Assumes every head attends to the token alike."""
    ov = np.einsum("hdk,hke->de", _f64(p, "blocks.0.attn.W_V"), _f64(p, "blocks.0.attn.W_O"))
    return (_f64(p, "W_E")[:vocab] @ ov @ _f64(p, "blocks.0.mlp.W_in")).T


def unembedding(p: Params, cfg, n_classes: int) -> np.ndarray:
    """The map from the last block's MLP neurons to the logits: W_out·W_U [d_mlp, n_classes]."""
    W_U = _f64(p, "W_E")[:n_classes].T if cfg.tied else _f64(p, "W_U")
    return _f64(p, f"blocks.{cfg.n_layers - 1}.mlp.W_out") @ W_U
