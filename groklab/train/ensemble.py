"""The ensemble as a type: E members trained as one program, seen at the API and store boundary.

``Evaluation`` is one evaluation of every member (metrics with a leading member axis and which
members are alive); ``Stacked`` is parameters with a leading member axis, ``.member(e)`` one
member's. Members are runs of one group in the store (``group_id``); a member whose loss turned
non-finite is 'diverged' and is carried through the batch untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

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
