"""Progress measures on the logits of a modular-arithmetic model over the full input grid.

Nanda et al. 2023 ("Progress measures for grokking via mechanistic interpretability"):
- restricted loss: keep only the part of each output's logits (as a function of the inputs
  (a, b)) along cos(w_k(a+b)) and sin(w_k(a+b)) for the key frequencies k, plus the mean, and
  take the cross-entropy over all inputs; it falls before the test loss does.
- excluded loss: remove those directions and take the cross-entropy on the training set; it
  rises while the Fourier circuit forms.
- the clock algorithm's logits are Σ_k α_k·cos(w_k(a+b−c)); the share of logit variance along
  these directions says how much of the model that algorithm explains.

Scope: the logits cover the full p×p grid of operand pairs (a, b), a, b in 0..p−1 (the model
can be run on every pair). Pairs that are not equations of the task (e.g. b = 0 for division)
carry label −1 and are left out of every loss; grids that are not p×p are out of scope.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from groklab.errors import ConfigError
from groklab.interp.fourier import check_freqs

# test accuracy from which a model counts as generalizing (Liu et al. 2022 use 0.9)
GENERALIZING_ACC = 0.9
# share of logit variance from which the Fourier directions count as the model's circuit
CIRCUIT_FRACTION = 0.5


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy (natural log) of integer labels under softmax(logits).

    logits [..., C], labels [...] ints in 0..C−1. Computed in float64 with log-sum-exp, so
    logits of any size give a finite loss.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    if z.shape[:-1] != y.shape or y.size == 0:
        raise ConfigError(f"labels shape {y.shape} must equal logits shape {z.shape} minus the "
                          "last axis, and be non-empty")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= z.shape[-1]:
        raise ConfigError(f"labels must be integers in 0..{z.shape[-1] - 1}")
    z = z.reshape(-1, z.shape[-1])
    y = y.reshape(-1)
    m = z.max(axis=1)
    lse = m + np.log(np.sum(np.exp(z - m[:, None]), axis=1))
    return float(np.mean(lse - z[np.arange(y.size), y]))


def _grid(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    if z.ndim != 3 or z.shape[0] != z.shape[1] or y.shape != z.shape[:2]:
        raise ConfigError(f"expected logits [p, p, C] and labels [p, p] over the full grid, "
                          f"got {z.shape} and {y.shape}")
    return z, y, z.shape[0]


def _sum_directions(p: int, freqs: Sequence[int] | np.ndarray) -> np.ndarray:
    """Orthonormal rows cos(w_k(a+b)), sin(w_k(a+b)) over the grid, flattened: [m, p·p]."""
    k = check_freqs(freqs, p)
    s = np.add.outer(np.arange(p), np.arange(p)).reshape(-1)  # a + b, [p·p]
    angle = 2 * np.pi * np.outer(k, s) / p  # [m, p·p]
    rows = np.concatenate([np.cos(angle), np.sin(angle[2 * k != p])])  # sin vanishes at k = p/2
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _project(z: np.ndarray, freqs: Sequence[int] | np.ndarray) -> np.ndarray:
    """Part of each output's logits z [p, p, C] along the key directions (zero mean)."""
    p, C = z.shape[0], z.shape[2]
    D = _sum_directions(p, freqs)  # [m, p·p]; rows have zero mean, so constants drop out
    flat = z.reshape(p * p, C)
    return (D.T @ (D @ flat)).reshape(p, p, C)


def _valid_ce(z: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float:
    keep = mask & (y >= 0)
    if not keep.any():
        raise ConfigError("no labelled inputs to take the loss on")
    return cross_entropy(z[keep], y[keep])


def restricted_loss(logits: np.ndarray, labels: np.ndarray,
                    freqs: Sequence[int] | np.ndarray) -> float:
    """Cross-entropy over all inputs of the logits restricted to the key frequencies.

    Nanda et al. 2023. logits [p, p, C] at every input (a, b); labels [p, p] (−1 where (a, b)
    is not an equation); freqs: key frequencies in 1..p//2. Each output's logits keep their
    mean over (a, b) and their projection on the normalised directions cos(w_k(a+b)),
    sin(w_k(a+b)).
    """
    z, y, _ = _grid(logits, labels)
    restricted = z.mean(axis=(0, 1)) + _project(z, freqs)
    return _valid_ce(restricted, y, np.ones(y.shape, dtype=bool))


def excluded_loss(logits: np.ndarray, labels: np.ndarray, freqs: Sequence[int] | np.ndarray,
                  train_mask: np.ndarray) -> float:
    """Cross-entropy on the training inputs of the logits with the key frequencies removed.

    Nanda et al. 2023. Shapes as ``restricted_loss``; train_mask bool [p, p] marks the
    training pairs. The directions cos(w_k(a+b)), sin(w_k(a+b)) are projected out of each
    output's logits over the full grid.
    """
    z, y, _ = _grid(logits, labels)
    mask = np.asarray(train_mask)
    if mask.shape != y.shape or mask.dtype != np.bool_:
        raise ConfigError(f"train_mask must be bool {y.shape}, got {mask.dtype} {mask.shape}")
    return _valid_ce(z - _project(z, freqs), y, mask)


def _square_logits(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 3 or not z.shape[0] == z.shape[1] == z.shape[2]:
        raise ConfigError(f"expected logits [p, p, p] (inputs a, b; output c), got {z.shape}")
    return z


def logit_cos_coefficients(logits: np.ndarray, freqs: Sequence[int] | np.ndarray) -> np.ndarray:
    """Coefficient of cos(w_k(a+b−c)) in the logits, per frequency (Nanda et al. 2023).

    logits [p, p, p] (inputs a, b; output c); freqs [m] in 1..p//2. Returns float64 [m], the
    projection of the logits on each normalised direction (its norm over the p³ grid is 1),
    in the order of freqs. Constant offsets do not contribute (the directions have zero mean).
    """
    z = _square_logits(logits)
    p = z.shape[0]
    k = np.asarray(freqs, dtype=np.int64).reshape(-1)
    check_freqs(k, p)
    w = 2 * np.pi * k / p  # [m]
    r = np.arange(p)
    ab = np.add.outer(r, r).reshape(-1)  # a + b, [p·p]
    # cos(w(a+b−c)) = cos(w(a+b))·cos(wc) + sin(w(a+b))·sin(wc)
    flat = z.reshape(p * p, p)
    cos_c, sin_c = flat @ np.cos(np.outer(r, w)), flat @ np.sin(np.outer(r, w))  # [p·p, m]
    dot = (np.sum(np.cos(np.outer(ab, w)) * cos_c, axis=0)
           + np.sum(np.sin(np.outer(ab, w)) * sin_c, axis=0))
    norm2 = np.where(2 * k == p, p**3, p**3 / 2)  # ‖cos(w_k(a+b−c))‖² over the grid
    return dot / np.sqrt(norm2)


def fourier_logit_fraction(logits: np.ndarray, freqs: Sequence[int] | np.ndarray) -> float:
    """Share of logit variance along cos(w_k(a+b−c)) for k in freqs (Nanda et al. 2023).

    logits [p, p, p]. The variance is taken after removing each input's mean over the outputs
    c, which softmax ignores; the directions are orthogonal to that mean, so their squared
    coefficients add up. Returns a float in [0, 1] (0 for logits constant per input).
    """
    z = _square_logits(logits)
    k = check_freqs(freqs, z.shape[0])
    centred = z - z.mean(axis=2, keepdims=True)
    total = float(np.sum(centred**2))
    if total == 0:
        return 0.0
    return float(np.sum(logit_cos_coefficients(centred, k) ** 2) / total)


def circuit_verdict(key_freqs: Sequence[int] | np.ndarray, explained_fraction: float,
                    test_acc: float) -> str:
    """One plain-language sentence on what a modular-arithmetic model does.

    key_freqs: key frequencies (e.g. from ``key_frequencies_from_norms``); explained_fraction:
    ``fourier_logit_fraction`` for them; test_acc in [0, 1]. A Fourier circuit (Nanda et al.
    2023) counts when key frequencies exist and explain at least half the logit variance; the
    model generalizes at test accuracy ≥ 0.9 (Liu et al. 2022's threshold).
    """
    k = [int(v) for v in np.asarray(key_freqs, dtype=np.int64).reshape(-1)]
    names = ", ".join(str(v) for v in k)
    pct, acc = f"{100 * explained_fraction:.1f}%", f"{100 * test_acc:.1f}%"
    circuit = bool(k) and explained_fraction >= CIRCUIT_FRACTION
    general = test_acc >= GENERALIZING_ACC
    if circuit and general:
        return (f"uses frequencies {names} — a generalizing Fourier circuit explains {pct} of "
                f"logit variance (test accuracy {acc})")
    if circuit:
        return (f"uses frequencies {names} — a Fourier circuit explains {pct} of logit variance "
                f"but test accuracy is {acc}: circuit forming, still memorizing")
    if general:
        return (f"generalizes (test accuracy {acc}) without a dominant Fourier circuit "
                f"({pct} of logit variance explained)")
    if k:
        return (f"frequencies {names} stand out but explain only {pct} of logit variance; "
                f"test accuracy {acc}: memorizing")
    return f"no periodic structure: memorizing (test accuracy {acc})"
