"""The summary of one run from its metric curves: the labels and numbers a user reads.

The curve-derived labels (t_mem, t_gen, delay, phases) come from ``phases``; the final values and
each metric's own summary keys come from its declaration in the metric registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from groklab.measure.phases import summarize_curves
from groklab.measure.registry import summary_parts

if TYPE_CHECKING:
    from groklab.config import Config


def summarize(cfg: Config, run_id: str, m: dict[str, np.ndarray], status: str, wall_s: float,
              extra: dict | None = None) -> dict:
    """The summary of one run from its metric curves (every field JSON-able)."""
    steps = m["step"]
    s: dict = {"run_id": run_id, "name": cfg.name, "task": cfg.task, "p": cfg.p, "seed": cfg.seed,
               "model": cfg.model, "status": status, "steps": int(steps[-1]) if len(steps) else 0,
               "wall_s": round(float(wall_s), 3)}
    if len(steps) == 0:
        s.update({"final": None, "t_mem": None, "t_gen": None, "delay": None, "phase": None, **(extra or {})})
        return s
    final, parts = summary_parts(steps, m, cfg)
    s["final"] = final
    s.update(summarize_curves(steps, m["train_acc"], m["test_acc"], m["train_loss"], m["test_loss"],
                              acc_threshold=cfg.acc_threshold, phase_threshold=cfg.phase_threshold,
                              phase_gap=cfg.phase_gap))
    s.update(parts)
    s.update(extra or {})
    return s
