"""The summary of one run from its metric curves: the labels and numbers a user reads.

The curve-derived labels (t_mem, t_gen, delay, phase, PAIR class) come from ``labels``, the one
module that decides them; the final values and each metric's own summary keys come from its
declaration in the metric registry. ``refresh_labels`` brings a summary stored by an older groklab
(without ``phase_rule``) up to today's rules, so every reader shows a run the same label."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from groklab.measure.labels import DEFAULT_RULE, LABELS_VERSION, summarize_curves
from groklab.measure.registry import summary_parts

if TYPE_CHECKING:
    from groklab.config import Config

_EMPTY = {"final": None, "t_mem": None, "t_gen": None, "delay": None, "phase": None, "phase_rule": DEFAULT_RULE,
          "pair_class": None}


_CLASSES: dict[tuple, int | None] = {}


def n_classes(cfg: Config) -> int | None:
    """The number of classes of the config's task (None if its table cannot be built here)."""
    key = (cfg.task, cfg.p, cfg.perm_n, cfg.parity_n, cfg.parity_k, cfg.symmetric, cfg.input, cfg.model,
           getattr(cfg, "kg_entities", None), getattr(cfg, "kg_relations", None), getattr(cfg, "kg_degree", None))
    if key not in _CLASSES:
        from groklab.tasks import build_table

        try:
            _CLASSES[key] = int(build_table(cfg).n_classes)
        except Exception:       # a task that cannot be built here (e.g. a custom one not registered now)
            _CLASSES[key] = None
    return _CLASSES[key]


def curve_labels(cfg: Config, m: dict[str, np.ndarray]) -> dict:
    """The times and labels of a run's summary from its metric curves (``labels.summarize_curves``)."""
    return summarize_curves(m["step"], m["train_acc"], m["test_acc"], m["train_loss"], m["test_loss"],
                            acc_threshold=cfg.acc_threshold, phase_threshold=cfg.phase_threshold,
                            phase_gap=cfg.phase_gap, loss=cfg.loss, n_classes=n_classes(cfg))


def summarize(cfg: Config, run_id: str, m: dict[str, np.ndarray], status: str, wall_s: float,
              extra: dict | None = None) -> dict:
    """The summary of one run from its metric curves (every field JSON-able)."""
    steps = m["step"]
    s: dict = {"run_id": run_id, "name": cfg.name, "task": cfg.task, "p": cfg.p, "seed": cfg.seed,
               "model": cfg.model, "status": status, "steps": int(steps[-1]) if len(steps) else 0,
               "wall_s": round(float(wall_s), 3)}
    if len(steps) == 0:
        s.update({**_EMPTY, **(extra or {})})
        return s
    final, parts = summary_parts(steps, m, cfg)
    s["final"] = final
    s.update(curve_labels(cfg, m))
    s.update(parts)
    s.update(extra or {})
    return s


def generalization_cost(t_gen: int | None, steps: np.ndarray, walls: dict[int, float | None],
                        step_flops: float, eval_flops: float) -> dict | None:
    """What reaching t_gen cost: its step, the seconds trained by then (``walls``: step -> wall time at that
    evaluation, compilation included) and the FLOPs spent, training (``step_flops`` per step) and evaluating
    (``eval_flops`` per evaluation, counting the evaluations at steps <= t_gen). None before t_gen."""
    if t_gen is None:
        return None
    n_evals = int((np.asarray(steps) <= t_gen).sum())
    return {"step": int(t_gen), "seconds": walls.get(int(t_gen)), "flops": float(step_flops) * int(t_gen),
            "eval_flops": float(eval_flops) * n_evals}


def refresh_labels(summary: dict | None, config: dict, metrics: Callable[[], dict[str, np.ndarray]]) -> dict | None:
    """``summary`` with its labels as today's rules give them.

    A summary that records today's ``labels_version`` is current and returned as is; an older one (stored
    before the rules lived in ``labels``, or under an earlier version of them) gets its times and labels
    recomputed from ``metrics()`` (the run's curves, read only then) under its ``config`` (a stored config
    dict). Anything that cannot be recomputed (no curves, a config today's groklab rejects) is returned unchanged.
    """
    if not summary or summary.get("labels_version") == LABELS_VERSION:
        return summary
    from groklab.config import from_dict
    from groklab.errors import ConfigError

    try:
        cfg = from_dict(config)
        m = metrics()
    except (ConfigError, TypeError, ValueError, KeyError):
        return summary
    if not len(m.get("step", ())) or not {"train_acc", "test_acc", "train_loss", "test_loss"} <= set(m):
        return summary
    return {**summary, **curve_labels(cfg, m)}
