"""Bases of functions of a task's inputs, grouped into components, in which a circuit is tested.

Every basis here answers two questions about a table of inputs (rows) and the logits on them:
``power(zc, idx)``, how much of the logits lies in each component over the rows ``idx``, and
``design(comps, idx)``, the values of the chosen components' functions on those rows (for the least
squares of ``groklab.interp.circuit``). The constant function is never a component: it is the class
bias, kept by every ablation.

``LabelBasis``: functions f(h(row)) of the operation's result h = a ∘ b ∈ G, f running over an
orthonormal basis of functions on the finite set G grouped into components. The real Fourier basis
of Z_p for a ± b (``additive_basis``; Nanda et al. 2023's cos/sin(w_k(a + b))); the multiplicative
characters for a·b and a/b (``multiplicative_label_basis``; Fourier over the discrete log, zero apart);
the irreducible representations of S_n for group operations (``irrep_label_basis``; Chughtai et
al. 2023's tr ρ(a)ρ(b)ρ(c)⁻¹ lies in the span of ρ's matrix entries at ab). The 2-D characters of
(x, y) ∈ Z_p² are in ``groklab.interp.fourier2d``, Walsh subsets of bits in ``groklab.interp.walsh``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groklab.errors import ConfigError
from groklab.interp.fourier import fourier_basis, row_frequency
from groklab.interp.irreps import Irrep, irrep_basis
from groklab.interp.multiplicative import multiplicative_basis

CONST = -1   # the component of the constant function(s): the class bias, never tested


@dataclass(frozen=True)
class LabelBasis:
    """Functions f(h(row)): B [|G|, |G|] orthonormal rows over G, comp [|G|] the component of each row
    (``CONST`` for the constant), names [n_comp], h [N] the element of G each row's inputs give."""

    kind: str
    B: np.ndarray
    comp: np.ndarray
    names: tuple[str, ...]
    h: np.ndarray

    def __post_init__(self):
        h = np.asarray(self.h)
        if h.ndim != 1 or h.size == 0 or h.min() < 0 or h.max() >= self.B.shape[1]:
            raise ConfigError(f"h must be element indices in 0..{self.B.shape[1] - 1}, one per row")

    @property
    def n_rows(self) -> int:
        return int(self.h.size)

    @property
    def dims(self) -> np.ndarray:
        """Functions per component, int [n_comp]."""
        return np.bincount(self.comp[self.comp >= 0], minlength=len(self.names))

    def power(self, zc: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Σ over each component's functions φ and the classes c of ⟨φ, z_c⟩²/‖φ‖² over rows idx: [n_comp].

        Exact projections when the rows cover G evenly (the functions are then orthogonal on them)."""
        G = self.B.shape[1]
        h = self.h[idx]
        sums = np.zeros((G, zc.shape[1]))
        np.add.at(sums, h, zc[idx])                               # Σ_{rows with h = g} z
        counts = np.bincount(h, minlength=G).astype(np.float64)
        dots = self.B @ sums                                      # [n_funcs, C]
        norm2 = (self.B ** 2) @ counts
        per = np.sum(dots ** 2, axis=1) / np.where(norm2 > 0, norm2, np.inf)
        keep = self.comp >= 0
        return np.bincount(self.comp[keep], weights=per[keep], minlength=len(self.names))

    def _funcs(self, comps) -> np.ndarray:
        return self.B[np.isin(self.comp, np.asarray(comps, dtype=np.int64))]     # [m, |G|]

    def design(self, comps, idx: np.ndarray) -> np.ndarray:
        """Values of the chosen components' functions on rows idx: [len(idx), m]."""
        return self._funcs(comps)[:, self.h[idx]].T

    def normal_equations(self, comps, idx: np.ndarray, zc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """AᵀA and Aᵀzc for A = [1, design(comps, idx)], summed per element of G (rows sharing h share A's row)."""
        G = self.B.shape[1]
        D = np.concatenate([np.ones((1, G)), self._funcs(comps)])               # [1 + m, |G|]
        counts = np.bincount(self.h[idx], minlength=G).astype(np.float64)
        sums = np.zeros((G, zc.shape[1]))
        np.add.at(sums, self.h[idx], zc)
        return (D * counts) @ D.T, D @ sums

    def evaluate(self, comps, idx: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """design(comps, idx) @ coef, computed once per element of G: [len(idx), C]."""
        return (self._funcs(comps).T @ coef)[self.h[idx]]


def _relabel(comp: np.ndarray, const: int = 0) -> np.ndarray:
    """Component ids with ``const`` mapped to CONST and the rest renumbered from 0."""
    return np.where(comp == const, CONST, comp - (comp > const))


def additive_basis(p: int, h: np.ndarray) -> LabelBasis:
    """Z_p characters (Nanda et al. 2023): the real Fourier basis of Z_p at h = a ± b mod p.

    Components: frequencies k = 1 … p//2 (names "1" …), two functions each (one at k = p/2)."""
    F, _ = fourier_basis(p)
    comp = _relabel(row_frequency(p))
    return LabelBasis("additive", F, comp, tuple(str(k) for k in range(1, p // 2 + 1)), np.asarray(h, np.int64))


def multiplicative_label_basis(p: int, h: np.ndarray) -> LabelBasis:
    """Multiplicative characters at h = a·b or a/b mod p (``groklab.interp.multiplicative``).

    Components: "zero" (0 against the nonzero residues), then discrete-log frequencies "1" … "(p−1)/2"."""
    B, comp, labels = multiplicative_basis(p)
    return LabelBasis("multiplicative", B, _relabel(comp), labels[1:], np.asarray(h, np.int64))


def irrep_label_basis(reps: list[Irrep], h: np.ndarray) -> LabelBasis:
    """Irreducible representations of S_n at h = the group element the operation gives.

    ``reps`` in ``groklab.interp.irreps.irreps`` order (trivial first). Components: the non-trivial
    irreps, named by their partitions, d_λ² functions each."""
    B, comp = irrep_basis(reps)
    trivial = next(i for i, r in enumerate(reps) if r.partition == (sum(r.partition),))
    names = tuple(r.name for i, r in enumerate(reps) if i != trivial)
    return LabelBasis("irreps", B, _relabel(comp, trivial), names, np.asarray(h, np.int64))


__all__ = ["CONST", "LabelBasis", "additive_basis", "irrep_label_basis", "multiplicative_label_basis"]
