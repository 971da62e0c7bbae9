"""`groklab grid`, `groklab sweep FILE` and `groklab sweeps`: phase diagrams and sweeps.

Both training commands make a ``groklab.sweep.Plan`` and hand it to one engine
(``groklab.sweep.run_sweep``): every point is written to the store first, groups of points train as
batched ensembles (or side by side, by the measured cost model), locally or on Ray, and each point
is marked done as its group finishes, so ``--resume`` after a kill trains only what is missing.
"""

from __future__ import annotations

import argparse
import sys

from groklab.cli.flags import add_backend_flags, add_config_flags, add_memory_flag, config_overrides, parse_int_list
from groklab.cli.output import SweepProgress, fmt, print_json, safe
from groklab.cli.signals import sigterm_interrupts
from groklab.cli.trackers import add_tracker_flags, check_tracker_flags, export_to_trackers
from groklab.errors import ConfigError

_GRID_EPILOG = """axes: FIELD=a:b:n (n evenly spaced values, a and b included), FIELD=log:a:b:n (geometric),
or FIELD=v1,v2,... Any config field. Points are the cartesian product of the axes, times the seeds.

examples:
  groklab grid --preset gromov2023 --p 31 --x frac=0.2:0.8:7 --y wd=log:0.1:10:5 --seeds 0-1
  groklab grid --resume SWEEP_ID          # train the points a killed grid had not finished"""

_SWEEP_EPILOG = """a sweep file (TOML):
  name = "frac-wd"            # default: the file's name; re-running it needs --resume
  preset = "gromov2023"       # optional, as --preset
  budget = 300                # optional: steps per point
  seeds = [0, 1]
  [base]                      # config fields shared by every point
  p = 31
  [grid]                      # axes: a list, "a:b:n", "log:a:b:n" or "v1,v2"
  frac = [0.3, 0.5, 0.7]
  wd = "log:0.1:10:3"
  [random]                    # optional: n random draws of these fields (times the grid)
  n = 4
  seed = 0
  lr = { log_uniform = [1e-3, 1e-2] }
  init_scale = { uniform = [0.5, 2.0] }   # or { choice = [...] }"""


def points_table(rows: list[dict], axes: list[str]) -> str:
    """The points of a sweep: coordinates, seed, phase, t_mem, t_gen, delay, final test accuracy."""
    cols = ["point", *axes, "seed", "phase", "t_mem", "t_gen", "delay", "test acc", "run"]
    cells = [[str(r["point"]), *(fmt(r["coords"].get(a)) for a in axes), fmt(r["seed"]),
              fmt(r["phase"]) if r["status"] == "done" else r["status"], fmt(r["t_mem"]), fmt(r["t_gen"]),
              fmt(r["delay"]), fmt(r["test_acc"]), r["run_id"] or "—"] for r in rows]
    width = [max(len(c), *(len(x[i]) for x in cells)) if cells else len(c) for i, c in enumerate(cols)]
    left = {"phase", "run"}
    line = lambda xs: "  ".join(x.ljust(w) if c in left else x.rjust(w) for x, w, c in zip(xs, width, cols))  # noqa: E731
    return "\n".join([line(cols), *map(line, cells)])


def _run_and_report(args: argparse.Namespace, store, sweep_id: str) -> int:
    from groklab.sweep import axis_fields, run_sweep, sweep_rows

    sw = store.get_sweep(sweep_id)
    if not args.quiet:
        print(f"sweep {sw['sweep_id']} ({safe(sw['name'])}): {sw['n_points']} points", file=sys.stderr)
    with sigterm_interrupts():
        run_sweep(store, sweep_id, backend=args.backend, address=args.address, pack_mode=args.pack,
                  max_members=args.max_members, progress=SweepProgress(not args.quiet))
    rows = sweep_rows(store, sweep_id)
    export_to_trackers(args, store, [r["run_id"] for r in rows if r["run_id"]], experiment=sw["name"] or sweep_id)
    if args.json:
        print_json({"sweep_id": sw["sweep_id"], "name": sw["name"], "points": rows})
        return 0
    print(points_table(rows, axis_fields(sw["spec"])))
    done = sum(r["status"] == "done" for r in rows)
    print(f"sweep {sw['sweep_id']} ({safe(sw['name'])}): {done}/{len(rows)} points done; store {safe(store.root)}")
    return 0


def _check_run_flags(args: argparse.Namespace) -> None:
    from groklab.sweep import check_backend
    from groklab.train.budget import MEMBER_LIMIT

    if not 1 <= args.max_members <= MEMBER_LIMIT:
        raise ConfigError(f"max-members: got {args.max_members}; allowed an integer in [1, {MEMBER_LIMIT}] (members "
                          "of one ensemble)")
    check_backend(args.backend, args.address)
    check_tracker_flags(args)


def _preflight(args: argparse.Namespace, configs: list[dict]) -> None:
    """Names, ensemble sizes and the memory estimate of the points as they will train, before any is written."""
    from groklab.config import from_dict
    from groklab.train.budget import preflight_plan

    if configs:
        preflight_plan([from_dict(c) for c in configs], args.max_members, separate=args.pack == "separate")


def cmd_grid(args: argparse.Namespace) -> int:
    from groklab.store import Store
    from groklab.sweep import make_plan, parse_axis

    axes = dict(parse_axis(a, flag) for a, flag in ((args.x, "--x"), (args.y, "--y")) if a)
    if args.x and args.y and len(axes) == 1:
        raise ConfigError(f"--y: {next(iter(axes))} is already the x axis; choose another field")
    plan = None
    if axes or not args.resume:
        if not args.x:
            raise ConfigError("--x: required: an axis FIELD=a:b:n, FIELD=log:a:b:n or FIELD=v1,v2,...")
        seeds = parse_int_list(args.seeds, "seeds") if args.seeds else None
        name = (f"{args.preset}: " if args.preset else "") + " × ".join(axes)
        plan = make_plan(name, preset=args.preset, base=config_overrides(args), grid=axes, seeds=seeds, where="grid")
    elif args.preset or args.seeds or config_overrides(args):
        raise ConfigError("resume: a resumed grid keeps its own config; give --resume alone, or with the same --x/--y")
    _check_run_flags(args)
    if args.resume:
        store = Store(args.store, create=False)
        sw = store.get_sweep(args.resume)
        if plan is not None and sw["spec"].get("spec_hash") != plan.spec["spec_hash"]:
            raise ConfigError(f"resume: sweep {sw['sweep_id']} was made from other axes or config; "
                              "give --resume alone to continue it as it was")
        sweep_id = sw["sweep_id"]
        _preflight(args, [p["config"] for p in store.sweep_points(sweep_id) if p["status"] != "done"])
    else:
        _preflight(args, plan.configs)
        store = Store(args.store)
        sweep_id = store.create_sweep(plan.name, plan.kind, plan.spec, plan.configs)
    return _run_and_report(args, store, sweep_id)


def cmd_sweep(args: argparse.Namespace) -> int:
    from groklab.config import read_toml

    read_toml(args.file, "sweep file")      # a file too large or not TOML fails here, before JAX is imported
    from groklab.store import Store
    from groklab.sweep import load_sweep_file, start

    plan = load_sweep_file(args.file)
    _check_run_flags(args)
    _preflight(args, plan.configs)
    store = Store(args.store)
    sweep_id, resumed = start(store, plan, resume=args.resume)
    if resumed and not args.quiet:
        print(f"resuming sweep {sweep_id} ({safe(plan.name)})", file=sys.stderr)
    return _run_and_report(args, store, sweep_id)


def cmd_sweeps(args: argparse.Namespace) -> int:
    from groklab.store import Store

    rows = Store(args.store, create=False).list_sweeps()
    keys = ("sweep_id", "name", "kind", "status", "n_points", "n_done", "created")
    if args.json:
        print_json({"sweeps": [{k: r[k] for k in keys} for r in rows]})
        return 0
    print(f"{'sweep':<16} {'name':<32} {'kind':<7} {'done':>11} {'status':<11} created")
    for r in rows:
        done = f"{r['n_done']}/{r['n_points']}"
        print(f"{r['sweep_id']:<16} {safe(r['name'] or '')[:32]:<32} {r['kind']:<7} {done:>11} {r['status']:<11} "
              f"{r['created']}")
    if not rows:
        print("(no sweeps yet: try `groklab grid --preset gromov2023 --x frac=0.2:0.8:4 --y wd=0,1,5`)")
    return 0


def _run_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where and how points train")
    add_backend_flags(g)
    g.add_argument("--pack", choices=("auto", "ensemble", "separate"), default="auto",
                   help="auto: batch a group of same-shape points when a measured step of the ensemble costs "
                        "less per member than one model alone (cached per shape in the store); ensemble / "
                        "separate: always / never batch")
    g.add_argument("--max-members", type=int, default=64, metavar="N", help="largest ensemble (default 64)")
    add_memory_flag(g)
    g.add_argument("--quiet", action="store_true", help="no progress line")
    add_tracker_flags(p)


def register(subparsers, common: argparse.ArgumentParser) -> None:
    g = subparsers.add_parser("grid", parents=[common], help="train a grid of configs: a phase diagram",
                              description="Train every point of a 1-D or 2-D grid over config fields (times seeds), "
                              "packed into batched ensembles; print phase, t_mem, t_gen, delay and test accuracy "
                              "per point.", epilog=_GRID_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("--x", metavar="FIELD=SPEC", help="first axis, e.g. frac=0.1:0.9:9")
    g.add_argument("--y", metavar="FIELD=SPEC", help="second axis, e.g. wd=0,0.1,0.3,1,3")
    g.add_argument("--preset", help="a published recipe every point starts from (see `groklab presets`)")
    g.add_argument("--seeds", help="seeds of every point, e.g. 0-2 or 0,5")
    g.add_argument("--resume", metavar="SWEEP", help="continue a stopped grid: train its points not done")
    _run_flags(g)
    add_config_flags(g)
    g.set_defaults(func=cmd_grid)

    s = subparsers.add_parser("sweep", parents=[common], help="train the points of a sweep file (TOML)",
                              description="Train every point of a sweep file: grid axes, random axes and seeds over "
                              "a preset and base config.", epilog=_SWEEP_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("file", help="the sweep file (TOML)")
    s.add_argument("--resume", action="store_true",
                   help="continue the sweep of this name and file: train only the points not done")
    _run_flags(s)
    s.set_defaults(func=cmd_sweep)

    ls = subparsers.add_parser("sweeps", parents=[common], help="list the sweeps in the store")
    ls.set_defaults(func=cmd_sweeps)
