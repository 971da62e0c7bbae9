"""Walsh functions of bit strings: the basis in which sparse parity is one function.

χ_S(x) = (−1)^(Σ_{i∈S} x_i) for a subset S of the n bits (Barak et al. 2022: the label of sparse
parity is χ_S for the task's k bits). There are 2^n subsets; the candidates tested are every subset
of at most ``max_order`` bits (as many orders as fit ``budget`` candidates) plus, given a ranking of
the bits (e.g. a first layer's weight per bit), every subset of the top ``top`` bits. Each candidate
is one component of one function; on sampled strings the functions are nearly orthogonal (exactly
±1, so each has squared norm n on n rows).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from groklab.errors import ConfigError

CANDIDATE_BUDGET = 5_000    # subsets of low order tested at most (n = 30 bits: every subset of <= 3)
TOP_BITS = 10               # the top-ranked bits whose every subset is also tested
_CHUNK = 2048


def candidate_subsets(n_bits: int, ranking: np.ndarray | None = None, budget: int = CANDIDATE_BUDGET,
                      top: int = TOP_BITS) -> list[tuple[int, ...]]:
    """Every nonempty subset of at most d bits, d the largest order whose count fits ``budget``, plus
    every nonempty subset of the ``top`` first bits of ``ranking`` (bit indices, most relied-on first).
    Sorted by size, then lexicographically; no repeats."""
    if n_bits < 1:
        raise ConfigError(f"need at least one bit, got {n_bits}")
    total, order = 0, 0
    while order < n_bits and total + math.comb(n_bits, order + 1) <= budget:
        order += 1
        total += math.comb(n_bits, order)
    subsets = {s for d in range(1, order + 1) for s in itertools.combinations(range(n_bits), d)}
    if ranking is not None:
        best = sorted(int(b) for b in np.asarray(ranking).reshape(-1)[:top])
        subsets |= {s for d in range(1, len(best) + 1) for s in itertools.combinations(best, d)}
    return sorted(subsets, key=lambda s: (len(s), s))


@dataclass(frozen=True)
class WalshBasis:
    """Walsh functions of the rows' bits [N, n] (0/1) for the given subsets (module doc)."""

    bits: np.ndarray
    subsets: tuple[tuple[int, ...], ...]
    kind: str = "walsh"

    def __post_init__(self):
        b = np.asarray(self.bits)
        if b.ndim != 2 or b.size == 0 or not np.isin(b, (0, 1)).all():
            raise ConfigError("bits must be a non-empty [N, n] array of 0/1")
        if not self.subsets or any(not s or min(s) < 0 or max(s) >= b.shape[1] for s in self.subsets):
            raise ConfigError(f"subsets must be nonempty sets of bits in 0..{b.shape[1] - 1}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple("{" + ",".join(map(str, s)) + "}" for s in self.subsets)

    @property
    def n_rows(self) -> int:
        return int(self.bits.shape[0])

    @property
    def dims(self) -> np.ndarray:
        return np.ones(len(self.subsets), dtype=np.int64)

    def _padded(self, comps) -> np.ndarray:
        n = self.bits.shape[1]
        sel = [self.subsets[int(c)] for c in np.asarray(comps, dtype=np.int64).reshape(-1)]
        width = max((len(s) for s in sel), default=1)
        return np.array([list(s) + [n] * (width - len(s)) for s in sel], dtype=np.int64).reshape(len(sel), width)

    def _signs(self, idx: np.ndarray) -> np.ndarray:
        """χ_S(x) = Π_{i∈S} (1 − 2x_i) on rows idx for every subset, as int8 ±1 [len(idx), n_subsets]: the
        same for every checkpoint of a run, so it is computed once per row set (the last few are kept)."""
        idx = np.asarray(idx)
        key = (idx.shape, idx.dtype.str, hash(idx.tobytes()))
        cache = self.__dict__.setdefault("_designs", {})
        if key not in cache:
            signs = 1 - 2 * np.asarray(self.bits[idx], np.int8)
            signs = np.concatenate([signs, np.ones((signs.shape[0], 1), np.int8)], axis=1)   # column n: padding
            pad = self._padded(np.arange(len(self.subsets)))
            out = np.ones((signs.shape[0], len(self.subsets)), np.int8)
            for j in range(pad.shape[1]):
                out *= signs[:, pad[:, j]]
            if len(cache) >= 4:
                cache.pop(next(iter(cache)))
            cache[key] = out
        return cache[key]

    def design(self, comps, idx: np.ndarray) -> np.ndarray:
        """χ_S on rows idx for the chosen subsets: ±1, [len(idx), m]."""
        comps = np.asarray(comps, dtype=np.int64).reshape(-1)
        if comps.shape[0] == 0:
            return np.zeros((len(np.asarray(idx)), 0))
        signs = self._signs(idx)
        if comps[-1] - comps[0] == len(comps) - 1 and np.all(np.diff(comps) == 1):   # a range: a view, not a gather
            return signs[:, comps[0]:comps[-1] + 1].astype(np.float64)
        return signs[:, comps].astype(np.float64)

    def power(self, zc: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Σ_c ⟨χ_S, z_c⟩²/n over rows idx, per subset: [n_comp]."""
        out = np.zeros(len(self.subsets))
        z = zc[idx]
        for start in range(0, len(self.subsets), _CHUNK):
            comps = np.arange(start, min(start + _CHUNK, len(self.subsets)))
            out[comps] = np.sum((self.design(comps, idx).T @ z) ** 2, axis=1) / max(len(idx), 1)
        return out


def walsh_spectrum(values: np.ndarray, bits: np.ndarray, subsets) -> np.ndarray:
    """Walsh coefficients mean_x[v(x)·χ_S(x)] of a function's values [N] on bit strings [N, n]: [len(subsets)]."""
    basis = WalshBasis(np.asarray(bits), tuple(tuple(s) for s in subsets))
    idx = np.arange(basis.n_rows)
    v = np.asarray(values, np.float64).reshape(-1)
    return np.concatenate([basis.design(np.arange(s, min(s + _CHUNK, len(subsets))), idx).T @ v
                           for s in range(0, len(subsets), _CHUNK)]) / v.size


__all__ = ["CANDIDATE_BUDGET", "TOP_BITS", "WalshBasis", "candidate_subsets", "walsh_spectrum"]
