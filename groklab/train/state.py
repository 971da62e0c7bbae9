"""Optimizer state saved by name: each leaf under its tree path (``opt/adam/mu/W_E``), not its index.

The optimizer is an ``optax.named_chain`` (see ``optim.parts``), so a path names the transformation
that owns a leaf: reordering or inserting a transformation changes names, and a resume then fails
with a message instead of loading one transformation's state into another. Stores written before
names (leaves saved as ``opt.0000``, ``opt.0001`` … in the flattening order of the same chain) are
read through ``from_tensors`` too: their leaf order is the chain order, which the named chain keeps.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from groklab.errors import StoreError

LEGACY_PREFIX = "opt."


def _part(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def names(template: Any) -> list[str]:
    """The saved name of every leaf of an optimizer state (or its ``jax.eval_shape``), in leaf order."""
    paths = jax.tree_util.tree_flatten_with_path(template)[0]
    return ["opt/" + "/".join(_part(k) for k in path) for path, _ in paths]


def to_tensors(opt_state: Any) -> dict[str, np.ndarray]:
    """Host arrays of a state keyed by name (arrays keep any leading member axis)."""
    leaves = jax.tree.leaves(opt_state)
    return {n: np.asarray(v) for n, v in zip(names(opt_state), leaves, strict=True)}


def order(tensors: dict[str, np.ndarray], template: Any, where: str) -> list[np.ndarray]:
    """``tensors`` (named, or legacy ``opt.NNNN``) as a leaf list in ``template``'s order.

    ``template`` holds shapes without the member axis; ``tensors`` may be one member's state.
    Raises StoreError naming ``where`` if the names, shapes or dtypes differ from the template's.
    """
    want = names(template)
    specs = jax.tree.leaves(template)
    if tensors and all(k.startswith(LEGACY_PREFIX) for k in tensors):
        have = [tensors.get(f"{LEGACY_PREFIX}{i:04d}") for i in range(len(want))]
        ok = len(tensors) == len(want) and all(v is not None for v in have)
    else:
        have = [tensors.get(n) for n in want]
        ok = sorted(tensors) == sorted(want)
    ok = ok and all(tuple(v.shape) == tuple(s.shape) and v.dtype == s.dtype for v, s in zip(have, specs))
    if not ok:
        raise StoreError(f"checkpoint: optimizer state of {where} does not match its config "
                         f"(expected {len(want)} tensors named like {want[0] if want else '—'!r})")
    return have
