"""A run's or a sweep's full report, as ``groklab report`` writes it: the file from the store when it has
been written, otherwise rendered on request by the report code itself (``groklab.analysis.run_view`` and
``groklab.report.render_run_html``; ``groklab.sweep.phase_diagram`` and ``render_sweep_html``), in
memory: nothing is written to the store (the analysis of a run's checkpoints is cached in this
process, see ``groklab.serve.readonly``). One report is rendered at a time, so a burst of clicks does
not take every core from a run that is training.
"""

from __future__ import annotations

import threading
from pathlib import Path

from groklab.errors import StoreError
from groklab.serve.readonly import ReadOnlyStore
from groklab.store.common import RUN_ID

REPORT_NAME = "report.html"
_RENDER_LOCK = threading.Lock()


def valid_id(ref: str) -> bool:
    """True for a run or sweep id (or id prefix): lower-case letters, digits and '-', nothing else."""
    return isinstance(ref, str) and RUN_ID.match(ref) is not None


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def run_report(st: ReadOnlyStore, ref: str, fresh: bool = False) -> tuple[Path | None, str | None]:
    """(the written report file, None), or (None, the report rendered now) when none is written or
    ``fresh``. StoreError for an unknown run."""
    if not valid_id(ref):
        raise StoreError(f"run: invalid run id {ref!r}")
    rid = st.resolve(ref)
    path = st.run_dir(rid) / REPORT_NAME
    if not fresh and path.is_file() and not path.is_symlink() and _inside(st.root, path):
        return path, None
    from groklab.analysis import run_view
    from groklab.report import render_run_html

    with _RENDER_LOCK:
        return None, render_run_html(run_view(st, rid))


def sweep_report(st: ReadOnlyStore, ref: str, fresh: bool = False) -> tuple[Path | None, str | None]:
    """Like ``run_report`` for a sweep; a rendered one links each cell to ``/runs/<id>/report.html``."""
    if not valid_id(ref):
        raise StoreError(f"sweep: invalid sweep id {ref!r}")
    sid = st.get_sweep(ref)["sweep_id"]
    path = st.root / "sweeps" / sid / REPORT_NAME
    if not fresh and path.is_file() and not path.is_symlink() and _inside(st.root, path):
        return path, None
    from groklab.report import render_sweep_html
    from groklab.sweep.views import phase_diagram

    view = phase_diagram(st, sid)
    for pt in view.get("points") or []:
        if pt.get("run_id"):
            pt["href"] = f"/runs/{pt['run_id']}/report.html"
    with _RENDER_LOCK:
        return None, render_sweep_html(view)
