"""Sweeps: many configs made from one spec, packed into batched ensembles, run locally or on Ray.

A sweep is a list of points, each one validated config. Every point is written to the store, with
the spec it came from, before anything trains; a point is marked done as soon as the group it
trained in has been recorded, so a sweep killed at any moment loses only the points in flight and
``resume`` trains the rest. Two front ends make the same ``Plan``: ``groklab grid --x frac=0.1:0.9:9
--y wd=0,1`` and ``groklab sweep FILE.toml`` (grid axes, random axes, seeds; see ``load_sweep_file``).

**Packing.** Points whose configs have equal ``Config.shape_key()`` differ only in
``config.MEMBER_FIELDS`` (seed, lr, wd, frac...) and can train as one vmapped ensemble; such a group
is cut into chunks of at most ``max_members``. Whether a chunk trains as one ensemble or as separate
one-member runs side by side (one single-threaded worker process per core) is decided by a
*measured* cost model, not a rule of thumb (``schedule``): the chunk's first point trains alone in a
single-threaded worker (and is kept), and the other members' ensemble is timed for its setup, a
few steps and an evaluation; both in CPU seconds, which a shared machine does not inflate as it
does wall time. Batch when the ensemble's CPU seconds per point are at most the lone run's: with
every core busy either way, fewer CPU seconds per point finishes sooner. The measurement is cached
per (shape, cpu count) in ``<store>/sweep-costs.json``, so each shape is timed once per store.
Measured on 2 shared cores (2026-11-29): a 64-member ensemble of p = 31 quadratic MLPs took about
half the CPU seconds per point of separate runs, whose cost is mostly setup (building the task,
loading the compiled program) and per-run bookkeeping; a vmapped step alone was *not* cheaper
per member than a single model's (XLA's batched matmuls on CPU), so small models batch for the
setup and evaluation they share. For nanda2023-sized full-batch models ensembles were 10-55 %
slower per model, and two 1-thread processes gave 5-15 % more throughput than one 2-thread one.

**Backends.** ``local``: ensembles train in this process through ``api.train`` (every core);
separate members train in a pool of single-threaded worker processes. ``ray``: each task (an
ensemble or a single member) is a Ray task running ``train_group``, which never touches the store
and returns the metric histories and checkpoints as numpy arrays; the driver alone writes them into
the store (``record_result``), exactly as ``api.train`` would have.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import socket
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from groklab.config import FIELDS, Config, _base_type, coerce, from_dict, read_toml
from groklab.errors import ConfigError
from groklab.store import Store
from groklab.store.catalog import dumps
from groklab.store.files import atomic_write_bytes

MAX_POINTS = 100_000
MAX_MEMBERS = 64
FILE_KEYS = ("name", "preset", "budget", "seeds", "base", "grid", "random")
DISTRIBUTIONS = ("uniform", "log_uniform", "choice")
PHASE_ORDER = ("comprehension", "grokking", "memorization", "confusion")
ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
COST_FILE = "sweep-costs.json"

SweepProgressFn = Callable[[dict], None]


# ---------------------------------------------------------------------------------------------- axes
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
    typ, _ = _base_type(field)
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


def _random_spec(table: Any, where: str = "random") -> dict:
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
        typ, _ = _base_type(k)
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


def _draws(random: dict | None) -> list[dict]:
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
            if _base_type(field)[0] is int:
                xs = [round(v) for v in xs]
        for d, v in zip(draws, xs):
            d[field] = coerce(field, v)
    return draws


# ---------------------------------------------------------------------------------------------- plans
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
    draws = _draws(random)
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
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ConfigError(f"name: expected a non-empty string of at most 200 characters, got {name!r}")
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
    random = _random_spec(data["random"]) if "random" in data else None
    return make_plan(name, preset=preset, base=base, grid=grid, random=random, seeds=seeds, budget=budget,
                     where=f"sweep file {p.name}")


def start(store: Store, plan: Plan, resume: bool = False) -> tuple[str, bool]:
    """Create the sweep (every point, pending) or, with ``resume``, find the one of the same name and
    spec. Returns (sweep_id, resumed). A name clash without ``resume`` is a ConfigError."""
    same = [s for s in store.list_sweeps() if s["name"] == plan.name]
    if same:
        match = next((s for s in same if s["spec"].get("spec_hash") == plan.spec["spec_hash"]), None)
        if not resume:
            s = match or same[0]
            raise ConfigError(f"name: a sweep named {plan.name!r} exists ({s['sweep_id']}, {s['n_done']}/"
                              f"{s['n_points']} points done); use --resume to continue it, or rename the sweep")
        if match is None:
            raise ConfigError(f"name: the sweep named {plan.name!r} ({same[0]['sweep_id']}) was made from a "
                              "different spec; rename the sweep to start a new one")
        return match["sweep_id"], True
    return store.create_sweep(plan.name, plan.kind, plan.spec, plan.configs), False


# ---------------------------------------------------------------------------------------------- packing
@dataclass
class Task:
    """Points that train together: one ensemble (or a single member)."""

    points: list[int]
    configs: list[dict]


def pack(points: list[tuple[int, dict]], max_members: int = MAX_MEMBERS) -> list[Task]:
    """Group (point, config) pairs by ``Config.shape_key()`` and cut each group into balanced chunks
    of at most ``max_members`` (70 points -> 35 + 35, not 64 + 6). Groups keep first-seen order."""
    if max_members < 1:
        raise ConfigError(f"max_members: must be >= 1, got {max_members}")
    groups: dict[str, list[tuple[int, dict]]] = {}
    for i, cfg in points:
        groups.setdefault(from_dict(cfg).shape_key(), []).append((i, cfg))
    tasks = []
    for members in groups.values():
        k = math.ceil(len(members) / max_members)
        for chunk in np.array_split(np.arange(len(members)), k):
            sel = [members[j] for j in chunk]
            tasks.append(Task(points=[i for i, _ in sel], configs=[c for _, c in sel]))
    return tasks


def _time_trainer(build: Callable[[], Any], min_time: float) -> dict:
    """Build a trainer and time it in CPU seconds of this process (every thread; unlike wall time,
    not inflated when other jobs share the machine): {"setup_s": build + compile + first calls,
    "step_s": one training step of every member, "eval_s": one evaluation of every member, metrics
    brought to the host}."""
    import jax
    import jax.numpy as jnp

    clock = time.process_time
    t0 = clock()
    trainer = build()
    data = trainer._device_data()
    state = trainer.init_state()

    def steps(n: int) -> float:
        nonlocal state
        t = clock()
        state = trainer._run(*state, data, jnp.int32(0), jnp.int32(n))
        jax.block_until_ready(state)
        return clock() - t

    def evaluate() -> float:
        t = clock()
        jax.device_get(trainer._eval(state[0], data))
        return clock() - t

    steps(1)         # compiles (or loads from JAX's persistent cache)
    evaluate()
    setup = clock() - t0
    steps(1)         # the first call on its own outputs is slower again (buffer placement)
    n = max(1, min(trainer.cfg.eval_every, 64))     # as training runs: eval_every steps a call
    while (dt := steps(n)) < min_time / 3 and n < 4096:
        n = min(4096, max(2 * n, int(n * min_time / 3 / max(dt, 1e-6))))
    return {"setup_s": setup, "step_s": min(dt, steps(n), steps(n)) / n, "eval_s": min(evaluate() for _ in range(3))}


def measure_cost(store: Store, sweep_id: str | None, task: Task, min_time: float = 0.2) -> dict:
    """Time the two ways a chunk can train, as they would run, in CPU seconds.

    Alone: the chunk's first point really trains, by itself, in a single-threaded worker process, and
    is recorded in the store (done, not wasted); its whole run counts (setup, steps, evaluations),
    and separately what starting the worker cost (interpreter, imports, first compile). Ensemble:
    the other members as one ensemble in this process: setup, a few steps and evaluations
    (``_time_trainer``). Returns {"members", "clock": "cpu", "ensemble": {...}, "alone_s",
    "startup_s"}.
    """
    from groklab.train.loop import Trainer

    rest = [from_dict(c) for c in task.configs[1:]]
    before = _children_cpu()
    with _Workers(1) as pool:
        result = pool.call("_warm_train", task.configs[0])
    worker_s = _children_cpu() - before
    record_result(store, sweep_id, task.points[:1], result)
    return {"members": len(rest), "clock": "cpu", "ensemble": _time_trainer(lambda: Trainer(rest), min_time),
            "alone_s": result["cpu_s"], "startup_s": max(worker_s - result["cpu_s"], 0.0)}


def _children_cpu() -> float:
    """CPU seconds of this process's finished (waited-for) children."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _warm_train(config: dict) -> dict:
    """``train_group`` of one config in a worker that has built and compiled it once already, as
    every separate run after a worker's first one is."""
    from groklab.train.loop import Trainer

    _time_trainer(lambda: Trainer([from_dict(config)]), 0.0)
    return train_group([config])


def point_seconds(m: dict, cfg: Config, points: int) -> tuple[float, float]:
    """CPU seconds per point of a chunk of ``points`` trained as one ensemble and as separate runs,
    from a measurement: the ensemble's setup, ``steps`` steps and one evaluation every ``eval_every``
    steps, shared by its members; a separate run's measured total, plus the start of one worker per
    core shared by the points. With every core busy either way (the ensemble's threads, or one
    separate run per core), fewer CPU seconds per point is faster."""
    e = m["ensemble"]
    evals = len(range(0, cfg.steps + 1, cfg.eval_every))
    workers = min(points, os.cpu_count() or 1)
    return ((e["setup_s"] + cfg.steps * e["step_s"] + evals * e["eval_s"]) / m["members"],
            m["alone_s"] + m["startup_s"] * workers / points)


def _cost_key(cfg: Config) -> str:
    return hashlib.sha256(f"{cfg.shape_key()}|{os.cpu_count()}".encode()).hexdigest()[:16]


def schedule(store: Store, sweep_id: str | None, tasks: list[Task], mode: str = "auto",
             measure: Callable[[Store, str | None, Task], dict] = measure_cost) -> list[tuple[Task, str]]:
    """Decide per packed chunk: one ensemble task, or one single-member task per point ('separate').

    ``mode``: ensemble, separate, or auto: batch when the ensemble's ``point_seconds`` is at most a
    separate run's. A chunk of one point is an ensemble of one (nothing to choose). Measurements
    are cached in <store>/sweep-costs.json per (shape key, cpu count); a chunk that had to be
    measured has its first point trained and recorded already, and is returned without it.
    """
    if mode not in ("auto", "ensemble", "separate"):
        raise ConfigError(f"pack: must be one of auto, ensemble, separate, got {mode!r}")
    path = store.root / COST_FILE
    out: list[tuple[Task, str]] = []
    for t in tasks:
        m = mode
        if mode == "auto" and len(t.points) > 1:
            cfg = from_dict(t.configs[0])
            try:
                cache = json.loads(path.read_text())
            except (OSError, ValueError):
                cache = {}
            cost = cache.get(_cost_key(cfg))
            if not isinstance(cost, dict) or cost.get("clock") != "cpu" or "startup_s" not in cost:
                cost = measure(store, sweep_id, t)
                cache[_cost_key(cfg)] = cost
                atomic_write_bytes(path, json.dumps(cache, indent=1, sort_keys=True).encode())
                t = Task(t.points[1:], t.configs[1:])
            batched, alone = point_seconds(cost, cfg, len(t.points))
            m = "ensemble" if batched <= alone else "separate"
        if m == "separate" and len(t.points) > 1:
            out += [(Task([p], [c]), "separate") for p, c in zip(t.points, t.configs)]
        elif t.points:
            out.append((t, "ensemble"))
    return out


# ---------------------------------------------------------------------------------------------- remote groups
def train_group(configs: list[dict]) -> dict:
    """Train one task's configs as an ensemble without touching any store (a Ray task or a worker
    process runs this). Returns plain data: the configs, every evaluation and checkpoint callback in
    order (numpy arrays; optimizer state kept for the last checkpoint only, the one a resume needs),
    the final parameters, compile, wall and CPU seconds, the code version and machine."""
    from groklab import api
    from groklab.train.loop import Trainer

    t0, c0 = time.perf_counter(), time.process_time()
    cfgs = [from_dict(c) for c in configs]
    trainer = Trainer(cfgs)
    events: list[list] = []

    def on_eval(step: int, metrics: dict[str, np.ndarray]) -> None:
        events.append(["eval", step, {k: np.array(v) for k, v in metrics.items()}])

    def on_checkpoint(step: int, params: dict[str, np.ndarray], leaves: list[np.ndarray]) -> None:
        for ev in events:
            if ev[0] == "ckpt":
                ev[3] = []
        events.append(["ckpt", step, params, leaves])

    out = trainer.fit(on_eval, on_checkpoint)
    return {"configs": configs, "events": events, "params": out["params"], "compile_s": trainer.compile_s,
            "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
            "code_version": api.code_version(), "machine": api.machine()}


class _Replay:
    """A finished ``train_group`` result in the shape ``api._fit`` expects of a trainer, so a remote
    group lands in the store through the same code as a local one."""

    def __init__(self, result: dict):
        self.cfgs = [from_dict(c) for c in result["configs"]]
        self.compile_s = float(result["compile_s"])
        self.result = result

    def fit(self, on_eval, on_checkpoint, state=None, stop=None) -> dict:
        for ev in self.result["events"]:
            if ev[0] == "eval":
                on_eval(ev[1], ev[2])
            else:
                on_checkpoint(ev[1], ev[2], ev[3])
            if stop is not None and stop():
                break
        return {"params": self.result["params"]}


def record_result(store: Store, sweep_id: str | None, points: list[int], result: dict) -> list[dict]:
    """Write a ``train_group`` result into the store: runs, metrics, checkpoints, summaries, then mark
    the sweep's points done. Returns the members' summaries."""
    from groklab import api

    run_ids = store.create_runs(result["configs"], code_version=result["code_version"], machine=result["machine"],
                                sweep_id=sweep_id)
    res = api._fit(_Replay(result), store, run_ids, None, wall_before=float(result["wall_s"]))
    if sweep_id is not None:
        store.complete_points(sweep_id, points, run_ids)
    return res.summaries


# ---------------------------------------------------------------------------------------------- running
class _Clock:
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


def adopt_finished(store: Store, sweep_id: str) -> int:
    """Mark pending points done whose run completed but was not recorded (killed between the two
    writes); returns how many. Each run is adopted by at most one point."""
    points = store.sweep_points(sweep_id)
    used = {p["run_id"] for p in points if p["run_id"]}
    free: dict[str, list[str]] = {}
    for r in sorted(store.list_runs(sweep_id=sweep_id), key=lambda r: r["created"]):
        if r["status"] == "completed" and r["run_id"] not in used:
            free.setdefault(r["config_hash"], []).append(r["run_id"])
    pts, ids = [], []
    for p in points:
        if p["status"] != "done":
            rid = (free.get(from_dict(p["config"]).hash()) or [None]).pop(0) if free else None
            if rid:
                pts.append(p["point"])
                ids.append(rid)
    if pts:
        store.complete_points(sweep_id, pts, ids)
    return len(pts)


def run_sweep(store: Store, sweep_id: str, *, backend: str = "local", address: str | None = None,
              pack_mode: str = "auto", max_members: int = MAX_MEMBERS,
              progress: SweepProgressFn | None = None) -> dict:
    """Train every point of a sweep that is not done yet; points are recorded as their group finishes.

    Returns {"trained": points trained now, "tasks": [(n members, mode)...]}. The sweep's status ends
    'completed', or 'interrupted' / 'failed' if training stopped (its done points stay done).
    """
    check_backend(backend, address)
    adopt_finished(store, sweep_id)
    points = store.sweep_points(sweep_id)
    todo = [(p["point"], p["config"]) for p in points if p["status"] != "done"]
    clock = _Clock(len(points) - len(todo), len(points), progress)
    if not todo:
        store.set_sweep_status(sweep_id, "completed")
        return {"trained": 0, "tasks": []}
    ray = _connect_ray(address) if backend == "ray" else None   # fail fast, before measuring or training
    store.set_sweep_status(sweep_id, "running")
    try:
        tasks = schedule(store, sweep_id, pack(todo, max_members), pack_mode)
        clock.finish(len(todo) - sum(len(t.points) for t, _ in tasks))     # points trained to measure costs
        if ray is not None:
            _run_ray(ray, store, sweep_id, [t for t, _ in tasks], clock)
        else:
            _run_local(store, sweep_id, tasks, clock)
    except KeyboardInterrupt:
        store.set_sweep_status(sweep_id, "interrupted")
        raise
    except BaseException:
        store.set_sweep_status(sweep_id, "failed")
        raise
    finally:
        if ray is not None:
            ray.shutdown()
    store.set_sweep_status(sweep_id, "completed")
    return {"trained": len(todo), "tasks": [(len(t.points), m) for t, m in tasks]}


class _Workers:
    """Single-threaded worker processes (``python -m groklab.sweep``) that run this module's functions
    by name: arguments and results travel over the worker's pipes as JSON plus raw array bytes
    (``_send``/``_recv``: nothing is ever unpickled). Unlike multiprocessing's spawn, nothing re-imports the caller's
    main script. ``call`` may be used from several threads: each call takes an idle worker."""

    def __init__(self, n: int):
        import queue
        import subprocess
        import sys

        env = {**os.environ, "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " " + ONE_THREAD_XLA).strip()}
        self.procs = [subprocess.Popen([sys.executable, "-m", "groklab.sweep"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, env=env) for _ in range(n)]
        self.idle: queue.Queue = queue.Queue()
        for p in self.procs:
            self.idle.put(p)

    def call(self, fn: str, *args: Any) -> Any:
        p = self.idle.get()
        try:
            _send(p.stdin, [fn, list(args)])
            ok, value = _recv(p.stdout)
        except (EOFError, BrokenPipeError, ValueError):
            raise RuntimeError(f"sweep worker process {p.pid} died (exit code {p.poll()})") from None
        self.idle.put(p)
        if not ok:
            raise ConfigError(value["message"]) if value["type"] == "ConfigError" else \
                RuntimeError(f"sweep worker: {value['type']}: {value['message']}")
        return value

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            try:
                p.stdin.close()
            except OSError:
                pass
            if exc[0] is not None:
                p.kill()
        for p in self.procs:
            p.wait()


def _send(stream, obj: Any) -> None:
    """One message on a pipe, without pickle: a JSON header (the structure, each numpy array replaced
    by {"__nd__": i, dtype, shape}) followed by the arrays' raw bytes."""
    arrays: list[np.ndarray] = []

    def enc(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            a = np.ascontiguousarray(x)
            arrays.append(a)
            return {"__nd__": len(arrays) - 1, "dtype": a.dtype.str, "shape": list(a.shape)}
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, dict):
            return {str(k): enc(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [enc(v) for v in x]
        return x

    head = json.dumps(enc(obj)).encode()
    stream.write(len(head).to_bytes(8, "little") + head)
    for a in arrays:
        stream.write(a.tobytes())
    stream.flush()


def _recv(stream) -> Any:
    """The message ``_send`` wrote (EOFError at the end of the pipe)."""
    def read(n: int) -> bytes:
        b = stream.read(n)
        if len(b) < n:
            raise EOFError
        return b

    head = json.loads(read(int.from_bytes(read(8), "little")))
    arrays: list = []

    def walk(x: Any, visit) -> Any:
        if isinstance(x, dict) and "__nd__" in x:
            return visit(x)
        if isinstance(x, dict):
            return {k: walk(v, visit) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v, visit) for v in x]
        return x

    def load(d: dict) -> np.ndarray:
        dt, shape = np.dtype(d["dtype"]), tuple(d["shape"])
        a = np.frombuffer(read(dt.itemsize * int(np.prod(shape, dtype=np.int64))), dt).reshape(shape).copy()
        arrays.append(a)
        return a

    return walk(head, load)     # arrays are read in the order _send wrote them (depth-first)


def _serve() -> None:
    """The worker loop of ``_Workers``: read [function name, args], answer [ok, result or the error's
    type and message]."""
    import sys

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr       # a stray print must not corrupt the answers
    while True:
        try:
            fn, args = _recv(inp)
        except EOFError:
            return
        try:
            answer = [True, globals()[fn](*args)]
        except Exception as e:  # handed to the caller, who raises it
            answer = [False, {"type": type(e).__name__, "message": str(e)}]
        _send(out, answer)


def _run_local(store: Store, sweep_id: str, tasks: list[tuple[Task, str]], clock: _Clock) -> None:
    from groklab import api

    separate = [t for t, m in tasks if m == "separate"]
    if separate:   # one single-threaded worker process per core
        from concurrent.futures import ThreadPoolExecutor, as_completed

        n = min(len(separate), os.cpu_count() or 1)
        with ThreadPoolExecutor(n) as ex, _Workers(n) as pool:   # workers close (or die) first
            futures = {ex.submit(pool.call, "train_group", t.configs): t for t in separate}
            try:
                for f in as_completed(futures):
                    t = futures[f]
                    record_result(store, sweep_id, t.points, f.result())
                    clock.finish(len(t.points))
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    for t in (t for t, m in tasks if m == "ensemble"):
        n = len(t.points)

        def on_step(ev: dict, n: int = n) -> None:
            clock.partial = n * ev["step"] / max(ev["steps"], 1)
            clock.report(step=ev["step"], steps=ev["steps"], members=n)

        res = api.train([from_dict(c) for c in t.configs], store=store, sweep_id=sweep_id, progress=on_step)
        store.complete_points(sweep_id, t.points, res.run_ids)
        clock.finish(n)


def check_backend(backend: str, address: str | None = None) -> None:
    """Fail fast, before the store is written: a known backend, Ray installed if asked for, and a
    Ray head listening at ``address`` (a 3-second TCP connect, not Ray's minute of retries)."""
    if backend not in ("local", "ray"):
        raise ConfigError(f"backend: must be local or ray, got {backend!r}")
    if address is not None and backend != "ray":
        raise ConfigError("address: only used with --backend ray")
    if backend != "ray":
        return
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise ConfigError("backend: ray needs the optional extra groklab[ray] (pip install 'groklab[ray]')")
    if address is None or address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"address: expected HOST:PORT of a Ray head (or auto), got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=3).close()
    except OSError as e:
        raise ConfigError(f"address: no Ray cluster reachable at {address} ({e.strerror or e}); "
                          "start one with `ray start --head` or drop --address") from None


def _connect_ray(address: str | None):
    """Join the Ray cluster at ``address``, or start a local instance with one CPU per core."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    token = os.environ.get("RAY_AUTH_TOKEN") or Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or
                                                    Path.home() / ".ray" / "auth_token").is_file()
    if address is not None and token and "RAY_AUTH_MODE" not in os.environ:
        # `ray start` turns token authentication on when a token exists, ray.init(address=) does not;
        # Ray reads this when it is imported
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    quiet = {"logging_level": "ERROR", "log_to_driver": False}
    if address is None:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
        return ray
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(f"address: cannot join the Ray cluster at {address} ({str(e).splitlines()[0]}; "
                          f"authentication mode {os.environ.get('RAY_AUTH_MODE', 'disabled')})") from None
    return ray


def _run_ray(ray, store: Store, sweep_id: str, tasks: list[Task], clock: _Clock) -> None:
    """One Ray task per packed task (1 CPU, single-threaded XLA); results recorded as they arrive."""
    remote = ray.remote(num_cpus=1)(train_group).options(runtime_env={"env_vars": {"XLA_FLAGS": ONE_THREAD_XLA}})
    pending = {remote.remote(t.configs): t for t in tasks}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                t = pending.pop(ref)
                record_result(store, sweep_id, t.points, ray.get(ref))
                clock.finish(len(t.points))
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


# ---------------------------------------------------------------------------------------------- reading
def axis_fields(spec: dict) -> list[str]:
    """The fields a sweep varies: its grid axes in order, then its random fields (sorted)."""
    return [a["field"] for a in spec.get("axes") or []] + sorted((spec.get("random") or {}).get("fields", {}))


def sweep_rows(store: Store, sweep_id: str) -> list[dict]:
    """One row per point: coordinates, seed, status, run id and the run's phase, t_mem, t_gen, delay,
    final accuracies (None where not done)."""
    sw = store.get_sweep(sweep_id)
    axes = axis_fields(sw["spec"])
    runs = {r["run_id"]: r for r in store.list_runs(sweep_id=sw["sweep_id"])}
    rows = []
    for p in store.sweep_points(sw["sweep_id"]):
        cfg = p["config"]
        s = (runs.get(p["run_id"]) or {}).get("summary") or {} if p["status"] == "done" else {}
        fin = s.get("final") or {}
        coords = {k: cfg.get(k) for k in axes}
        rows.append({"point": p["point"], "x": coords.get(axes[0]) if axes else None,
                     "y": coords.get(axes[1]) if len(axes) > 1 else None, "coords": coords, "seed": cfg.get("seed"),
                     "status": p["status"], "run_id": p["run_id"], "phase": s.get("phase"), "t_mem": s.get("t_mem"),
                     "t_gen": s.get("t_gen"), "delay": s.get("delay"), "train_acc": fin.get("train_acc"),
                     "test_acc": fin.get("test_acc")})
    return rows


def _median(vals: list) -> float | int | None:
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def phase_diagram(store: Store, sweep_id: str, x: str | None = None, y: str | None = None) -> dict:
    """The sweep view for the report renderer (``groklab.report.render_sweep_html``).

    ``x``/``y`` default to the sweep's first two axes. Each cell (x, y) aggregates every done point
    there (seeds, and any other axes): the majority phase (ties broken in the order comprehension,
    grokking, memorization, confusion), the median delay, t_mem and t_gen, the mean final test
    accuracy, and the run (and report href) of one point with the majority phase. Cells with no done
    point are left out. Returns {"sweep": {sweep_id, name, created, n_points, n_done}, "x_name",
    "y_name", "x_values", "y_values", "points": [{x, y, phase, delay, t_mem, t_gen, test_acc, n, run_id,
    href}]}.
    """
    sw = store.get_sweep(sweep_id)
    axes = axis_fields(sw["spec"])
    x = x or (axes[0] if axes else None)
    y = y or (axes[1] if len(axes) > 1 else None)
    for name in (x, y):
        if name is not None and name not in FIELDS:
            raise ConfigError(f"axis: unknown config field {name!r}; this sweep varies {', '.join(axes) or 'nothing'}")
    rows = sweep_rows(store, sw["sweep_id"])
    pts = store.sweep_points(sw["sweep_id"])
    for r, p in zip(rows, pts):
        r["x"] = p["config"].get(x) if x else None
        r["y"] = p["config"].get(y) if y else None
    order = {a["field"]: a["values"] for a in sw["spec"].get("axes") or []}

    def values(name: str | None, key: str) -> list:
        if name is None:
            return [None]
        seen = {r[key] for r in rows}
        if name in order:
            return [v for v in order[name] if v in seen]
        return sorted(seen, key=lambda v: (v is None, v))

    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["status"] == "done" and r["run_id"]:
            cells.setdefault((r["x"], r["y"]), []).append(r)
    points = []
    for (cx, cy), rs in cells.items():
        counts = Counter(r["phase"] for r in rs)
        rank = {p: i for i, p in enumerate(PHASE_ORDER)}
        phase = min(counts, key=lambda k: (-counts[k], rank.get(k, len(rank)), str(k)))
        rep = next(r for r in rs if r["phase"] == phase)
        accs = [r["test_acc"] for r in rs if r["test_acc"] is not None]
        points.append({"x": cx, "y": cy, "phase": phase, "delay": _median([r["delay"] for r in rs]),
                       "t_mem": _median([r["t_mem"] for r in rs]), "t_gen": _median([r["t_gen"] for r in rs]),
                       "test_acc": float(np.mean(accs)) if accs else None, "n": len(rs), "run_id": rep["run_id"],
                       "href": f"../../runs/{rep['run_id']}/report.html" if rep["run_id"] else None})
    return {"sweep": {"sweep_id": sw["sweep_id"], "name": sw["name"], "created": sw["created"],
                      "n_points": sw["n_points"], "n_done": sum(r["status"] == "done" for r in rows)},
            "x_name": x, "y_name": y, "x_values": values(x, "x"), "y_values": values(y, "y"), "points": points}


__all__ = ["Plan", "Task", "parse_axis", "axis_values", "make_plan", "load_sweep_file", "start", "pack",
           "measure_cost", "point_seconds", "schedule", "train_group", "record_result", "run_sweep", "check_backend",
           "adopt_finished", "sweep_rows", "phase_diagram", "axis_fields"]


if __name__ == "__main__":
    _serve()
