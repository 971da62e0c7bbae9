"""A sweep's progress: points done / total and an estimate of the time left, for a progress callback."""

from __future__ import annotations

import time
from collections.abc import Callable

SweepProgressFn = Callable[[dict], None]


class Clock:
    """Points done / total and an estimate of the time left, reported to a progress callback."""

    def __init__(self, done: int, total: int, progress: SweepProgressFn | None):
        self.done, self.total, self.todo = done, total, total - done
        self.finished, self.partial = 0, 0.0
        self.progress = progress
        self.t0 = time.perf_counter()

    def report(self, **extra) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.t0
        units = self.finished + self.partial
        left = elapsed * (self.todo - units) / units if units > 0 else None
        self.progress({"done": self.done + self.finished, "total": self.total, "elapsed": elapsed,
                       "left": left, **extra})

    def finish(self, n: int) -> None:
        self.finished += n
        self.partial = 0.0
        self.report()
