"""`groklab train`: one run or a batched ensemble, from a preset, a TOML file and flags."""

from __future__ import annotations

import argparse
import sys

from groklab.cli.flags import add_backend_flags, add_config_flags, add_memory_flag, config_overrides, member_configs
from groklab.cli.output import SweepProgress, TrainProgress, print_json, safe, summary_table
from groklab.cli.show import to_gen_text
from groklab.cli.signals import sigterm_interrupts
from groklab.cli.trackers import add_tracker_flags, check_tracker_flags, export_to_trackers
from groklab.errors import ConfigError


def _check_resume_alone(args: argparse.Namespace) -> None:
    given = [f for f, v in (("--preset", args.preset), ("--config", args.config), ("--seeds", args.seeds),
                            ("--members", args.members), ("--vary", args.vary)) if v]
    given += ["--" + k.replace("_", "-") for k in config_overrides(args)]
    given += ["--ensemble-size"] if args.ensemble_size is not None else []
    if given:
        raise ConfigError(f"resume: {given[0]} cannot be combined with --resume (a resumed run keeps its "
                          "config); allowed with --resume: --store, --quiet, --json, --backend, --address")


def _ensemble_size(args: argparse.Namespace) -> int | None:
    """--ensemble-size M as an integer (its range is checked against K by ``atlas.check_split``)."""
    if args.ensemble_size is None:
        return None
    try:
        return int(args.ensemble_size)
    except ValueError:
        raise ConfigError(f"ensemble-size: got {args.ensemble_size!r}; allowed an integer in [1, K] (with "
                          "--subsets K)") from None


def _resume(args: argparse.Namespace):
    from groklab import api
    from groklab.store import Store

    _check_resume_alone(args)
    with sigterm_interrupts():
        if Store(args.store, create=False).atlas_of(args.resume) is not None:
            from groklab.atlas import resume_atlas

            return resume_atlas(args.resume, store=args.store, backend=args.backend, address=args.address,
                                progress=SweepProgress(not args.quiet))
        if args.backend != "local" or args.address:
            raise ConfigError("backend: --backend and --address resume an atlas split into ensembles only; "
                              f"{args.resume} resumes here")
        return api.resume(args.resume, store=args.store, progress=TrainProgress(not args.quiet))


def _train(args: argparse.Namespace, cfgs: list):
    """One ensemble (``api.train``), or a subset ensemble split by --ensemble-size / sent to --backend
    (``atlas.train_atlas``)."""
    m = _ensemble_size(args)
    if m is None and args.backend == "local" and not args.address:
        from groklab import api  # after the flags and files are read: importing JAX takes seconds

        with sigterm_interrupts():
            return api.train(cfgs, store=args.store, progress=TrainProgress(not args.quiet))
    from groklab.atlas import check_split, train_atlas
    from groklab.train.subsets import expand_subsets

    if not cfgs[0].subsets:
        what = "ensemble-size" if m is not None else "backend"
        raise ConfigError(f"{what}: only with --subsets K (a subset ensemble split into ensembles of "
                          "--ensemble-size members on --backend local or ray)")
    members = expand_subsets(cfgs)
    m = check_split(members, m, args.backend, args.address)
    with sigterm_interrupts():
        if m == len(members) and args.backend == "local" and not args.address:
            from groklab import api

            return api.train(members, store=args.store, progress=TrainProgress(not args.quiet))
        return train_atlas(members, ensemble_size=m, store=args.store, backend=args.backend, address=args.address,
                           progress=SweepProgress(not args.quiet))


def cmd_train(args: argparse.Namespace) -> int:
    from groklab.config import load_toml
    from groklab.presets import preset_values

    check_tracker_flags(args)
    if args.resume is not None:
        res = _resume(args)
    else:
        base: dict = {}
        if args.preset:
            base.update(preset_values(args.preset))
        if args.config:
            base.update(load_toml(args.config))
        base.update(config_overrides(args))
        res = _train(args, member_configs(base, args))
    from groklab.store import Store

    store = Store(args.store)
    export_to_trackers(args, store, res.run_ids)
    groups = res.ensembles or [res.group_id]
    if args.json:
        print_json({"group_id": res.group_id, "ensembles": groups, "runs": res.summaries})
    else:
        print(summary_table(res.summaries))
        if groups != [res.group_id]:
            print(f"atlas {res.group_id}: {len(res.run_ids)} members in {len(groups)} ensembles  (groklab "
                  f"memorization {res.group_id} --store {safe(store.root)})")
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
    a = t.add_argument_group("atlases larger than one ensemble (with --subsets K)")
    a.add_argument("--ensemble-size", metavar="M", help="members per ensemble: the K members train as ceil(K/M) "
                   "ensembles, merged into one atlas (default: all K in one; checked against the memory estimate)")
    add_backend_flags(a)
    add_memory_flag(t)
    add_config_flags(t)
    add_tracker_flags(t)
    t.set_defaults(func=cmd_train)
