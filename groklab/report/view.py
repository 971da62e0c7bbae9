"""The report "view": a JSON-able dict describing one run or one sweep, and which figures it can fill.

The HTML renderer and the PNG writer both draw from the same layout (`run_layout`), so a figure
appears in the page exactly when it has a PNG, and a section whose data is missing is left out of
both. Keys of the run and sweep views are documented in `groklab.report`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

_LOSS_KEYS = ("restricted_loss", "excluded_loss", "train_loss", "test_loss")
_NOISE_KEYS = ("clean_acc", "memorized_acc", "inverted_acc")
_LEAK_KEYS = ("mia_auc", "mia_tpr1")


def has_series(d: Any, *keys: str) -> bool:
    """True if `d` is a mapping in which any of `keys` is a sequence holding at least one finite number."""
    if not isinstance(d, Mapping):
        return False
    for key in keys:
        values = d.get(key)
        if isinstance(values, (list, tuple)) and any(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
        ):
            return True
    return False


def _nonempty(d: Any, key: str) -> bool:
    return isinstance(d, Mapping) and isinstance(d.get(key), (list, tuple)) and len(d[key]) > 0


# Figures drawn from the analysis (not per-step metrics): section -> (page order, [(figure, predicate)]).
# Figures drawn from per-step metrics come from the metric registry (groklab.measure.registry): a
# registered Panel is shown when any metric naming it has data.
_ANALYSIS_FIGURES: dict[str, tuple[int, list[tuple[str, Callable[[dict], bool]]]]] = {
    "progress": (30, [
        ("progress-loss", lambda v: has_series(v.get("progress"), *_LOSS_KEYS)),
        ("progress-gini", lambda v: has_series(v.get("progress"), "gini_embed", "gini_unembed")),
        # the weight norm is drawn once: per step when the run logged it ("weight-norm"), else per checkpoint
        ("progress-norm", lambda v: has_series(v.get("progress"), "weight_norm")
         and not has_series(v.get("metrics"), "weight_norm")),
    ]),
    "spectrum": (31, [("spectrum", lambda v: _nonempty(v.get("spectrum"), "norms"))]),
    "clock": (32, [("clock", lambda v: _nonempty(v.get("clock"), "points"))]),
    "neurons": (33, [("neurons", lambda v: _nonempty(v.get("neurons"), "heatmap"))]),
    "stars": (34, [("stars", lambda v: _nonempty(v.get("neurons"), "stars"))]),
    # the circuit test in the task's basis (groklab.analysis.circuit): spectrum, weight norms, ablations
    "circuit": (35, [
        ("circuit-spectrum", lambda v: _nonempty((v.get("circuit") or {}).get("spectrum"), "fractions")),
        ("circuit-weights", lambda v: _nonempty((v.get("circuit") or {}).get("weights"), "norms")),
        ("circuit-ablation", lambda v: has_series((v.get("circuit") or {}).get("curves"), "keep_acc", "remove_acc")),
    ]),
    "parity": (80, [("parity", lambda v: _nonempty(v.get("parity"), "weights"))]),
    # per-example memorization of a subset ensemble (groklab.analysis.memorization)
    "memorization": (36, [
        ("mem-heatmap", lambda v: _nonempty((v.get("memorization") or {}).get("heatmap"), "mem")),
        ("mem-distribution", lambda v: has_series((v.get("memorization") or {}).get("curves"), "mem_q50")),
        ("mem-top", lambda v: bool((v.get("memorization") or {}).get("top"))),
        ("mem-roc", lambda v: any(r.get("loss", {}).get("fpr") for r in (v.get("memorization") or {}).get("roc", []))),
        ("mem-exposure", lambda v: has_series((v.get("memorization") or {}).get("curves"), "exposure_in")),
    ]),
}


def _run_figures() -> dict[str, list[tuple[str, Callable[[dict], bool]]]]:
    """Every run-report section in page order with its (figure, predicate) pairs."""
    order: dict[str, int] = {}
    figs: dict[str, list] = {}
    for section, (rank, items) in _ANALYSIS_FIGURES.items():
        order[section], figs[section] = rank, list(items)
    for panel, spec in metric_panels().items():
        keys = [k for k, _, _ in spec["series"]]
        order.setdefault(spec["section"], spec["order"])
        figs.setdefault(spec["section"], []).append(
            (panel, lambda v, keys=keys: has_series(_applicable(v), *keys)))
    return {s: figs[s] for s in sorted(figs, key=lambda s: order[s])}


class _PartialSetup:
    """An ``EvalSetup`` read off a view's config dict, which may lack fields (a synthetic or old view):
    reading one that is missing raises AttributeError, and the metric is then kept."""

    def __init__(self, cfg, noise):
        self.cfg, self._noise = cfg, noise

    @property
    def has_noise(self) -> bool:
        if self._noise is None:
            raise AttributeError("noise")
        return bool(self._noise)


def _applicable(view: dict) -> dict:
    """The view's metric curves less those whose metric does not apply to the run's config (as the
    trainer decides: e.g. Softmax Collapse of an MSE run, which an older groklab logged as zeros)."""
    from types import SimpleNamespace

    from groklab.measure import registry

    cfg = (view.get("run") or {}).get("config")
    m = view["metrics"]
    if not isinstance(cfg, Mapping):
        return m
    setup = _PartialSetup(SimpleNamespace(**cfg), cfg.get("noise"))
    out = dict(m)
    for met in registry.metrics():
        try:
            applies = met.applies(setup)
        except (AttributeError, TypeError):     # a config from another version: keep what was logged
            applies = True
        if not applies:
            out.pop(met.name, None)
    return out


def metric_panels() -> dict[str, dict]:
    """The registered per-step-metric panels (JSON-able), as the HTML script and the PNGs draw them."""
    from groklab.measure import registry

    ranks = {p.name: p.order for p in registry.panels()}
    return {name: {**spec, "order": ranks[name]} for name, spec in registry.panel_specs().items()}


def run_sections() -> tuple[str, ...]:
    """Every section a run report can have, in page order."""
    return tuple(_run_figures())


def section_caption(section: str) -> tuple[str, str] | None:
    """(title, caption) that a registered Panel gives a section of its own, if any."""
    from groklab.measure import registry

    for p in registry.panels():
        if p.section == section and p.caption:
            return p.title, p.caption
    return None


SWEEP_SECTIONS: tuple[str, ...] = ("phase_diagram", "delay")


def check_run_view(view: Any) -> None:
    """Raise ValueError unless `view` has the required keys of a run view (run, summary, metrics.step)."""
    if not isinstance(view, Mapping):
        raise ValueError(f"run view must be a dict, got {type(view).__name__}")
    for key in ("run", "summary", "metrics"):
        if not isinstance(view.get(key), Mapping):
            raise ValueError(f"run view needs a dict under {key!r}; keys present: {sorted(view)}")
    if not isinstance(view["metrics"].get("step"), (list, tuple)):
        raise ValueError("run view needs a list of steps under metrics['step']")


def check_sweep_view(view: Any) -> None:
    """Raise ValueError unless `view` has the required keys of a sweep view."""
    if not isinstance(view, Mapping):
        raise ValueError(f"sweep view must be a dict, got {type(view).__name__}")
    for key in ("sweep", "x_values", "y_values", "points"):
        if key not in view:
            raise ValueError(f"sweep view needs the key {key!r}; keys present: {sorted(view)}")


def run_layout(view: dict) -> dict[str, list[str]]:
    """The sections of a run report that have data, each with its figures, in page order.

    `view` must already be cleaned (`clean`), so that missing data and NaN read the same.
    """
    layout = {}
    for section, figures in _run_figures().items():
        present = [name for name, has_data in figures if has_data(view)]
        if present:
            layout[section] = present
    return layout


def sweep_layout(view: dict) -> dict[str, list[str]]:
    """The sections of a sweep report: both figures when there are points, none otherwise."""
    if not view.get("points"):
        return {}
    return {"phase_diagram": ["phase-diagram"], "delay": ["delay"]}


def clean(obj: Any, digits: int = 6) -> Any:
    """A JSON-safe copy of `obj`: numpy arrays and scalars become lists and numbers, floats are rounded
    to `digits` significant digits, NaN/inf become None, tuples become lists, dict keys strings,
    and anything else unknown its str()."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): clean(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v, digits) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, jax arrays
        return clean(obj.tolist(), digits)
    return str(obj)
