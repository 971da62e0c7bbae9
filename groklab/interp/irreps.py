"""Irreducible representations of the symmetric group S_n, built in code (Young's orthogonal form).

Chughtai, Chan & Nanda 2023 ("A toy model of universality"): a network composing group elements
embeds a and b through irreducible representations ρ, multiplies ρ(a)ρ(b) and reads the logit of c
off tr(ρ(a)ρ(b)ρ(c)⁻¹). This module builds every irrep of S_n (n ≤ 6) and the orthonormal basis of
functions on S_n they give (the group Fourier basis), and checks both.

Construction: the irrep of a partition λ of n acts on the standard Young tableaux of shape λ. In
Young's orthogonal form the adjacent transposition s_j (swapping j and j+1) maps the tableau T to
r·T + √(1 − r²)·T', where r = 1/(c_T(j+1) − c_T(j)) is the inverse axial distance of the boxes
holding j and j+1 (content c = column − row) and T' is T with j and j+1 swapped (absent when T' is
not standard; then |r| = 1). These matrices are orthogonal and satisfy the Coxeter relations. Any
permutation π is reached from the identity by adjacent swaps: if π has a descent at position j
(π(j) > π(j+1)), π = π'·s_j with π' = π·s_j one inversion shorter, so ρ(π) = ρ(π')·ρ(s_j). The
product convention is the caller's permutations' (groklab's tasks: (a·b)(i) = a(b(i))), and
``check_irreps`` verifies ρ(a·b) = ρ(a)ρ(b) on every pair, orthogonality of every matrix and of the
characters, and Σ d_λ² = n!.

Permutations are rows of an int array [n!, n] (row k = element k, one-line notation π(0..n−1)),
e.g. ``groklab.tasks.groups.permutations(n)``; nothing here knows about tasks.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from groklab.errors import ConfigError

MAX_N = 6


@dataclass(frozen=True)
class Irrep:
    """One irreducible representation: its partition, dimension and matrices [n!, d, d] (orthogonal)."""

    partition: tuple[int, ...]
    matrices: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.matrices.shape[1])

    @property
    def name(self) -> str:
        return "(" + ",".join(map(str, self.partition)) + ")"

    @property
    def character(self) -> np.ndarray:
        """χ(g) = tr ρ(g) for every element, float64 [n!]."""
        return np.trace(self.matrices, axis1=1, axis2=2)


def partitions(n: int) -> list[tuple[int, ...]]:
    """Partitions of n, largest parts first, in decreasing lexicographic order: (n), (n−1, 1), …, (1, …, 1)."""
    def parts(m: int, most: int):
        if m == 0:
            yield ()
            return
        for first in range(min(m, most), 0, -1):
            for rest in parts(m - first, first):
                yield (first, *rest)
    return list(parts(n, n))


def standard_tableaux(shape: tuple[int, ...]) -> list[dict[int, tuple[int, int]]]:
    """Standard Young tableaux of ``shape``, each as {entry 0..n−1: (row, column)}; in a fixed order."""
    n = sum(shape)
    out: list[dict[int, tuple[int, int]]] = []

    def fill(v: int, rows: list[int], boxes: dict[int, tuple[int, int]]) -> None:
        if v == n:
            out.append(dict(boxes))
            return
        for r, length in enumerate(shape):
            # the next entry may end row r if the row has room and the row above is longer
            if rows[r] < length and (r == 0 or rows[r - 1] > rows[r]):
                boxes[v] = (r, rows[r])
                rows[r] += 1
                fill(v + 1, rows, boxes)
                rows[r] -= 1
                del boxes[v]

    fill(0, [0] * len(shape), {})
    return out


def _generators(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Young's orthogonal form of the adjacent transpositions s_0 … s_{n−2}: [d, d] each."""
    tabs = standard_tableaux(shape)
    key = {tuple(sorted(t.items())): i for i, t in enumerate(tabs)}
    n, d = sum(shape), len(tabs)
    gens = []
    for j in range(n - 1):
        M = np.zeros((d, d))
        for i, t in enumerate(tabs):
            (r1, c1), (r2, c2) = t[j], t[j + 1]
            r = 1.0 / ((c2 - r2) - (c1 - r1))
            M[i, i] = r
            swapped = {**t, j: t[j + 1], j + 1: t[j]}
            other = key.get(tuple(sorted(swapped.items())))
            if other is not None:                      # the swapped tableau is standard
                M[other, i] = math.sqrt(1.0 - r * r)
        gens.append(M)
    return gens


def _check_perms(perms: np.ndarray) -> tuple[np.ndarray, int]:
    P = np.asarray(perms, dtype=np.int64)
    if P.ndim != 2 or P.shape[1] < 1 or P.shape[1] > MAX_N:
        raise ConfigError(f"permutations must be an [n!, n] array with 1 <= n <= {MAX_N}, got shape {P.shape}")
    n = P.shape[1]
    if P.shape[0] != math.factorial(n) or len({tuple(r) for r in P.tolist()}) != P.shape[0] \
            or not np.all(np.sort(P, axis=1) == np.arange(n)):
        raise ConfigError(f"permutations must list each of the {math.factorial(n)} permutations of 0..{n - 1} once")
    return P, n


def irreps(perms: np.ndarray) -> list[Irrep]:
    """Every irreducible representation of S_n on the elements ``perms`` [n!, n] (one-line rows).

    Returns one ``Irrep`` per partition of n, in ``partitions(n)`` order (trivial first, sign last);
    ``matrices[k]`` is ρ(perms[k]) for the product (a·b)(i) = a(b(i)).
    """
    P, n = _check_perms(perms)
    index = {tuple(r): k for k, r in enumerate(P.tolist())}
    # visit elements by inversion count, so each π' = π·s_j is done before π
    inv = [sum(a > b for a, b in itertools.combinations(r, 2)) for r in P.tolist()]
    order = np.argsort(inv, kind="stable")
    out = []
    for shape in partitions(n):
        gens = _generators(shape)
        d = gens[0].shape[0] if gens else 1
        mats = np.zeros((P.shape[0], d, d))
        for k in order:
            row = P[k].tolist()
            j = next((j for j in range(n - 1) if row[j] > row[j + 1]), None)
            if j is None:
                mats[k] = np.eye(d)
                continue
            row[j], row[j + 1] = row[j + 1], row[j]
            mats[k] = mats[index[tuple(row)]] @ gens[j]
        out.append(Irrep(shape, mats))
    return out


def compose_index(perms: np.ndarray) -> np.ndarray:
    """C[a, b] = index of a·b, (a·b)(i) = a(b(i)), for the elements ``perms``: int64 [n!, n!]."""
    P, n = _check_perms(perms)
    weights = n ** np.arange(n - 1, -1, -1, dtype=np.int64)
    codes = P @ weights
    order = np.argsort(codes)
    composed = P[np.arange(P.shape[0])[:, None, None], P[None, :, :]]      # [a, b, i] = a(b(i))
    return order[np.searchsorted(codes[order], composed @ weights)]


def check_irreps(reps: list[Irrep], perms: np.ndarray, atol: float = 1e-9) -> None:
    """Raise ValueError unless ``reps`` are the irreps of S_n on ``perms``: each a homomorphism,
    ρ(a·b) = ρ(a)ρ(b) for every pair, with orthogonal matrices; the characters orthonormal,
    (1/|G|)·Σ_g χ_λ(g)χ_μ(g) = δ_λμ; and Σ_λ d_λ² = |G|."""
    P, _ = _check_perms(perms)
    m = P.shape[0]
    C = compose_index(P)
    for rep in reps:
        R = rep.matrices
        for a in range(m):                                       # one row of the table at a time (S6: 720²)
            if not np.allclose(np.einsum("ij,bjk->bik", R[a], R), R[C[a]], atol=atol):
                raise ValueError(f"irrep {rep.name} is not a homomorphism: ρ(a·b) ≠ ρ(a)ρ(b) at a = {a}")
        if not np.allclose(np.einsum("gji,gjk->gik", R, R), np.eye(rep.dim), atol=atol):
            raise ValueError(f"irrep {rep.name} has non-orthogonal matrices")
    chars = np.stack([r.character for r in reps])
    if not np.allclose(chars @ chars.T / m, np.eye(len(reps)), atol=atol):
        raise ValueError("the characters are not orthonormal")
    if sum(r.dim ** 2 for r in reps) != m:
        raise ValueError(f"the dimensions' squares sum to {sum(r.dim ** 2 for r in reps)}, not |G| = {m}")


def irrep_basis(reps: list[Irrep]) -> tuple[np.ndarray, np.ndarray]:
    """The group Fourier basis: orthonormal functions on G from the irreps' matrix entries.

    Row (λ, i, j) is √(d_λ/|G|)·ρ_λ(g)[i, j] over the elements g (Schur orthogonality makes the rows
    orthonormal; there are Σ d_λ² = |G| of them). Returns (B [|G|, |G|] float64, component [|G|]:
    the index in ``reps`` of each row's irrep).
    """
    rows, comp = [], []
    for c, rep in enumerate(reps):
        m, d = rep.matrices.shape[:2]
        rows.append(np.sqrt(d / m) * rep.matrices.reshape(m, d * d).T)
        comp += [c] * (d * d)
    return np.concatenate(rows), np.asarray(comp, dtype=np.int64)


def irrep_norms(W: np.ndarray, reps: list[Irrep]) -> np.ndarray:
    """Norm of the part of each column of W [|G|, d] (one row per element) in each irrep's functions.

    The group Fourier transform of the rows: the norm per irrep of B·W with B from ``irrep_basis``.
    Returns float64 [len(reps)]; their squares sum to ‖W‖².
    """
    B, comp = irrep_basis(reps)
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != B.shape[1]:
        raise ConfigError(f"expected W [{B.shape[1]}, d] with one row per group element, got {W.shape}")
    power = np.sum((B @ W) ** 2, axis=1)
    return np.sqrt(np.bincount(comp, weights=power, minlength=len(reps)))


__all__ = ["MAX_N", "Irrep", "check_irreps", "compose_index", "irrep_basis", "irrep_norms", "irreps", "partitions",
           "standard_tableaux"]
