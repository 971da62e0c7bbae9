"""Representation quality index (Liu et al. 2022, "Towards understanding grokking").

A model that has learned addition places its embeddings so that E_i + E_j = E_m + E_n whenever
i + j = m + n: the four points form a parallelogram. RQI is the fraction of such parallelograms
that the embeddings satisfy within a tolerance; it rises as the structured representation forms.
"""

from __future__ import annotations

import numpy as np

from groklab.errors import ConfigError


def _pair_counts(p: int) -> tuple[np.ndarray, np.ndarray]:
    """For each sum s = 0..2p−2: smallest first operand and number of pairs i ≤ j, i + j = s."""
    s = np.arange(2 * p - 1)
    lo = np.maximum(0, s - (p - 1))
    return lo, s // 2 - lo + 1


def _parallelograms(p: int, max_samples: int, seed: int) -> np.ndarray:
    """int [N, 4] rows (i, j, m, n): i ≤ j, m ≤ n, i + j = m + n, {i, j} ≠ {m, n}.

    All of them when there are at most max_samples, else max_samples drawn uniformly (with
    replacement) from them with a seeded generator.
    """
    lo, count = _pair_counts(p)
    per_sum = count * (count - 1) // 2  # unordered pairs of distinct pairs with this sum
    total = int(per_sum.sum())
    if total <= max_samples:
        rows = []
        for s in np.flatnonzero(per_sum):
            u, v = np.triu_indices(count[s], k=1)
            rows.append(np.stack([lo[s] + u, s - lo[s] - u, lo[s] + v, s - lo[s] - v], axis=1))
        return np.concatenate(rows) if rows else np.zeros((0, 4), dtype=np.int64)
    rng = np.random.default_rng(seed)
    s = rng.choice(per_sum.size, size=max_samples, p=per_sum / total)
    c = count[s]
    u = (rng.random(max_samples) * c).astype(np.int64)
    v = (rng.random(max_samples) * (c - 1)).astype(np.int64)
    v += v >= u  # a second pair, distinct from the first
    return np.stack([lo[s] + u, s - lo[s] - u, lo[s] + v, s - lo[s] - v], axis=1)


def rqi(E: np.ndarray, p: int, tol: float = 0.01, max_samples: int = 20_000,
        seed: int = 0) -> float:
    """Fraction of parallelograms i + j = m + n with E_i + E_j ≈ E_m + E_n (Liu et al. 2022).

    E [≥p, d]: one embedding row per token (first p rows used). The parallelograms are the
    quadruples of tokens in 0..p−1 with i + j = m + n as integers (Liu et al.'s addition task;
    for modular addition a perfect Fourier model scores below 1, since a circle embedding is not
    additive), counted once per unordered pair of distinct unordered pairs. One holds when
    ‖(E_i + E_j) − (E_m + E_n)‖ ≤ tol × the mean norm of the centred embeddings (the relation
    ignores translation and scale). Above max_samples parallelograms, a seeded uniform sample
    of that many is checked. Returns a float in [0, 1].
    """
    E = np.asarray(E, dtype=np.float64)
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 3:
        raise ConfigError(f"p must be an integer >= 3, got {p!r}")
    if E.ndim != 2 or E.shape[0] < p:
        raise ConfigError(f"E must be [>= {p}, d], got shape {E.shape}")
    if tol < 0 or max_samples < 1:
        raise ConfigError(f"need tol >= 0 and max_samples >= 1, got {tol}, {max_samples}")
    E = E[:p] - E[:p].mean(axis=0)
    scale = float(np.mean(np.linalg.norm(E, axis=1)))
    q = _parallelograms(int(p), max_samples, seed)
    gap = np.linalg.norm(E[q[:, 0]] + E[q[:, 1]] - E[q[:, 2]] - E[q[:, 3]], axis=1)
    return float(np.mean(gap <= tol * scale))
