"""Atomic file writes and safe safetensors checkpoints."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save

from groklab.errors import StoreError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
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


def write_tensors(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> str:
    """Save tensors atomically; returns the file's sha256."""
    blob = save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=meta)
    atomic_write_bytes(path, blob)
    return hashlib.sha256(blob).hexdigest()


def read_tensors(path: Path, expect_sha: str | None = None) -> dict[str, np.ndarray]:
    """Load a safetensors file (never a pickle); StoreError if missing, corrupt or tampered."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise StoreError(f"checkpoint: file missing: {path}") from None
    if expect_sha is not None and hashlib.sha256(blob).hexdigest() != expect_sha:
        raise StoreError(f"checkpoint: {path} does not match its recorded checksum (corrupt or modified)")
    try:
        return load(blob)
    except (SafetensorError, ValueError, OSError) as e:
        raise StoreError(f"checkpoint: {path} is not a valid safetensors file ({e})") from None


def check_shapes(tensors: dict[str, np.ndarray], expected: dict[str, tuple], where: str) -> None:
    """Reject a checkpoint whose tensor names or shapes differ from those its config implies."""
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise StoreError(f"checkpoint: {where} has tensors {extra or ''} not in its config "
                         f"and lacks {missing or ''}")
    for k, shp in expected.items():
        if tuple(tensors[k].shape) != tuple(shp):
            raise StoreError(f"checkpoint: {where} tensor {k} has shape {tuple(tensors[k].shape)}, "
                             f"its config implies {tuple(shp)}")
