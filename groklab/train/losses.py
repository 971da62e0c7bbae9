"""Per-example losses: cross-entropy (softmax or StableMax, float32 or float64) and MSE.

StableMax and the Softmax-Collapse measure follow Prieto et al. 2025, "Grokking at the edge of
numerical stability": s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0; p_i = s(z_i) / sum_j s(z_j).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def stablemax_s(z: jax.Array) -> jax.Array:
    return jnp.where(z >= 0, z + 1.0, 1.0 / (1.0 - jnp.minimum(z, 0.0)))


def log_probs(kind: str, logits: jax.Array, dtype=jnp.float32) -> jax.Array:
    """Log class probabilities [batch, C] under softmax ("ce") or StableMax."""
    z = logits.astype(dtype)
    if kind == "stablemax":
        s = stablemax_s(z)
        return jnp.log(s) - jnp.log(s.sum(-1, keepdims=True))
    return jax.nn.log_softmax(z, axis=-1)


def _per_target(kind: str, logits: jax.Array, labels: jax.Array, dtype) -> jax.Array:
    """Loss of each target, logits [..., C] and labels [...] (each label in [0, C))."""
    if kind == "mse":
        z = logits.astype(dtype)
        target = jax.nn.one_hot(labels, logits.shape[-1], dtype=dtype)
        return ((z - target) ** 2).mean(-1)
    lp = log_probs(kind, logits, dtype)
    return -jnp.take_along_axis(lp, labels[..., None], axis=-1)[..., 0]


def per_example(kind: str, logits: jax.Array, labels: jax.Array, dtype=jnp.float32) -> jax.Array:
    """Loss of each example [batch]: cross-entropy, StableMax cross-entropy, or MSE on one-hot targets.

    Sequences (logits [batch, pos, C], labels [batch, pos]): the mean over the positions that are
    scored (label >= 0; -1 marks a position that is not), 0 for an example with none.
    """
    if labels.ndim == 1:
        return _per_target(kind, logits, labels, dtype)
    scored = labels >= 0
    per = _per_target(kind, logits, jnp.maximum(labels, 0), dtype)
    return jnp.where(scored, per, 0).sum(-1) / jnp.maximum(scored.sum(-1), 1).astype(per.dtype)


def correct(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Whether each example [batch] is predicted right: the argmax class; for a sequence, at every
    scored position (label >= 0)."""
    pred = logits.argmax(-1)
    if labels.ndim == 1:
        return pred == labels
    return ((pred == labels) | (labels < 0)).all(-1)
