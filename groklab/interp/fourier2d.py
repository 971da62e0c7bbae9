"""2-D characters of (x, y) ∈ Z_p × Z_p: the basis for operators that are not a group product.

A polynomial such as x² + y or an ``expr:`` task has no group structure on its result that the
inputs compose through, so its logits are read in the characters of the input pair itself:
χ_{k1,k2}(x, y) = exp(2πi(k1·x + k2·y)/p). Real form: the component {(k1, k2), (−k1, −k2)} holds
cos(w(k1·x + k2·y)) and sin(w(k1·x + k2·y)), w = 2π/p (its cosine alone where (k1, k2) ≡ −(k1, k2),
i.e. 2k1 ≡ 2k2 ≡ 0). For a + b the clock circuit lives on the diagonal (k, k); for a − b on (k, −k).

Components are named "(k1,k2)" with (k1, k2) the first of the pair in a-major order, (0, 0) left
out (the constant). The power on a subset of the p² cells comes from one 2-D FFT of the logits
with the other cells set to zero; on the full grid it is exact, on a subset it is the periodogram
(the functions are then only nearly orthogonal; the ablations' least squares is exact either way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groklab.errors import ConfigError


def components_2d(p: int) -> np.ndarray:
    """The components' frequency pairs (k1, k2), one per pair {k, −k} except (0, 0): int [(p²−1)//2 …, 2]."""
    k1, k2 = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    code = k1 * p + k2
    neg = ((-k1) % p) * p + (-k2) % p
    first = (code <= neg) & (code > 0)
    return np.stack([k1[first], k2[first]], axis=1).astype(np.int64)


@dataclass(frozen=True)
class Fourier2DBasis:
    """2-D characters over the rows' inputs xy [N, 2] in Z_p (module doc)."""

    p: int
    xy: np.ndarray
    kind: str = "2d"
    whole_table_selection: bool = True    # orthogonal on the whole grid; a random half's periodogram leaks

    def __post_init__(self):
        xy = np.asarray(self.xy)
        if xy.ndim != 2 or xy.shape[1] != 2 or xy.size == 0 or xy.min() < 0 or xy.max() >= self.p:
            raise ConfigError(f"xy must be [N, 2] residues in 0..{self.p - 1}")

    @property
    def freqs(self) -> np.ndarray:
        return components_2d(self.p)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"({a},{b})" for a, b in self.freqs.tolist())

    @property
    def n_rows(self) -> int:
        return int(self.xy.shape[0])

    @property
    def dims(self) -> np.ndarray:
        f = self.freqs
        return np.where(np.all((2 * f) % self.p == 0, axis=1), 1, 2)

    def power(self, zc: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Periodogram of the logits over the rows idx, per component: [n_comp]."""
        p, C = self.p, zc.shape[1]
        grid = np.zeros((p, p, C))
        x, y = self.xy[idx, 0], self.xy[idx, 1]
        np.add.at(grid, (x, y), zc[idx])
        F = np.fft.fft2(grid, axes=(0, 1))                           # Σ z e^{−iw(k1 x + k2 y)}
        f = self.freqs
        power = np.sum(np.abs(F[f[:, 0], f[:, 1]]) ** 2, axis=1)     # |⟨cos⟩|² + |⟨sin⟩|²
        # cos and sin each have squared norm ≈ n/2 on n cells (n for the cosine alone)
        return power * np.where(self.dims == 1, 1.0, 2.0) / max(len(idx), 1)

    def normal_equations(self, comps, idx: np.ndarray, zc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """AᵀA and Aᵀzc for A = [1, design(comps, idx)]. On the whole grid (each cell once) the columns are
        orthogonal and Aᵀzc comes from one FFT; on other rows they are computed from the design."""
        p = self.p
        x, y = self.xy[idx, 0], self.xy[idx, 1]
        if len(idx) != p * p or np.unique(x * p + y).size != p * p:
            A = np.concatenate([np.ones((len(idx), 1)), self.design(comps, idx)], axis=1)
            return A.T @ A, A.T @ zc
        grid = np.zeros((p, p, zc.shape[1]))
        grid[x, y] = zc
        F = np.fft.fft2(grid, axes=(0, 1))
        f = self.freqs[np.asarray(comps, dtype=np.int64)].reshape(-1, 2)
        single = np.all((2 * f) % p == 0, axis=1)
        Fk = F[f[:, 0], f[:, 1]]                                    # Σ z·cos θ − i·Σ z·sin θ
        Atz = np.concatenate([zc.sum(axis=0, keepdims=True), Fk.real, -Fk[~single].imag])
        n = float(p * p)
        diag = np.concatenate([[n], np.where(single, n, n / 2), np.full(int((~single).sum()), n / 2)])
        return np.diag(diag), Atz

    def design(self, comps, idx: np.ndarray) -> np.ndarray:
        """cos and sin of w(k1·x + k2·y) of the chosen components on rows idx: [len(idx), m]."""
        f = self.freqs[np.asarray(comps, dtype=np.int64)]
        if f.size == 0:
            return np.zeros((len(idx), 0))
        ang = 2 * np.pi * (self.xy[idx] @ f.T) / self.p                # [n, m]
        single = np.all((2 * f) % self.p == 0, axis=1)
        return np.concatenate([np.cos(ang), np.sin(ang[:, ~single])], axis=1)


__all__ = ["Fourier2DBasis", "components_2d"]
