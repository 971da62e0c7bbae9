"""Exclusive work in a store: a run's ensemble group or a sweep is leased by the process that trains it.

A lease is an exclusive ``fcntl.flock`` on ``<store>/locks/<kind>-<key>.lock``, held for as long
as the work runs. The kernel drops it when the process ends, however it ends (SIGKILL included),
so a lease can never go stale; the file holds the holder's pid, for messages. The holder removes
the file before it lets go; a process that locked a file someone removed meanwhile notices (the
path no longer names the file it locked) and tries again. Leases are re-entrant within a process.

``holder`` tells whether a lease is held (and by which pid) without taking it: ``groklab check``
uses it to find sweeps recorded 'running' that nothing runs any more.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from groklab.errors import StoreError

LOCK_DIR = "locks"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_WAIT_S = 1.0        # a probe by `holder` holds a lock for microseconds: retry that long before refusing
_held: dict[str, list[int]] = {}   # lock path -> [fd, depth], the leases this process holds


def alive(pid: int | None) -> bool:
    """Whether a process still runs (a zombie counts as gone)."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return stat[stat.rindex(")") + 2:][:1] != "Z"
    except (OSError, ValueError):
        return True


def lock_path(root: Path, kind: str, key: str) -> Path:
    if not (isinstance(kind, str) and _NAME.match(kind) and isinstance(key, str)):
        raise StoreError(f"store: invalid lease name {kind!r}/{key!r}")
    if not _NAME.match(key):     # an id groklab did not make: a file name that cannot escape the folder
        key = "h" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]
    return root.resolve() / LOCK_DIR / f"{kind}-{key}.lock"     # one name per file: re-entrancy is by path


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def _try_lock(path: Path) -> tuple[int | None, int | None]:
    """(fd holding the lock, None) or (None, the holder's pid if known)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        pid = _read_pid(fd)
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None, pid
        raise
    try:
        same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        same = False
    if not same:             # the previous holder removed the file between our open and our lock
        os.close(fd)
        return None, None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd, None


@contextmanager
def lease(root: Path, kind: str, key: str, what: str | None = None) -> Iterator[None]:
    """Hold the lease on ``kind``/``key`` for the body; StoreError naming the holder's pid if another
    process holds it."""
    path = lock_path(root, kind, key)
    mine = _held.get(str(path))
    if mine is not None:
        mine[1] += 1
        try:
            yield
        finally:
            mine[1] -= 1
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + _WAIT_S
        while True:
            fd, pid = _try_lock(path)
            if fd is not None:
                break
            if time.monotonic() > deadline + (0.0 if pid is not None else _WAIT_S):
                raise StoreError(f"{what or kind + ' ' + key}: another process is training it "
                                 f"(pid {pid if pid is not None else 'unknown'}); wait for it to finish, "
                                 "or stop it first")
            time.sleep(0.02)
    except OSError as e:
        raise StoreError(f"store: cannot take the lease {path} ({e.strerror})") from None
    _held[str(path)] = [fd, 1]
    try:
        yield
    finally:
        del _held[str(path)]
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)


def holder(root: Path, kind: str, key: str) -> int | None:
    """The pid holding the lease (0 when it cannot be read), or None when no process holds it."""
    path = lock_path(root, kind, key)
    if str(path) in _held:
        return os.getpid()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def leased(kind: str) -> Callable:
    """Decorate ``fn(store, key, ...)`` to run holding the lease on ``kind``/``key`` in that store (a
    second process calling it for the same key meanwhile gets a StoreError naming the holder's pid)."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(store, key: str, *args, **kwargs):
            with store.lease(kind, key, what=f"{kind} {key}"):
                return fn(store, key, *args, **kwargs)
        return run
    return wrap

