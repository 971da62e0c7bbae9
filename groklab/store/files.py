"""Atomic file writes and safe safetensors checkpoints.

A checkpoint is only ever visible complete: it is written to a hidden temporary file in the same
folder (``.<name>.<random>.tmp``), flushed to disk and renamed over its final name. Reading never
unpickles anything: the safetensors header is checked (JSON, known dtypes, offsets inside the file,
byte counts matching the shapes) before the tensors are read, and a recorded sha256 must match.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save

from groklab.errors import StoreError

TMP_SUFFIX = ".tmp"
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
             "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}
_MAX_HEADER = 100 * 1024 * 1024


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _syncfs(d: Path) -> None:
    """Flush the filesystem holding ``d`` to disk (one journal commit for many files)."""
    fd = os.open(d, os.O_RDONLY)
    try:
        import ctypes

        if ctypes.CDLL(None, use_errno=True).syncfs(fd) != 0:
            os.sync()
    except (OSError, AttributeError):
        os.sync()
    finally:
        os.close(fd)


def write_small(items: list[tuple[Path, bytes]]) -> None:
    """Replace small record files atomically: each goes to a temporary name, is flushed to disk and
    renamed (the folders are not fsynced: a crash may leave a file's previous version, never a
    partial one). Many files share one filesystem flush instead of one fsync each."""
    many = len(items) > 2
    tmps: list[tuple[str, Path]] = []
    try:
        for path, data in items:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=TMP_SUFFIX)
            tmps.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o644)
                f.write(data)
                f.flush()
                if not many:
                    os.fsync(f.fileno())
        if many:
            _syncfs(items[0][0].parent)
        for tmp, path in tmps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in tmps:        # those renamed already are gone
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_tensors(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> str:
    """Save tensors atomically; returns the file's sha256."""
    blob = save({k: np.asarray(v, order="C") for k, v in tensors.items()}, metadata=meta)   # keeps 0-d shapes
    atomic_write_bytes(path, blob)
    return hashlib.sha256(blob).hexdigest()


def _check_header(blob: bytes) -> dict:
    """Reject a file whose safetensors header is malformed before the library parses it."""
    if len(blob) < 8:
        raise ValueError("shorter than a safetensors header")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > min(len(blob) - 8, _MAX_HEADER):
        raise ValueError("header length past the end of the file")
    return _parse_header(blob[8:8 + n], len(blob) - 8 - n)


def _parse_header(raw: bytes, size: int) -> dict:
    """The header's JSON object, checked against ``size``, the number of data bytes after it."""
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ValueError("header is not JSON") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or info.get("dtype") not in _ITEMSIZE:
            raise ValueError(f"tensor {name!r}: unknown dtype")
        shape, offs = info.get("shape"), info.get("data_offsets")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
                or not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) for o in offs)):
            raise ValueError(f"tensor {name!r}: bad shape or offsets")
        lo, hi = offs
        if not 0 <= lo <= hi <= size or hi - lo != int(np.prod(shape, dtype=object)) * _ITEMSIZE[info["dtype"]]:
            raise ValueError(f"tensor {name!r}: data outside the file or of the wrong size")
    end = max((info["data_offsets"][1] for name, info in header.items() if name != "__metadata__"), default=0)
    if end != size:
        raise ValueError(f"{size - end} bytes after the last tensor's data")
    return header


def read_header(path: Path) -> tuple[dict[str, tuple[str, tuple[int, ...]]], dict]:
    """A safetensors file's tensors as {name: (dtype, shape)} and its metadata, from the header alone
    (checked as ``read_tensors`` checks it); ValueError naming what is wrong, OSError if unreadable."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("shorter than a safetensors header")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, _MAX_HEADER):
            raise ValueError("header length past the end of the file")
        header = _parse_header(f.read(n), size - 8 - n)
    meta = header.pop("__metadata__", None)
    tensors = {k: (v["dtype"], tuple(v["shape"])) for k, v in header.items()}
    return tensors, meta if isinstance(meta, dict) else {}


def read_tensors(path: Path, expect_sha: str | None = None) -> dict[str, np.ndarray]:
    """Load a safetensors file (never a pickle); StoreError if missing, corrupt or tampered."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise StoreError(f"checkpoint: file missing: {path}") from None
    except OSError as e:
        raise StoreError(f"checkpoint: cannot read {path} ({e.strerror})") from None
    if expect_sha is not None and hashlib.sha256(blob).hexdigest() != expect_sha:
        raise StoreError(f"checkpoint: {path} does not match its recorded checksum (corrupt or modified)")
    try:
        _check_header(blob)
        return load(blob)
    except (SafetensorError, ValueError, OSError) as e:
        raise StoreError(f"checkpoint: {path} is not a valid safetensors file ({e})") from None


def check_shapes(tensors: dict[str, np.ndarray], expected: dict[str, tuple], where: str) -> None:
    """Reject a checkpoint whose tensor names, shapes or dtypes differ from those its config implies."""
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        parts = ([f"lacks {', '.join(missing)}"] if missing else []) + \
                ([f"has tensors not in its config: {', '.join(extra)}"] if extra else [])
        raise StoreError(f"checkpoint: {where} does not match its config: {'; '.join(parts)}")
    for k, shp in expected.items():
        if tuple(tensors[k].shape) != tuple(shp):
            raise StoreError(f"checkpoint: {where} tensor {k} has shape {tuple(tensors[k].shape)}, "
                             f"its config implies {tuple(shp)}")
        if not np.issubdtype(tensors[k].dtype, np.floating):
            raise StoreError(f"checkpoint: {where} tensor {k} has dtype {tensors[k].dtype}, expected floating point")
