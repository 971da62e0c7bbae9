"""`groklab tasks`: every task with its parameters."""

from __future__ import annotations

import argparse

from groklab.cli.output import print_json, safe


def cmd_tasks(args: argparse.Namespace) -> int:
    from groklab.tasks import list_tasks

    rows = list_tasks()
    if args.json:
        print_json({"tasks": rows})
        return 0
    for t in rows:
        print(f"{safe(t['task']):<26} {safe(t['description'])}  [{', '.join(t['params'])}]")
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    k = subparsers.add_parser("tasks", parents=[common], help="list every task with its parameters")
    k.set_defaults(func=cmd_tasks)
