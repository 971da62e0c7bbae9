"""`groklab export RUN --format transformer-lens`: a transformer run as a TransformerLens checkpoint
(from ``groklab.export``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from groklab.cli.output import print_json, safe
from groklab.errors import ConfigError


def cmd_export(args: argparse.Namespace) -> int:
    from groklab.api import load_params
    from groklab.config import from_dict
    from groklab.export import check_out, export_transformer_lens
    from groklab.store import Store

    st = Store(args.store, create=False)
    where = {"force": args.force, "parents": args.parents, "roots": [st.root]}
    if args.out is not None:
        check_out(args.out, **where)          # before anything is loaded
    row = st.get_run(args.run)
    cfg = from_dict(row["config"])
    if cfg.model not in ("transformer", "lm"):
        raise ConfigError(f"export: run {row['run_id']} is an {cfg.model}; --format transformer-lens exports "
                          "transformer and lm runs only")
    if args.step is not None and not args.step.isdigit():
        raise ConfigError(f"step: expected a checkpoint step (an integer), got {args.step!r}")
    step, params = load_params(row["run_id"], None if args.step is None else int(args.step), store=st)
    out = Path(args.out) if args.out else st.run_dir(row["run_id"]) / f"transformer-lens-step{step}.pt"
    sd_path, cfg_path = export_transformer_lens(params, cfg, out, **where)
    if args.json:
        print_json({"run_id": row["run_id"], "step": step, "state_dict": str(sd_path), "config": str(cfg_path)})
    else:
        print(f"wrote {safe(sd_path)} (HookedTransformer state dict, step {step}) and {safe(cfg_path)} (its config)")
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    e = subparsers.add_parser(
        "export", parents=[common], help="export a transformer run to TransformerLens",
        description="Write a run's checkpoint as a TransformerLens HookedTransformer state dict (torch.save; "
                    "loads with weights_only=True) and its HookedTransformerConfig as JSON. Needs groklab[tl].")
    e.add_argument("run", help="run id, id prefix or name")
    e.add_argument("--format", required=True, choices=["transformer-lens"], help="export format")
    e.add_argument("--out", metavar="FILE", help="state-dict file (default: in the run's folder); the config "
                   "goes beside it with the suffix .json")
    e.add_argument("--step", help="checkpoint step (default: the newest)")
    e.add_argument("--force", action="store_true", help="overwrite the state-dict file and its .json if they exist")
    e.add_argument("--parents", action="store_true", help="create --out's missing folders anywhere (without it, only "
                   "inside the current directory or the store)")
    e.set_defaults(func=cmd_export)
