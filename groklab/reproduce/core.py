"""Values and the agreement rule: a published number (``Published``), one comparison (``Row``), how
the tables print them, and when ours agrees with theirs.

Agreement: a step count agrees within a factor of ``STEP_FACTOR`` (one published as "within N" when
at most N times that factor); an accuracy within ``ACC_TOL``; a
finding (a phase, "generalizes or not") when equal. A step count not reached within a budget is a
bound: it disagrees only when the budget already exceeds the published value by that factor, and is
otherwise undecided (a budget below the published step is consistent with it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

STEP_FACTOR = 2.0       # step counts within this factor of the published one agree
ACC_TOL = 0.05          # accuracies within this of the published one agree

REFS = "../shared/REFERENCES.md"


@dataclass(frozen=True)
class Published:
    """A number or finding as published, and where."""

    value: float | int | str
    source: str
    approx: bool = False          # published as "~value"
    within: bool = False          # published as an upper bound: "within value" (steps)


@dataclass
class Row:
    """One comparison: a quantity, the published value, ours (read from the store) and, where ours
    differs, the measured facts that go with the difference."""

    quantity: str
    published: Published | None
    ours: float | int | str | None     # None: nothing to compare (the point did not train)
    kind: str                          # steps | acc | frac | ratio | count | finding
    bound: str = ""                    # ">" : not reached within the budget ``ours``; "≥": a lower bound
    agree: bool | None = None          # None: no published value, or a bound that cannot decide
    detail: str = ""                   # further measured numbers (shown beside ours)
    why: str = ""                      # where ours differs: what was measured (never a guess)
    label: str | None = None           # the points the row is about, if not all (for their departures)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["published_text"] = fmt_published(self.published, self.kind)
        d["ours_text"] = fmt_ours(self)
        return d


def fmt_number(v: float | int | str | None, kind: str) -> str:
    """A value as the tables print it."""
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if kind in ("steps", "count"):
        return f"{int(round(v)):,}"
    if kind in ("acc", "frac"):
        return f"{v:.3f}"
    if kind == "ratio":
        return f"×{v:.3g}"
    return f"{v:.4g}"


def fmt_published(p: Published | None, kind: str) -> str:
    if p is None:
        return "—"
    return ("≤ " if p.within else "") + ("~" if p.approx else "") + fmt_number(p.value, kind)


def fmt_ours(r: Row) -> str:
    return (f"{r.bound} " if r.bound else "") + fmt_number(r.ours, r.kind)


def fmt_field(v: Any) -> str:
    """A config field's value as the departures print it."""
    if isinstance(v, bool) or v is None:
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def agrees(kind: str, published: Published | None, ours: Any, bound: str = "") -> bool | None:
    """The module docstring's agreement rule; None when it cannot be decided."""
    if published is None or ours is None:
        return None
    pub = published.value
    if isinstance(pub, str) or isinstance(ours, str):
        return str(pub) == str(ours)
    if kind in ("steps", "ratio"):
        if bound:   # ours is a budget (">") or a lower bound ("≥"): only decides when beyond the factor
            return False if ours > pub * STEP_FACTOR else None
        return (0 if published.within else 1 / STEP_FACTOR) <= ours / pub <= STEP_FACTOR
    if kind in ("acc", "frac"):
        return abs(ours - pub) <= ACC_TOL
    return pub == ours


def first_reach(steps: np.ndarray, values: np.ndarray, threshold: float, below: bool = False) -> int | None:
    """First evaluated step with ``values >= threshold`` (``< threshold`` if ``below``), or None."""
    hit = np.flatnonzero(values < threshold if below else values >= threshold)
    return int(steps[hit[0]]) if hit.size else None


def mean_finite(xs: list[float]) -> float | None:
    """The mean of the finite values (None if there is none)."""
    xs = [x for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(xs)) if xs else None


def majority(xs: list) -> Any:
    """The most common value (the first seen among equals; None for no values)."""
    return Counter(xs).most_common(1)[0][0] if xs else None


__all__ = ["ACC_TOL", "REFS", "STEP_FACTOR", "Published", "Row", "agrees", "first_reach", "fmt_field", "fmt_number",
           "fmt_ours", "fmt_published", "majority", "mean_finite"]
