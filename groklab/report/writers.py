"""Write the HTML report of a run or a sweep into the store (``groklab report`` and the library).

A run's report goes to ``<store>/runs/<run-id>/report.html`` and a sweep's to
``<store>/sweeps/<sweep-id>/report.html`` unless ``out`` names another file; ``png_dir`` also gets
every figure as a PNG.

A sweep report links each cell of its phase diagram to the report of one of its runs, so writing it
also writes the run reports that are missing. Those are made cheaply: a run whose analysis is already
cached in the store gets its full report, any other one a report of its record and metric curves,
with a note naming the command that adds the analysis of its checkpoints (3-4 s a run on 2 cores).
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from groklab.errors import AmbiguousRefError, ConfigError, StoreError
from groklab.store import Store
from groklab.store.catalog import RUN_ID

REPORT_NAME = "report.html"


def _open(store: Store | str | os.PathLike | None) -> Store:
    return store if isinstance(store, Store) else Store(store, create=False)


def _target(out: str | os.PathLike | None, default: Path) -> Path:
    if out is None:
        return default
    path = Path(out).expanduser()
    if path.is_dir():
        raise ConfigError(f"out: {path} is a directory; give the report's file name, e.g. {path / REPORT_NAME}")
    return path


def _write(html: str, path: Path) -> Path:
    from groklab.report import write_html

    try:
        return write_html(html, path)
    except OSError as e:
        raise ConfigError(f"out: cannot write {path} ({e.strerror or e})") from None


def _pngs(write, view: dict, png_dir: str | os.PathLike | None) -> list[Path]:
    if png_dir is None:
        return []
    d = Path(png_dir).expanduser()
    if d.exists() and not d.is_dir():
        raise ConfigError(f"png: {d} exists and is not a directory")
    try:
        return list(write(view, d))
    except OSError as e:
        raise ConfigError(f"png: cannot write into {d} ({e.strerror or e})") from None


def sweep_dir(store: Store, sweep_id: str) -> Path:
    """``<store>/sweeps/<sweep-id>``, refusing an id that would leave the store."""
    if not isinstance(sweep_id, str) or not RUN_ID.match(sweep_id):
        raise StoreError(f"sweep: invalid sweep id {sweep_id!r}; ids are lower-case letters, digits and '-'")
    d = (store.root / "sweeps" / sweep_id).resolve()
    if store.root.resolve() / "sweeps" not in d.parents:
        raise StoreError(f"sweep: id {sweep_id!r} escapes the store")
    return d


# ---------------------------------------------------------------------------------------------- runs
def run_report_files(store: Store, run_ref: str, out=None, png_dir=None) -> tuple[Path, list[Path]]:
    """Write a run's report (and PNGs into ``png_dir``); returns the report's path and the PNGs written."""
    from groklab.analysis import run_view
    from groklab.report import render_run_html, write_run_pngs

    rid = store.resolve(run_ref)
    path = _target(out, store.run_dir(rid) / REPORT_NAME)
    view = run_view(store, rid)
    written = _write(render_run_html(view), path)
    return written, _pngs(write_run_pngs, view, png_dir)


def write_run_report(store: Store | str | os.PathLike | None, run_id: str, out: str | os.PathLike | None = None,
                     png_dir: str | os.PathLike | None = None) -> Path:
    """Write the HTML report of a run (id, id prefix or name) and, with ``png_dir``, its figures as PNGs.

    Default path: ``<store>/runs/<run-id>/report.html``. Returns the path written. A run without
    checkpoints gets a report of its record and metrics with a note saying why the rest is missing.
    """
    return run_report_files(_open(store), run_id, out, png_dir)[0]


def _light_run_view(store: Store, rid: str) -> dict:
    """The record and metric curves of a run, without analyzing its checkpoints (for sweep cells)."""
    import math

    from groklab.config import from_dict
    from groklab.measure import refresh_labels, summarize

    row = store.get_run(rid)
    m = store.metrics(rid)
    summary = (refresh_labels(row["summary"], row["config"], lambda: m)
               or summarize(from_dict(row["config"]), rid, m, row["status"], row["wall_s"]))
    metrics = {"step": m["step"].tolist()}
    for k, v in m.items():
        vals = [float(x) if math.isfinite(x) else None for x in v.tolist()] if k != "step" else None
        if vals is not None and any(x is not None for x in vals):
            metrics[k] = vals
    return {
        "run": {k: row.get(k) for k in ("run_id", "name", "status", "task", "config", "code_version", "machine",
                                          "wall_s", "created")},
        "summary": dict(summary),
        "metrics": metrics,
        "notes": [f"written with its sweep's report, so its checkpoints were not analyzed; `groklab report {rid}` "
                  "adds the progress measures, spectrum, clock and neurons"],
    }


def _point_report(store: Store, rid: str) -> Path | None:
    """Write the report a sweep cell links to, if it is missing; cheap unless the analysis is cached."""
    from groklab.analysis import ANALYSIS_KEY, run_view
    from groklab.report import render_run_html

    path = store.run_dir(rid) / REPORT_NAME
    if path.exists():
        return None
    cached = store.get_analysis(rid, ANALYSIS_KEY) is not None
    view = run_view(store, rid) if cached else _light_run_view(store, rid)
    return _write(render_run_html(view), path)


# ---------------------------------------------------------------------------------------------- sweeps
def _href(store: Store, rid: str, page: Path) -> str:
    """The relative link from the sweep page at ``page`` to a run's report (file:// URL if none exists)."""
    target = store.run_dir(rid) / REPORT_NAME
    try:
        rel = os.path.relpath(target, page.resolve().parent)
    except ValueError:          # another drive (Windows): an absolute link
        return target.as_uri()
    return urllib.parse.quote(Path(rel).as_posix())


def sweep_report_files(store: Store, sweep_ref: str, out=None, png_dir=None, x: str | None = None,
                       y: str | None = None) -> tuple[Path, list[Path], list[Path]]:
    """Write a sweep's report (fields ``x`` across, ``y`` down) and the run reports its cells link to that
    were missing; returns the report's path, the PNGs and the run reports written."""
    from groklab.report import render_sweep_html, write_sweep_pngs
    from groklab.sweep import phase_diagram

    sid = store.get_sweep(sweep_ref)["sweep_id"]
    path = _target(out, sweep_dir(store, sid) / REPORT_NAME)
    view = phase_diagram(store, sid, x=x, y=y)
    runs = []
    for pt in view.get("points") or []:
        rid = pt.get("run_id")
        if rid:
            written = _point_report(store, rid)
            if written is not None:
                runs.append(written)
            pt["href"] = _href(store, rid, path)
    written = _write(render_sweep_html(view), path)
    return written, _pngs(write_sweep_pngs, view, png_dir), runs


def write_sweep_report(store: Store | str | os.PathLike | None, sweep_id: str, out: str | os.PathLike | None = None,
                       png_dir: str | os.PathLike | None = None) -> Path:
    """Write the HTML report of a sweep (id, id prefix or name): its phase diagram and delay map, each
    cell linking to a run report (missing ones are written too). Default path:
    ``<store>/sweeps/<sweep-id>/report.html``. Returns the path written."""
    return sweep_report_files(_open(store), sweep_id, out, png_dir)[0]


# ---------------------------------------------------------------------------------------------- either
def report_kind(store: Store, ref: str) -> str:
    """'run' or 'sweep': exact ids first, then prefixes and names; a name shared by both is an error."""
    ambiguous = None
    try:
        rid = store.resolve(ref)
    except AmbiguousRefError as e:
        rid, ambiguous = None, e
    except StoreError:
        rid = None
    try:
        sid = store.get_sweep(ref)["sweep_id"]
    except StoreError:
        sid = None
    if rid is None and sid is None:
        if ambiguous is not None:
            raise StoreError(f"report: {ambiguous}")
        raise StoreError(f"report: no run or sweep {ref!r} in {store.root} (see `groklab runs`, `groklab sweeps`)")
    if rid is not None and sid is not None and ref not in (rid, sid):
        raise StoreError(f"report: {ref!r} names both run {rid} and sweep {sid}; give the id")
    return "sweep" if sid is not None and (rid is None or ref == sid) else "run"


__all__ = ["REPORT_NAME", "report_kind", "run_report_files", "sweep_dir", "sweep_report_files", "write_run_report",
           "write_sweep_report"]
