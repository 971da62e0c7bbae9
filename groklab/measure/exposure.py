"""Canary exposure (Carlini et al. 2019, "The Secret Sharer").

A canary is a template followed by a secret s drawn uniformly from a set R of candidates (here every
string of k digits, |R| = 10^k). Its exposure under a model is

    exposure(s) = log2 |R| - log2 rank(s),

where rank(s) is s's position (1 = first) when every candidate is sorted by the model's negative
log-likelihood of the secret given the template. The paper estimates the rank by sampling or a
skew-normal fit once |R| is too large to enumerate; groklab's secrets are small enough to rank
exactly, by brute force over all 10^k candidates.

Ties: a candidate counts ahead of s only when its loss is strictly lower, so a model that scores every
candidate alike gives rank 1 (the most favourable rank); the functions here use the same rule so that
the compiled metric, the batched scorer and the one-by-one brute force agree exactly.

Everything here works on NumPy or JAX arrays (``exposure_from_losses`` traces under ``jax.jit``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from groklab.measure.memorization import exposure  # log2 |R| - log2 rank, shared with the atlas' canaries

Apply = Callable[[dict, np.ndarray], np.ndarray]     # (params, tokens [B, T]) -> logits [B, T, V]


def rank_of(true_loss, losses):
    """1 + the number of candidates whose loss is strictly lower than the true secret's."""
    return 1 + (losses < true_loss).sum()


def exposure_in_block(losses, block, true):
    """Exposure of the one row marked ``true`` among the candidate rows marked ``block`` (bool masks over
    ``losses`` [N]); traceable under ``jax.jit`` (the compiled metric's form)."""
    import jax.numpy as jnp

    losses = jnp.asarray(losses, jnp.float32)
    true_loss = jnp.where(true, losses, 0.0).sum()
    rank = 1 + (block & (losses < true_loss)).sum()
    return jnp.log2(block.sum().astype(jnp.float32)) - jnp.log2(rank.astype(jnp.float32))


def exposure_from_losses(losses, true_index: int):
    """Exposure of candidate ``true_index`` among ``losses`` [R] (every row a candidate); traceable."""
    import jax.numpy as jnp

    n = jnp.asarray(losses).shape[0]
    return exposure_in_block(losses, jnp.ones(n, bool), jnp.arange(n) == true_index)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def secret_losses(apply: Apply, params: dict, prefix: np.ndarray, digits: np.ndarray, k: int,
                  batch: int = 1024) -> np.ndarray:
    """Mean negative log-likelihood of every k-digit secret after ``prefix``, [10^k] in numeric order.

    Uses one forward pass per (k-1)-digit stem rather than one per candidate: the model reads
    ``prefix + stem`` and the last position's distribution scores all ten final digits at once (a
    causal model's logits at a position depend only on the tokens up to it).
    """
    prefix, digits = np.asarray(prefix, np.int32), np.asarray(digits, np.int32)
    P = prefix.size
    i = np.arange(10 ** (k - 1))
    stems = np.stack([(i // 10 ** (k - 2 - j)) % 10 for j in range(k - 1)], axis=1) if k > 1 \
        else np.zeros((1, 0), np.int64)
    out = []
    for s in range(0, stems.shape[0], batch):
        st = stems[s: s + batch]
        x = np.concatenate([np.tile(prefix, (st.shape[0], 1)), digits[st]], axis=1)
        lp = _log_softmax(np.asarray(apply(params, x), np.float64)[:, P - 1:, :])     # [b, k, V]
        seen = np.take_along_axis(lp[:, : k - 1, :], digits[st][:, :, None], axis=2)[..., 0].sum(axis=1)   # [b]
        last = lp[:, k - 1, :][:, digits]                                               # [b, 10]
        out.append(-(seen[:, None] + last) / k)
    return np.concatenate(out).reshape(-1)


def secret_losses_bruteforce(apply: Apply, params: dict, prefix: np.ndarray, digits: np.ndarray,
                             k: int) -> np.ndarray:
    """The same losses as ``secret_losses``, one candidate sequence at a time (the reference the tests
    hold it to)."""
    prefix, digits = np.asarray(prefix, np.int32), np.asarray(digits, np.int32)
    P, out = prefix.size, []
    for n in range(10 ** k):
        secret = [int(c) for c in f"{n:0{k}d}"]
        x = np.concatenate([prefix, digits[secret]])[None, :]
        lp = _log_softmax(np.asarray(apply(params, x[:, :-1]), np.float64)[0])          # [P + k - 1, V]
        out.append(-sum(lp[P - 1 + j, digits[d]] for j, d in enumerate(secret)) / k)
    return np.asarray(out)


def canary_exposure(apply: Apply, params: dict, prefix, digits, secret: str) -> float:
    """Exposure of the canary ``prefix + secret`` (a string of digits) under the model, ranked exactly."""
    k = len(secret)
    losses = secret_losses(apply, params, prefix, digits, k)
    return float(exposure(rank_of(losses[int(secret)], losses), 10 ** k))


__all__ = ["canary_exposure", "exposure", "exposure_from_losses", "exposure_in_block", "rank_of", "secret_losses",
           "secret_losses_bruteforce"]
