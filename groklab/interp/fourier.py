"""The Fourier basis over tokens 0..p−1 and the measures read off weights in it.

Nanda et al. 2023 ("Progress measures for grokking via mechanistic interpretability"): the
orthonormal real basis, the embedding spectrum (norm per frequency of F·W_E), key frequencies
as the few that stand out, and the Gini coefficient of the spectrum (sparsity). Doshi et al.
2023 ("To grok or not to grok"): the inverse participation ratio (IPR) of a neuron's weights.

Conventions: w_k = 2πk/p. Basis rows: const, cos_1, sin_1, …, cos_K, sin_K with
K = (p−1)//2; for even p a last row cos_{p/2} (x ↦ (−1)^x / √p; its sine is zero). Spectra
are indexed by frequency − 1: ``spectrum[i]`` is frequency i + 1, for i < p//2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from groklab.errors import ConfigError


def _check_p(p: int) -> int:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 3:
        raise ConfigError(f"p must be an integer >= 3, got {p!r}")
    return int(p)


def n_frequencies(p: int) -> int:
    """Number of frequencies k = 1..p//2 of the real Fourier basis over p tokens."""
    return _check_p(p) // 2


def row_frequency(p: int) -> np.ndarray:
    """Frequency of each row of ``fourier_basis(p)``: int [p], 0 for the constant row."""
    p = _check_p(p)
    return np.arange(1, p + 1) // 2  # rows: 0 | 1 1 | 2 2 | … (even p: last row alone)


def check_freqs(freqs: Sequence[int] | np.ndarray, p: int) -> np.ndarray:
    """Validate a set of frequencies for modulus p; int [m], sorted, unique, in 1..p//2."""
    k = np.unique(np.asarray(freqs, dtype=np.int64).reshape(-1))
    bad = k[(k < 1) | (k > n_frequencies(p))]
    if bad.size:
        raise ConfigError(f"frequencies must be in 1..{p // 2} for p = {p}, got {bad.tolist()}")
    return k


def fourier_basis(p: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Orthonormal real Fourier basis over tokens 0..p−1 (Nanda et al. 2023).

    Returns (F [p, p] float64 with orthonormal rows, labels [p]): row 0 is 1/√p ("const"), then
    √(2/p)·cos(w_k x) ("cos k") and √(2/p)·sin(w_k x) ("sin k") for k = 1..(p−1)//2, and for
    even p a last row (−1)^x/√p ("cos p/2").
    """
    p = _check_p(p)
    x = np.arange(p)
    rows = [np.full(p, 1 / np.sqrt(p))]
    labels = ["const"]
    for k in range(1, (p - 1) // 2 + 1):
        w = 2 * np.pi * k / p
        rows += [np.sqrt(2 / p) * np.cos(w * x), np.sqrt(2 / p) * np.sin(w * x)]
        labels += [f"cos {k}", f"sin {k}"]
    if p % 2 == 0:
        rows.append(np.cos(np.pi * x) / np.sqrt(p))
        labels.append(f"cos {p // 2}")
    return np.stack(rows), tuple(labels)


def frequency_power(X: np.ndarray, p: int) -> np.ndarray:
    """Power of each frequency in each column of X [≥p, d] (token axis first; first p rows used).

    Returns float64 [p//2, d]: the squared norm of the (cos_k, sin_k) coefficients of F·X[:p]
    for k = 1..p//2; the constant coefficient is left out.
    """
    p = _check_p(p)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < p:
        raise ConfigError(f"expected a [>= {p}, d] matrix with one row per token, got {X.shape}")
    F, _ = fourier_basis(p)
    coef2 = (F @ X[:p]) ** 2  # [p, d]
    onehot = row_frequency(p)[:, None] == np.arange(1, p // 2 + 1)[None, :]  # [p, K]
    return onehot.T.astype(np.float64) @ coef2


def embedding_spectrum(W_E: np.ndarray, p: int) -> np.ndarray:
    """Norm per frequency of the embedding in the Fourier basis (Nanda et al. 2023).

    W_E [d_vocab ≥ p, d_model]: one row per token (extra rows, e.g. the '=' token, ignored).
    Also fits an MLP's first-layer token weights [p, d_hidden], and the unembedding side
    (W_out·W_U)ᵀ [p, d_mlp] or an MLP's W_outᵀ [p, d_hidden] (see ``unembedding_spectrum``).
    Returns float64 [p//2]: ‖(cos_k, sin_k) rows of F·W_E[:p]‖ for k = 1..p//2.
    """
    return np.sqrt(frequency_power(W_E, p).sum(axis=1))


def unembedding_spectrum(W_out: np.ndarray, p: int, W_U: np.ndarray | None = None) -> np.ndarray:
    """Norm per output frequency of the map from hidden neurons to logits (Nanda et al. 2023).

    W_out [d_hidden, d_model] with W_U [d_model, n_classes ≥ p] (transformer: the spectrum of
    W_out·W_U), or W_out [d_hidden, n_classes ≥ p] alone (MLP). The first p classes are used.
    Returns float64 [p//2], as ``embedding_spectrum``.
    """
    M = np.asarray(W_out, dtype=np.float64)
    if W_U is not None:
        M = M @ np.asarray(W_U, dtype=np.float64)
    return embedding_spectrum(M.T, p)


def key_frequencies_from_norms(spectrum: np.ndarray, ratio: float = 3.0,
                               rel_max: float = 0.1) -> np.ndarray:
    """The few frequencies whose norm stands out of a spectrum (Nanda et al. 2023).

    spectrum [K]: from ``embedding_spectrum`` or ``unembedding_spectrum`` (entry i is frequency
    i + 1). A frequency is key when its norm is at least ``ratio`` × the spectrum's lower median
    and at least ``rel_max`` × the largest norm. A grokked model uses 3–7 of p//2 frequencies,
    so the median sits on the floor of unused frequencies and measures the noise whatever the
    overall scale; the relative-to-max floor stops rounding noise from counting when that floor
    is exactly zero. Caveat: if half or more of the frequencies are used (e.g. the quadratic MLP
    of Gromov 2023 spreads over all of them) nothing stands out and the result is empty.
    Returns int [m], ascending frequencies (empty if none stands out).
    """
    s = np.asarray(spectrum, dtype=np.float64).reshape(-1)
    if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ConfigError("spectrum must be a non-empty array of finite non-negative norms")
    if ratio < 1 or not 0 < rel_max <= 1:
        raise ConfigError(f"need ratio >= 1 and 0 < rel_max <= 1, got {ratio}, {rel_max}")
    top = s.max()
    if top == 0:
        return np.zeros(0, dtype=np.int64)
    floor = np.sort(s)[(s.size - 1) // 2]
    keep = (s >= ratio * floor) & (s >= rel_max * top)
    return np.flatnonzero(keep).astype(np.int64) + 1


def gini(c: np.ndarray) -> float:
    """Gini coefficient of non-negative values, e.g. a Fourier spectrum (Nanda et al. 2023).

    G = 1 − 2·Σ_i (c_(i)/‖c‖₁)·(N − i + ½)/N with c sorted ascending, i = 1..N: 0 when all
    values are equal, 1 − 1/N when one value holds everything. c [N]; all zeros gives 0.
    """
    c = np.sort(np.asarray(c, dtype=np.float64).reshape(-1))
    if c.size == 0 or np.any(c < 0) or not np.all(np.isfinite(c)):
        raise ConfigError("gini needs a non-empty array of finite non-negative values")
    total = c.sum()
    if total == 0:
        return 0.0
    n = c.size
    i = np.arange(1, n + 1)
    return float(1 - 2 * np.sum((c / total) * (n - i + 0.5) / n))


def ipr(W: np.ndarray) -> np.ndarray:
    """Inverse participation ratio of each neuron's weights over tokens (Doshi et al. 2023).

    W [n_neurons, p]: one row per neuron, one column per token (e.g. an MLP's W_in[:p].T for
    the first operand). Per row u, û_k is the norm of its (cos_k, sin_k) coefficients in
    ``fourier_basis(p)`` (the two real coefficients of one frequency combined, so a pure
    frequency counts once) for k = 1..p//2; the constant term is left out, so an offset does
    not hide periodicity. IPR = Σ_k (û_k/‖û‖₂)^4: 1 for a single frequency, about 2/(p//2) for
    random weights. Returns float64 [n_neurons]; a row with no non-constant part gives 0.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ConfigError(f"ipr expects W [n_neurons, p], got shape {W.shape}")
    power = frequency_power(W.T, W.shape[1])  # [K, n] = û_k²
    total = power.sum(axis=0)
    periodic = total > 1e-20 * np.sum(W**2, axis=1)  # constant up to rounding: no spectrum
    safe = np.where(periodic, total, 1.0)
    return np.where(periodic, np.sum(power**2, axis=0) / safe**2, 0.0)
