"""Nanda et al. 2023's three phases (memorization, circuit formation, clean-up) on a run's metric
curves. The rule lives with every other label in ``groklab.measure.labels``; re-exported here for the
analysis (``PHASE_RULE`` is its ``NANDA_RULE``)."""

from __future__ import annotations

import numpy as np

from groklab.measure.labels import DESCENT_END, DESCENT_START, NORM_SETTLED, phase_boundaries
from groklab.measure.labels import NANDA_RULE as PHASE_RULE


def first_step(steps: np.ndarray, hit: np.ndarray) -> int | None:
    """The first of ``steps`` where ``hit`` holds, or None."""
    idx = np.flatnonzero(hit)
    return int(steps[idx[0]]) if idx.size else None


__all__ = ["DESCENT_END", "DESCENT_START", "NORM_SETTLED", "PHASE_RULE", "first_step", "phase_boundaries"]
