"""What the server's JSON endpoints return, read from a ``ReadOnlyStore`` (plain dicts and lists).

- ``state``: a small fingerprint of the catalog that changes whenever a run logs an evaluation,
  starts, finishes or dies, or a sweep point finishes: the page polls it and refetches only then;
- ``run_rows``: one row per run for the runs table (summary columns; a run without a summary —
  still running, interrupted — gets its latest evaluation's accuracies and leakage instead, and its
  t_mem / t_gen so far, marked ``live``);
- ``curve``: a run's evaluations after a step, as columns (what a live chart appends);
- ``run_detail``, ``sweep_list``, ``sweep_view``: one run's record; the sweeps; one sweep's points,
  phase diagram and swept fields.
"""

from __future__ import annotations

import json
import math
import sqlite3

from groklab.config import FIELDS
from groklab.errors import ConfigError
from groklab.serve.readonly import ReadOnlyStore
from groklab.store.lease import alive

MAX_CURVE_POINTS = 200_000      # evaluations one curve response carries at most (the rest on the next poll)
SUMMARY_KEYS = ("t_mem", "t_gen", "delay", "phase", "pair_class")


def _finite(v):
    return v if not isinstance(v, float) or math.isfinite(v) else None


def clean(v):
    """``v`` with every non-finite float (NaN, inf) replaced by None, so it is valid JSON."""
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    return _finite(v)


def state(st: ReadOnlyStore) -> dict:
    """A fingerprint of what the page shows: runs (count, last update, steps, live runs) and sweeps."""
    c = st.conn
    n, updated, steps = c.execute("SELECT COUNT(*), COALESCE(MAX(updated), ''), COALESCE(SUM(step), 0)"
                                  " FROM runs").fetchone()
    live = sorted(r for r, pid in c.execute("SELECT run_id, pid FROM runs WHERE status = 'running'") if alive(pid))
    ns, s_updated = c.execute("SELECT COUNT(*), COALESCE(MAX(updated), '') FROM sweeps").fetchone()
    done = c.execute("SELECT COUNT(*) FROM sweep_points WHERE status = 'done'").fetchone()[0]
    return {"runs": f"{n}:{updated}:{steps}:{len(live)}:{hash(tuple(live)) & 0xffffffff:x}",
            "sweeps": f"{ns}:{s_updated}:{done}", "n_runs": n, "n_running": len(live)}


def _live_values(c: sqlite3.Connection, run_id: str, threshold: float) -> dict:
    """Latest accuracies and leakage of a run without a summary, and its t_mem / t_gen so far."""
    row = c.execute("SELECT data_json FROM metrics WHERE run_id = ? ORDER BY step DESC LIMIT 1", (run_id,)).fetchone()
    last = json.loads(row[0]) if row else {}
    t_mem, t_gen = c.execute("SELECT MIN(CASE WHEN json_extract(data_json, '$.train_acc') >= ? THEN step END),"
                             " MIN(CASE WHEN json_extract(data_json, '$.test_acc') >= ? THEN step END)"
                             " FROM metrics WHERE run_id = ?", (threshold, threshold, run_id)).fetchone()
    return {"train_acc": last.get("train_acc"), "test_acc": last.get("test_acc"), "leak_auc": last.get("mia_auc"),
            "t_mem": t_mem, "t_gen": t_gen, "delay": t_gen - t_mem if t_mem is not None and t_gen is not None
            else None, "live": True}


def run_row(c: sqlite3.Connection, r: dict) -> dict:
    """The runs-table row of one run (a ``Store`` row dict)."""
    cfg = r["config"] or {}
    s = r["summary"]
    out = {k: r.get(k) for k in ("run_id", "name", "status", "task", "seed", "group_id", "member", "sweep_id",
                                 "created", "updated", "step", "wall_s", "message")}
    out.update({"preset": cfg.get("preset"), "model": cfg.get("model"), "steps": cfg.get("steps"), "config": cfg})
    if s is not None:
        fin = s.get("final") or {}
        leak = s.get("leakage") or {}
        out.update({k: s.get(k) for k in SUMMARY_KEYS})
        out.update({"train_acc": fin.get("train_acc"), "test_acc": fin.get("test_acc"),
                    "leak_auc": leak.get("final_auc"), "leak_max_auc": leak.get("max_auc"), "live": False})
    else:
        threshold = cfg.get("acc_threshold") if isinstance(cfg.get("acc_threshold"), (int, float)) else 0.99
        out.update({"phase": None, "pair_class": None, "leak_max_auc": None})
        out.update(_live_values(c, r["run_id"], float(threshold)))
    return {k: _finite(v) for k, v in out.items()}


def run_rows(st: ReadOnlyStore) -> dict:
    """Every run, newest first, and the config fields the table can filter and sort by."""
    runs = [run_row(st.conn, r) for r in st.list_runs()]
    return {"runs": runs, "fields": list(FIELDS), "summary_keys": list(SUMMARY_KEYS)}


def curve(st: ReadOnlyStore, run_id: str, since: int = -1) -> dict:
    """A run's evaluations after step ``since`` as columns ``{"step": [...], metric: [...]}`` (None where a
    metric is missing), with the run's status and progress (``step``, ``steps``, ``wall_s``)."""
    r = st.get_run(run_id)
    rows = st.conn.execute("SELECT step, data_json FROM metrics WHERE run_id = ? AND step > ? ORDER BY step LIMIT ?",
                           (r["run_id"], int(since), MAX_CURVE_POINTS)).fetchall()
    dicts = [json.loads(d) for _, d in rows]
    keys = sorted({k for d in dicts for k in d})
    cols: dict[str, list] = {"step": [s for s, _ in rows]}
    for k in keys:
        cols[k] = [_finite(d.get(k)) for d in dicts]
    cfg = r["config"] or {}
    return {"run_id": r["run_id"], "status": r["status"], "step": r["step"], "steps": cfg.get("steps"),
            "wall_s": r["wall_s"], "complete": len(rows) < MAX_CURVE_POINTS, "curve": cols}


def _json_path(key: str) -> str | None:
    return None if '"' in key or "\\" in key else f'$."{key}"'


def curve_text(st: ReadOnlyStore, run_id: str, since: int = -1) -> str:
    """``curve`` as JSON text, its columns assembled by SQLite (``json_group_array``) rather than parsed
    into Python and written out again: several times faster on 10,000 evaluations. SQLite writes reals
    with 15 significant digits (the stored JSON has 17), plenty for a chart. Falls back to ``curve``
    when a row is not JSON SQLite reads (e.g. NaN written by an old version)."""
    r = st.get_run(run_id)
    sub = "SELECT step, data_json FROM metrics WHERE run_id = ? AND step > ? ORDER BY step LIMIT ?"
    args = (r["run_id"], int(since), MAX_CURVE_POINTS)
    try:
        found = st.conn.execute(f"SELECT DISTINCT j.key FROM ({sub}) AS m, json_each(m.data_json) AS j", args)
        keys = sorted(k for (k,) in found if isinstance(k, str) and _json_path(k))
        cols = ", ".join(["json_group_array(step)", "COUNT(*)"] + ["json_group_array(json_extract(data_json, ?))"] *
                         len(keys))
        row = st.conn.execute(f"SELECT {cols} FROM ({sub})", (*[_json_path(k) for k in keys], *args)).fetchone()
    except sqlite3.OperationalError:
        return json.dumps(clean(curve(st, run_id, since)), allow_nan=False, separators=(",", ":"))
    cfg = r["config"] or {}
    head = clean({"run_id": r["run_id"], "status": r["status"], "step": r["step"], "steps": cfg.get("steps"),
                  "wall_s": r["wall_s"], "complete": row[1] < MAX_CURVE_POINTS})
    columns = [f'"step":{row[0]}'] + [f"{json.dumps(k)}:{v}" for k, v in zip(keys, row[2:])]
    return json.dumps(head, allow_nan=False, separators=(",", ":"))[:-1] + ',"curve":{' + ",".join(columns) + "}}"


def run_detail(st: ReadOnlyStore, run_id: str) -> dict:
    r = st.get_run(run_id)
    row = run_row(st.conn, r)
    report = (st.run_dir(r["run_id"]) / "report.html").is_file()
    return {"run": row, "summary": r["summary"], "config": r["config"], "code_version": r.get("code_version"),
            "machine": r.get("machine"), "report_written": report}


def sweep_list(st: ReadOnlyStore) -> dict:
    return {"sweeps": [{k: s.get(k) for k in ("sweep_id", "name", "kind", "status", "created", "updated", "n_points",
                                                "n_done")} for s in st.list_sweeps()]}


def sweep_view(st: ReadOnlyStore, sweep_id: str) -> dict:
    """One sweep: its record, swept fields, one row per point and the phase diagram of its first two axes."""
    from groklab.sweep.views import axis_fields, phase_diagram, sweep_rows

    sw = st.get_sweep(sweep_id)
    sid = sw["sweep_id"]
    axes = axis_fields(sw["spec"])
    rows = sweep_rows(st, sid)
    running = [r["run_id"] for r in st.list_runs(sweep_id=sid) if r["status"] == "running"]
    try:
        diagram = phase_diagram(st, sid)
    except ConfigError:
        diagram = None
    order = {a["field"]: a["values"] for a in sw["spec"].get("axes") or []}
    return clean({"sweep": {k: sw.get(k) for k in ("sweep_id", "name", "kind", "status", "created", "updated",
                                                   "n_points")},
                  "n_done": sum(1 for r in rows if r["status"] == "done"), "n_running": len(running), "axes": axes,
                  "axis_values": {a: order.get(a) for a in axes}, "rows": rows, "diagram": diagram})
