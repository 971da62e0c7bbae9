"""Compute kernels outside XLA's own: ``blas`` (float32 matmuls through numpy's OpenBLAS, ``matmul = "blas"``).

``dot(cfg, x, w)`` is the models' per-example matmul ``x @ w`` (x [..., k], w [k, n]): XLA's dot, or
OpenBLAS where the config says ``matmul = "blas"`` and the operands are float32.
"""

from __future__ import annotations

import jax


def dot(cfg, x: jax.Array, w: jax.Array) -> jax.Array:
    if getattr(cfg, "matmul", "xla") == "blas" and x.dtype == w.dtype == "float32" and w.ndim == 2:
        from groklab.kernels import blas

        return blas.matmul(x, w)
    return x @ w
