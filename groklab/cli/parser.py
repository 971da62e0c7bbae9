"""The argument parser: options shared by every command, and one subcommand per module."""

from __future__ import annotations

import argparse

from groklab.errors import GroklabError


class UsageError(GroklabError):
    """A command-line usage error (unknown flag, missing argument)."""


class Parser(argparse.ArgumentParser):
    epilog_fn = None        # a command whose epilog is costly to build (it imports JAX) sets this

    def error(self, message: str):  # argparse would print usage and exit 2 itself
        raise UsageError(f"{self.prog.split()[-1]}: {message}")

    def format_help(self) -> str:
        if self.epilog_fn is not None:
            self.epilog = self.epilog_fn()
        return super().format_help()


def command_modules() -> list:
    """The command modules in the order `groklab --help` lists them; each has register(subparsers, common)."""
    from groklab.cli import (
        analyze,
        bench,
        check,
        demo,
        export,
        memorization,
        presets,
        report,
        reproduce,
        runs,
        serve,
        show,
        sweep,
        tasks,
        train,
    )

    return [train, runs, show, tasks, presets, demo, analyze, export, report, memorization, sweep, bench, reproduce,
            check, serve]


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--store", default=None, help="run store directory (default $GROKLAB_HOME or ./groklab-runs)")
    common.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p = Parser(prog="groklab", description="Does this network memorize, or does it generalize, and why? "
               "Train grokking recipes, measure and explain what they learned.")
    p.add_argument("--version", action="version", version=__import__("groklab").__version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for mod in command_modules():
        mod.register(sub, common)
    return p
