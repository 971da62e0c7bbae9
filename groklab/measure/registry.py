"""The metric registry: one declaration per per-step metric.

A ``Metric`` names a value computed at every evaluation. From the registered declarations come:

- the trainer's compiled evaluation program (``evaluate_all``: every metric that ``applies`` to the
  run, inside one jitted, member-vmapped function),
- the store's columns (the metric's name is its key in each evaluation's row),
- the run summary (``final`` puts the last value under ``summary["final"]``; ``summarize`` adds
  keys of its own), and
- the report: a metric with a ``panel`` is drawn as one series of that ``Panel`` (HTML and PNG).

Adding a metric is one file in ``groklab/measure/metrics/`` that calls ``register``; the package
imports every module in it. A metric function receives an ``EvalContext`` for one member and
returns a scalar; it runs inside ``jax.jit`` and ``jax.vmap``, so it must be traceable.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class EvalContext(NamedTuple):
    """What a metric sees of one member at one evaluation (all rows of the task's table)."""

    params: dict            # the member's parameters
    logits: jax.Array       # [N, C] ([N, T, vocab] for a sequence task)
    loss: jax.Array         # [N] per-example loss of the run's loss function (float32; a sequence's: the mean
    #                         over its scored positions)
    pred: jax.Array         # [N] argmax class ([N, T] for a sequence task)
    correct: jax.Array      # [N] bool: predicted right (a sequence: at every scored position)
    y_obs: jax.Array        # [N] label each row is scored against (noisy on corrupted train rows)
    y_true: jax.Array       # [N] the task's true label
    is_train: jax.Array     # [N] bool
    is_test: jax.Array      # [N] bool
    is_corrupt: jax.Array   # [N] bool: a training row whose label was replaced
    splits: dict            # split name -> [N] bool row mask (the task's ``meta["splits"]``; empty if none)

    @staticmethod
    def mean(v: jax.Array, mask: jax.Array) -> jax.Array:
        """Mean of ``v`` over the rows where ``mask`` is true (0 if none)."""
        m = mask.astype(jnp.float32)
        return (v.astype(jnp.float32) * m).sum() / jnp.maximum(m.sum(), 1.0)


class EvalSetup(NamedTuple):
    """What decides whether a metric applies to a run: its config and facts of its data."""

    cfg: Any                # groklab.config.Config (typed loosely: measure sits below config)
    has_noise: bool         # some training labels are corrupted
    splits: tuple[str, ...] = ()   # the task's named row splits (``meta["splits"]``), see metrics/splits.py


@dataclass(frozen=True)
class Panel:
    """One report figure drawn from per-step metrics: the series are the metrics naming it."""

    name: str               # figure id (also the PNG's and the HTML figure's name)
    section: str            # report section it belongs to
    title: str
    ylabel: str
    order: int = 100        # page order of the section (lower first) and of panels within it
    log_y: bool = False
    y_range: tuple[float | None, float | None] | None = None
    percent: bool = False   # y tick labels as percentages
    hline: tuple[float, str] | None = None   # a dotted reference line (y, label)
    badge: str | None = None                 # "phase": the run's phase badge on the panel
    caption: str | None = None               # caption of a section no other declaration names


@dataclass(frozen=True)
class Metric:
    """A per-step metric; see the module docstring."""

    name: str
    fn: Callable[[EvalContext], jax.Array]
    doc: str
    applies: Callable[[EvalSetup], bool] = field(default=lambda setup: True)
    final: bool = False
    summarize: Callable[[np.ndarray, dict, Any], dict] | None = None
    panel: str | None = None
    label: str = ""
    color: str = "#495057"
    order: int = 100        # evaluation/series order


METRICS: dict[str, Metric] = {}
PANELS: dict[str, Panel] = {}


def register(*items: Metric | Panel) -> None:
    """Add metrics and panels; a name already registered is replaced (so tests can re-register)."""
    for it in items:
        (PANELS if isinstance(it, Panel) else METRICS)[it.name] = it


def unregister(name: str) -> None:
    METRICS.pop(name, None)
    PANELS.pop(name, None)


_LOADED: list[bool] = []


def _load_builtin() -> None:
    """Import every module of ``groklab.measure.metrics`` once (each registers its declarations)."""
    if _LOADED:
        return
    _LOADED.append(True)
    from groklab.measure import metrics as package

    for mod in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{mod.name}")


def metrics() -> list[Metric]:
    """Every registered metric, in evaluation order."""
    _load_builtin()
    return sorted(METRICS.values(), key=lambda m: (m.order, m.name))


def metric_names() -> tuple[str, ...]:
    """Every registered metric's name (its store column), in evaluation order."""
    return tuple(m.name for m in metrics())


def panels() -> list[Panel]:
    """Every registered panel, in page order."""
    _load_builtin()
    return sorted(PANELS.values(), key=lambda p: (p.order, p.name))


def active(setup: EvalSetup) -> list[Metric]:
    """The metrics evaluated for a run with this setup."""
    return [m for m in metrics() if m.applies(setup)]


def evaluate_all(chosen: list[Metric], ctx: EvalContext) -> dict[str, jax.Array]:
    """Every chosen metric of one member (call inside the jitted, vmapped evaluation)."""
    return {m.name: m.fn(ctx) for m in chosen}


def panel_specs(present: set[str] | None = None) -> dict[str, dict]:
    """Panels as JSON-able dicts with their series, for the report (only series in ``present``)."""
    out = {}
    for p in panels():
        series = [[m.name, m.label, m.color] for m in metrics()
                  if m.panel == p.name and (present is None or m.name in present)]
        if series:
            out[p.name] = {"section": p.section, "title": p.title, "ylabel": p.ylabel, "log_y": p.log_y,
                           "y_range": list(p.y_range) if p.y_range else None, "percent": p.percent,
                           "hline": list(p.hline) if p.hline else None, "badge": p.badge, "series": series}
    return out


def summary_parts(steps: np.ndarray, m: dict[str, np.ndarray], cfg: Any) -> tuple[dict, dict]:
    """(values for summary["final"], other summary keys) from the metrics present in ``m``."""
    final, extra = {}, {}
    for met in metrics():
        if met.name not in m:
            continue
        if met.final:
            final[met.name] = float(m[met.name][-1])
        if met.summarize is not None:
            extra.update(met.summarize(steps, m, cfg))
    return final, extra
