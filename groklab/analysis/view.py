"""The report view of one run (schema in ``groklab.report``): its record, metric curves and analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from groklab.analysis.circuit import view as circuit_view
from groklab.analysis.memorization import report_view as memorization_view
from groklab.analysis.stored import analyze_run, open_store
from groklab.config import from_dict
from groklab.errors import StoreError
from groklab.measure.registry import metric_names
from groklab.store import Store


def run_view(store: Store | str | Path | None, run_ref: str) -> dict:
    """The report view of one run (schema in ``groklab.report``): its record, metrics and analysis.

    Sections whose data does not apply are left out; a run without checkpoints gets a note and
    only its record and metrics.
    """
    from groklab.measure import refresh_labels, summarize

    st = open_store(store)
    row = st.get_run(run_ref)
    rid = row["run_id"]
    m = st.metrics(rid)
    summary = refresh_labels(row["summary"], row["config"], lambda: m)
    if summary is None:
        summary = summarize(from_dict(row["config"]), rid, m, row["status"], row["wall_s"])
    view: dict = {
        "run": {k: row.get(k) for k in ("run_id", "name", "status", "task", "config", "code_version", "machine",
                                          "wall_s", "created")},
        "summary": dict(summary),
        "metrics": {"step": m["step"].tolist(),
                    **{k: _nan_none(m[k]) for k in metric_names() if k in m and np.any(np.isfinite(m[k]))}},
        "notes": [],
    }
    if (mem := memorization_view(st, row)) is not None:     # a subset ensemble's atlas (its group's)
        view["memorization"] = mem
    try:
        a = analyze_run(st, rid)
    except StoreError as e:
        view["notes"].append(str(e).removeprefix("analyze: ") + "; only the metric curves are shown")
        return view
    _add_analysis(view, a)
    return view


def _add_analysis(view: dict, a: dict) -> None:
    prog = a["progress"]
    view["progress"] = {k: prog[k] for k in ("step", "restricted_loss", "excluded_loss", "train_loss", "test_loss",
                                             "gini_embed", "gini_unembed", "weight_norm") if k in prog}
    if a.get("phases"):
        view["progress"]["phases"] = a["phases"]
    for k in ("spectrum", "clock", "verdict"):
        if a.get(k) is not None:
            view[k] = a[k]
    view.update(circuit_view(a))            # basis, key components, ablations (groklab.analysis.circuit)
    if a.get("key_freqs") is not None:
        view["key_freqs"] = a["key_freqs"]
        view["summary"]["n_key_freqs"] = len(a["key_freqs"])
    if a.get("neurons") and "heatmap" in a["neurons"]:
        view["neurons"] = {k: a["neurons"][k] for k in ("freq", "frac_explained", "order", "heatmap", "stars")}
    if a.get("parity"):
        view["parity"] = {"bits": a["parity"]["bits"], "weights": a["parity"]["weights"],
                          "true_bits": a["parity"]["true_bits"]}
    if (a.get("final") or {}).get("rqi") is not None:
        view["summary"]["rqi"] = a["final"]["rqi"]
    view["notes"] += a.get("notes", [])
    na = a.get("not_applicable") or {}
    if na and a["family"] == "other":
        view["notes"].append(next(iter(na.values())) + ": Fourier and parity sections are left out")


def _nan_none(v: np.ndarray) -> list:
    return [None if not np.isfinite(x) else float(x) for x in v]


__all__ = ["run_view"]
