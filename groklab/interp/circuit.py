"""A circuit verdict that is a test: key components, the variance they explain, and two ablations.

Given a basis of functions of the inputs grouped into components (``groklab.interp.bases``,
``fourier2d``, ``walsh``) and a model's logits z [N, C] on every row of the input table:

- power: each component's share of the logit variance, after removing each row's mean over the
  classes (softmax ignores it) and each class's mean over the rows (the bias);
- key components: those whose power per function stands out of what unstructured logits would put
  on one function (the total variance over the number of rows) by more than such noise would
  reach among that many functions (a χ² tail of 1 %, at least ``MIN_RATIO``), and that hold at least
  ``REL_MAX`` of the strongest component's power per function (a tenth of its amplitude). They are
  read on the held-out rows (a memorized training set puts its labels on every function of the
  answer, so on the whole table every label component of a memorizing model would stand out),
  except for the 2-D characters, read on the whole table where they are orthogonal (a memorized
  table spreads evenly over them; on a random half their periodogram leaks);
- the ablations: the logits over the whole input table are projected by least squares onto the span
  of the constant and the key components' functions ("keep only") or have that projection's key part
  subtracted ("remove"), and scored on the held-out rows against the true labels; ``explained`` and
  each component's fraction are shares of the whole table's logit variance. Caveat: the label bases'
  functions are functions of the answer, so a projection fit over the training rows carries their
  (possibly memorized) labels to every input with the same answer: keep-only accuracy can exceed the
  model's own before it generalizes, which is why the verdict also asks the model to generalize;
- restricted and excluded loss (Nanda et al. 2023) in the same basis and projection: cross-entropy
  of the kept logits over every row (true labels) and of the removed logits on the training rows
  (the labels trained on).

The verdict (``circuit_label``): "generalizing circuit" only when the model generalizes (test
accuracy ≥ ``GENERALIZING_ACC``), key components exist, keeping only them loses at most
``KEEP_ACC_SLACK`` of test accuracy and ``KEEP_LOSS_SLACK`` nats of test loss, and removing them
leaves test accuracy within ``chance_bound`` (twice chance, or chance + 10 % of the way to 1 for
tasks with few classes). Otherwise "memorizing" (train accuracy ≥ ``FIT_ACC``, test below
``GENERALIZING_ACC``), "generalizing without this circuit" or "not fitting".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from groklab.errors import ConfigError
from groklab.interp.logits import cross_entropy

GENERALIZING_ACC = 0.9     # Liu et al. 2022's threshold, as circuit_verdict
FIT_ACC = 0.99             # train accuracy from which a model has fit (memorized) its training set
KEEP_ACC_SLACK = 0.01      # keep-only may lose at most this much test accuracy
KEEP_LOSS_SLACK = 0.1      # ... and at most this many nats of test loss (Nanda's "low loss" scale)
MIN_RATIO = 3.0            # a key component's power per function: at least this × unstructured logits'
TAIL = 0.01                # chance that noise alone puts any function over the threshold
REL_MAX = 0.01             # ... and at least this × the strongest component's power per function
MAX_KEY = 256              # key components kept at most (the strongest)

LABELS = ("generalizing circuit", "generalizing without this circuit", "memorizing", "not fitting")
# basis kind -> (what its components are called, adjective of its circuit)
KINDS = {"additive": ("frequencies", "Fourier"),
         "multiplicative": ("discrete-log components", "multiplicative-character"),
         "irreps": ("irreps", "irrep"), "walsh": ("Walsh subsets", "Walsh"), "2d": ("2-D frequencies", "2-D Fourier")}


@dataclass(frozen=True)
class CircuitTest:
    """The circuit test at one checkpoint (module doc). Accuracies and losses are on the held-out rows."""

    kind: str
    components: tuple[int, ...]     # key components, strongest first
    names: tuple[str, ...]
    fractions: tuple[float, ...]    # each key component's share of the logit variance over the table
    explained: float                # share of the key components together (least squares)
    model_acc: float
    model_loss: float
    keep_acc: float
    keep_loss: float
    remove_acc: float
    remove_loss: float
    chance: float

    @property
    def bound(self) -> float:
        return chance_bound(self.chance)

    def as_dict(self) -> dict:
        return {"components": [{"name": n, "fraction": f} for n, f in zip(self.names, self.fractions)],
                "explained": self.explained, "chance": self.chance, "chance_bound": self.bound,
                "model": {"acc": self.model_acc, "loss": self.model_loss},
                "keep": {"acc": self.keep_acc, "loss": self.keep_loss},
                "remove": {"acc": self.remove_acc, "loss": self.remove_loss}}


def chance_bound(chance: float) -> float:
    """Test accuracy that counts as chance after removing the circuit: min(2·chance, chance + 0.1·(1 − chance))."""
    return min(2 * chance, chance + 0.1 * (1 - chance))


def _centred(z: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows idx of z with each row's mean over classes and each class's mean over those rows removed."""
    zc = z[idx] - z[idx].mean(axis=1, keepdims=True)
    return zc - zc.mean(axis=0)


def component_power(basis, z: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, float]:
    """(power per component over rows idx [n_comp], total variance there) of the logits z [N, C]."""
    zc = np.zeros_like(z, dtype=np.float64)
    zc[idx] = _centred(np.asarray(z, np.float64), idx)
    return basis.power(zc, idx), float(np.sum(zc[idx] ** 2))


def selection_power(basis, z: np.ndarray, test_idx: np.ndarray) -> tuple[np.ndarray, float, int]:
    """(power per component, total variance, rows) the key components are chosen by: on the held-out
    rows, or on the whole table for a basis read there (``basis.whole_table_selection``: 2-D)."""
    rows = np.arange(basis.n_rows) if getattr(basis, "whole_table_selection", False) else test_idx
    power, total = component_power(basis, np.asarray(z, np.float64), rows)
    return power, total, len(rows)


def _normal_quantile(tail: float) -> float:
    lo, hi = 0.0, 40.0
    for _ in range(100):                     # P(Z > z) = erfc(z/√2)/2, decreasing in z
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 0.5 * math.erfc(mid / math.sqrt(2)) > tail else (lo, mid)
    return hi


def noise_ratio(dof: int, n_tests: int, tail: float = TAIL) -> float:
    """The (1 − tail/n_tests) quantile of χ²_dof over its median (Wilson–Hilferty), at least MIN_RATIO."""
    v = max(int(dof), 1)
    z = _normal_quantile(tail / max(n_tests, 1))
    c = 2.0 / (9.0 * v)
    return max(MIN_RATIO, ((1 - c + z * math.sqrt(c)) / (1 - c)) ** 3)


def key_components(power: np.ndarray, dims: np.ndarray, n_classes: int, total: float, n_rows: int) -> np.ndarray:
    """Components whose power per function stands out (module doc), strongest first: int [m].

    power, dims [n_comp]: power and number of functions per component over n_rows rows whose
    logits (n_classes of them, centred) have total variance ``total``."""
    power, dims = np.asarray(power, np.float64), np.asarray(dims, np.int64)
    if power.shape != dims.shape or np.any(dims < 1) or n_rows < 1:
        raise ConfigError("power and dims must have one entry per component, dims >= 1, and rows >= 1")
    q = power / dims
    if q.size == 0 or not np.any(q > 0) or total <= 0:
        return np.zeros(0, dtype=np.int64)
    floor = total / n_rows                                         # unstructured logits, per function
    ratio = noise_ratio(n_classes - 1, int(dims.sum()))
    keep = np.flatnonzero((q >= ratio * floor) & (q >= REL_MAX * q.max()))
    return keep[np.argsort(-q[keep], kind="stable")][:MAX_KEY].astype(np.int64)


def _fit(basis, z: np.ndarray, comps, fit_idx: np.ndarray) -> np.ndarray:
    """Least squares of the class-centred logits on rows fit_idx over [1, the comps' functions]: β [1 + m, C].

    Solved through the normal equations: the functions are nearly orthogonal on the rows, so AᵀA is
    well conditioned, and that is far cheaper than an SVD of A (its pseudo-inverse where it is not)."""
    zc = z[fit_idx] - z[fit_idx].mean(axis=1, keepdims=True)
    if hasattr(basis, "normal_equations"):
        AtA, Atz = basis.normal_equations(comps, fit_idx, zc)
    else:
        A = np.concatenate([np.ones((len(fit_idx), 1)), basis.design(comps, fit_idx)], axis=1)
        AtA, Atz = A.T @ A, A.T @ zc
    try:                                     # well conditioned: Cholesky succeeds, an LU solve is cheap
        d = np.diag(np.linalg.cholesky(AtA)) ** 2
        if d.min() > 1e-10 * d.max():
            return np.linalg.solve(AtA, Atz)
    except np.linalg.LinAlgError:
        pass
    return np.linalg.lstsq(AtA, Atz, rcond=1e-10)[0]     # a function vanishing on the rows: pseudo-inverse


def ablate(basis, z: np.ndarray, comps, fit_idx: np.ndarray, eval_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keep-only logits, removed logits) on rows eval_idx, the projection fit on rows fit_idx."""
    z = np.asarray(z, np.float64)
    beta = _fit(basis, z, comps, fit_idx)
    zc = z[eval_idx] - z[eval_idx].mean(axis=1, keepdims=True)
    part = basis.evaluate(comps, eval_idx, beta[1:]) if hasattr(basis, "evaluate") \
        else basis.design(comps, eval_idx) @ beta[1:]
    return beta[0] + part, zc - part


def _acc(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(z, axis=1) == y))


def circuit_test(basis, z: np.ndarray, labels: np.ndarray, test_idx: np.ndarray, comps=None) -> CircuitTest:
    """The circuit test scored on the held-out rows test_idx (module doc); comps: the key components
    (found when None). z [N, C] logits on every row of the table, labels [N] the true classes."""
    z = np.asarray(z, np.float64)
    y = np.asarray(labels, np.int64)
    test_idx = np.asarray(test_idx, np.int64)
    if z.ndim != 2 or z.shape[0] != basis.n_rows or y.shape != (basis.n_rows,) or test_idx.size == 0:
        raise ConfigError(f"need logits [{basis.n_rows}, C], labels [{basis.n_rows}] and held-out rows")
    rows = np.arange(basis.n_rows)
    power, total = component_power(basis, z, rows)
    if comps is None:
        sel, sel_total, sel_rows = selection_power(basis, z, test_idx)
        comps = key_components(sel, basis.dims, z.shape[1], sel_total, sel_rows)
    comps = np.asarray(comps, np.int64)
    keep_all, removed_all = ablate(basis, z, comps, rows, rows)
    explained = float(np.sum((keep_all - keep_all.mean(axis=0)) ** 2) / total) if total > 0 else 0.0
    keep, removed = keep_all[test_idx], removed_all[test_idx]
    yt = y[test_idx]
    shares = np.bincount(yt, minlength=z.shape[1]) / yt.size
    names = basis.names
    return CircuitTest(
        kind=basis.kind, components=tuple(int(c) for c in comps), names=tuple(names[c] for c in comps),
        fractions=tuple(float(power[c] / total) if total > 0 else 0.0 for c in comps), explained=explained,
        model_acc=_acc(z[test_idx], yt), model_loss=cross_entropy(z[test_idx], yt),
        keep_acc=_acc(keep, yt), keep_loss=cross_entropy(keep, yt),
        remove_acc=_acc(removed, yt), remove_loss=cross_entropy(removed, yt),
        chance=float(max(1.0 / z.shape[1], shares.max())))


def restricted_excluded(basis, z: np.ndarray, labels: np.ndarray, train_labels: np.ndarray, train_idx: np.ndarray,
                        comps) -> tuple[float, float]:
    """Nanda et al.'s restricted loss (kept logits, every row, true labels) and excluded loss (removed
    logits, training rows, the labels trained on ``train_labels`` [len(train_idx)]), in this basis."""
    rows = np.arange(basis.n_rows)
    keep, removed = ablate(basis, np.asarray(z, np.float64), comps, rows, rows)
    return (cross_entropy(keep, np.asarray(labels, np.int64)),
            cross_entropy(removed[np.asarray(train_idx, np.int64)], np.asarray(train_labels, np.int64)))


def circuit_label(t: CircuitTest, train_acc: float) -> str:
    """One of LABELS (module doc)."""
    if t.model_acc >= GENERALIZING_ACC:
        holds = t.keep_acc >= t.model_acc - KEEP_ACC_SLACK and t.keep_loss <= t.model_loss + KEEP_LOSS_SLACK
        return LABELS[0] if t.components and holds and t.remove_acc <= t.bound else LABELS[1]
    return LABELS[2] if train_acc >= FIT_ACC else LABELS[3]


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def circuit_sentence(t: CircuitTest, train_acc: float) -> str:
    """The verdict as a sentence stating the circuit label and both ablations' accuracy and loss."""
    what, adj = KINDS.get(t.kind, ("components", t.kind))
    label = circuit_label(t, train_acc)
    names = ", ".join(t.names[:12]) + (f" and {len(t.names) - 12} more" if len(t.names) > 12 else "")
    found = (f"{what} {names} explain {_pct(t.explained)} of the logit variance over the input table" if t.components
             else f"no {what} stand out of the held-out logits")
    tests = (f"keeping only them: test accuracy {_pct(t.keep_acc)} (loss {t.keep_loss:.3g}); removing them: "
             f"{_pct(t.remove_acc)} (loss {t.remove_loss:.3g}; chance {_pct(t.chance)})" if t.components else
             f"the class bias alone: test accuracy {_pct(t.keep_acc)} (chance {_pct(t.chance)})")
    acc = f"test accuracy {_pct(t.model_acc)}"
    if label == LABELS[0]:
        return f"{found}; {tests}: a generalizing {adj} circuit ({acc})"
    if label == LABELS[1]:
        return f"generalizes ({acc}) but the ablations do not bear out a {adj} circuit: {found}; {tests}"
    if label == LABELS[2]:
        forming = ": a circuit is forming" if t.components and t.keep_acc >= GENERALIZING_ACC else ""
        return (f"fits its training set but is memorizing (train accuracy {_pct(train_acc)}, {acc}): {found}; "
                f"{tests}{forming}")
    return f"not fitting (train accuracy {_pct(train_acc)}, {acc}): {found}; {tests}"


__all__ = ["FIT_ACC", "GENERALIZING_ACC", "KEEP_ACC_SLACK", "KEEP_LOSS_SLACK", "KINDS", "LABELS", "MAX_KEY",
           "MIN_RATIO", "REL_MAX", "CircuitTest", "ablate", "chance_bound", "circuit_label", "circuit_sentence",
           "circuit_test",
           "component_power", "key_components", "noise_ratio", "restricted_excluded", "selection_power"]
