"""Permutation-group tasks: equations `a ∘ b = c` over the symmetric group S_n (Power et al. 2022).

Power et al. train on S5 (120 elements, 14,400 equations) with three operations:
composition a·b, conjugation a·b·a⁻¹ and a·b·a. Here n ranges over 3..6.

Conventions:
- a permutation of {0..n−1} is the tuple (a(0), ..., a(n−1));
- elements are indexed 0..n!−1 in the lexicographic order of ``itertools.permutations(range(n))``
  (index 0 is the identity);
- composition applies the right factor first: (a·b)(i) = a(b(i)).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from groklab.errors import ConfigError
from groklab.tasks import TaskFamily
from groklab.tasks.base import Table

if TYPE_CHECKING:
    from groklab.tasks import TaskConfig as Config

PERM_N_RANGE = (3, 6)


def permutations(n: int) -> np.ndarray:
    """Every permutation of {0..n−1}, int64 [n!, n], row k is element k (lexicographic order)."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.int64).reshape(-1, n)


def _index_of(perms: np.ndarray, n: int) -> np.ndarray:
    """Element indices of permutations given as rows [..., n]: their base-n codes are sorted."""
    weights = n ** np.arange(n - 1, -1, -1, dtype=np.int64)           # [n]
    codes = permutations(n) @ weights                                    # [n!], increasing
    return np.searchsorted(codes, perms @ weights)


def compose_table(n: int) -> np.ndarray:
    """C[a, b] = index of a·b, where (a·b)(i) = a(b(i)); int64 [n!, n!]."""
    p = permutations(n)                                                  # [m, n]
    m = p.shape[0]
    composed = p[np.arange(m)[:, None, None], p[None, :, :]]             # [a, b, i] = a(b(i))
    return _index_of(composed, n)


def inverse_table(n: int) -> np.ndarray:
    """inv[a] = index of a⁻¹; int64 [n!]."""
    return _index_of(np.argsort(permutations(n), axis=1), n)


# operation name -> (result indices from (compose table, inverse table, a, b), description)
_OPS: dict[str, tuple[Callable[..., np.ndarray], str]] = {
    "compose": (lambda c, inv, a, b: c[a, b], "composition a·b in S_n, (a·b)(i) = a(b(i))"),
    "conjugate": (lambda c, inv, a, b: c[c[a, b], inv[a]], "conjugation a·b·a⁻¹ in S_n"),
    "aba": (lambda c, inv, a, b: c[c[a, b], a], "a·b·a in S_n"),
}


def perm_table(op: str, n: int) -> Table:
    """All n!² equations a ∘ b = c of S_n for op in compose, conjugate, aba."""
    if op not in _OPS:
        raise ConfigError(f"task: unknown permutation operation {op!r}; allowed: {', '.join(_OPS)}")
    _check_n(n)
    m = math.factorial(n)
    a, b = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    a, b = a.ravel(), b.ravel()
    c = _OPS[op][0](compose_table(n), inverse_table(n), a, b)
    return Table(name=f"perm-{op}", x=np.stack([a, b], axis=1).astype(np.int32), y=c.astype(np.int32),
                 n_classes=m, vocab_size=m, meta={"perm_n": n, "group": f"S{n}", "op": op, "modular": False})


def _check_n(n: int) -> None:
    lo, hi = PERM_N_RANGE
    if not lo <= n <= hi:
        raise ConfigError(f"perm_n: must be between {lo} and {hi}, got {n}")


def _check(c: "Config") -> None:
    _check_n(c.perm_n)


def _build(c: "Config") -> Table:
    return perm_table(c.task.removeprefix("perm-"), c.perm_n)


FAMILIES: list[TaskFamily] = [
    TaskFamily(key="perm", names={f"perm-{k}": d for k, (_, d) in _OPS.items()},
               params=("perm_n", "frac", "noise"), check=_check, build=_build),
]
