"""`groklab report RUN|SWEEP [--out FILE] [--png DIR] [--json]`: write a self-contained HTML report
(``groklab.report.writers``) and print its path (with ``--json``: ``{"path", "pngs", ...}``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from groklab.cli.output import print_json, safe
from groklab.errors import ConfigError


def cmd_report(args: argparse.Namespace) -> int:
    from groklab.report.writers import report_kind, run_report_files, sweep_report_files
    from groklab.store import Store

    store = Store(args.store, create=False)
    kind = report_kind(store, args.ref)
    if kind == "run" and (args.x or args.y):
        raise ConfigError(f"report: --x/--y choose the axes of a sweep report; {args.ref!r} is a run")
    t0 = time.perf_counter()
    if kind == "run":
        path, pngs = run_report_files(store, args.ref, args.out, args.png)
        runs: list[Path] = []
    else:
        path, pngs, runs = sweep_report_files(store, args.ref, args.out, args.png, args.x, args.y)
    seconds = time.perf_counter() - t0
    size = path.stat().st_size
    if args.json:
        print_json({"path": str(path), "pngs": [str(p) for p in pngs], "kind": kind, "bytes": size,
                    "seconds": round(seconds, 3), "run_reports": [str(p) for p in runs]})
        return 0
    print(safe(path))
    for p in pngs:
        print(safe(p))
    extra = f", {len(runs)} run report(s) written for its cells" if runs else ""
    print(f"groklab: {kind} report, {size / 1e6:.2f} MB in {seconds:.1f} s{extra}", file=sys.stderr)
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    r = subparsers.add_parser(
        "report", parents=[common], help="write the HTML report of a run or a sweep",
        description="Write one self-contained HTML file (every chart drawn from data inside it; opens offline) "
        "and print its path. A run's report: training curves, weight norm, progress measures, Fourier spectrum "
        "with a checkpoint slider, clock, neurons, verdict. A sweep's: phase diagram and grokking delay, each "
        "cell linking to a run report (missing ones are written too).")
    r.add_argument("ref", metavar="RUN|SWEEP", help="run id, id prefix or name; or sweep id or name")
    r.add_argument("--out", metavar="FILE", help="write the report here (default <store>/runs/<run-id>/report.html "
                   "or <store>/sweeps/<sweep-id>/report.html)")
    r.add_argument("--png", metavar="DIR", help="also write every figure as a PNG into DIR")
    r.add_argument("--x", metavar="FIELD", help="sweep only: the field across (default: the sweep's first axis)")
    r.add_argument("--y", metavar="FIELD", help="sweep only: the field down (default: the sweep's second axis)")
    r.set_defaults(func=cmd_report)
