"""`groklab reproduce NAME [--smoke]`, `groklab reproduce --list` and `groklab results`.

``reproduce`` trains one published experiment into the store as a sweep (kind ``reproduce``), writes
its report and prints our numbers beside the published ones; ``results`` regenerates docs/results.md
from every reproduction in the store (see ``groklab.reproduce`` and ``groklab.results``).
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from groklab.cli.output import SweepProgress, print_json
from groklab.cli.signals import sigterm_interrupts
from groklab.errors import ConfigError


def rows_table(rows: list[dict]) -> str:
    """Quantity, published, ours and agreement, one line each; details and explanations indented below."""
    agree = {True: "yes", False: "NO", None: "—"}
    cols = ["quantity", "published", "ours", "agrees"]
    verdicts = [r.get("verdict") or agree[r["agree"]] for r in rows]      # yes / no / undecided (budget N) / —
    cells = [[r["quantity"], r["published_text"], r["ours_text"], "NO" if v == "no" else v]
             for r, v in zip(rows, verdicts)]
    width = [max(len(c), *(len(x[i]) for x in cells)) if cells else len(c) for i, c in enumerate(cols)]
    width[0] = min(width[0], 72)
    fmt = lambda xs: "  ".join(x[:w].ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(xs, width)))  # noqa: E731
    lines = [fmt(cols)]
    for r, c in zip(rows, cells):
        lines.append(fmt(c))
        if len(r["quantity"]) > width[0]:
            lines.append("    " + r["quantity"])
        for label, text in (("measured", r["detail"]), ("why", r["why"])):
            if text:
                lines += textwrap.wrap(f"{label}: {text}", 110, initial_indent="    ", subsequent_indent="      ")
    return "\n".join(lines)


def _list(args: argparse.Namespace) -> int:
    from groklab import reproduce

    if args.name or args.smoke or args.resume:
        raise ConfigError("list: --list takes no NAME, --smoke or --resume")
    items = reproduce.describe()
    if args.json:
        print_json({"experiments": items})
        return 0
    for e in items:
        print(f"{e['name']:<20} {e['title']} ({e['cite'].split(':')[0]})")
        print(textwrap.fill(f"claim: {e['claim']}", 110, initial_indent=" " * 21, subsequent_indent=" " * 23))
        print(textwrap.fill(f"full: {e['plan']}", 110, initial_indent=" " * 21, subsequent_indent=" " * 23))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from groklab import reproduce
    from groklab.results import duration, run_kind
    from groklab.store import Store

    if args.list:
        return _list(args)
    if not args.name:
        raise ConfigError(f"reproduce: give an experiment NAME or --list; allowed: {', '.join(reproduce.EXPERIMENTS)}")
    exp = reproduce.get(args.name)          # an unknown name fails before the store is touched
    store = Store(args.store, create=not args.resume)
    if not args.quiet:
        print(f"groklab reproduce {exp.name}{' (smoke)' if args.smoke else ''}: {exp.title}", file=sys.stderr)
    with sigterm_interrupts():
        res = reproduce.reproduce(store, exp.name, smoke=args.smoke, resume=args.resume,
                                  progress=SweepProgress(not args.quiet), report=not args.no_report)
    if args.json:
        print_json(res)
        return 0
    print(f"{res['name']} ({run_kind(res)}): {res['cite']}")
    print(f"claim: {res['claim']}")
    print(rows_table(res["rows"]))
    for rule in res.get("rules", []):
        print(textwrap.fill(rule, 110, initial_indent="rule: ", subsequent_indent="  "))
    if res["departures"]:
        print(textwrap.fill("setup departures from the paper: " + "; ".join(res["departures"]), 110,
                            subsequent_indent="  "))
    print(f"sweep {res['sweep_id']}, wall time {duration(res['wall_s'])}; store {store.root}"
          + (f"; report {res['report']}" if res["report"] else ""))
    print("docs: `groklab results --store " + str(store.root) + "` regenerates docs/results.md")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from groklab import results
    from groklab.store import Store

    stores = [Store(args.store, create=False)] + [Store(extra, create=False) for extra in args.also_store or []]
    path, shown, kept = results.write(stores, args.out if args.out is not None else str(results.DEFAULT_OUT),
                                      keep=not args.only_stores)
    if args.json:
        print_json({"path": str(path), "experiments": shown, "kept": kept})
        return 0
    for r in shown:
        print(f"{r['name']:<20} {results.run_kind(r):<12} {results.duration(r['wall_s']):>9}  "
              f"{results.tally(r['rows'])}")
    for n in kept:
        print(f"{n:<20} kept from the page (its store was not read)")
    print(path)
    return 0


def _epilog() -> str:
    from groklab.reproduce import EXPERIMENTS  # imports JAX: only when the help is shown

    return ("experiments: " + ", ".join(EXPERIMENTS) + "\n\nexamples:\n  groklab reproduce --list\n"
            "  groklab reproduce doshi2023 --smoke\n  groklab reproduce nanda2023-fraction --store runs\n"
            "  groklab results --store runs          # regenerate docs/results.md")


def register(subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "reproduce", parents=[common], help="reproduce a published result and print ours beside theirs",
        description="Train one published experiment into the store as a sweep (kind reproduce), write its report, "
                    "and print our numbers beside the published ones. Each full version is sized for about 15 "
                    "minutes on 2 quiet cores (its budget cuts are shown beside the numbers); --smoke runs tiny "
                    "models through the same path in under a minute.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.epilog_fn = _epilog
    p.add_argument("name", nargs="?", metavar="NAME", help="the experiment (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments, their claims and full budgets")
    p.add_argument("--smoke", action="store_true", help="tiny models, same path: for CI (under a minute)")
    p.add_argument("--resume", action="store_true", help="continue the newest unfinished run of this experiment")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=cmd_reproduce)

    r = subparsers.add_parser(
        "results", parents=[common], help="regenerate docs/results.md from the reproductions in the store",
        description="Write the results page: for each reproduction in the store (the newest full run, else the "
                    "newest smoke run, marked as such) the published value and its source, ours, the command, "
                    "the wall time, and the measured facts where ours differs. Every number comes from the store "
                    "or from the published constants in groklab/reproduce.py.")
    r.add_argument("--out", metavar="FILE", default=None, help="the page to write (default docs/results.md)")
    r.add_argument("--also-store", metavar="DIR", action="append", default=None,
                   help="another store to read reproductions from (repeatable); each experiment shows the "
                        "completed full run, else smoke, else unfinished, newest first, across all stores")
    r.add_argument("--only-stores", action="store_true",
                   help="drop the experiments no store holds instead of keeping their rows and sections from the "
                        "page being rewritten (the default keeps them: a lost store does not erase its results)")
    r.set_defaults(func=cmd_results)
