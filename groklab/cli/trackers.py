"""--tensorboard DIR and --mlflow URI on the training commands (the exports live in groklab.trackers)."""

from __future__ import annotations

import argparse
import sys


def add_tracker_flags(p: argparse.ArgumentParser) -> None:
    """--tensorboard DIR and --mlflow URI on a training command."""
    g = p.add_argument_group("export (after training, from the store)")
    g.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard event files per run under DIR")
    g.add_argument("--mlflow", metavar="URI", help="log config, metrics and summary to MLflow "
                   "(e.g. sqlite:///mlflow.db or file:./mlruns)")


def check_tracker_flags(args: argparse.Namespace) -> None:
    """Fail before training if an export was asked for whose package is missing."""
    from groklab.trackers import check_trackers

    check_trackers(tensorboard=args.tensorboard, mlflow=args.mlflow)


def export_to_trackers(args: argparse.Namespace, store, run_ids: list[str], experiment: str = "groklab") -> None:
    """Export the runs to the trackers the flags name; one note on stderr each."""
    from groklab.trackers import attach_trackers

    for note in attach_trackers(store, run_ids, tensorboard=args.tensorboard, mlflow=args.mlflow,
                                experiment=experiment):
        print(note, file=sys.stderr)
