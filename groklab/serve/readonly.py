"""The store, opened so that nothing the server does can write to it.

Every request opens its own SQLite connection with ``file:…/groklab.db?mode=ro`` (a read-only
connection in WAL mode never blocks the trainer's writes, and a fresh one per request holds no read
transaction open between requests, so the trainer's checkpoints of the WAL are never held back).
A store whose catalog and directory carry no write bit at all (``chmod -R a-w``) is opened
``immutable=1`` instead: SQLite then creates no ``-wal``/``-shm`` file beside it, which even a
read-only connection does (as root, whom permission bits do not stop) — nobody may be writing such a
store, so reading it as immutable is exact.

``ReadOnlyStore`` is a ``groklab.store.Store`` whose connection is that one: every reading method
(list_runs, get_run, metrics, checkpoints, get_sweep, sweep_points …) and so ``sweep_rows``,
``phase_diagram`` and ``run_view`` work on it unchanged, while every write is refused — by SQLite,
and before that by ``_tx``. The one write the report code makes, caching a run's analysis
(``put_analysis``), is kept in this process's memory instead.
"""

from __future__ import annotations

import sqlite3
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from groklab.errors import StoreError
from groklab.store import Store

CATALOG = "groklab.db"
_ANALYSES: dict[tuple[str, str, str], dict] = {}     # (store root, run id, key) -> analysis, this process only
_ANALYSES_LOCK = threading.Lock()


def is_write_protected(root: Path) -> bool:
    """True when neither the store directory nor its catalog has any write bit (``chmod -R a-w``)."""
    try:
        return all(stat.S_IMODE(p.stat().st_mode) & 0o222 == 0 for p in (root, root / CATALOG))
    except OSError:
        return False


def connect(root: Path) -> sqlite3.Connection:
    """A read-only connection to ``root``'s catalog (immutable for a write-protected store)."""
    db = root / CATALOG
    if not db.is_file():
        raise StoreError(f"store: no store at {root} (train a run first or pass --store DIR)")
    uri = "file:" + urllib.parse.quote(str(db.resolve()))
    tries = ["?mode=ro&immutable=1"] if is_write_protected(root) else ["?mode=ro", "?mode=ro&immutable=1"]
    err: sqlite3.Error | None = None
    for query in tries:
        try:
            conn = sqlite3.connect(uri + query, uri=True, timeout=10.0, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT 1 FROM runs LIMIT 1").fetchall()
            return conn
        except sqlite3.OperationalError as e:   # e.g. no -shm file and no right to create one: immutable
            err = e
            if "no such table" in str(e):
                break
        except sqlite3.DatabaseError as e:
            err = e
            break
    raise StoreError(f"store: cannot read the catalog {db} ({err})")


class ReadOnlyStore(Store):
    """A Store over a read-only connection (see the module's docstring); use ``open_store``."""

    def __init__(self, root: str | Path):   # noqa: D107 — never Store.__init__, which may create and write
        self.root = Path(root).expanduser()
        self.db_path = self.root / CATALOG
        self.conn = connect(self.root)

    @contextmanager
    def _tx(self):
        raise StoreError(f"store: the server opened {self.root} read-only and never writes to it")
        yield  # pragma: no cover

    def put_analysis(self, run_id: str, key: str, data: dict) -> None:
        with _ANALYSES_LOCK:
            _ANALYSES[(str(self.root), run_id, key)] = data

    def get_analysis(self, run_id: str, key: str) -> dict | None:
        with _ANALYSES_LOCK:
            mine = _ANALYSES.get((str(self.root), run_id, key))
        return mine if mine is not None else super().get_analysis(run_id, key)


@contextmanager
def open_store(root: str | Path) -> Iterator[ReadOnlyStore]:
    """A ReadOnlyStore for one request, closed after it."""
    st = ReadOnlyStore(root)
    try:
        yield st
    finally:
        st.conn.close()
