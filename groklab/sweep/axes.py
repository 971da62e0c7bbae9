"""Sweep axes: grid values from the command line or a TOML list, and random draws from a [random] table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from groklab.config import FIELDS, coerce, field_type
from groklab.errors import ConfigError

MAX_POINTS = 100_000
DISTRIBUTIONS = ("uniform", "log_uniform", "choice")


def _round(v: float) -> float:
    return float(f"{v:.12g}")


def _expand(text: str, typ: type, where: str) -> list:
    """'a:b:n' (evenly spaced, inclusive), 'log:a:b:n' (geometric) or 'v1,v2,...' -> raw values."""
    text = text.strip()
    if typ in (int, float) and ":" in text:
        parts = [s.strip() for s in text.split(":")]
        log = parts[0].lower() == "log"
        parts = parts[1:] if log else parts
        try:
            if len(parts) != 3:
                raise ValueError
            a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ConfigError(f"{where}: expected a:b:n, log:a:b:n or v1,v2,..., got {text!r}") from None
        if not 1 <= n <= 10_000:
            raise ConfigError(f"{where}: the number of values n must be between 1 and 10000, got {n}")
        if log and (a <= 0 or b <= 0):
            raise ConfigError(f"{where}: a log range needs a > 0 and b > 0, got {text!r}")
        xs = [a] if n == 1 else (np.geomspace(a, b, n) if log else np.linspace(a, b, n))
        vals = [_round(float(x)) for x in xs]
        return [round(v) for v in vals] if typ is int else vals
    return [s.strip() for s in text.split(",") if s.strip()]


def axis_values(field: str, spec: Any, where: str) -> tuple:
    """The values of one axis, each coerced to the field's type: from a TOML list, a number, or a
    string 'a:b:n' / 'log:a:b:n' / 'v1,v2,...'. Duplicates are dropped; an empty axis is an error."""
    if field not in FIELDS or field == "preset":
        raise ConfigError(f"{where}: unknown config field {field!r}; allowed: "
                          f"{', '.join(f for f in FIELDS if f != 'preset')}")
    typ, _ = field_type(field)
    if isinstance(spec, str):
        raw = _expand(spec, typ, where)
    elif isinstance(spec, list):
        raw = spec
    elif isinstance(spec, (int, float, bool)):
        raw = [spec]
    else:
        raise ConfigError(f"{where}: expected a list of values or a string like a:b:n, got {spec!r}")
    if not raw:
        raise ConfigError(f"{where}: empty axis; give at least one value")
    out: list = []
    for v in raw:
        if isinstance(v, (dict, list)):
            raise ConfigError(f"{where}: expected plain values, got {v!r}")
        try:
            c = coerce(field, v)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
        if c not in out:
            out.append(c)
    return tuple(out)


def parse_axis(text: str, flag: str = "--x") -> tuple[str, tuple]:
    """A command-line axis 'field=a:b:n', 'field=log:a:b:n' or 'field=v1,v2,...' -> (field, values)."""
    if "=" not in text:
        raise ConfigError(f"{flag}: expected FIELD=a:b:n, FIELD=log:a:b:n or FIELD=v1,v2,..., got {text!r}")
    field, spec = text.split("=", 1)
    field = field.strip().replace("-", "_")
    return field, axis_values(field, spec, f"{flag} {field}")


def random_spec(table: Any, where: str = "random") -> dict:
    """Validate a [random] table: n draws, a seed, and per field one distribution."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table with n, seed and one distribution per field")
    n = table.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_POINTS:
        raise ConfigError(f"{where}.n: expected the number of random draws (an integer >= 1), got {n!r}")
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{where}.seed: expected an integer >= 0, got {seed!r}")
    fields: dict[str, dict] = {}
    for k, dist in table.items():
        if k in ("n", "seed"):
            continue
        w = f"{where}.{k}"
        if k not in FIELDS or k == "preset":
            raise ConfigError(f"{w}: unknown config field {k!r}; allowed: n, seed, or a config field")
        if not isinstance(dist, dict) or len(dist) != 1:
            raise ConfigError(f"{w}: expected one distribution, e.g. {{ uniform = [a, b] }}; "
                              f"allowed: {', '.join(DISTRIBUTIONS)}")
        (kind, args), = dist.items()
        if kind not in DISTRIBUTIONS:
            raise ConfigError(f"{w}: unknown distribution {kind!r}; allowed: {', '.join(DISTRIBUTIONS)}")
        if not isinstance(args, list) or not args:
            raise ConfigError(f"{w}.{kind}: empty axis; give a list of values")
        typ, _ = field_type(k)
        if kind == "choice":
            args = list(axis_values(k, args, f"{w}.choice"))
        else:
            numeric = typ in (int, float) and all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                                  for a in args)
            if not numeric or len(args) != 2 or not args[0] <= args[1]:
                raise ConfigError(f"{w}.{kind}: expected [low, high] with low <= high for a numeric field, "
                                  f"got {args!r}")
            if kind == "log_uniform" and args[0] <= 0:
                raise ConfigError(f"{w}.log_uniform: bounds must be > 0, got {args!r}")
        fields[k] = {kind: args}
    if not fields:
        raise ConfigError(f"{where}: empty axis; name at least one field with a distribution")
    return {"n": n, "seed": seed, "fields": fields}


def random_draws(random: dict | None) -> list[dict]:
    """The random axes' n draws (a fixed order of fields, so a seed always gives the same points)."""
    if not random:
        return [{}]
    rng = np.random.default_rng(random["seed"])
    n = random["n"]
    draws: list[dict] = [{} for _ in range(n)]
    for field in sorted(random["fields"]):
        (kind, args), = random["fields"][field].items()
        if kind == "choice":
            xs = [args[i] for i in rng.integers(len(args), size=n)]
        else:
            lo, hi = (math.log(args[0]), math.log(args[1])) if kind == "log_uniform" else args
            u = rng.uniform(lo, hi, n)
            xs = [_round(float(math.exp(v) if kind == "log_uniform" else v)) for v in u]
            if field_type(field)[0] is int:
                xs = [round(v) for v in xs]
        for d, v in zip(draws, xs):
            d[field] = coerce(field, v)
    return draws

