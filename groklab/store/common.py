"""Names shared by the store's modules: run ids, timestamps, config hashes, write errors."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from groklab.errors import StoreError

RUN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def config_hash(cfg: dict) -> str:
    """The 16-hex-digit hash of a config dict; ``Config.hash()`` is this of ``Config.to_dict()``."""
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_root() -> Path:
    return Path(os.environ.get("GROKLAB_HOME") or "groklab-runs")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_id(prefix: str = "") -> str:
    """A fresh id: prefix, date, and 64 random bits (``r261201-0f3a…``); ids made by older versions,
    with 24 random bits, stay valid."""
    return prefix + datetime.now(UTC).strftime("%y%m%d") + "-" + secrets.token_hex(8)


def write_error(root: Path, e: BaseException) -> StoreError:
    """The one-line error for a write the disk refused (full disk, quota, I/O error, read-only)."""
    code = getattr(e, "errno", None)
    text = str(e).lower()
    if code in (errno.ENOSPC, errno.EDQUOT) or "full" in text:
        why = "the disk is full"
    elif code in (errno.EROFS,) or "readonly" in text or "read-only" in text:
        why = "it is read-only"
    elif isinstance(e, OSError):
        why = e.strerror or str(e)
    else:
        why = str(e)
    return StoreError(f"store: cannot write to {root}: {why}; what was written before is intact")
