"""Declarative constraints on config values, in the style of scikit-learn's ``_param_validation``.

A constraint says whether a value is allowed, describes what is allowed in words (for error messages
and ``--help``), and names a few values it rejects (for tests). Errors read
``"FIELD: got X; allowed …"`` everywhere; ``reject`` builds that line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from groklab.errors import ConfigError

CLOSED = ("both", "left", "right", "neither")


def shown(value: Any, limit: int = 60) -> str:
    """A value as an error message shows it: its repr, cut short for long strings."""
    r = repr(value)
    if len(r) <= limit:
        return r
    extra = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return r[: limit - 1] + "…" + extra


def reject(name: str, value: Any, allowed: str) -> ConfigError:
    """The one error style: ``"p: got 1; allowed an integer in [2, 2000]"``."""
    return ConfigError(f"{name}: got {shown(value)}; allowed {allowed}")


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else format(x, "g")


class Constraint:
    """What one field allows. Subclasses define ``ok``, ``describe`` and ``invalid``."""

    def ok(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def invalid(self) -> list:
        """Values of the right type that this constraint rejects."""
        return []


@dataclass(frozen=True)
class Interval(Constraint):
    """Integers or reals between ``low`` and ``high`` (None: unbounded), ends closed as ``closed`` says."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __post_init__(self) -> None:
        if self.kind not in (int, float) or self.closed not in CLOSED:
            raise ValueError(f"Interval: bad kind {self.kind} or closed {self.closed!r}")

    @property
    def _low_closed(self) -> bool:
        return self.closed in ("both", "left")

    @property
    def _high_closed(self) -> bool:
        return self.closed in ("both", "right")

    def ok(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (value == self.low and not self._low_closed)):
            return False
        return self.high is None or not (value > self.high or (value == self.high and not self._high_closed))

    def describe(self) -> str:
        kind = "an integer" if self.kind is int else "a number"
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            left, right = "[" if self._low_closed else "(", "]" if self._high_closed else ")"
            return f"{kind} in {left}{_num(lo)}, {_num(hi)}{right}"
        if lo is not None:
            return f"{kind} {'>=' if self._low_closed else '>'} {_num(lo)}"
        if hi is not None:
            return f"{kind} {'<=' if self._high_closed else '<'} {_num(hi)}"
        return kind

    def invalid(self) -> list:
        out: list = []
        step = 1 if self.kind is int else 0.5
        if self.low is not None:
            out.append(self.low - step if self._low_closed else self.low)
        if self.high is not None:
            out.append(self.high + step if self._high_closed else self.high)
        return out


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values."""

    values: tuple

    def ok(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(str(v) for v in self.values)

    def invalid(self) -> list:
        return [f"{self.values[0]}-bogus"]


@dataclass(frozen=True)
class Boolean(Constraint):
    """True or false (the CLI and TOML also accept 1/0, yes/no, on/off)."""

    def ok(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Text(Constraint):
    """A string, at most ``max_len`` characters (None: any length), without NUL if ``no_nul``."""

    max_len: int | None = None
    no_nul: bool = False
    what: str = "a string"

    def ok(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if self.max_len is not None and len(value) > self.max_len:
            return False
        return not (self.no_nul and "\x00" in value)

    def describe(self) -> str:
        out = self.what
        if self.max_len is not None:
            out += f" of at most {self.max_len} characters"
        if self.no_nul:
            out += " without NUL"
        return out

    def invalid(self) -> list:
        out: list = []
        if self.max_len is not None:
            out.append("a" * (self.max_len + 1))
        if self.no_nul:
            out.append("a\x00b")
        return out


@dataclass(frozen=True)
class Pattern(Constraint):
    """A string matching ``regex`` in full, described as ``what``; ``bad`` are strings it rejects (for tests)."""

    regex: str
    what: str
    bad: tuple = ()

    def ok(self, value: Any) -> bool:
        return isinstance(value, str) and re.fullmatch(self.regex, value) is not None

    def describe(self) -> str:
        return self.what

    def invalid(self) -> list:
        return list(self.bad)


def type_invalid(typ: type, optional: bool) -> list:
    """Strings a field of this type cannot be coerced from (as the CLI would pass them)."""
    out = {int: ["abc", "1.5"], float: ["abc", "nan", "inf"], bool: ["maybe", "2"]}.get(typ, [])
    return out + ([] if optional or typ is str else ["none"])
