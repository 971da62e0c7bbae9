"""k-extractable memorization (Carlini et al. 2023, "Quantifying memorization across neural language
models"): a training sequence is k-extractable when, prompted with its first k tokens, greedy
decoding emits its next l tokens exactly.

Greedy decoding reproduces the suffix exactly iff at every suffix position the model's argmax, given
the true tokens before it, is the true next token: as long as the emitted tokens equal the true ones,
the decoder's context equals the true context. So the test needs one teacher-forced forward pass
(``extractable``), not l sequential decoding steps; ``greedy_extractable`` decodes step by step and is
the reference the tests hold it to.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Apply = Callable[[dict, np.ndarray], np.ndarray]     # (params, tokens [B, T]) -> logits [B, T, V]


def prefix_suffix(context: int) -> tuple[int, int]:
    """groklab's (k, l) for windows of ``context`` tokens: half the window prompts, the rest must follow
    (Carlini et al. 2023 prompt with 50 tokens and ask for the next 50 of their 2,048-token context)."""
    k = context // 2
    return k, context - k


def extractable(pred, y, k: int, l: int):
    """Whether each row is k-extractable with suffix length l, from a teacher-forced pass: ``pred`` [N, T]
    the argmax at each position, ``y`` [N, T] the next tokens (y[n, t] = x[n, t + 1]). Row n's prompt is
    x[n, :k] and its suffix x[n, k: k + l] = y[n, k - 1: k - 1 + l]. NumPy or JAX arrays; traceable."""
    return (pred[:, k - 1: k - 1 + l] == y[:, k - 1: k - 1 + l]).all(axis=1)


def greedy_extractable(apply: Apply, params: dict, seqs: np.ndarray, k: int, l: int) -> np.ndarray:
    """The same test by decoding: prompt with ``seqs[:, :k]``, append the argmax token l times, compare
    with ``seqs[:, k: k + l]``. ``seqs`` [N, >= k + l] int tokens; returns bool [N]."""
    seqs = np.asarray(seqs, np.int32)
    out = seqs[:, :k]
    for _ in range(l):
        nxt = np.asarray(apply(params, out))[:, -1, :].argmax(axis=-1).astype(np.int32)
        out = np.concatenate([out, nxt[:, None]], axis=1)
    return (out[:, k:] == seqs[:, k: k + l]).all(axis=1)


__all__ = ["extractable", "greedy_extractable", "prefix_suffix"]
