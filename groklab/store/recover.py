"""Run folders the catalog lacks (``groklab.db`` lost, emptied or rebuilt): find them and, with
``--repair``, re-register each from its folder: the row from run.json, the metrics from
metrics.jsonl, and every checkpoint and optimizer state whose safetensors header checks out (and
whose tensors fit the run's config), with its sha256 recomputed from the file.

Nothing is deleted: a file that cannot be attributed to its run and step is reported and, with
``--repair``, moved to ``lost+found/``. A folder without run.json (written by an older groklab)
cannot be re-registered; its files are reported file by file as orphans.
"""

from __future__ import annotations

from pathlib import Path

from groklab.store import records
from groklab.store.common import RUN_ID
from groklab.store.files import sha256_file
from groklab.store.lease import alive
from groklab.store.problems import Pass, Problem, invalid_tensors


def _steps(d: Path) -> list[tuple[int, Path]]:
    return sorted((int(f.stem), f) for f in d.glob("*.safetensors")
                  if f.stem.isdigit() and f.is_file() and not f.is_symlink()) if d.is_dir() else []


def scan_folder(ck: Pass, d: Path, rec: dict) -> tuple[list[tuple[int, str, str | None]], list[tuple[Path, str]]]:
    """The checkpoints of a run folder as (step, sha256, state sha256 or None), and the files that
    cannot be attributed to it, each with the reason."""
    shapes, rid = ck.shapes(rec), rec["run_id"]
    good: dict[int, str] = {}
    rejects: list[tuple[Path, str]] = []
    for step, f in _steps(d / "ckpt"):
        why = invalid_tensors(f, shapes, rid, step)
        if why:
            rejects.append((f, why))
        else:
            good[step] = sha256_file(f)
    states: dict[int, str] = {}
    for step, f in _steps(d / "state"):
        why = invalid_tensors(f, None, rid, step) or (None if step in good else "has no checkpoint at its step")
        if why:
            rejects.append((f, why))
        else:
            states[step] = sha256_file(f)
    return [(s, good[s], states.get(s)) for s in sorted(good)], rejects


def _register(ck: Pass, d: Path, rec: dict, p: Problem) -> None:
    ckpts, rejects = scan_folder(ck, d, rec)
    metrics = records.read_metrics(d)
    ck.store.register_run(rec, metrics, ckpts,
                          f"process {rec.get('pid')} ended without finishing (re-registered by groklab check)")
    p.repaired = True
    p.action = (f"re-register it: {len(metrics)} evaluation(s), {len(ckpts)} checkpoint(s), "
                f"{sum(s is not None for _, _, s in ckpts)} optimizer state(s)")
    for f, why in rejects:
        q = ck.add(Problem("unattributed_file", f"{ck.rel(f)} {why}; not re-registered with run {rec['run_id']}",
                           True, run_id=rec["run_id"], path=ck.rel(f), action="move it to lost+found/"))
        q.action = f"moved it to {ck.move_aside(f)}"
        q.repaired = True


def recover_runs(ck: Pass) -> None:
    """Report (and with ``ck.repair`` re-register) each run folder with a run.json that the catalog lacks."""
    runs_dir = ck.store.root / "runs"
    known = {r[0] for r in ck.store.conn.execute("SELECT run_id FROM runs").fetchall()}
    for d in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else ():
        if not d.is_dir() or d.name in known or not RUN_ID.match(d.name):
            continue
        try:
            rec = records.read_run_record(d)
        except ValueError as e:
            ck.add(Problem("unregistered_run", f"run folder {ck.rel(d)} is not in the catalog and its {e}", False,
                           run_id=d.name, path=ck.rel(d), action="restore groklab.db from a backup, or move the "
                           "folder out of the store"))
            continue
        if rec is None:          # an older groklab's folder: its files are reported one by one
            continue
        if rec["status"] == "running" and alive(rec.get("pid")):
            ck.skip_dirs.add(d.name)
            ck.add(Problem("unregistered_run", f"run {d.name}: not in the catalog, and its process {rec['pid']} "
                           "is still running", False, run_id=d.name, path=ck.rel(d),
                           action="run `groklab check --repair` again once it has ended"))
            continue
        p = ck.add(Problem("unregistered_run", f"run {d.name}: in its folder ({ck.rel(d / records.RUN_JSON)}) but "
                           "not in the catalog", True, run_id=d.name, path=ck.rel(d),
                           action="re-register it from its run folder"))
        if ck.repair:
            _register(ck, d, rec, p)
        else:
            ck.skip_dirs.add(d.name)
