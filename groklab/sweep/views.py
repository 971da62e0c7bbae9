"""Reading a sweep back: one row per point (``sweep_rows``) and the phase-diagram view (``phase_diagram``)."""

from __future__ import annotations

import statistics
from collections import Counter

import numpy as np

from groklab.config import FIELDS
from groklab.errors import ConfigError
from groklab.measure.labels import PHASES
from groklab.measure.summary import refresh_labels
from groklab.store import Store

PHASE_ORDER = PHASES        # ties between phases in a cell are broken in this order


def axis_fields(spec: dict) -> list[str]:
    """The fields a sweep varies: its grid axes in order, then its random fields (sorted)."""
    return [a["field"] for a in spec.get("axes") or []] + sorted((spec.get("random") or {}).get("fields", {}))


def sweep_rows(store: Store, sweep_id: str) -> list[dict]:
    """One row per point: coordinates, seed, status, run id and the run's phase, PAIR class, t_mem, t_gen,
    delay, final accuracies (None where not done). Labels are the runs' summaries' (``measure.labels``),
    brought up to today's rules for runs stored by an older groklab."""
    sw = store.get_sweep(sweep_id)
    axes = axis_fields(sw["spec"])
    runs = {r["run_id"]: r for r in store.list_runs(sweep_id=sw["sweep_id"])}
    rows = []
    for p in store.sweep_points(sw["sweep_id"]):
        cfg = p["config"]
        run = runs.get(p["run_id"]) or {}
        if not run and p["status"] == "done" and p["run_id"]:   # a run trained outside the sweep, linked to it
            run = store.get_run(p["run_id"])
        s = {}
        if p["status"] == "done" and run.get("summary"):
            s = refresh_labels(run["summary"], run["config"], lambda rid=run["run_id"]: store.metrics(rid))
        fin = s.get("final") or {}
        coords = {k: cfg.get(k) for k in axes}
        rows.append({"point": p["point"], "x": coords.get(axes[0]) if axes else None,
                     "y": coords.get(axes[1]) if len(axes) > 1 else None, "coords": coords, "seed": cfg.get("seed"),
                     "status": p["status"], "run_id": p["run_id"], "phase": s.get("phase"),
                     "pair_class": s.get("pair_class"), "t_mem": s.get("t_mem"),
                     "t_gen": s.get("t_gen"), "delay": s.get("delay"), "train_acc": fin.get("train_acc"),
                     "test_acc": fin.get("test_acc")})
    return rows


def _median(vals: list) -> float | int | None:
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def phase_diagram(store: Store, sweep_id: str, x: str | None = None, y: str | None = None) -> dict:
    """The sweep view for the report renderer (``groklab.report.render_sweep_html``).

    ``x``/``y`` default to the sweep's first two axes. Each cell (x, y) aggregates every done point
    there (seeds, and any other axes): the majority phase (ties broken in the order comprehension,
    grokking, memorization, confusion), the median delay, t_mem and t_gen, the mean final test
    accuracy, the most common PAIR class, and the run (and report href) of one point with the majority
    phase. Labels are the runs' (``measure.labels``, via ``sweep_rows``). Cells with no done point are left
    out. Returns {"sweep": {sweep_id, name, created, n_points, n_done}, "x_name", "y_name", "x_values",
    "y_values", "points": [{x, y, phase, pair_class, delay, t_mem, t_gen, test_acc, n, run_id, href}]}.
    """
    sw = store.get_sweep(sweep_id)
    axes = axis_fields(sw["spec"])
    x = x or (axes[0] if axes else None)
    y = y or (axes[1] if len(axes) > 1 else None)
    for name in (x, y):
        if name is not None and name not in FIELDS:
            raise ConfigError(f"axis: unknown config field {name!r}; this sweep varies {', '.join(axes) or 'nothing'}")
    rows = sweep_rows(store, sw["sweep_id"])
    pts = store.sweep_points(sw["sweep_id"])
    for r, p in zip(rows, pts):
        r["x"] = p["config"].get(x) if x else None
        r["y"] = p["config"].get(y) if y else None
    order = {a["field"]: a["values"] for a in sw["spec"].get("axes") or []}

    def values(name: str | None, key: str) -> list:
        if name is None:
            return [None]
        seen = {r[key] for r in rows}
        if name in order:
            return [v for v in order[name] if v in seen]
        return sorted(seen, key=lambda v: (v is None, v))

    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["status"] == "done" and r["run_id"]:
            cells.setdefault((r["x"], r["y"]), []).append(r)
    points = []
    for (cx, cy), rs in cells.items():
        counts = Counter(r["phase"] for r in rs)
        rank = {p: i for i, p in enumerate(PHASE_ORDER)}
        phase = min(counts, key=lambda k: (-counts[k], rank.get(k, len(rank)), str(k)))
        rep = next(r for r in rs if r["phase"] == phase)
        accs = [r["test_acc"] for r in rs if r["test_acc"] is not None]
        pair = Counter(r["pair_class"] for r in rs).most_common(1)[0][0]
        points.append({"x": cx, "y": cy, "phase": phase, "pair_class": pair, "delay": _median([r["delay"] for r in rs]),
                       "t_mem": _median([r["t_mem"] for r in rs]), "t_gen": _median([r["t_gen"] for r in rs]),
                       "test_acc": float(np.mean(accs)) if accs else None, "n": len(rs), "run_id": rep["run_id"],
                       "href": f"../../runs/{rep['run_id']}/report.html" if rep["run_id"] else None})
    return {"sweep": {"sweep_id": sw["sweep_id"], "name": sw["name"], "created": sw["created"],
                      "n_points": sw["n_points"], "n_done": sum(r["status"] == "done" for r in rows)},
            "x_name": x, "y_name": y, "x_values": values(x, "x"), "y_values": values(y, "y"), "points": points}
