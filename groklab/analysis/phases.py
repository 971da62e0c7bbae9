"""Nanda et al. 2023's three phases (memorization, circuit formation, clean-up) located on a run's
metric curves, and the rule that places them (``PHASE_RULE``)."""

from __future__ import annotations

import numpy as np

# phase rule: share of the (log) test-loss descent that marks its start and its end
DESCENT_START = 0.2
DESCENT_END = 0.9
# clean-up ends when the weight norm has made this share of its fall after circuit formation
NORM_SETTLED = 0.9

PHASE_RULE = (
    "memorization ends at the first evaluation with train accuracy >= acc_threshold; circuit "
    f"formation ends when the test loss, after its peak following memorization, has covered "
    f"{DESCENT_START:.0%} of its log-scale descent to its minimum after the peak (it starts to fall; only "
    "for runs whose test accuracy reaches phase_threshold); clean-up ends at the first later "
    f"evaluation where the test loss has covered {DESCENT_END:.0%} of that descent and the sum of "
    f"squared weights has made {NORM_SETTLED:.0%} of its fall from its value at circuit-formation "
    "end to its minimum up to the test loss's minimum (the drop flattens). Both rules stop at the "
    "test loss's minimum, so a run that generalizes and later degrades keeps its phases."
)


def first_step(steps: np.ndarray, hit: np.ndarray) -> int | None:
    """The first of ``steps`` where ``hit`` holds, or None."""
    idx = np.flatnonzero(hit)
    return int(steps[idx[0]]) if idx.size else None


def phase_boundaries(steps, train_acc, test_acc, test_loss, weight_norm=None, *, acc_threshold: float = 0.99,
                     gen_threshold: float = 0.9) -> dict:
    """Nanda et al. 2023's three phases located on a run's metric curves.

    The rule (``PHASE_RULE``), with the test loss read on a log scale:

    - memorization ends at the first step with train accuracy >= ``acc_threshold`` (train loss low);
    - circuit formation ends when the test loss, after its peak at or after memorization, has
      covered 20% (``DESCENT_START``) of its descent to its minimum after that peak: the test
      loss starts to fall (the restricted loss has fallen before it). Only for runs whose test
      accuracy reaches ``gen_threshold`` somewhere; else None;
    - clean-up ends at the first later step where the test loss has covered 90%
      (``DESCENT_END``) of that descent and the weight norm has made 90% (``NORM_SETTLED``) of
      its fall from circuit-formation end to its minimum before the test loss's minimum (the
      drop flattens); None if never.

    Every window stops at the test loss's minimum, so a run that later degrades keeps its phases.
    steps [T] ascending; train_acc, test_acc, test_loss (positive, any loss) and optionally
    weight_norm (sum of squared weights) [T]. Returns {"memorization_end", "circuit_end",
    "cleanup_end"}: steps, or None for a phase the run has not finished.
    """
    steps = np.asarray(steps, dtype=np.int64)
    tr, te = np.asarray(train_acc, np.float64), np.asarray(test_acc, np.float64)
    logl = np.log(np.maximum(np.asarray(test_loss, np.float64), 1e-30))
    out: dict = {"memorization_end": first_step(steps, tr >= acc_threshold), "circuit_end": None,
                 "cleanup_end": None}
    if out["memorization_end"] is None or not np.any(te >= gen_threshold):
        return out
    after = np.flatnonzero((steps >= out["memorization_end"]) & np.isfinite(logl))
    if after.size == 0:
        return out
    peak = after[np.argmax(logl[after])]
    window = after[after >= peak]
    low = window[np.argmin(logl[window])]                   # the descent: peak .. minimum
    window = window[window <= low]
    drop = logl[peak] - logl[low]
    if drop <= 0:
        return out
    covered = (logl[peak] - logl[window]) / drop            # 0 at the peak, 1 at the minimum
    start = np.flatnonzero(covered >= DESCENT_START)
    if start.size == 0:
        return out
    c = start[0]
    out["circuit_end"] = int(steps[window[c]])
    done = covered >= DESCENT_END
    if weight_norm is not None:
        w = np.asarray(weight_norm, np.float64)[window]
        ok = np.isfinite(w)
        fall = w[c] - np.min(w[c:][ok[c:]]) if ok[c] else 0.0
        if fall > 0:
            done &= ok & (w[c] - w >= NORM_SETTLED * fall)
    end = np.flatnonzero(done[c:])
    out["cleanup_end"] = int(steps[window[c + end[0]]]) if end.size else None
    return out


__all__ = ["DESCENT_END", "DESCENT_START", "NORM_SETTLED", "PHASE_RULE", "first_step", "phase_boundaries"]
