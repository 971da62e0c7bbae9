"""Old import path of the curve readings and run classes: they live in ``groklab.measure.labels``, the
one module that decides every label groklab shows."""

from __future__ import annotations

from groklab.measure.labels import first_step, liu_phase, pair_class, summarize_curves

__all__ = ["first_step", "liu_phase", "pair_class", "summarize_curves"]
