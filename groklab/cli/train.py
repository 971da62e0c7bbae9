"""`groklab train`: one run or a batched ensemble, from a preset, a TOML file and flags."""

from __future__ import annotations

import argparse
import sys

from groklab.cli.flags import add_config_flags, add_memory_flag, config_overrides, member_configs
from groklab.cli.output import TrainProgress, print_json, safe, summary_table
from groklab.cli.show import to_gen_text
from groklab.cli.signals import sigterm_interrupts
from groklab.cli.trackers import add_tracker_flags, check_tracker_flags, export_to_trackers
from groklab.errors import ConfigError


def _check_resume_alone(args: argparse.Namespace) -> None:
    given = [f for f, v in (("--preset", args.preset), ("--config", args.config), ("--seeds", args.seeds),
                            ("--members", args.members), ("--vary", args.vary)) if v]
    given += ["--" + k.replace("_", "-") for k in config_overrides(args)]
    if given:
        raise ConfigError(f"resume: {given[0]} cannot be combined with --resume (a resumed run keeps its "
                          "config); allowed with --resume: --store, --quiet, --json")


def cmd_train(args: argparse.Namespace) -> int:
    from groklab.config import load_toml
    from groklab.presets import preset_values

    check_tracker_flags(args)
    if args.resume is not None:
        from groklab import api

        _check_resume_alone(args)
        with sigterm_interrupts():
            res = api.resume(args.resume, store=args.store, progress=TrainProgress(not args.quiet))
    else:
        base: dict = {}
        if args.preset:
            base.update(preset_values(args.preset))
        if args.config:
            base.update(load_toml(args.config))
        base.update(config_overrides(args))
        cfgs = member_configs(base, args)
        from groklab import api  # after the flags and files are read: importing JAX takes seconds

        with sigterm_interrupts():
            res = api.train(cfgs, store=args.store, progress=TrainProgress(not args.quiet))
    from groklab.store import Store

    store = Store(args.store)
    export_to_trackers(args, store, res.run_ids)
    if args.json:
        print_json({"group_id": res.group_id, "runs": res.summaries})
    else:
        print(summary_table(res.summaries))
        if len(res.summaries) == 1 and res.summaries[0].get("to_gen"):
            thr = store.get_run(res.run_ids[0])["config"].get("acc_threshold") or 0.99
            print(to_gen_text(res.summaries[0]["to_gen"], thr))
        print(f"store: {safe(store.root)}  (groklab show {res.run_ids[0]} --store {safe(store.root)})")
    for s in res.summaries:
        if s["status"] == "diverged":
            print(f"groklab: run {s['run_id']} diverged: {s['message']}", file=sys.stderr)
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    t = subparsers.add_parser("train", parents=[common], help="train a run (or a batched ensemble of runs)",
                              description="Train from a preset, a TOML config file and/or flags (later ones "
                                          "override).")
    t.add_argument("--preset", help="a published recipe (see `groklab presets`)")
    t.add_argument("--config", help="TOML file of config fields")
    t.add_argument("--seeds", help="ensemble members' seeds, e.g. 0-31 or 0,3,7")
    t.add_argument("--members", help="number of ensemble members (seeds seed..seed+N-1)")
    t.add_argument("--vary", action="append", metavar="FIELD=V1,V2,..",
                   help="per-member values of a shape-keeping field (lr, wd, init_scale, frac, noise, seed...)")
    t.add_argument("--resume", metavar="RUN", help="continue a stopped run from its newest checkpoint")
    t.add_argument("--quiet", action="store_true", help="no progress line")
    add_memory_flag(t)
    add_config_flags(t)
    add_tracker_flags(t)
    t.set_defaults(func=cmd_train)
