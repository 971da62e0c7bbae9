"""A reproduction sweep read back from the store (``Outcome``) and the rows read off its runs that
several experiments share: when a metric first crosses a threshold (``reach``), and why a run got its
Liu et al. phase (``liu_reason``)."""

from __future__ import annotations

import numpy as np

from groklab.measure.summary import refresh_labels
from groklab.reproduce.core import (
    Published,
    Row,
    agrees,
    first_reach,
    fmt_number,
    mean_finite,
    seed_verdict,
    spread,
    upper_median,
)
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
        self._metrics: dict[str, dict[str, np.ndarray]] = {}
        # labels as groklab.measure.labels gives them today (a summary stored by an older groklab is relabelled)
        runs = {r["run_id"]: {**r, "summary": refresh_labels(r["summary"], r["config"], lambda r=r: self.metrics(r))}
                for r in store.list_runs(sweep_id=sid)}
        self.points = store.sweep_points(sid)
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
        """Seconds the sweep's points trained: the union over their ensembles of [end − training time, end]
        (a group's members share one interval; groups in parallel worker processes overlap), so the idle time
        of a sweep resumed or extended later is not counted. Without run times (older stores): from the
        sweep's creation to its last recorded change."""
        from datetime import datetime

        spans: dict[str, tuple[float, float]] = {}
        for items in self.labels.values():
            for x in items:
                r = x["run"]
                try:
                    end, wall = datetime.fromisoformat(r["updated"]).timestamp(), float(r["wall_s"])
                except (TypeError, ValueError, KeyError):
                    continue
                a, b = spans.get(r["group_id"], (end - wall, end))
                spans[r["group_id"]] = (min(a, end - wall), max(b, end))
        if spans:
            total, reach = 0.0, float("-inf")
            for a, b in sorted(spans.values()):
                total += max(0.0, b - max(a, reach))
                reach = max(reach, b)
            return total
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


def stalled(run: dict, m: dict[str, np.ndarray]) -> bool:
    """Every training loss term exactly zero at the end with no weight decay or gradient filter: every
    gradient is zero, so the run sits at a fixed point (Prieto et al.'s zero_terms = 1)."""
    z, c = m.get("zero_terms"), run["config"]
    return (z is not None and len(z) > 0 and float(z[-1]) == 1.0 and c.get("wd") == 0
            and c.get("grokfast", "none") == "none")


def seed_facts(out: Outcome, label: str, metric: str, threshold: float, below: bool = False) -> list[dict]:
    """Per finished run of ``label``: seed, first step crossing ``threshold`` (None: not within its budget),
    budget (its last evaluated step), the metric's final value and whether it stalled."""
    facts = []
    for r in out.runs(label):
        m = out.metrics(r)
        facts.append(dict(seed=r["seed"], hit=first_reach(m["step"], m[metric], threshold, below),
                          budget=int(m["step"][-1]), final=float(m[metric][-1]), stalled=stalled(r, m)))
    return facts


def reach(out: Outcome, label: str, metric: str, threshold: float, below: bool = False,
          published: Published | None = None, quantity: str = "", kind: str = "steps") -> Row:
    """The row for "first step where ``metric`` crosses ``threshold``" of a label: the (upper) median over
    its seeds when most of them got there, else a budget bound (see ``core``'s rules)."""
    facts = seed_facts(out, label, metric, threshold, below)
    if not facts:
        return Row(quantity, published, None, kind, why=not_trained(out, label), label=label)
    n = len(facts)
    hits = [f["hit"] for f in facts]
    missed = [f for f in facts if f["hit"] is None]
    budget = min(f["budget"] for f in missed) if missed else None
    what = METRIC_NAMES.get(metric, metric)
    if 2 * (n - len(missed)) > n:
        step = int(upper_median([h if h is not None else np.inf for h in hits]))
        row = Row(quantity, published, step, kind, detail=spread(hits, kind, budget), label=label)
        row.agree = agrees(kind, published, step)
        if missed:
            row.detail += f"; {len(missed)} of {n} seeds not within {budget:,} steps"
        return row
    row = Row(quantity, published, budget, kind, bound=">", label=label)
    row.agree = agrees(kind, published, budget, ">")
    row.budget = budget if row.agree is None else None
    who = f" by {len(missed)} of {n} seeds" if n > 1 else ""
    final = mean_finite([f["final"] for f in missed])
    text = (f"not reached within the {budget:,}-step budget{who}; {what} {final:.3g} at the end"
            + (" (mean)" if len(missed) > 1 else ""))
    if published is None:
        row.detail = text
    else:
        row.why = text
        if not isinstance(published.value, str) and published.value > budget:
            row.why += f"; the published step {published.value:,} lies beyond the budget"
    return row


def finding(out: Outcome, label: str, metric: str, threshold: float, published: Published, quantity: str,
            below: bool = False) -> Row:
    """Whether ``metric`` crosses ``threshold`` ("yes"/"no"), seed by seed, against a published finding:
    a seed that got there says yes; one that did not says no once its budget reaches ``published.by`` or
    it stalled, and is undecided before; the row is the majority (``core.seed_verdict``)."""
    facts = seed_facts(out, label, metric, threshold, below)
    if not facts:
        return Row(quantity, published, None, "finding", why=not_trained(out, label), label=label)
    by = published.by

    def outcome(f: dict) -> str:
        if f["hit"] is not None:
            return "yes"
        return "no" if f["stalled"] or (by is not None and f["budget"] >= by) else "undecided"

    outcomes = [outcome(f) for f in facts]
    verdict, budget = seed_verdict(outcomes, [f["budget"] for f in facts])
    n = len(facts)
    hits = [f["hit"] for f in facts]
    finals = [f["final"] for f in facts]
    reached = sum(h is not None for h in hits)
    at = ", ".join(f"{h:,}" for h in hits if h is not None)
    detail = (f"{reached} of {n} seeds reached {threshold:g}" + (f" (first at steps {at})" if reached else "")
              + f"; {METRIC_NAMES.get(metric, metric)} at the end {fmt_number(upper_median(finals), 'acc')}"
              + (f" (median; {spread(finals, 'acc')})" if n > 1 else "")
              + f", after {fmt_number(max(f['budget'] for f in facts), 'steps')} steps")
    if any(f["stalled"] for f in facts):
        detail += f"; stalled (every training loss term exactly 0): {sum(f['stalled'] for f in facts)} of {n} seeds"
    row = Row(quantity, published, verdict or "undecided", "finding", detail=detail, label=label)
    row.agree = None if verdict is None else agrees("finding", published, verdict)
    row.budget = budget if verdict is None else None
    if row.agree is False:
        def said(f: dict) -> str:
            if f["hit"] is not None:
                return f"reached {threshold:g} at step {f['hit']:,}"
            return f"not reached in {f['budget']:,} steps" + (" (stalled)" if f["stalled"] else "")

        row.why = "; ".join(f"seed {f['seed']}: {said(f)}" for f in facts)
    return row


DECIDED_PHASES = ("comprehension", "grokking")     # both accuracies reached: no later step changes the phase


def phase_row(out: Outcome, label: str, published: Published | None, quantity: str) -> Row:
    """A label's Liu et al. phase, seed by seed: comprehension and grokking are final once seen; memorization
    and confusion only once a run is as long as the paper's (``published.by``), and undecided before."""
    runs = out.runs(label)
    if not runs:
        return Row(quantity, published, None, "finding", why=not_trained(out, label), label=label)
    by = published.by if published is not None else None
    phases = [r["summary"]["phase"] for r in runs]
    budgets = [int(r["summary"]["steps"]) for r in runs]
    outcomes = [ph if ph in DECIDED_PHASES or (by is not None and b >= by) else "undecided"
                for ph, b in zip(phases, budgets)]
    top = max(set(outcomes), key=outcomes.count)
    verdict = top if top != "undecided" and outcomes.count(top) * 2 > len(outcomes) else None
    open_ = [b for o, b in zip(outcomes, budgets) if o == "undecided"]
    tally = ", ".join(f"{k} {phases.count(k)}" for k in dict.fromkeys(phases))
    row = Row(quantity, published, verdict or "undecided", "finding", label=label,
              detail=f"{tally} of {len(runs)} seeds" + (f" (by step {max(budgets):,})" if open_ else ""))
    row.agree = None if verdict is None or published is None else agrees("finding", published, verdict)
    row.budget = (min(open_) if open_ else min(budgets)) if verdict is None else None
    if row.agree is False:
        row.why = "; ".join(f"seed {r['seed']}: {liu_reason(r)}" for r in runs)
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


__all__ = ["DECIDED_PHASES", "METRIC_NAMES", "Outcome", "finding", "liu_reason", "not_trained", "phase_row", "reach",
           "seed_facts", "stalled"]
