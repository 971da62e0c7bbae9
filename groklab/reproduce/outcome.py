"""A reproduction sweep read back from the store (``Outcome``) and the rows read off its runs that
several experiments share: when a metric first crosses a threshold (``reach``), and why a run got its
Liu et al. phase (``liu_reason``)."""

from __future__ import annotations

import numpy as np

from groklab.reproduce.core import Published, Row, agrees, first_reach, mean_finite
from groklab.store import Store

METRIC_NAMES = {"test_acc": "test accuracy", "test_loss": "test loss", "train_acc": "train accuracy",
                "train_loss": "train loss"}


class Outcome:
    """A reproduction sweep read back from the store: its points grouped by label (the part of each
    run's name after ``NAME/``), with their configs, runs and metric curves."""

    def __init__(self, store: Store, sweep_ref: str):
        self.store = store
        self.sweep = store.get_sweep(sweep_ref)
        sid = self.sweep["sweep_id"]
        runs = {r["run_id"]: r for r in store.list_runs(sweep_id=sid)}
        self.points = store.sweep_points(sid)
        self._metrics: dict[str, dict[str, np.ndarray]] = {}
        self.labels: dict[str, list[dict]] = {}
        for p in self.points:
            run = runs.get(p["run_id"]) if p["status"] == "done" else None
            label = (p["config"].get("name") or "").partition("/")[2]
            self.labels.setdefault(label, []).append({"config": p["config"], "run": run})

    @property
    def smoke(self) -> bool:
        return bool(self.sweep["spec"].get("smoke"))

    @property
    def n_done(self) -> int:
        return sum(p["status"] == "done" for p in self.points)

    @property
    def complete(self) -> bool:
        return self.n_done == len(self.points)

    def runs(self, label: str) -> list[dict]:
        """The finished runs (store rows, with ``summary``) of a label, in point order."""
        return [x["run"] for x in self.labels.get(label, []) if x["run"] and x["run"]["summary"]]

    def configs(self, label: str | None = None) -> list[dict]:
        items = self.labels.get(label, []) if label is not None else [x for v in self.labels.values() for x in v]
        return [x["config"] for x in items]

    def metrics(self, run: dict) -> dict[str, np.ndarray]:
        rid = run["run_id"]
        if rid not in self._metrics:
            self._metrics[rid] = self.store.metrics(rid)
        return self._metrics[rid]

    def wall_s(self) -> float | None:
        """Seconds from the sweep's creation to its last recorded change (its end, once completed)."""
        from datetime import datetime

        try:
            t0, t1 = (datetime.fromisoformat(self.sweep[k]) for k in ("created", "updated"))
        except (TypeError, ValueError):
            return None
        return (t1 - t0).total_seconds()

    def machine(self) -> str | None:
        for items in self.labels.values():
            for x in items:
                if x["run"] and x["run"].get("machine"):
                    return x["run"]["machine"]
        return None


def not_trained(out: Outcome, label: str) -> str:
    """The ``why`` of a row whose points did not train."""
    return f"{label}: not trained (the sweep has {out.n_done} of {len(out.points)} points done)"


def reach(out: Outcome, label: str, metric: str, threshold: float, below: bool = False,
          published: Published | None = None, quantity: str = "", kind: str = "steps") -> Row:
    """The row for "first step where ``metric`` crosses ``threshold``" of a label (median over its runs;
    a budget bound if any run did not get there)."""
    runs = out.runs(label)
    if not runs:
        return Row(quantity, published, None, kind, why=not_trained(out, label))
    hits, finals, budgets = [], [], []
    for r in runs:
        m = out.metrics(r)
        hits.append(first_reach(m["step"], m[metric], threshold, below))
        finals.append(float(m[metric][-1]))
        budgets.append(int(m["step"][-1]))
    n = len(runs)
    if any(h is None for h in hits):
        budget = min(b for h, b in zip(hits, budgets) if h is None)
        missed = sum(h is None for h in hits)
        row = Row(quantity, published, budget, kind, bound=">")
        row.agree = agrees(kind, published, budget, ">")
        who = f" by {missed} of {n} seeds" if n > 1 else ""
        text = (f"not reached within the {budget:,}-step budget{who}; {METRIC_NAMES.get(metric, metric)} "
                f"{mean_finite(finals):.3g} at the end" + (" (mean)" if n > 1 else ""))
        if published is None:
            row.detail = text
        else:
            row.why = text
            if not isinstance(published.value, str) and published.value > budget:
                row.why += f"; the published step {published.value:,} lies beyond the budget"
        return row
    step = int(np.median(hits))
    row = Row(quantity, published, step, kind, detail=f"median of {n} seeds" if n > 1 else "")
    row.agree = agrees(kind, published, step)
    return row


def liu_reason(run: dict) -> str:
    """Why a run got its Liu et al. phase: the first steps with train and test accuracy ≥ its threshold."""
    s, thr = run["summary"], run["config"].get("phase_threshold", 0.9)
    tr, te = s.get("t_train_liu"), s.get("t_test_liu")
    if tr is None:
        return f"train accuracy never reached {thr:g} in {s['steps']:,} steps"
    if te is None:
        return f"train accuracy reached {thr:g} at step {tr:,}, test accuracy never did in {s['steps']:,} steps"
    return f"train accuracy reached {thr:g} at step {tr:,}, test accuracy at {te:,} ({te - tr:,} steps later)"


__all__ = ["METRIC_NAMES", "Outcome", "liu_reason", "not_trained", "reach"]
