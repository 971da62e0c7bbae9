"""float32 matmuls through OpenBLAS inside XLA programs (``matmul = "blas"``).

XLA's CPU dot kernel multiplies the shapes of groklab's small models at about half the rate OpenBLAS does
(``benchmarks/dot_bench.py``, bench row (a'): nanda2023's step's dots 94 vs 161 GFLOP/s on a 2-core
EPYC). This module calls the OpenBLAS that numpy ships (its wheels bundle scipy-openblas) from inside the
jitted step, as an XLA FFI custom call (``sgemm.cc``): no copy, no Python, and the rest of the step stays
one XLA program. The handler is compiled on first use with the C++ compiler on the PATH against the XLA
FFI headers jaxlib ships (``jax.ffi.include_dir()``), into groklab's cache folder, keyed by the source,
jaxlib's version and the library; ``load()`` says why not when it cannot be.

``matmul(x, w)`` is ``x @ w`` with a custom VJP whose two backward products are the same kernel (the
transposes are BLAS flags, not copies). It vmaps (members become a batch of sgemm calls) and works under
``lax.map`` (member groups). It rounds unlike XLA's kernel (a different summation order), so a run with
``matmul = "blas"`` is its own config: it equals itself bit for bit, not a run with ``"xla"``.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

_SOURCE = Path(__file__).with_name("sgemm.cc")
_TARGET = "groklab_sgemm"
# (symbol, 64-bit integers): numpy >= 2 bundles scipy-openblas64 (ILP64); scipy-openblas32 wheels are LP64
_SYMBOLS = (("scipy_cblas_sgemm64_", True), ("scipy_cblas_sgemm", False), ("cblas_sgemm64_", True),
            ("cblas_sgemm", False))


def cache_dir() -> Path:
    """Where the compiled handler goes: $GROKLAB_KERNELS, else $XDG_CACHE_HOME/groklab/kernels (~/.cache)."""
    if os.environ.get("GROKLAB_KERNELS"):
        return Path(os.environ["GROKLAB_KERNELS"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "groklab" / "kernels"


def openblas_library() -> str | None:
    """The OpenBLAS shared library numpy links (its wheel's numpy.libs, or scipy_openblas64/32), or None."""
    root = Path(np.__file__).resolve().parent
    pats = [str(root.parent / "numpy.libs" / "libscipy_openblas*.so*"), str(root / ".dylibs" / "libscipy_openblas*")]
    for mod in ("scipy_openblas64", "scipy_openblas32"):
        try:
            lib_dir = __import__(mod).get_lib_dir()
        except (ImportError, AttributeError):
            continue
        pats.append(os.path.join(lib_dir, "libscipy_openblas*.so*"))
    for pat in pats:
        hits = sorted(glob.glob(pat))
        if hits:
            return hits[0]
    return None


def _build(out: Path) -> str | None:
    """Compile ``sgemm.cc`` to ``out`` (atomically); the compiler's complaint, or None."""
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if cxx is None:
        return "no C++ compiler on the PATH (g++, c++ or clang++; or set CXX)"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix="." + out.name + ".", suffix=".tmp")
    os.close(fd)
    cmd = [cxx, "-O2", "-shared", "-fPIC", "-std=c++17", "-w", "-I", jax.ffi.include_dir(), str(_SOURCE),
           "-o", tmp, "-ldl"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            last = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
            return f"{Path(cxx).name} failed: {last[:200]}"
        os.replace(tmp, out)
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"{Path(cxx).name} failed: {e}"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@functools.cache
def load() -> str | None:
    """Build (once per cache) and register the OpenBLAS custom call; None when ready, else why not (one line)."""
    blas = openblas_library()
    if blas is None:
        return "numpy's OpenBLAS library was not found (numpy from a wheel bundles one)"
    import jaxlib

    key = hashlib.sha256(_SOURCE.read_bytes() + jaxlib.__version__.encode() + blas.encode()).hexdigest()[:16]
    so = cache_dir() / f"groklab_sgemm-{key}.so"
    if not so.exists():
        err = _build(so)
        if err:
            return err
    try:
        lib = ctypes.CDLL(str(so))
    except OSError as e:
        return f"the compiled kernel {so} does not load: {e}"
    for symbol, ilp64 in _SYMBOLS:
        if lib.groklab_blas_load(str(blas).encode(), symbol.encode(), int(ilp64)) == 0:
            break
    else:
        return f"{Path(blas).name} exports no cblas_sgemm"
    jax.ffi.register_ffi_target(_TARGET, jax.ffi.pycapsule(lib.groklab_sgemm), platform="cpu")
    return None


def _sgemm(a: jax.Array, b: jax.Array, trans_a: bool = False, trans_b: bool = False) -> jax.Array:
    m = a.shape[-1] if trans_a else a.shape[-2]
    n = b.shape[-2] if trans_b else b.shape[-1]
    out = jax.ShapeDtypeStruct(a.shape[:-2] + (m, n), jnp.float32)
    return jax.ffi.ffi_call(_TARGET, out, vmap_method="broadcast_all")(
        a, b, trans_a=np.bool_(trans_a), trans_b=np.bool_(trans_b))


@jax.custom_vjp
def _mm(a: jax.Array, b: jax.Array) -> jax.Array:
    return _sgemm(a, b)


def _mm_fwd(a, b):
    return _sgemm(a, b), (a, b)


def _mm_bwd(res, g):
    a, b = res
    return _sgemm(g, b, trans_b=True), _sgemm(a, g, trans_a=True)


_mm.defvjp(_mm_fwd, _mm_bwd)


def matmul(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x @ w`` for x [..., k] and w [k, n] float32, through OpenBLAS (``load()`` must have returned None)."""
    lead = x.shape[:-1]
    out = _mm(x.reshape(-1, x.shape[-1]), w)
    return out.reshape(*lead, w.shape[-1])
