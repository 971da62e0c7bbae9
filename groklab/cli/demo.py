"""`groklab demo`: train a model that visibly groks, print its summary, write its report."""

from __future__ import annotations

import argparse
import sys

from groklab.cli.flags import add_config_flags, config_overrides
from groklab.cli.output import TrainProgress, safe, summary_table


def cmd_demo(args: argparse.Namespace) -> int:
    from groklab import api
    from groklab.config import from_dict
    from groklab.presets import preset_values
    from groklab.report.writers import write_run_report
    from groklab.store import Store

    cfg = {**preset_values(args.preset), **config_overrides(args)}
    print(f"groklab demo: training preset {args.preset} ({cfg['task']} mod {cfg['p']}, {cfg['model']}, "
          f"{cfg['steps']} steps) ...", file=sys.stderr)
    res = api.train([from_dict(cfg)], store=args.store, progress=TrainProgress(True))
    s = res.summaries[0]
    print(summary_table(res.summaries))
    from groklab.measure.labels import outcome_line

    print(f"memorized at step {s['t_mem']}, generalized at step {s['t_gen']}: "
          f"{outcome_line(s, cfg.get('phase_threshold') or 0.9)}")
    st = Store(args.store)
    if not args.no_report:
        print(f"report: {write_run_report(st, s['run_id'])}")
    print(f"store: {safe(st.root)}  (groklab show {s['run_id']} --store {safe(st.root)})")
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    d = subparsers.add_parser("demo", parents=[common], help="train a model that visibly groks and report on it")
    d.add_argument("--preset", default="demo")
    d.add_argument("--no-report", action="store_true")
    add_config_flags(d)
    d.set_defaults(func=cmd_demo)
