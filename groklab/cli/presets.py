"""`groklab presets [--long]`: the published recipes, one line each (with --long, their sources and evidence)."""

from __future__ import annotations

import argparse
import textwrap

from groklab.cli.output import print_json


def cmd_presets(args: argparse.Namespace) -> int:
    from groklab.presets import PRESETS

    if args.json:
        print_json({"presets": PRESETS})
        return 0
    for k, v in PRESETS.items():
        print(f"{k:<20} {v['description']}")
        if args.long:
            for label, text in (("source", v["cite"]), ("note", v["note"])):
                print(textwrap.fill(f"{label}: {text}", 110, initial_indent=" " * 21, subsequent_indent=" " * 23,
                                    break_on_hyphens=False, break_long_words=False))
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    k = subparsers.add_parser("presets", parents=[common], help="list the published recipes",
                              description="The published recipes, one line each; --long adds each one's source "
                                          "and what was measured here (departures from the paper, evidence).")
    k.add_argument("--long", action="store_true", help="also print each preset's source and measured evidence")
    k.set_defaults(func=cmd_presets)
