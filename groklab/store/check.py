"""Verify a run store and repair what can be repaired without losing anything that is still good.

What is checked:

- the SQLite catalog's own integrity (``PRAGMA integrity_check``);
- runs recorded 'running' whose process is gone (killed): repaired by marking them 'interrupted';
- every recorded checkpoint: its file exists and matches its sha256 (and so does its optimizer
  state, when one is recorded); a missing file's row is dropped, a corrupt file is only reported
  (delete it yourself, then ``--repair`` drops its row);
- rows of metrics, checkpoints and analyses whose run is not in the catalog: deleted;
- checkpoint and state files no row points to, and temporary files left by an interrupted write:
  deleted.

Runs whose process is still alive are skipped: their files may be half-way through being written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from groklab.store.catalog import RUN_ID, Store, _alive, now
from groklab.store.files import TMP_SUFFIX, sha256_file

_ORPHAN_TABLES = ("metrics", "checkpoints", "analysis")


@dataclass
class Problem:
    kind: str                  # dead_run, missing_checkpoint, corrupt_checkpoint, missing_state, corrupt_state,
    #                            orphan_rows, orphan_file, temp_file, unexpected_file, catalog
    message: str               # one line: what is wrong
    repairable: bool
    run_id: str | None = None
    path: str | None = None
    repaired: bool = False
    action: str | None = None  # what --repair does ("delete it"), or what the user can do if it cannot

    def line(self) -> str:
        if self.repaired:
            return f"repaired: {self.message} (did: {self.action})"
        if self.repairable:
            return f"{self.message} (--repair will {self.action})"
        return f"{self.message} (not repaired automatically: {self.action})"

    def to_dict(self) -> dict:
        return asdict(self)


def _sha(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except FileNotFoundError:
        return None


def check_store(store: Store, repair: bool = False) -> tuple[list[Problem], dict]:
    """Every problem found in ``store`` (repaired ones marked so), and counts of what was checked."""
    problems: list[Problem] = []
    root = store.root
    rel = lambda p: str(p.relative_to(root))  # noqa: E731

    ok = [r[0] for r in store.conn.execute("PRAGMA integrity_check").fetchall()]
    if ok != ["ok"]:
        problems.append(Problem("catalog", f"catalog {store.db_path.name}: integrity check failed: {ok[0]}",
                                False, action="restore groklab.db from a backup"))

    runs = {rid: (status, pid) for rid, status, pid in
            store.conn.execute("SELECT run_id, status, pid FROM runs").fetchall()}
    live = {rid for rid, (status, pid) in runs.items() if status == "running" and _alive(pid)}

    # runs stuck 'running' whose process is gone
    for rid, (status, pid) in sorted(runs.items()):
        if status == "running" and rid not in live:
            p = Problem("dead_run", f"run {rid}: recorded 'running' but its process {pid} is gone", True, run_id=rid,
                        action="mark it interrupted")
            if repair:
                with store._tx() as c:
                    c.execute("UPDATE runs SET status = 'interrupted', pid = NULL, updated = ?, message = ?"
                              " WHERE run_id = ? AND status = 'running' AND pid IS ?",
                              (now(), f"process {pid} ended without finishing (found by groklab check)", rid, pid))
                p.repaired = True
            problems.append(p)

    # rows whose run is gone
    for table in _ORPHAN_TABLES:
        for rid, n in store.conn.execute(f"SELECT run_id, COUNT(*) FROM {table} WHERE run_id NOT IN "
                                         "(SELECT run_id FROM runs) GROUP BY run_id").fetchall():
            p = Problem("orphan_rows", f"{table}: {n} row(s) of run {rid}, which is not in the catalog", True,
                        run_id=rid, action="delete them")
            if repair:
                with store._tx() as c:
                    c.execute(f"DELETE FROM {table} WHERE run_id = ? AND run_id NOT IN (SELECT run_id FROM runs)",
                              (rid,))
                p.repaired = True
            problems.append(p)

    # recorded checkpoints: file present and intact
    n_ckpt = 0
    recorded: dict[str, dict[int, bool]] = {}     # run -> step -> has_state (after repairs)
    for rid, step, sha, has_state, state_sha in store.conn.execute(
            "SELECT run_id, step, sha256, has_state, state_sha256 FROM checkpoints ORDER BY run_id, step").fetchall():
        if rid not in runs or rid in live or not RUN_ID.match(rid):
            continue
        n_ckpt += 1
        recorded.setdefault(rid, {})[step] = bool(has_state)
        path = store.ckpt_path(rid, step)
        got = _sha(path)
        if got is None:
            p = Problem("missing_checkpoint", f"run {rid}: checkpoint at step {step} has no file ({rel(path)})",
                        True, run_id=rid, path=rel(path), action="drop its row")
            if repair:
                with store._tx() as c:
                    c.execute("DELETE FROM checkpoints WHERE run_id = ? AND step = ?", (rid, step))
                p.repaired = True
                del recorded[rid][step]
            problems.append(p)
            continue
        if got != sha:
            problems.append(Problem("corrupt_checkpoint", f"run {rid}: checkpoint at step {step} does not match its "
                                    f"recorded sha256 (corrupt or modified): {rel(path)}", False, run_id=rid,
                                    path=rel(path), action="delete the file, then --repair drops its row"))
        if has_state:
            spath = store.state_path(rid, step)
            sgot = _sha(spath)
            if sgot is None:
                p = Problem("missing_state", f"run {rid}: optimizer state at step {step} has no file "
                            f"({rel(spath)})", True, run_id=rid, path=rel(spath), action="drop it from its row")
                if repair:
                    with store._tx() as c:
                        c.execute("UPDATE checkpoints SET has_state = 0, state_sha256 = NULL"
                                  " WHERE run_id = ? AND step = ?", (rid, step))
                    p.repaired = True
                    recorded[rid][step] = False
                problems.append(p)
            elif state_sha is not None and sgot != state_sha:
                problems.append(Problem("corrupt_state", f"run {rid}: optimizer state at step {step} does not match "
                                        f"its recorded sha256 (corrupt or modified): {rel(spath)}", False,
                                        run_id=rid, path=rel(spath),
                                        action="delete the file, then --repair drops it from its row"))

    # files on disk: temp files, and checkpoint/state files no row points to
    runs_dir = root / "runs"
    for d in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else ():
        if d.name in live or not d.is_dir():
            continue
        known = d.name in runs
        for f in sorted(d.rglob("*")):
            if not f.is_file() and not f.is_symlink():
                continue
            p = None
            if f.name.startswith(".") and f.name.endswith(TMP_SUFFIX):
                p = Problem("temp_file", f"temporary file {rel(f)} left by an interrupted write", True,
                            run_id=d.name, path=rel(f), action="delete it")
            elif f.parent.parent == d and f.parent.name in ("ckpt", "state"):
                step = int(f.stem) if f.suffix == ".safetensors" and f.stem.isdigit() else None
                if step is None or f.is_symlink():
                    p = Problem("unexpected_file", f"{rel(f)} is not a checkpoint file groklab writes", False,
                                run_id=d.name, path=rel(f), action="move it out of the store")
                else:
                    steps = recorded.get(d.name, {})
                    wanted = step in steps and (f.parent.name == "ckpt" or steps[step])
                    if not wanted:
                        why = "its run is not in the catalog" if not known else "no checkpoint row points to it"
                        p = Problem("orphan_file", f"{rel(f)}: {why}", True, run_id=d.name, path=rel(f),
                                    action="delete it")
            if p is None:
                continue
            if repair and p.repairable:
                f.unlink(missing_ok=True)
                p.repaired = True
            problems.append(p)
        if repair and not known:
            for sub in sorted(d.rglob("*"), reverse=True) + [d]:
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()

    return problems, {"runs": len(runs), "running": len(live), "checkpoints": n_ckpt}
