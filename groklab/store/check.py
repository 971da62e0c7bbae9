"""Verify a run store and repair what can be repaired without losing anything that is still good.

What is checked:

- the SQLite catalog's own integrity (``PRAGMA integrity_check``);
- run folders the catalog lacks (a lost or emptied catalog): repaired by re-registering each run
  from its folder (run.json, metrics.jsonl, checkpoints validated and checksummed again;
  ``groklab.store.recover``);
- runs recorded 'running' whose process is gone (killed), and sweeps recorded 'running' whose
  lease no process holds: repaired by marking them 'interrupted' (resumable);
- every recorded checkpoint: its file exists, matches its sha256, has a valid safetensors header
  and, given ``expected_shapes``, the tensor names and shapes its run's config implies (and so for
  its optimizer state's file and header, when one is recorded); a missing file's row is dropped, a
  corrupt or invalid file is only reported (delete it yourself, then ``--repair`` drops its row);
- rows of metrics, checkpoints and analyses whose run is not in the catalog: deleted;
- checkpoint and state files no row points to: moved to ``lost+found/`` (never deleted), and
  temporary files left by an interrupted write: deleted.

Runs whose process is still alive are skipped: their files may be half-way through being written.
"""

from __future__ import annotations

import json

from groklab.store.catalog import RUN_ID, Store, _alive, now
from groklab.store.files import TMP_SUFFIX, sha256_file
from groklab.store.problems import Pass, Problem, ShapesFn, invalid_tensors
from groklab.store.recover import recover_runs

__all__ = ["Problem", "check_store"]
_ORPHAN_TABLES = ("metrics", "checkpoints", "analysis")


def _sha(path) -> str | None:
    try:
        return sha256_file(path)
    except FileNotFoundError:
        return None


def check_store(store: Store, repair: bool = False,
                expected_shapes: ShapesFn | None = None) -> tuple[list[Problem], dict]:
    """Every problem found in ``store`` (repaired ones marked so), and counts of what was checked.

    ``expected_shapes(run)`` (``run`` has at least "run_id" and "config") gives the parameter shapes
    a run's config implies, or None; the store does not build models itself.
    """
    ck = Pass(store, repair, expected_shapes)
    _check_catalog(ck)
    recover_runs(ck)
    ck.runs = {rid: (status, pid) for rid, status, pid in
               store.conn.execute("SELECT run_id, status, pid FROM runs").fetchall()}
    ck.live = {rid for rid, (status, pid) in ck.runs.items() if status == "running" and _alive(pid)}
    _check_dead_runs(ck)
    _check_dead_sweeps(ck)
    _check_orphan_rows(ck)
    _check_checkpoints(ck)
    _check_files(ck)
    return ck.problems, {"runs": len(ck.runs), "running": len(ck.live), "checkpoints": ck.n_ckpt}


def _check_catalog(ck: Pass) -> None:
    ok = [r[0] for r in ck.store.conn.execute("PRAGMA integrity_check").fetchall()]
    if ok != ["ok"]:
        ck.add(Problem("catalog", f"catalog {ck.store.db_path.name}: integrity check failed: {ok[0]}",
                       False, action="restore groklab.db from a backup"))


def _check_dead_runs(ck: Pass) -> None:
    """Runs stuck 'running' whose process is gone."""
    for rid, (status, pid) in sorted(ck.runs.items()):
        if status != "running" or rid in ck.live:
            continue
        p = ck.add(Problem("dead_run", f"run {rid}: recorded 'running' but its process {pid} is gone", True,
                           run_id=rid, action="mark it interrupted"))
        if ck.repair:
            with ck.store._tx() as c:
                c.execute("UPDATE runs SET status = 'interrupted', pid = NULL, updated = ?, message = ?"
                          " WHERE run_id = ? AND status = 'running' AND pid IS ?",
                          (now(), f"process {pid} ended without finishing (found by groklab check)", rid, pid))
            if RUN_ID.match(rid):
                ck.store._sync_records([rid])
            p.repaired = True


def _check_dead_sweeps(ck: Pass) -> None:
    """Sweeps recorded 'running' that no live process holds the lease of."""
    for (sid,) in ck.store.conn.execute("SELECT sweep_id FROM sweeps WHERE status = 'running' ORDER BY sweep_id"):
        if ck.store.lease_holder("sweep", sid) is not None:
            continue
        p = ck.add(Problem("dead_sweep", f"sweep {sid}: recorded 'running' but no process is running it", True,
                           action="mark it interrupted (continue it with --resume)"))
        if ck.repair:
            with ck.store._tx() as c:
                c.execute("UPDATE sweeps SET status = 'interrupted', updated = ? WHERE sweep_id = ?"
                          " AND status = 'running'", (now(), sid))
            p.repaired = True


def _check_orphan_rows(ck: Pass) -> None:
    """Rows whose run is not in the catalog."""
    for table in _ORPHAN_TABLES:
        for rid, n in ck.store.conn.execute(f"SELECT run_id, COUNT(*) FROM {table} WHERE run_id NOT IN "
                                            "(SELECT run_id FROM runs) GROUP BY run_id").fetchall():
            p = ck.add(Problem("orphan_rows", f"{table}: {n} row(s) of run {rid}, which is not in the catalog", True,
                               run_id=rid, action="delete them"))
            if ck.repair:
                with ck.store._tx() as c:
                    c.execute(f"DELETE FROM {table} WHERE run_id = ? AND run_id NOT IN (SELECT run_id FROM runs)",
                              (rid,))
                p.repaired = True


def _check_checkpoints(ck: Pass) -> None:
    """Recorded checkpoints: file present, intact, a valid safetensors file that fits the run's config."""
    configs = dict(ck.store.conn.execute("SELECT run_id, config_json FROM runs").fetchall())
    for rid, step, sha, has_state, state_sha in ck.store.conn.execute(
            "SELECT run_id, step, sha256, has_state, state_sha256 FROM checkpoints ORDER BY run_id, step").fetchall():
        if rid not in ck.runs or rid in ck.live or not RUN_ID.match(rid):
            continue
        ck.n_ckpt += 1
        ck.recorded.setdefault(rid, {})[step] = bool(has_state)
        path = ck.store.ckpt_path(rid, step)
        got = _sha(path)
        if got is None:
            p = ck.add(Problem("missing_checkpoint", f"run {rid}: checkpoint at step {step} has no file "
                               f"({ck.rel(path)})", True, run_id=rid, path=ck.rel(path), action="drop its row"))
            if ck.repair:
                with ck.store._tx() as c:
                    c.execute("DELETE FROM checkpoints WHERE run_id = ? AND step = ?", (rid, step))
                p.repaired = True
                del ck.recorded[rid][step]
            continue
        if got != sha:
            ck.add(Problem("corrupt_checkpoint", f"run {rid}: checkpoint at step {step} does not match its "
                           f"recorded sha256 (corrupt or modified): {ck.rel(path)}", False, run_id=rid,
                           path=ck.rel(path), action="delete the file, then --repair drops its row"))
        else:
            why = invalid_tensors(path, _shapes(ck, rid, configs), rid, step)
            if why:
                ck.add(Problem("invalid_checkpoint", f"run {rid}: checkpoint at step {step} {why}: {ck.rel(path)}",
                               False, run_id=rid, path=ck.rel(path),
                               action="delete the file, then --repair drops its row"))
        if has_state:
            _check_state(ck, rid, step, state_sha)


def _shapes(ck: Pass, rid: str, configs: dict[str, str]) -> dict | None:
    if ck.expected_shapes is None or rid not in configs:
        return None
    try:
        cfg = json.loads(configs[rid])
    except ValueError:
        return None
    return ck.shapes({"run_id": rid, "config": cfg})


def _check_state(ck: Pass, rid: str, step: int, state_sha: str | None) -> None:
    spath = ck.store.state_path(rid, step)
    sgot = _sha(spath)
    if sgot is None:
        p = ck.add(Problem("missing_state", f"run {rid}: optimizer state at step {step} has no file "
                           f"({ck.rel(spath)})", True, run_id=rid, path=ck.rel(spath), action="drop it from its row"))
        if ck.repair:
            with ck.store._tx() as c:
                c.execute("UPDATE checkpoints SET has_state = 0, state_sha256 = NULL"
                          " WHERE run_id = ? AND step = ?", (rid, step))
            p.repaired = True
            ck.recorded[rid][step] = False
    elif state_sha is not None and sgot != state_sha:
        ck.add(Problem("corrupt_state", f"run {rid}: optimizer state at step {step} does not match "
                       f"its recorded sha256 (corrupt or modified): {ck.rel(spath)}", False,
                       run_id=rid, path=ck.rel(spath), action="delete the file, then --repair drops it from its row"))
    elif why := invalid_tensors(spath, None, rid, step):
        ck.add(Problem("invalid_state", f"run {rid}: optimizer state at step {step} {why}: {ck.rel(spath)}",
                       False, run_id=rid, path=ck.rel(spath),
                       action="delete the file, then --repair drops it from its row"))


def _file_problem(ck: Pass, d, f, known: bool) -> Problem | None:
    if f.name.startswith(".") and f.name.endswith(TMP_SUFFIX):
        return Problem("temp_file", f"temporary file {ck.rel(f)} left by an interrupted write", True,
                       run_id=d.name, path=ck.rel(f), action="delete it")
    if f.parent.parent != d or f.parent.name not in ("ckpt", "state"):
        return None
    step = int(f.stem) if f.suffix == ".safetensors" and f.stem.isdigit() else None
    if step is None or f.is_symlink():
        return Problem("unexpected_file", f"{ck.rel(f)} is not a checkpoint file groklab writes", False,
                       run_id=d.name, path=ck.rel(f), action="move it out of the store")
    steps = ck.recorded.get(d.name, {})
    if step in steps and (f.parent.name == "ckpt" or steps[step]):
        return None
    why = "its run is not in the catalog" if not known else "no checkpoint row points to it"
    return Problem("orphan_file", f"{ck.rel(f)}: {why}", True, run_id=d.name, path=ck.rel(f),
                   action="move it to lost+found/")


def _check_files(ck: Pass) -> None:
    """Files on disk: temp files, and checkpoint/state files no row points to."""
    runs_dir = ck.store.root / "runs"
    for d in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else ():
        if d.name in ck.live or d.name in ck.skip_dirs or not d.is_dir():
            continue
        known = d.name in ck.runs
        for f in sorted(d.rglob("*")):
            if not f.is_file() and not f.is_symlink():
                continue
            p = _file_problem(ck, d, f, known)
            if p is None:
                continue
            if ck.repair and p.repairable:
                if p.kind == "temp_file":
                    f.unlink(missing_ok=True)
                else:
                    p.action = f"moved it to {ck.move_aside(f)}"
                p.repaired = True
            ck.add(p)
        if ck.repair and not known:
            for sub in sorted(d.rglob("*"), reverse=True) + [d]:
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()
