"""The `groklab` command line: a thin layer over the Python API.

Every user error (bad flag, config or sweep file, store path, run id) prints one line naming
what is wrong and what is allowed, and exits with code 2, never a traceback. An internal error
prints a short message and the path of a log file holding the full traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import fields
from pathlib import Path

from groklab.config import FIELDS, Config, coerce
from groklab.errors import ConfigError, GroklabError

# Subcommands living in other modules register themselves here: name -> "module:function" where
# function(subparsers, common_parent) adds the parser and sets `func`.
EXTENSIONS = [
    "groklab.commands.analysis:register",
    "groklab.commands.report:register",
    "groklab.commands.sweep:register",
    "groklab.commands.bench:register",
    "groklab.commands.reproduce:register",
    "groklab.commands.check:register",
]


class UsageError(GroklabError):
    """A command-line usage error (unknown flag, missing argument)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit 2 itself
        raise UsageError(f"{self.prog.split()[-1]}: {message}")


# ---------------------------------------------------------------------------------------------- output
def _fmt(v, nd=4) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{nd}g}"
    return str(v)


def print_json(obj) -> None:
    from groklab.store.catalog import dumps

    sys.stdout.write(dumps(obj) + "\n")


class Progress:
    """One live line: step, train/test accuracy and loss, steps/s, time left (stderr, if a TTY or forced)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, ev: dict) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        done = ev["step"] >= ev["steps"]
        if not done and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        m = ev["metrics"]
        alive = m["_alive"]
        pick = lambda k: float(m[k][alive].mean()) if alive.any() else float("nan")  # noqa: E731
        rate = ev["step"] / ev["elapsed"] if ev["elapsed"] > 0 else 0.0
        speed = f"{rate:,.0f} steps/s  {(ev['steps'] - ev['step']) / rate:,.0f}s left" if rate > 0 else "starting"
        who = f"{ev['n']} members, mean " if ev["n"] > 1 else ""
        line = (f"step {ev['step']:>7}/{ev['steps']}  {who}train acc {pick('train_acc'):.3f} loss "
                f"{pick('train_loss'):.3g}  test acc {pick('test_acc'):.3f} loss {pick('test_loss'):.3g}  {speed}")
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + line + ("\n" if done else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def summary_table(summaries: list[dict]) -> str:
    head = f"{'run':<16} {'task':<10} {'seed':>4} {'train acc':>9} {'test acc':>8} {'t_mem':>7} {'t_gen':>7} " \
           f"{'phase':<13} {'wall s':>7}"
    lines = [head]
    for s in summaries:
        f = s.get("final") or {}
        lines.append(f"{s['run_id']:<16} {str(s['task'])[:10]:<10} {s['seed']:>4} {_fmt(f.get('train_acc')):>9} "
                     f"{_fmt(f.get('test_acc')):>8} {_fmt(s.get('t_mem')):>7} {_fmt(s.get('t_gen')):>7} "
                     f"{_fmt(s.get('phase')):<13} {_fmt(s.get('wall_s')):>7}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- config flags
def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per config field (``--d-model``, ``--wd``...), all optional, parsed as strings."""
    g = p.add_argument_group("config fields (override preset and config file)")
    for f in fields(Config):
        if f.name == "preset":
            continue
        flag = "--" + f.name.replace("_", "-")
        choices = f.metadata.get("choices")
        help_ = f"default {f.default!r}" + (f"; one of {', '.join(choices)}" if choices else "")
        g.add_argument(flag, dest="cfg_" + f.name, metavar=f.name.upper(), default=None, help=help_)


def config_overrides(args: argparse.Namespace) -> dict:
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}


def parse_int_list(text: str, name: str) -> list[int]:
    """'0-31' or '0,1,5' or '3' -> list of ints."""
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo or hi - lo > 4096:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise ConfigError(f"{name}: expected integers like 0-31 or 0,1,5, got {text!r}") from None
    if any(v < 0 for v in out):
        raise ConfigError(f"{name}: must be >= 0, got {text!r}")
    return out


def member_configs(base: dict, args: argparse.Namespace) -> list[Config]:
    """The ensemble a `train` command asks for: --seeds/--members, and per-member lists (--vary)."""
    from groklab.config import MEMBER_FIELDS, from_dict

    seeds = None
    if args.seeds is not None:
        seeds = parse_int_list(args.seeds, "seeds")
    if args.members is not None:
        try:
            n = int(args.members)
            if n < 1 or n > 4096:
                raise ValueError
        except ValueError:
            raise ConfigError(f"members: must be an integer between 1 and 4096, got {args.members!r}") from None
        start = int(coerce("seed", base.get("seed", 0)))
        seeds = seeds or list(range(start, start + n))
        if len(seeds) != n:
            raise ConfigError(f"members: {n} members but {len(seeds)} seeds given")
    varied: dict[str, list] = {}
    for spec in args.vary or []:
        if "=" not in spec:
            raise ConfigError(f"vary: expected FIELD=v1,v2,..., got {spec!r}")
        k, vals = spec.split("=", 1)
        k = k.strip().replace("-", "_")
        if k not in FIELDS:
            raise ConfigError(f"vary: unknown field {k!r}; allowed: {', '.join(sorted(MEMBER_FIELDS - {'name'}))}")
        if k not in MEMBER_FIELDS or k == "name":
            raise ConfigError(f"vary: {k} changes shapes and cannot vary inside one ensemble; allowed: "
                              f"{', '.join(sorted(MEMBER_FIELDS - {'name'}))} (use `groklab grid` or a sweep)")
        items = [v for v in vals.split(",") if v.strip()]
        if not items:
            raise ConfigError(f"vary: {k} needs at least one value")
        varied[k] = [coerce(k, v.strip()) for v in items]
    lengths = {len(v) for v in varied.values()} | ({len(seeds)} if seeds and varied else set())
    if len(lengths) > 1:
        raise ConfigError("vary: every varied field (and --seeds) needs the same number of values")
    n = lengths.pop() if lengths else (len(seeds) if seeds else 1)
    out = []
    for i in range(n):
        d = dict(base)
        if seeds:
            d["seed"] = seeds[i]
        for k, vals in varied.items():
            d[k] = vals[i]
        out.append(from_dict(d))
    return out


# ---------------------------------------------------------------------------------------------- commands
@contextlib.contextmanager
def sigterm_interrupts():
    """While training, SIGTERM stops the run like Ctrl-C: it is recorded 'interrupted'."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:     # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def cmd_train(args) -> int:
    from groklab import api
    from groklab.config import load_toml
    from groklab.presets import preset_values
    from groklab.trackers import attach_trackers, check_trackers

    check_trackers(args)
    if args.resume is not None:
        given = [f for f, v in (("--preset", args.preset), ("--config", args.config), ("--seeds", args.seeds),
                                ("--members", args.members), ("--vary", args.vary)) if v]
        given += ["--" + k.replace("_", "-") for k in config_overrides(args)]
        if given:
            raise ConfigError(f"resume: {given[0]} cannot be combined with --resume (a resumed run keeps its "
                              "config); allowed with --resume: --store, --quiet, --json")
        with sigterm_interrupts():
            res = api.resume(args.resume, store=args.store, progress=Progress(not args.quiet))
    else:
        base: dict = {}
        if args.preset:
            base.update(preset_values(args.preset))
        if args.config:
            base.update(load_toml(args.config))
        base.update(config_overrides(args))
        cfgs = member_configs(base, args)
        with sigterm_interrupts():
            res = api.train(cfgs, store=args.store, progress=Progress(not args.quiet))
    from groklab.store import Store
    attach_trackers(args, Store(args.store), res.run_ids)
    if args.json:
        print_json({"runs": res.summaries})
    else:
        print(summary_table(res.summaries))
        from groklab.store import Store
        root = Store(args.store).root
        print(f"store: {root}  (groklab show {res.run_ids[0]} --store {root})")
    bad = [s for s in res.summaries if s["status"] == "diverged"]
    for s in bad:
        print(f"groklab: run {s['run_id']} diverged: {s['message']}", file=sys.stderr)
    return 0


def cmd_runs(args) -> int:
    from groklab.store import Store

    st = Store(args.store, create=False)
    rows = st.list_runs(limit=args.limit)
    if args.json:
        print_json({"runs": [{k: r[k] for k in ("run_id", "name", "status", "task", "seed", "created", "step",
                                                  "wall_s", "sweep_id", "group_id")} | {"summary": r["summary"]}
                             for r in rows]})
        return 0
    print(f"{'run':<16} {'name':<20} {'status':<11} {'task':<12} {'seed':>4} {'step':>8} {'test acc':>8} "
          f"{'phase':<13} created")
    for r in rows:
        s = r["summary"] or {}
        fin = s.get("final") or {}
        print(f"{r['run_id']:<16} {str(r['name'] or '')[:20]:<20} {r['status']:<11} {r['task'][:12]:<12} "
              f"{r['seed']:>4} {r['step']:>8} {_fmt(fin.get('test_acc')):>8} {_fmt(s.get('phase')):<13} {r['created']}")
    if not rows:
        print("(no runs yet: try `groklab demo`)")
    return 0


def cmd_show(args) -> int:
    from groklab.api import summarize
    from groklab.config import from_dict
    from groklab.store import Store

    st = Store(args.store, create=False)
    r = st.get_run(args.run)
    s = r["summary"]
    if s is None:   # still running or interrupted: summarise what is stored so far
        s = summarize(from_dict(r["config"]), r["run_id"], st.metrics(r["run_id"]), r["status"], r["wall_s"])
    s = {**s, "status": r["status"]}
    if args.json:
        print_json(s)
        return 0
    print(f"run {r['run_id']}  {r['name'] or ''}  [{r['status']}]")
    print(f"  task {r['task']}  seed {r['seed']}  model {r['config']['model']}  preset {r['config'].get('preset')}")
    print(f"  created {r['created']}  code {r['code_version']}  machine {r['machine']}")
    fin = s.get("final") or {}
    print(f"  steps {s.get('steps')}  wall {_fmt(s.get('wall_s'))} s")
    print(f"  final: train acc {_fmt(fin.get('train_acc'))} loss {_fmt(fin.get('train_loss'))}  "
          f"test acc {_fmt(fin.get('test_acc'))} loss {_fmt(fin.get('test_loss'))}")
    print(f"  t_mem {_fmt(s.get('t_mem'))}  t_gen {_fmt(s.get('t_gen'))}  delay {_fmt(s.get('delay'))}  "
          f"phase {_fmt(s.get('phase'))}  PAIR class {_fmt(s.get('pair_class'))}")
    if s.get("leakage"):
        lk = s["leakage"]
        print(f"  membership inference: final AUC {_fmt(lk['final_auc'])}  max AUC {_fmt(lk['max_auc'])} "
              f"at step {lk['step_max_auc']}  TPR@1%FPR {_fmt(lk['final_tpr1'])}")
    if s.get("noise"):
        nz = s["noise"]
        print(f"  label noise {nz['fraction']}: clean {_fmt(nz['clean_acc'])}  memorized {_fmt(nz['memorized_acc'])}"
              f"  inverted {_fmt(nz['inverted_acc'])}  phase {nz['phase']}")
    if r.get("message"):
        print(f"  note: {r['message']}")
    return 0


def cmd_tasks(args) -> int:
    from groklab.tasks import list_tasks

    rows = list_tasks()
    if args.json:
        print_json({"tasks": rows})
        return 0
    for t in rows:
        print(f"{t['task']:<26} {t['description']}  [{', '.join(t['params'])}]")
    return 0


def cmd_presets(args) -> int:
    from groklab.presets import PRESETS

    if args.json:
        print_json({"presets": PRESETS})
        return 0
    for k, v in PRESETS.items():
        print(f"{k:<20} {v['description']}\n{'':<20} ({v['cite']}; {v['note']})")
    return 0


def cmd_demo(args) -> int:
    """Train the demo (a model that visibly groks), print its summary, write its report."""
    from groklab import api
    from groklab.presets import preset_values

    cfg = {**preset_values(args.preset), **config_overrides(args)}
    print(f"groklab demo: training preset {args.preset} ({cfg['task']} mod {cfg['p']}, {cfg['model']}, "
          f"{cfg['steps']} steps) ...", file=sys.stderr)
    res = api.train([__import__("groklab.config", fromlist=["from_dict"]).from_dict(cfg)], store=args.store,
                    progress=Progress(True))
    s = res.summaries[0]
    print(summary_table(res.summaries))
    ratio = (s["t_gen"] / s["t_mem"]) if s.get("t_gen") and s.get("t_mem") else None
    print(f"memorized at step {s['t_mem']}, generalized at step {s['t_gen']}"
          + (f" ({ratio:.1f}x later): it grokked" if ratio and ratio >= 2 else ""))
    from groklab.store import Store
    st = Store(args.store)
    try:
        from groklab.commands.report import write_run_report
    except ModuleNotFoundError:
        write_run_report = None
    if write_run_report is not None and not args.no_report:
        path = write_run_report(st, s["run_id"])
        print(f"report: {path}")
    print(f"store: {st.root}  (groklab show {s['run_id']} --store {st.root})")
    return 0


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> Parser:
    from groklab.trackers import add_tracker_flags

    common = Parser(add_help=False)
    common.add_argument("--store", default=None, help="run store directory (default $GROKLAB_HOME or ./groklab-runs)")
    common.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p = Parser(prog="groklab", description="Does this network memorize, or does it generalize, and why? "
               "Train grokking recipes, measure and explain what they learned.")
    p.add_argument("--version", action="version", version=__import__("groklab").__version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    t = sub.add_parser("train", parents=[common], help="train a run (or a batched ensemble of runs)",
                       description="Train from a preset, a TOML config file and/or flags (later ones override).")
    t.add_argument("--preset", help="a published recipe (see `groklab presets`)")
    t.add_argument("--config", help="TOML file of config fields")
    t.add_argument("--seeds", help="ensemble members' seeds, e.g. 0-31 or 0,3,7")
    t.add_argument("--members", help="number of ensemble members (seeds seed..seed+N-1)")
    t.add_argument("--vary", action="append", metavar="FIELD=V1,V2,..",
                   help="per-member values of a shape-keeping field (lr, wd, init_scale, frac, noise, seed...)")
    t.add_argument("--resume", metavar="RUN", help="continue a stopped run from its newest checkpoint")
    t.add_argument("--quiet", action="store_true", help="no progress line")
    add_config_flags(t)
    add_tracker_flags(t)
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("runs", parents=[common], help="list the runs in the store")
    r.add_argument("--limit", type=int, default=50)
    r.set_defaults(func=cmd_runs)
    s = sub.add_parser("show", parents=[common], help="one run's summary")
    s.add_argument("run", help="run id, id prefix or name")
    s.set_defaults(func=cmd_show)
    k = sub.add_parser("tasks", parents=[common], help="list every task with its parameters")
    k.set_defaults(func=cmd_tasks)
    k = sub.add_parser("presets", parents=[common], help="list the published recipes")
    k.set_defaults(func=cmd_presets)
    d = sub.add_parser("demo", parents=[common], help="train a model that visibly groks and report on it")
    d.add_argument("--preset", default="demo")
    d.add_argument("--no-report", action="store_true")
    add_config_flags(d)
    d.set_defaults(func=cmd_demo)

    import importlib
    for ext in EXTENSIONS:
        mod, fn = ext.split(":")
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name and mod.startswith(e.name):
                continue
            raise
        getattr(m, fn)(sub, common)
    return p


def _log_internal(exc: BaseException) -> Path:
    d = Path(tempfile.gettempdir()) / "groklab-logs"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text("".join(traceback.format_exception(exc)))
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except GroklabError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"groklab: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("groklab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal error: short message, full traceback in a log file
        path = _log_internal(e)
        print(f"groklab: internal error: {type(e).__name__}: {str(e)[:200]} (full traceback: {path})",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
