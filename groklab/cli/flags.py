"""Config fields as flags, and the flags that turn into configs (seeds, members, per-member values)."""

from __future__ import annotations

import argparse
from dataclasses import fields

from groklab.config import FIELDS, Config, coerce, field_help
from groklab.constraints import shown
from groklab.errors import ConfigError
from groklab.train.budget import MEMBER_LIMIT


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per config field (``--d-model``, ``--wd``...), all optional, parsed as strings."""
    g = p.add_argument_group("config fields (override preset and config file)")
    for f in fields(Config):
        if f.name == "preset":
            continue
        flag = "--" + f.name.replace("_", "-")
        help_ = field_help(f.name).replace("%", "%%")      # argparse formats help with %
        g.add_argument(flag, dest="cfg_" + f.name, metavar=f.name.upper(), default=None, help=help_)


def add_memory_flag(p: argparse.ArgumentParser) -> None:
    """``--max-memory SIZE``: the memory a run may plan to use instead of the machine's available memory."""
    p.add_argument("--max-memory", metavar="SIZE", help="memory the run may use, e.g. 8G or 512M (default: 90%% of "
                   "the memory available now); a run whose estimate is larger is refused before it starts")


def add_backend_flags(g) -> None:
    """``--backend local|ray`` and ``--address HOST:PORT``: where packed ensembles train (`groklab grid`,
    `groklab sweep`, and `groklab train --subsets K --ensemble-size M`)."""
    g.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: this machine (ensembles in this process, separate runs in 1-thread workers); "
                        "ray: one Ray task per packed group")
    g.add_argument("--address", metavar="ADDR", help="with --backend ray: join the cluster at HOST:PORT "
                   "(default: start a local Ray instance and stop it after)")


def config_overrides(args: argparse.Namespace) -> dict:
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}


def parse_int_list(text: str, name: str, limit: int = MEMBER_LIMIT) -> list[int]:
    """'0-31' or '0,1,5' or '3' -> list of ints, at most ``limit`` of them (an ensemble's members)."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            lo, hi = (int(part.split("-", 1)[0]), int(part.split("-", 1)[1])) if "-" in part[1:] else (int(part),) * 2
        except ValueError:
            raise ConfigError(f"{name}: got {shown(text)}; allowed integers >= 0 like 0-31 or 0,1,5, at most "
                              f"{limit} of them") from None
        if hi < lo:
            raise ConfigError(f"{name}: got {shown(part)}; a range runs from low to high, like 0-31")
        if len(out) + hi - lo + 1 > limit:
            raise ConfigError(f"{name}: got {shown(text)}, {len(out) + hi - lo + 1:,} or more values; allowed at "
                              f"most {limit} (the members of one ensemble)")
        out.extend(range(lo, hi + 1))
    if any(v < 0 for v in out):
        raise ConfigError(f"{name}: got {shown(text)}; allowed integers >= 0")
    return out


def _seeds(base: dict, args: argparse.Namespace) -> list[int] | None:
    """--seeds, or --members N counting up from the config's seed."""
    seeds = None
    if args.seeds is not None:
        seeds = parse_int_list(args.seeds, "seeds")
    if args.members is not None:
        try:
            n = int(args.members)
            if n < 1 or n > MEMBER_LIMIT:
                raise ValueError
        except ValueError:
            raise ConfigError(f"members: got {shown(args.members)}; allowed an integer between 1 and {MEMBER_LIMIT} "
                              "(the limit of one ensemble)") from None
        start = int(coerce("seed", base.get("seed", 0)))
        seeds = seeds or list(range(start, start + n))
        if len(seeds) != n:
            raise ConfigError(f"members: {n} members but {len(seeds)} seeds given")
    return seeds


def _varied(specs: list[str]) -> dict[str, list]:
    """--vary FIELD=v1,v2,... (repeatable) -> {field: [coerced values]}."""
    from groklab.config import MEMBER_FIELDS

    allowed = ", ".join(sorted(MEMBER_FIELDS - {"name"}))
    varied: dict[str, list] = {}
    for spec in specs:
        if "=" not in spec:
            raise ConfigError(f"vary: expected FIELD=v1,v2,..., got {spec!r}")
        k, vals = spec.split("=", 1)
        k = k.strip().replace("-", "_")
        if k not in FIELDS:
            raise ConfigError(f"vary: unknown field {k!r}; allowed: {allowed}")
        if k not in MEMBER_FIELDS or k == "name":
            raise ConfigError(f"vary: {k} changes shapes and cannot vary inside one ensemble; allowed: "
                              f"{allowed} (use `groklab grid` or a sweep)")
        items = [v for v in vals.split(",") if v.strip()]
        if not items:
            raise ConfigError(f"vary: {k} needs at least one value")
        varied[k] = [coerce(k, v.strip()) for v in items]
    return varied


def member_configs(base: dict, args: argparse.Namespace) -> list[Config]:
    """The ensemble a `train` command asks for: --seeds/--members, and per-member lists (--vary)."""
    from groklab.config import from_dict

    seeds = _seeds(base, args)
    varied = _varied(args.vary or [])
    lengths = {len(v) for v in varied.values()} | ({len(seeds)} if seeds and varied else set())
    if len(lengths) > 1:
        raise ConfigError("vary: every varied field (and --seeds) needs the same number of values")
    n = lengths.pop() if lengths else (len(seeds) if seeds else 1)
    if n > MEMBER_LIMIT:
        raise ConfigError(f"vary: {n:,} values make {n:,} members; allowed at most {MEMBER_LIMIT} (the limit of one "
                          "ensemble; a grid or sweep packs more)")
    out = []
    for i in range(n):
        d = dict(base)
        if seeds:
            d["seed"] = seeds[i]
        for k, vals in varied.items():
            d[k] = vals[i]
        out.append(from_dict(d))
    return out
