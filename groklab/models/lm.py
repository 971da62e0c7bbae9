"""A causal sequence transformer trained on next-token loss (GPT-2 shaped: Radford et al. 2019).

Logits at every position: ``forward(params, tokens [B, T]) -> [B, T, vocab]``; position t sees positions
0..t only (a lower-triangular mask), so the logits at t are a prediction of token t + 1. The weights
carry the names of ``groklab.models.transformer`` and TransformerLens (W_E [vocab, d_model], W_pos
[n_ctx, d_model], blocks.{l}.attn.W_Q/W_K/W_V [n_heads, d_model, d_head], W_O [n_heads, d_head,
d_model], blocks.{l}.mlp.W_in/b_in/W_out/b_out, ln1/ln2/ln_final .w/.b, W_U [d_model, vocab]), and its
blocks are that model's (LayerNorm as ``ln_place`` says, activation ``act``, biases ``bias``, no
attention biases); what differs is that every position is read out, no '=' token is appended, and the
positional scheme is an option (``pos``): learned absolute embeddings (GPT-2) or rotary embeddings (RoPE,
Su et al. 2021) on each head's whole d_head, GPT-NeoX's half-split pairing, base 10,000, as
TransformerLens's ``positional_embedding_type = "rotary"`` computes it (so the export carries it).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

# The blocks' parts are transformer.py's (one LayerNorm, one activation, one draw order for both models).
from groklab.models.transformer import _act, _affine, _drawer, _ln, blocks_and_head, final_ln

Params = dict[str, jax.Array]
ROPE_BASE = 10_000.0


def init(key: jax.Array, cfg, vocab: int, n_ctx: int) -> Params:
    """Initialised as ``transformer.init`` (``init = "normal"``: N(0, 1/d_model), W_U N(0, 1/vocab); or
    PyTorch's defaults); W_pos only with ``pos = "learned"``, W_U only when not ``tied``."""
    d = cfg.d_model
    sd = 1 / math.sqrt(d)
    w, bias, emb = _drawer(key, 4 + (9 if cfg.init == "uniform" else 7) * cfg.n_layers, cfg)
    p: Params = {"W_E": emb((vocab, d), sd)}
    if cfg.pos == "learned":
        p["W_pos"] = emb((n_ctx, d), sd)
    return blocks_and_head(p, cfg, w, bias, vocab)


def rope_sin_cos(T: int, d_head: int) -> tuple[jax.Array, jax.Array]:
    """(sin, cos) [T, d_head] of the rotary angles: position t, pair i (i and i + d_head/2) at t / base^(2i/d_head)."""
    freq = ROPE_BASE ** (jnp.arange(d_head // 2, dtype=jnp.float32) / (d_head / 2))
    angles = jnp.arange(T, dtype=jnp.float32)[:, None] / jnp.concatenate([freq, freq])[None, :]
    return jnp.sin(angles), jnp.cos(angles)


def _rotate(x: jax.Array, sin: jax.Array, cos: jax.Array) -> jax.Array:
    """RoPE on x [B, T, heads, d_head]: x·cos + (-x₂, x₁)·sin, the halves of d_head paired."""
    n = x.shape[-1] // 2
    flipped = jnp.concatenate([-x[..., n:], x[..., :n]], axis=-1)
    return x * cos[None, :, None] + flipped * sin[None, :, None]


def causal_mask(T: int) -> jax.Array:
    """[T, T] bool: query position q may attend to source s iff s <= q."""
    return jnp.tril(jnp.ones((T, T), bool))


def _attention(p: Params, b: str, x: jax.Array, cfg) -> jax.Array:
    """Causal multi-head attention of block ``b`` at every position: (batch, pos, d_model)."""
    T = x.shape[1]
    dh = cfg.d_model // cfg.n_heads
    q = jnp.einsum("bpd,hdk->bphk", x, p[b + "attn.W_Q"])         # (batch, pos, head, d_head)
    k = jnp.einsum("bpd,hdk->bphk", x, p[b + "attn.W_K"])
    v = jnp.einsum("bpd,hdk->bphk", x, p[b + "attn.W_V"])
    if cfg.pos == "rope":
        sin, cos = rope_sin_cos(T, dh)
        q, k = _rotate(q, sin, cos), _rotate(k, sin, cos)
    scores = jnp.einsum("bqhk,bshk->bhqs", q, k) / math.sqrt(dh)  # (batch, head, q, src)
    scores = jnp.where(causal_mask(T)[None, None], scores, -jnp.inf)
    z = jnp.einsum("bhqs,bshk->bqhk", jax.nn.softmax(scores, axis=-1), v)   # (batch, q, head, d_head)
    return jnp.einsum("bqhk,hkd->bqd", z, p[b + "attn.W_O"])


def _block(p: Params, layer: int, resid: jax.Array, cfg) -> tuple[jax.Array, jax.Array]:
    """One block at every position: (the residual stream after it, its MLP neurons [batch, pos, d_mlp]);
    LayerNorm placed as in ``transformer._block``."""
    b = f"blocks.{layer}."
    ln, place = cfg.layernorm, cfg.ln_place
    if ln and place == "resid":
        resid = _ln(p, b + "ln1", resid, True)
    x = _ln(p, b + "ln1", resid, ln and place == "pre")
    resid = _ln(p, b + "ln1", resid + _attention(p, b, x, cfg), ln and place == "post")
    x = _ln(p, b + "ln2", resid, ln and place != "post")
    hidden = _act(cfg.act, _affine(p, b + "mlp.W_in", b + "mlp.b_in", x))
    resid = _ln(p, b + "ln2", resid + _affine(p, b + "mlp.W_out", b + "mlp.b_out", hidden), ln and place == "post")
    return resid, hidden


def _residual(p: Params, tokens: jax.Array, cfg) -> tuple[jax.Array, jax.Array]:
    """(the residual stream after the last block [B, T, d_model], the last block's neurons [B, T, d_mlp])."""
    T = tokens.shape[1]
    resid = p["W_E"][tokens]                                      # (batch, pos, d_model)
    if cfg.pos == "learned":
        resid = resid + p["W_pos"][:T]
    hidden = resid
    for layer in range(cfg.n_layers):
        resid, hidden = _block(p, layer, resid, cfg)
    return resid, hidden


def forward(p: Params, tokens: jax.Array, cfg) -> jax.Array:
    """Next-token logits at every position. tokens: int [batch, pos]; returns [batch, pos, vocab]."""
    resid, _ = _residual(p, tokens, cfg)
    x = _ln(p, "ln_final", resid, final_ln(cfg))
    W_U = p["W_E"].T if cfg.tied else p["W_U"]
    return x @ W_U


def mlp_activations(p: Params, tokens: jax.Array, cfg) -> jax.Array:
    """Post-activation MLP neurons of the last block at the last position: [batch, d_mlp]."""
    return _residual(p, tokens, cfg)[1][:, -1]


def flops_per_example(cfg, T: int, vocab: int) -> float:
    """Forward multiply-adds ×2 of one sequence: Q/K/V/O projections, scores and mixing, MLP, unembedding."""
    d, m = cfg.d_model, cfg.d_mlp
    per_layer = 4 * T * d * d + 2 * T * T * d + 2 * T * d * m
    return float(2 * (cfg.n_layers * per_layer + T * d * vocab))


def activation_width(cfg, T: int, vocab: int) -> int:
    """Floats per example (one sequence) in the widest activation ``forward`` makes, every position read out:
    T·max(d_model, d_mlp, n_heads·T, vocab) (residual stream and Q/K/V, MLP neurons, scores, logits); sizes an
    ensemble's member groups (``train.ensemble.group_size``)."""
    return int(T * max(cfg.d_model, cfg.d_mlp, cfg.n_heads * T, vocab))


# ---------------------------------------------------------------------------------------------- readouts
def _f64(p: Params, name: str) -> np.ndarray:
    return np.asarray(p[name], np.float64)


def token_weights(p: Params) -> np.ndarray:
    """The embedding of each token: W_E [vocab, d_model]."""
    return _f64(p, "W_E")


def neuron_weights(p: Params) -> np.ndarray:
    """How each token feeds the first block's MLP neurons through the OV circuit:
    (W_E·Σ_h W_V^h W_O^h·W_in)ᵀ [d_mlp, vocab] (LayerNorm ignored)."""
    ov = np.einsum("hdk,hke->de", _f64(p, "blocks.0.attn.W_V"), _f64(p, "blocks.0.attn.W_O"))
    return (_f64(p, "W_E") @ ov @ _f64(p, "blocks.0.mlp.W_in")).T


def unembedding(p: Params, cfg) -> np.ndarray:
    """The map from the last block's MLP neurons to the logits: W_out·W_U [d_mlp, vocab]."""
    W_U = _f64(p, "W_E").T if cfg.tied else _f64(p, "W_U")
    return _f64(p, f"blocks.{cfg.n_layers - 1}.mlp.W_out") @ W_U
