"""The ensemble as a type: E members trained as one program, seen at the API and store boundary.

``Evaluation`` is one evaluation of every member (metrics with a leading member axis and which
members are alive); ``Stacked`` is parameters with a leading member axis, ``.member(e)`` one
member's. Members are runs of one group in the store (``group_id``); a member whose loss turned
non-finite is 'diverged' and is carried through the batch untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of an ensemble."""

    step: int
    metrics: dict[str, np.ndarray]   # metric name -> [E]
    alive: np.ndarray                # [E] bool: finite losses up to and including this evaluation
    diverged: np.ndarray             # [E] bool: losses turned non-finite at this evaluation

    @property
    def n_members(self) -> int:
        return int(self.alive.shape[0])

    def member(self, e: int) -> dict[str, float]:
        """Member ``e``'s metrics as plain floats."""
        return {k: float(v[e]) for k, v in self.metrics.items()}

    def mean(self, name: str) -> float:
        """A metric's mean over the live members (NaN if none is alive)."""
        return float(self.metrics[name][self.alive].mean()) if self.alive.any() else float("nan")

    def without(self, members: list[int]) -> Evaluation:
        """The same evaluation with ``members`` counted as not alive (diverged earlier)."""
        gone = np.isin(np.arange(self.n_members), members)
        return Evaluation(self.step, self.metrics, self.alive & ~gone, self.diverged & ~gone)


class Stacked(Mapping):
    """Parameters (or any tensors) of E members, each array with a leading member axis."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self._arrays = dict(arrays)
        sizes = {int(v.shape[0]) for v in self._arrays.values()}
        if len(sizes) > 1:
            raise ValueError(f"stacked arrays disagree on the member axis: {sorted(sizes)}")
        self.n_members = sizes.pop() if sizes else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def member(self, e: int) -> dict[str, np.ndarray]:
        """Member ``e``'s arrays (views, no copy)."""
        if not 0 <= e < self.n_members:
            raise IndexError(f"member {e} of an ensemble of {self.n_members}")
        return {k: v[e] for k, v in self._arrays.items()}


# ---------------------------------------------------------------------------------------------- layout
# How the members are laid out in the compiled programs. "vmap": one batch of all E members, every op over
# [E, ...]. "groups": lax.map over groups of members, each group a vmapped batch that runs the whole
# interval's steps (or the whole evaluation) before the next starts, so its activations stay in the CPU's
# cache: at E = 64 pair2023's logits alone are 31 MB over all members, 0.5 MB per member. Same per-member
# programs, so the same numbers (tests/test_ensemble_layout.py checks them bit for bit); a group of one
# member would drop the batch axis (other kernels, other rounding), so no group has fewer than two.
# Activations one group may hold. pair2023 at E = 64, 2-core EPYC, load 2.1 (`python benchmarks/ensemble_bench.py
# --sizes 64 --variants vmap --group-bytes 0.5,1,2,4,8`): groups of 2, 4 or 8 members 2,135-2,142 model-steps/s,
# of 17 1,906, the vmap 1,568, one model alone 1,430. The evaluation (all 4,489 rows: 1.2 MB a member) goes by
# the same rule, in groups of two.
GROUP_BYTES = 2 * 2 ** 20


def group_size(layout: str, E: int, member_bytes: float) -> int:
    """Members per group for ``layout`` ("auto", "vmap", "groups") when each member's activations take
    ``member_bytes`` (0: not estimated, the vmap); E (one group: the vmap) unless grouping. A group holds as
    many members as GROUP_BYTES does, but at least two; "auto" groups when that makes two groups or more."""
    if layout == "vmap" or member_bytes <= 0:
        return E
    c = max(2, int(GROUP_BYTES // member_bytes))
    if layout == "auto" and 2 * c > E:
        return E
    return min(c, E)


def in_groups(fn, c: int):
    """``fn(tree, *args)`` over a tree whose leaves have a leading member axis E, applied ``c`` members at a time
    (``lax.map`` over the full groups; any remainder, merged with the last group if it is a single member,
    as one more call); c ≥ E: ``fn`` itself."""
    def apply(tree, *args):
        E = jax.tree.leaves(tree)[0].shape[0]
        if c >= E:
            return fn(tree, *args)
        G, r = divmod(E, c)
        if r == 1:            # never a group of one (see above): the last full group takes the odd member
            G, r = G - 1, c + 1
        if G == 0:
            return fn(tree, *args)
        head = jax.tree.map(lambda a: a[:G * c].reshape(G, c, *a.shape[1:]), tree)
        out = jax.lax.map(lambda t: fn(t, *args), head)
        parts = [jax.tree.map(lambda a: a.reshape(G * c, *a.shape[2:]), out)]
        if r:
            parts.append(fn(jax.tree.map(lambda a: a[G * c:], tree), *args))
        return parts[0] if len(parts) == 1 else jax.tree.map(lambda *a: jnp.concatenate(a), *parts)
    return apply
