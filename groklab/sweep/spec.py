"""Sweep plans: a spec (preset, base, grid axes, random axes, seeds, budget) expanded into validated points,
from keyword arguments (``make_plan``, the ``grid`` command) or a TOML sweep file (``load_sweep_file``)."""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

from groklab.config import FIELDS, check_name, coerce, from_dict, read_toml
from groklab.errors import ConfigError
from groklab.store.catalog import dumps
from groklab.sweep.axes import MAX_POINTS, axis_values, random_draws, random_spec

FILE_KEYS = ("name", "preset", "budget", "seeds", "base", "grid", "random")


@dataclass
class Plan:
    """What a sweep will train: its name, kind, the spec it came from, and one config per point."""

    name: str
    kind: str                   # "grid" (grid axes and seeds only) or "random" (has random axes)
    spec: dict                  # preset, base, budget, seeds, axes, random, spec_hash (JSON-able)
    configs: list[dict]         # point i's validated config (Config.to_dict())


def make_plan(name: str, *, preset: str | None = None, base: dict | None = None,
              grid: dict[str, tuple] | None = None, random: dict | None = None,
              seeds: list[int] | None = None, budget: int | None = None, where: str = "sweep") -> Plan:
    """Expand a spec into points: the cartesian product of the grid axes, times the random draws,
    times the seeds; each point is preset + base + its coordinates (+ budget as ``steps``), validated.
    Raises ConfigError before anything is written."""
    from groklab.presets import preset_values

    base, grid = dict(base or {}), dict(grid or {})
    both = sorted(set(grid) & set((random or {}).get("fields", {})))
    if both:
        raise ConfigError(f"{where}: {both[0]} is both a grid axis and a random axis; keep one")
    axes = list(grid) + sorted((random or {}).get("fields", {}))
    if seeds is not None:
        if not seeds:
            raise ConfigError(f"{where}: seeds: empty axis; give at least one seed")
        if "seed" in axes:
            raise ConfigError(f"{where}: seed is an axis and seeds are given too; keep one")
    if budget is not None and "steps" in axes:
        raise ConfigError(f"{where}: budget sets steps, which is also an axis; keep one")
    n = math.prod(len(v) for v in grid.values()) * (random["n"] if random else 1) * len(seeds or [0])
    if n > MAX_POINTS:
        raise ConfigError(f"{where}: {n} points is more than {MAX_POINTS}; use fewer values")
    resolved = {**(preset_values(preset) if preset else {}), **base}
    if budget is not None:
        resolved["steps"] = budget
    draws = random_draws(random)
    configs = []
    for combo in itertools.product(*grid.values()):
        for draw in draws:
            for s in seeds or [None]:
                coords = {**dict(zip(grid, combo)), **draw}
                d = {**resolved, **coords, **({"seed": s} if s is not None else {})}
                try:
                    configs.append(from_dict(d).to_dict())
                except ConfigError as e:
                    at = ", ".join(f"{k}={v}" for k, v in {**coords, **({"seed": s} if s is not None else {})}.items())
                    raise ConfigError(f"{where} point {at or '(base)'}: {e}") from None
    user = {"preset": preset, "base": base, "budget": budget, "seeds": seeds,
            "axes": [{"field": k, "values": list(v)} for k, v in grid.items()], "random": random}
    spec = {**user, "spec_hash": hashlib.sha256(dumps(user).encode()).hexdigest()[:16]}
    return Plan(name=name, kind="random" if random else "grid", spec=spec, configs=configs)


def load_sweep_file(path: str | Path) -> Plan:
    """Read a sweep file (TOML) into a Plan. Keys: ``name`` (default: the file's stem), ``preset``,
    ``budget`` (steps per point), ``seeds`` (list), ``[base]`` (config fields), ``[grid]`` (field =
    list or "a:b:n" / "log:a:b:n" / "v1,v2"), ``[random]`` (``n``, ``seed``, and field =
    ``{ uniform | log_uniform = [lo, hi] }`` or ``{ choice = [...] }``). Any unknown key, empty axis
    or bad value raises ConfigError naming it."""
    p = Path(path)
    data = read_toml(p, "sweep file")
    for k in data:
        if k not in FILE_KEYS:
            raise ConfigError(f"sweep file: unknown key {k!r} in {p.name}; allowed: {', '.join(FILE_KEYS)}")
    name = data.get("name", p.stem)
    check_name(name, required=True)      # no control characters (a terminal would act on them)
    preset = data.get("preset")
    if preset is not None and not isinstance(preset, str):
        raise ConfigError(f"preset: expected a preset name, got {preset!r}")
    budget = data.get("budget")
    if budget is not None:
        try:
            budget = coerce("steps", budget)
        except ConfigError:
            raise ConfigError(f"budget: expected a positive number of steps, got {budget!r}") from None
        if budget < 1:
            raise ConfigError(f"budget: expected a positive number of steps, got {budget!r}")
    seeds = data.get("seeds")
    if seeds is not None:
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = [seeds]
        if not isinstance(seeds, list) or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise ConfigError(f"seeds: expected a list of integers >= 0 like [0, 1, 2], got {seeds!r}")
    base = data.get("base", {})
    if not isinstance(base, dict):
        raise ConfigError("base: expected a table of config fields ([base])")
    for k, v in base.items():
        if k not in FIELDS or k == "preset":
            allowed = ", ".join(f for f in FIELDS if f != "preset")
            raise ConfigError(f"base.{k}: unknown config field; allowed: {allowed}")
        if isinstance(v, (dict, list)):
            raise ConfigError(f"base.{k}: expected one value (put several in [grid]), got {v!r}")
    grid_t = data.get("grid", {})
    if not isinstance(grid_t, dict):
        raise ConfigError("grid: expected a table of axes ([grid] field = [values])")
    grid = {k: axis_values(k, v, f"grid.{k}") for k, v in grid_t.items()}
    random = random_spec(data["random"]) if "random" in data else None
    return make_plan(name, preset=preset, base=base, grid=grid, random=random, seeds=seeds, budget=budget,
                     where=f"sweep file {p.name}")

