"""What a training run will need, estimated from its configs before anything is allocated.

``preflight(configs)`` runs before ``api.train`` builds a Trainer (and before a grid or sweep writes
its points): it refuses an ensemble over ``MEMBER_LIMIT`` members, a name with control characters,
and a run whose memory estimate exceeds what the machine has (``available_memory``: /proc/meminfo's
MemAvailable and the cgroup's limit, 90 % of the smaller, or a limit given with
``memory_limit(bytes)`` / ``--max-memory`` / ``$GROKLAB_MAX_MEMORY``). The ConfigError names the
setting that drives the estimate and the largest value of it that fits. Settings that imply hours of
evaluations or gigabytes of checkpoints and metrics only warn (``BudgetWarning``).

The estimate is ``train.footprint``'s; a knob search (``_over_message``) finds the largest value of
the setting that drives it that still fits.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from groklab.config import Config
from groklab.errors import ConfigError
from groklab.train.footprint import Estimate, estimate, estimate_rows, model_size, table_shape

MEMBER_LIMIT = 4096                 # members of one ensemble (one batched program)
SAFETY = 0.9                        # share of the available memory a run may plan to use
WARN_EVAL_S = 6 * 3600              # warn when evaluations alone would take longer than this
WARN_DISK_BYTES = 2 * 10**9         # warn when checkpoints and metrics would take more than this

_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar("groklab_memory_limit", default=None)


class BudgetWarning(UserWarning):
    """A setting that will cost hours of evaluations or gigabytes of disk (not an error)."""


# --------------------------------------------------------------------------------------------- sizes
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str, what: str = "max-memory") -> int:
    """'8G', '512M', '1.5T', '8GiB', '2000000000' -> bytes (binary units); ConfigError otherwise."""
    m = _SIZE.match(str(text))
    value = float(m.group(1)) * _UNITS[m.group(2).lower()] if m else 0.0
    if not m or not math.isfinite(value) or value < 2**20 or value > 2**60:
        raise ConfigError(f"{what}: got {str(text)[:40]!r}; allowed a size from 1M to 1024P such as 8G, 512M or "
                          "1.5T")
    return int(value)


def human(n: float) -> str:
    """Bytes as '61 GiB', '1.2 GiB', '350 MiB' (binary units, as ``parse_size`` reads them)."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v >= 10 else f"{v:.1f} {unit}"
    return f"{n / 2**10:.0f} KiB"


def duration(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    return f"{s / 86400:.0f} days" if s >= 2 * 86400 else f"{s / 3600:.0f} hours" if s >= 7200 else f"{s / 60:.0f} min"


@contextlib.contextmanager
def memory_limit(nbytes: int | None) -> Iterator[None]:
    """Plan runs started inside against ``nbytes`` instead of the machine's available memory."""
    token = _LIMIT.set(nbytes)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_room() -> int | None:
    """What the cgroup (v2) still allows this process, if it sets a limit: its limit less what it uses,
    page cache it could drop (inactive files) counted as free."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int((root / "memory.current").read_text())
        stat = dict(line.split() for line in (root / "memory.stat").read_text().splitlines() if " " in line)
        return max(0, int(limit) - used + int(stat.get("inactive_file", 0)))
    except (OSError, ValueError):
        return None


def _accelerator_room(device: str) -> int | None:
    """Free memory of the accelerator a run on ``device`` would use (None: it runs on the CPU)."""
    if device == "cpu":
        return None
    try:
        import jax

        dev = jax.devices("gpu" if device == "cuda" else None)[0]
        if dev.platform == "cpu":
            return None
        stats = dev.memory_stats() or {}
    except (RuntimeError, AttributeError):
        return None
    limit = stats.get("bytes_limit")
    return int(limit - stats.get("bytes_in_use", 0)) if limit else None


def available_memory(device: str = "cpu") -> tuple[int | None, str]:
    """(bytes a run on ``device`` may use, where that number comes from); (None, ...) when nothing is
    known: ``memory_limit``'s, else $GROKLAB_MAX_MEMORY, else 90 % of the smallest of MemAvailable, the
    cgroup's room and (a run on an accelerator) the accelerator's free memory."""
    given = _LIMIT.get()
    if given is not None:
        return given, "given by --max-memory"
    env = os.environ.get("GROKLAB_MAX_MEMORY")
    if env:
        return parse_size(env, "GROKLAB_MAX_MEMORY"), "given by $GROKLAB_MAX_MEMORY"
    host = [v for v in (_meminfo_available(), _cgroup_room()) if v is not None]
    acc = _accelerator_room(device)
    if acc is not None and (not host or acc < min(host)):
        return int(acc * SAFETY), "available on the accelerator"
    return (int(min(host) * SAFETY), "available") if host else (None, "available")


# --------------------------------------------------------------------------------------------- what fits
def _knobs(cfg: Config, members: int, members_flag: str) -> list[tuple[str, int, int, int]]:
    """Settings that scale the estimate: (name, value, smallest allowed, step)."""
    from groklab.tasks import family_of

    fam = family_of(cfg.task)
    out = []
    if fam.modular:
        out.append(("p", cfg.p, 2, 1))
    if fam.key == "perm":
        out.append(("perm_n", cfg.perm_n, 3, 1))
    if members > 1:
        out.append((members_flag, members, 1, 1))
    if cfg.batch_size is not None:
        out.append(("batch_size", cfg.batch_size, 1, 1))
    if cfg.model == "transformer":
        out.append(("d_model", cfg.d_model, cfg.n_heads, cfg.n_heads))
    elif cfg.input in ("embed", "embed-sum"):
        out.append(("d_embed", cfg.d_embed, 1, 1))
    out += [("d_mlp", cfg.d_mlp, 1, 1), ("n_layers", cfg.n_layers, 1, 1)]
    if cfg.grokfast == "ma":
        out.append(("grokfast_window", cfg.grokfast_window, 1, 1))
    return [k for k in out if k[1] > k[2]]


def _total_fn(cfg: Config, members: int, n_train: int | None, knob: tuple, members_flag: str
              ) -> tuple[Callable[[int], int], Callable[[int], int]]:
    """(fast, exact): the estimated total with ``knob`` = v, others unchanged. For a model-size knob the
    fast one takes the parameter and optimizer counts from the quadratic through three traced values
    (exact for groklab's models: every weight's size is a polynomial of degree <= 2 in one width), so a
    search traces three models instead of a dozen; the exact one traces (``_largest_fitting`` checks with it)."""
    name, value, low, step = knob
    if name == members_flag:
        f = lambda v: estimate(cfg, v, n_train).total  # noqa: E731
        return f, f
    rows = None if name in ("p", "perm_n") else n_train
    at = lambda v: dataclasses.replace(cfg, **{name: v})  # noqa: E731
    exact = lambda v: estimate(at(v), members, rows).total  # noqa: E731
    if name == "batch_size":                                # the model does not change
        ms = model_size(cfg)
        f = lambda v: estimate(at(v), members, rows, (ms.params, ms.opt)).total  # noqa: E731
        return f, f
    if name == "perm_n" or (value - low) // step < 3:
        return exact, exact
    xs = [low, (low + value) // 2 // step * step, value]
    ys = [model_size(at(x)) for x in xs]

    def counts(v: int) -> tuple[int, int]:
        w = [math.prod((v - xs[j]) / (xs[i] - xs[j]) for j in range(3) if j != i) for i in range(3)]
        return (max(0, round(sum(wi * y.params for wi, y in zip(w, ys)))),
                max(0, round(sum(wi * y.opt for wi, y in zip(w, ys)))))

    return (lambda v: estimate(at(v), members, rows, counts(v)).total), exact


def _largest_fitting(fns: tuple[Callable[[int], int], Callable[[int], int]], knob: tuple, limit: int) -> int | None:
    """The largest value of ``knob`` (others unchanged) whose estimate fits ``limit``; None if none does.
    Interpolation search on log(total) against log(value), then checked with the exact estimate."""
    total, exact = fns
    name, value, low, step = knob
    lo, hi = low // step, value // step                   # lo fits, hi does not
    t_lo, t_hi = total(lo * step), total(hi * step)
    if t_lo > limit:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if t_hi > t_lo > 0 and lo > 0:
            a = math.log(t_hi / t_lo) / math.log(hi / lo)  # local exponent of total in the value
            guess = int(lo * (limit / t_lo) ** (1 / a)) if a > 0 else mid
            mid = min(max(guess, lo + 1), hi - 1)
        t = total(mid * step)
        lo, t_lo, hi, t_hi = (mid, t, hi, t_hi) if t <= limit else (lo, t_lo, mid, t)
    while lo * step > low and exact(lo * step) > limit:
        lo -= 1
    return lo * step


def _pushed(knob: tuple) -> float:
    """How far a setting is above its default (members: above 1): the first suspect of an estimate that
    does not fit; among settings at their defaults, the one whose halving saves most comes first."""
    from groklab.config import FIELDS

    default = FIELDS[knob[0]].default if knob[0] in FIELDS else 1
    return knob[1] / default if isinstance(default, int) and default > 0 else 1.0


def _over_message(cfg: Config, est: Estimate, n_train: int | None, limit: int, where: str,
                  members_flag: str) -> str:
    knobs = _knobs(cfg, est.members, members_flag)
    fns = {k: _total_fn(cfg, est.members, n_train, k, members_flag) for k in knobs}
    halved = {k: fns[k][0](max(k[2], k[1] // 2 // k[3] * k[3])) for k in knobs}
    part = est.largest
    head = f"needs ≈ {human(est.total)} of memory, most of it for {part} ({est.details[part]})"
    for knob in sorted(knobs, key=lambda k: (-_pushed(k), halved[k])):
        best = _largest_fitting(fns[knob], knob, limit)
        if best is not None:
            name = knob[0]
            return (f"{name}: {knob[1]} {head}; at most {name} = {best} fits in the {human(limit)} {where}; "
                    f"{_or_more(where)}")
    return f"memory: this run {head}; more than the {human(limit)} {where}; {_or_more(where)}"


def _or_more(where: str) -> str:
    return "or pass a larger --max-memory" if "given" in where else "or pass --max-memory SIZE"


def check_memory(cfg: Config, members: int = 1, n_train: int | None = None,
                 members_flag: str = "members") -> Estimate:
    """The estimate, or a ConfigError naming the setting to lower when it exceeds ``available_memory``."""
    est = estimate(cfg, members, n_train)
    limit, where = available_memory(cfg.device)
    if limit is not None and est.total > limit:
        raise ConfigError(_over_message(cfg, est, n_train, limit, where, members_flag))
    return est


# --------------------------------------------------------------------------------------------- checks
def float32_warnings(cfg: Config) -> list[str]:
    """Allowed values that float32 cannot hold (they train as inf: the run diverges at once)."""
    big = 3.4e38
    return [f"{k}: {getattr(cfg, k):g} is beyond float32 (±3.4e38) and trains as inf; the run will diverge"
            for k in ("lr", "wd", "eps", "grokfast_lamb", "init_std")
            if isinstance(getattr(cfg, k), float) and abs(getattr(cfg, k)) > big]


def cost_warnings(ests: Sequence[Estimate], cfg: Config) -> list[str]:
    """Warnings for hours of evaluations or gigabytes of checkpoints and metrics (summed over ``ests``)."""
    out = []
    evals, seconds = sum(e.n_evals * e.members for e in ests), sum(e.eval_seconds for e in ests)
    metrics = sum(e.metrics_bytes for e in ests)
    if seconds > WARN_EVAL_S or metrics > WARN_DISK_BYTES:
        out.append(f"eval_every: {cfg.eval_every:,} over {cfg.steps:,} steps is {evals:,} evaluations, ≈ "
                   f"{duration(seconds)} of evaluation alone and ≈ {human(metrics)} of metrics; raise eval_every "
                   "or lower eval_per_decade")
    ckpt = sum(e.checkpoint_bytes for e in ests)
    if ckpt > WARN_DISK_BYTES:
        n = sum(e.n_checkpoints * e.members for e in ests)
        out.append(f"ckpt_per_decade: {cfg.ckpt_per_decade:,} over {cfg.steps:,} steps is {n:,} checkpoints, ≈ "
                   f"{human(ckpt)} on disk; lower ckpt_per_decade")
    return out


def check_members(n: int, what: str = "members") -> None:
    if n > MEMBER_LIMIT:
        raise ConfigError(f"{what}: {n} members is more than the limit of {MEMBER_LIMIT} per ensemble; "
                          "split them (a grid or sweep packs them) or give fewer seeds")


def _warn(messages: list[str]) -> None:
    for m in messages:
        warnings.warn(m, BudgetWarning, stacklevel=3)


def preflight(cfgs: Sequence[Config], *, warn: bool = True) -> Estimate:
    """Every check of an ensemble that runs before anything is built or written (``api.train``'s first
    step): the member limit, names (``config.check_input``), memory; warnings for costly settings."""
    from groklab.config import check_input

    check_members(len(cfgs))
    for c in cfgs:
        check_input(c)
    n_train = max(estimate_rows(c) for c in cfgs)
    est = check_memory(cfgs[0], len(cfgs), n_train)
    if warn:
        _warn(float32_warnings(cfgs[0]) + cost_warnings([est], cfgs[0]))
    return est


def preflight_plan(cfgs: Sequence[Config], max_members: int, *, separate: bool = False) -> list[Estimate]:
    """``preflight`` of a grid's or sweep's points as they will train: same-shape points in ensembles of
    at most ``max_members`` (or, ``separate``, one per core side by side)."""
    from groklab.config import check_input

    for c in cfgs:
        check_input(c)
    groups: dict[str, list[Config]] = {}
    for c in cfgs:
        groups.setdefault(c.shape_key(), []).append(c)
    ests = []
    for group in groups.values():
        n = 1 if separate else min(len(group), max_members)
        check_members(n, "max-members")
        ests.append(check_memory(group[0], n, max(estimate_rows(c) for c in group), members_flag="max-members"))
        if len(group) > n:
            full, rest = divmod(len(group), n)
            ests[-1] = dataclasses.replace(ests[-1], members=len(group),
                                           checkpoint_bytes=ests[-1].checkpoint_bytes * len(group) // n,
                                           metrics_bytes=ests[-1].metrics_bytes * len(group) // n,
                                           eval_seconds=ests[-1].eval_seconds * (full + (rest > 0)))
    big = {m.split(":")[0]: m for c in cfgs for m in float32_warnings(c)}
    _warn(list(big.values()) + cost_warnings(ests, cfgs[0]))
    return ests


__all__ = ["MEMBER_LIMIT", "BudgetWarning", "Estimate", "available_memory", "check_members", "check_memory",
           "cost_warnings", "estimate", "human", "memory_limit", "model_size", "parse_size", "preflight",
           "preflight_plan", "table_shape"]
