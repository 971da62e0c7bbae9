"""SQLite catalog of runs, sweeps, per-step metrics, checkpoints and cached analyses.

Every change to a run's row is mirrored into its folder's run.json, and every evaluation into its
metrics.jsonl (``groklab.store.records``), so the catalog can be rebuilt from the run folders.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from groklab.errors import AmbiguousRefError, StoreError
from groklab.store import lease as leases
from groklab.store import records
from groklab.store.common import RUN_ID, config_hash, default_root, new_id, now, write_error
from groklab.store.examples import ExampleFiles
from groklab.store.files import read_tensors, write_tensors
from groklab.store.lease import alive as _alive
from groklab.store.records import dumps
from groklab.store.sweeps import SweepTables

__all__ = ["RUN_ID", "SCHEMA", "Store", "config_hash", "default_root", "dumps", "new_id", "now", "write_error",
           "_alive"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, group_id TEXT NOT NULL, member INTEGER NOT NULL, sweep_id TEXT,
  name TEXT, status TEXT NOT NULL, task TEXT NOT NULL, seed INTEGER NOT NULL,
  config_json TEXT NOT NULL, config_hash TEXT NOT NULL, code_version TEXT, machine TEXT,
  created TEXT NOT NULL, updated TEXT NOT NULL, step INTEGER NOT NULL DEFAULT 0,
  wall_s REAL NOT NULL DEFAULT 0, pid INTEGER, summary_json TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS runs_group ON runs(group_id);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs(sweep_id);
CREATE TABLE IF NOT EXISTS metrics (
  run_id TEXT NOT NULL, step INTEGER NOT NULL, data_json TEXT NOT NULL, PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS checkpoints (
  run_id TEXT NOT NULL, step INTEGER NOT NULL, sha256 TEXT NOT NULL, has_state INTEGER NOT NULL DEFAULT 0,
  state_sha256 TEXT, PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS sweeps (
  sweep_id TEXT PRIMARY KEY, name TEXT, kind TEXT NOT NULL, spec_json TEXT NOT NULL,
  status TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL, n_points INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sweep_points (
  sweep_id TEXT NOT NULL, point INTEGER NOT NULL, config_json TEXT NOT NULL, run_id TEXT,
  status TEXT NOT NULL, PRIMARY KEY (sweep_id, point));
CREATE TABLE IF NOT EXISTS analysis (
  run_id TEXT NOT NULL, key TEXT NOT NULL, data_json TEXT NOT NULL, PRIMARY KEY (run_id, key));
"""



def _locked(e: sqlite3.Error) -> bool:
    return "locked" in str(e) or "busy" in str(e)


class Store(SweepTables, ExampleFiles):
    """A run store directory. Safe for several processes at once (WAL, busy timeout, retries).

    A catalog that is missing, empty or holds no runs while run folders hold runs is refused with
    a StoreError naming ``groklab check --repair`` (which opens it with ``repairing=True``), rather
    than silently started afresh.
    """

    def __init__(self, root: str | Path | None = None, create: bool = True, repairing: bool = False):
        raw = str(root) if root is not None else str(default_root())
        if "\x00" in raw:
            raise StoreError("store: path contains a NUL character")
        if not raw.strip():
            raise StoreError("store: empty path; give a directory (--store DIR or GROKLAB_HOME)")
        self.root = Path(raw).expanduser()
        self.conn: sqlite3.Connection | None = None
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"store: {self.root} exists and is not a directory")
        if not self.root.exists():
            if not create:
                raise StoreError(f"store: no store at {self.root} (train a run first or pass --store DIR)")
            try:                            # exist_ok: another process may create it between the check and here
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"store: cannot create {self.root} ({e.strerror})") from None
        self.db_path = self.root / "groklab.db"
        if self.db_path.exists() and not self.db_path.is_file():
            raise StoreError(f"store: {self.db_path} exists and is not a file")
        lost = self._lost_catalog()          # before anything is written
        if lost and not repairing:
            raise StoreError(lost)
        if not create and not self.db_path.exists() and not lost:
            raise StoreError(f"store: no store at {self.root} (train a run first or pass --store DIR)")
        self._connect()
        lost = None if repairing else self._lost_catalog()
        if lost:
            self.conn.close()
            raise StoreError(lost)

    def _connect(self) -> None:
        deadline = time.monotonic() + 120.0
        while True:
            try:
                self._open()
                return
            except sqlite3.OperationalError as e:   # another process is creating the catalog right now
                if not _locked(e) or time.monotonic() > deadline:
                    raise self._db_error(e) from None
                if self.conn is not None:
                    self.conn.close()
                time.sleep(0.05 + 0.1 * secrets.randbelow(10) / 10)
            except sqlite3.DatabaseError as e:
                raise self._db_error(e) from None

    def _lost_catalog(self) -> str | None:
        """Why the catalog looks lost (missing, empty, or no runs while run folders hold runs), or None."""
        if self.db_path.is_file() and self.db_path.stat().st_size > 0:
            if self.conn is None or self.conn.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is not None:
                return None
            state = "holds no runs"
        else:
            state = "is missing" if not self.db_path.exists() else "is empty"
        n = records.has_run_files(self.root / "runs")
        if not n:
            return None
        return (f"store: the catalog {self.db_path} {state}, but {n} run folder(s) in {self.root / 'runs'} hold "
                f"runs; rebuild it from them with `groklab check --repair --store {self.root}`")

    def _open(self) -> None:
        self.conn = sqlite3.connect(self.db_path, timeout=60.0, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 60000")
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        have = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(checkpoints)")}
        if not {"runs", "metrics", "checkpoints", "sweeps", "sweep_points", "analysis"} <= have or \
                "state_sha256" not in cols:
            with self._tx() as c:
                for stmt in SCHEMA.split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                if "state_sha256" not in {r[1] for r in c.execute("PRAGMA table_info(checkpoints)")}:
                    c.execute("ALTER TABLE checkpoints ADD COLUMN state_sha256 TEXT")

    def _db_error(self, e: sqlite3.Error) -> StoreError:
        if isinstance(e, sqlite3.OperationalError) and ("full" in str(e) or "readonly" in str(e)
                                                       or "unable to open" in str(e)):
            return write_error(self.root, e)
        return StoreError(f"store: {self.db_path} is not a usable groklab catalog ({e})")

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, retried while another process holds the lock.

        A write the disk refuses (full, read-only, I/O error) becomes a one-line StoreError; the
        transaction is rolled back, so the catalog keeps its previous consistent state.
        """
        for attempt in range(200):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as e:
                if not _locked(e):
                    raise self._db_error(e) from None
                time.sleep(min(0.05 * (attempt + 1), 1.0))
        else:
            raise StoreError("store: the catalog stayed locked by another process for too long")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as e:
            if self.conn.in_transaction:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(e, sqlite3.OperationalError):
                raise self._db_error(e) from None
            raise

    def close(self) -> None:
        self.conn.close()

    def run_dir(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise StoreError(f"run: invalid run id {run_id!r}; ids are lower-case letters, digits and '-'")
        d = (self.root / "runs" / run_id).resolve()
        if self.root.resolve() / "runs" not in d.parents:
            raise StoreError(f"run: id {run_id!r} escapes the store")
        return d

    def ckpt_path(self, run_id: str, step: int) -> Path:
        return self.run_dir(run_id) / "ckpt" / f"{int(step):09d}.safetensors"

    def state_path(self, run_id: str, step: int) -> Path:
        return self.run_dir(run_id) / "state" / f"{int(step):09d}.safetensors"

    def state_steps(self, run_id: str) -> list[int]:
        """Checkpoint steps whose optimizer state is recorded and on disk (resume points)."""
        return [c["step"] for c in self.checkpoints(run_id)
                if c["has_state"] and self.state_path(run_id, c["step"]).is_file()]

    def drop_state(self, run_ids: str | list[str], keep: int) -> None:
        """Delete optimizer states older than ``keep`` (which is written and recorded already)."""
        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        with self._tx() as c:
            c.executemany("UPDATE checkpoints SET has_state = 0, state_sha256 = NULL WHERE run_id = ? AND step < ?",
                          [(r, int(keep)) for r in ids])
        for r in ids:
            self._unlink_steps(r, ("state",), lambda s: s < keep)

    def _unlink_steps(self, run_id: str, kinds: tuple[str, ...], which: Callable[[int], bool]) -> None:
        for kind in kinds:
            d = self.run_dir(run_id) / kind
            for f in d.glob("*.safetensors") if d.is_dir() else ():
                if f.stem.isdigit() and which(int(f.stem)):
                    f.unlink(missing_ok=True)

    def check_params(self, run_id: str, params: dict[str, np.ndarray], expected: dict[str, tuple]) -> None:
        from groklab.store.files import check_shapes

        check_shapes(params, expected, f"run {run_id}")

    # ------------------------------------------------------------------ leases and records
    def lease(self, kind: str, key: str, what: str | None = None):
        """Context manager: hold ``kind``/``key`` (a run's "group", a "sweep") for the body; refused with
        a StoreError naming the holder's pid while another live process holds it."""
        return leases.lease(self.root, kind, key, what)

    def lease_holder(self, kind: str, key: str) -> int | None:
        """The pid that holds the lease (0 if unreadable), or None when no live process holds it."""
        return leases.holder(self.root, kind, key)

    def _sync_records(self, run_ids: Iterable[str]) -> None:
        """Rewrite the run.json of each run from its catalog row."""
        ids = list(run_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            cur = self.conn.execute(f"SELECT * FROM runs WHERE run_id IN ({','.join('?' * len(chunk))})", chunk)
            cols = [x[0] for x in cur.description]
            rows = [dict(zip(cols, r)) for r in cur.fetchall()]
            records.write_run_records([(self.run_dir(row["run_id"]), records.record_of_row(row))
                                       for row in rows if RUN_ID.match(row["run_id"])])

    # ------------------------------------------------------------------ runs
    def create_runs(self, configs: list[dict], *, code_version: str, machine: str,
                    sweep_id: str | None = None, group_id: str | None = None,
                    hashes: list[str] | None = None) -> list[str]:
        """Insert one row per member (status 'running') and write each run folder's run.json;
        returns their run ids. ``hashes``: each config's ``Config.hash()`` (default: the dict's)."""
        group_id = group_id or new_id("g")
        ids = [new_id("r") for _ in configs]
        t = now()
        with self._tx() as c:
            for m, (rid, cfg) in enumerate(zip(ids, configs)):
                h = hashes[m] if hashes else config_hash(cfg)
                c.execute("INSERT INTO runs (run_id, group_id, member, sweep_id, name, status, task, seed, config_json,"
                          " config_hash, code_version, machine, created, updated, pid) VALUES"
                          " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          (rid, group_id, m, sweep_id, cfg.get("name"), "running", cfg["task"], cfg["seed"],
                           dumps(cfg), h, code_version, machine, t, t, os.getpid()))
        self._sync_records(ids)
        return ids

    def log_metrics(self, run_ids: list[str], step: int, rows: list[dict], wall_s: float | None = None) -> None:
        """One evaluation's metrics of each run (one transaction, each run's metrics.jsonl first);
        ``wall_s`` is the time trained so far."""
        with self._tx() as c:
            blobs = [dumps(d) for d in rows]
            records.append_metrics([self.run_dir(r) for r in run_ids], step, blobs, wall_s)
            c.executemany("INSERT OR REPLACE INTO metrics (run_id, step, data_json) VALUES (?,?,?)",
                          [(r, int(step), b) for r, b in zip(run_ids, blobs)])
            c.executemany("UPDATE runs SET step = ?, updated = ?, wall_s = COALESCE(?, wall_s) WHERE run_id = ?",
                          [(int(step), now(), wall_s, r) for r in run_ids])

    def save_checkpoint(self, run_id: str, step: int, params: dict[str, np.ndarray],
                        state: dict[str, np.ndarray] | None = None, meta: dict | None = None) -> None:
        """Parameters at ``step`` (and, for resume, the optimizer state), then the catalog row.

        Each file is complete before it gets its name and the row comes last, so a reader (or a
        resume after a kill) only ever sees whole checkpoints with their checksums.
        """
        m = {"run_id": run_id, "step": str(int(step)), **{k: str(v) for k, v in (meta or {}).items()}}
        path, spath = self.ckpt_path(run_id, step), self.state_path(run_id, step)
        sha = write_tensors(path, params, m)
        try:
            state_sha = write_tensors(spath, state, m) if state is not None else None
            with self._tx() as c:
                c.execute("INSERT OR REPLACE INTO checkpoints (run_id, step, sha256, has_state, state_sha256)"
                          " VALUES (?,?,?,?,?)", (run_id, int(step), sha, int(state is not None), state_sha))
        except Exception:     # e.g. the disk filled up: leave no file without its row
            if step not in {c["step"] for c in self.checkpoints(run_id)}:
                path.unlink(missing_ok=True)
                spath.unlink(missing_ok=True)
            raise

    def finish(self, run_id: str, status: str, summary: dict | None, wall_s: float, message: str | None = None) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET status = ?, summary_json = ?, wall_s = ?, message = ?, updated = ?, pid = NULL"
                      " WHERE run_id = ?", (status, dumps(summary) if summary is not None else None,
                                            float(wall_s), message, now(), run_id))
        self._sync_records([run_id])

    def set_status(self, run_ids: Iterable[str], status: str, message: str | None = None) -> None:
        ids = list(run_ids)
        with self._tx() as c:
            c.executemany("UPDATE runs SET status = ?, message = COALESCE(?, message), updated = ?, pid = ?"
                          " WHERE run_id = ?",
                          [(status, message, now(), os.getpid() if status == "running" else None, r)
                           for r in ids])
        self._sync_records(ids)

    def claim(self, run_ids: list[str], message: str) -> None:
        """Mark stopped runs 'running' by this process, in one transaction: two processes resuming
        the same run cannot both win."""
        with self._tx() as c:
            q = f"SELECT run_id, status, pid FROM runs WHERE run_id IN ({','.join('?' * len(run_ids))})"
            for rid, status, pid in c.execute(q, list(run_ids)).fetchall():
                if status == "running" and _alive(pid) and pid != os.getpid():
                    raise StoreError(f"run: {rid} is still running (pid {pid})")
            c.executemany("UPDATE runs SET status = 'running', message = ?, updated = ?, pid = ? WHERE run_id = ?",
                          [(message, now(), os.getpid(), r) for r in run_ids])
        self._sync_records(run_ids)

    def truncate_after(self, run_id: str, step: int) -> None:
        """Drop metrics, checkpoint rows and files past ``step`` (used when resuming from ``step``);
        the run folder's metrics.jsonl is rewritten from the catalog's rows."""
        with self._tx() as c:
            c.execute("DELETE FROM metrics WHERE run_id = ? AND step > ?", (run_id, int(step)))
            c.execute("DELETE FROM checkpoints WHERE run_id = ? AND step > ?", (run_id, int(step)))
            c.execute("DELETE FROM analysis WHERE run_id = ?", (run_id,))
            c.execute("UPDATE runs SET step = ? WHERE run_id = ?", (int(step), run_id))
        self._unlink_steps(run_id, ("ckpt", "state", "examples"), lambda s: s > step)
        rows = self.conn.execute("SELECT step, data_json FROM metrics WHERE run_id = ? ORDER BY step",
                                 (run_id,)).fetchall()
        records.rewrite_metrics(self.run_dir(run_id), rows)
        self._sync_records([run_id])

    def register_run(self, rec: dict, metrics: list[tuple[int, float | None, dict]],
                     checkpoints: list[tuple[int, str, str | None]], message: str) -> bool:
        """Re-register a run from its folder (``groklab check --repair``): its row from run.json (a run
        recorded 'running' becomes 'interrupted' with ``message``), its metrics and its checkpoints as
        (step, sha256, state sha256 or None). False if the catalog has the run already."""
        status, msg = (rec["status"], rec.get("message")) if rec["status"] != "running" else ("interrupted", message)
        step = max([int(rec.get("step") or 0)] + [s for s, _, _ in metrics])
        wall = max([float(rec.get("wall_s") or 0.0)] + [w for _, w, _ in metrics if w is not None])
        cfg, rid = rec["config"], rec["run_id"]
        with self._tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO runs (run_id, group_id, member, sweep_id, name, status, task, seed, config_json,"
                " config_hash, code_version, machine, created, updated, step, wall_s, pid, summary_json, message)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (rid, rec["group_id"], rec["member"], rec.get("sweep_id"), rec.get("name"), status, rec["task"],
                 rec["seed"], dumps(cfg), rec.get("config_hash") or config_hash(cfg), rec.get("code_version"),
                 rec.get("machine"), rec["created"], now(), step, wall, None,
                 dumps(rec["summary"]) if rec.get("summary") is not None else None, msg))
            if cur.rowcount == 0:
                return False
            c.executemany("INSERT OR REPLACE INTO metrics (run_id, step, data_json) VALUES (?,?,?)",
                          [(rid, s, dumps(m)) for s, _, m in metrics])
            c.executemany("INSERT OR REPLACE INTO checkpoints (run_id, step, sha256, has_state, state_sha256)"
                          " VALUES (?,?,?,?,?)", [(rid, s, h, int(sh is not None), sh) for s, h, sh in checkpoints])
        self._sync_records([rid])
        return True

    # ------------------------------------------------------------------ reading
    def _row(self, r: sqlite3.Row | tuple, cols: list[str]) -> dict:
        d = dict(zip(cols, r))
        d["config"] = json.loads(d.pop("config_json"))
        s = d.pop("summary_json")
        d["summary"] = json.loads(s) if s else None
        if d["status"] == "running" and not _alive(d.get("pid")):
            d["status"] = "interrupted"    # its process is gone (killed): `groklab check --repair` records it
        return d

    def _select(self, where: str, args: tuple) -> list[dict]:
        cur = self.conn.execute(f"SELECT * FROM runs {where}", args)
        cols = [x[0] for x in cur.description]
        return [self._row(r, cols) for r in cur.fetchall()]

    def resolve(self, ref: str) -> str:
        """A run id, a unique id prefix, or a run name (the newest with that name)."""
        if not isinstance(ref, str) or not ref or "\x00" in ref or len(ref) > 200:
            raise StoreError("run: give a run id, an id prefix or a run name")
        rows = self.conn.execute("SELECT run_id FROM runs WHERE run_id = ?", (ref,)).fetchall()
        if rows:
            return rows[0][0]
        if RUN_ID.match(ref):
            rows = self.conn.execute("SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\'",
                                     (ref.replace("_", "\\_") + "%",)).fetchall()
            if len(rows) == 1:
                return rows[0][0]
            if len(rows) > 1:
                raise AmbiguousRefError(f"run: {ref!r} matches {len(rows)} runs; give more of the id")
        rows = self.conn.execute("SELECT run_id FROM runs WHERE name = ? ORDER BY created DESC, rowid DESC",
                                 (ref,)).fetchall()
        if rows:
            return rows[0][0]
        raise StoreError(f"run: no run {ref!r} in {self.root} (see `groklab runs`)")

    def finished_of_hash(self, config_hash: str) -> list[str]:
        """The completed runs whose config hashes to ``config_hash``, newest first."""
        rows = self.conn.execute("SELECT run_id FROM runs WHERE config_hash = ? AND status = 'completed' "
                                 "ORDER BY created DESC, rowid DESC", (config_hash,)).fetchall()
        return [r[0] for r in rows]

    def get_run(self, ref: str) -> dict:
        return self._select("WHERE run_id = ?", (self.resolve(ref),))[0]

    def list_runs(self, limit: int | None = None, sweep_id: str | None = None) -> list[dict]:
        where, args = ("WHERE sweep_id = ?", (sweep_id,)) if sweep_id else ("", ())
        if limit is not None and int(limit) > 0:     # no limit otherwise
            return self._select(f"{where} ORDER BY created DESC, rowid DESC LIMIT ?", (*args, min(int(limit), 2**62)))
        return self._select(f"{where} ORDER BY created DESC, rowid DESC", args)

    def group_runs(self, group_id: str) -> list[dict]:
        return self._select("WHERE group_id = ? ORDER BY member", (group_id,))

    def metrics(self, run_id: str) -> dict[str, np.ndarray]:
        """Per-step metrics as arrays keyed by name, plus 'step' (missing values are NaN)."""
        rows = self.conn.execute("SELECT step, data_json FROM metrics WHERE run_id = ? ORDER BY step",
                                 (run_id,)).fetchall()
        steps = [r[0] for r in rows]
        dicts = [json.loads(r[1]) for r in rows]
        keys = sorted({k for d in dicts for k in d})
        out = {"step": np.array(steps, np.int64)}
        for k in keys:
            out[k] = np.array([np.nan if d.get(k) is None else d[k] for d in dicts], np.float64)
        return out

    def checkpoints(self, run_id: str) -> list[dict]:
        """The recorded (complete) checkpoints of a run, oldest first."""
        cur = self.conn.execute("SELECT step, sha256, has_state, state_sha256 FROM checkpoints WHERE run_id = ?"
                                " ORDER BY step", (run_id,))
        return [{"step": s, "sha256": h, "has_state": bool(hs), "state_sha256": ss} for s, h, hs, ss in cur.fetchall()]

    def load_checkpoint(self, run_id: str, step: int | None = None) -> tuple[int, dict[str, np.ndarray]]:
        cks = self.checkpoints(run_id)
        if not cks:
            raise StoreError(f"run: {run_id} has no checkpoints")
        ck = cks[-1] if step is None else next((c for c in cks if c["step"] == step), None)
        if ck is None:
            raise StoreError(f"run: {run_id} has no checkpoint at step {step}; "
                             f"steps: {', '.join(str(c['step']) for c in cks)}")
        return ck["step"], read_tensors(self.ckpt_path(run_id, ck["step"]), ck["sha256"])

    def load_state(self, run_id: str, step: int) -> dict[str, np.ndarray]:
        """The optimizer/filter state saved with the checkpoint at ``step`` (checksum verified)."""
        ck = next((c for c in self.checkpoints(run_id) if c["step"] == step and c["has_state"]), None)
        if ck is None:
            raise StoreError(f"run: {run_id} has no optimizer state at step {step}")
        return read_tensors(self.state_path(run_id, step), ck["state_sha256"])

    # ------------------------------------------------------------------ analysis cache
    def put_analysis(self, run_id: str, key: str, data: dict) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO analysis (run_id, key, data_json) VALUES (?,?,?)",
                      (run_id, key, dumps(data)))

    def get_analysis(self, run_id: str, key: str) -> dict | None:
        r = self.conn.execute("SELECT data_json FROM analysis WHERE run_id = ? AND key = ?", (run_id, key)).fetchone()
        return json.loads(r[0]) if r else None
