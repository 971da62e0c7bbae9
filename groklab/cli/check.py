"""`groklab check [--repair] [--json]`: verify the run store, one line per problem.

Exit 0 when the store is clean (or every problem was repaired), 1 when problems remain.
"""

from __future__ import annotations

import argparse

from groklab.cli.output import print_json


def _expected_shapes(cache: dict):
    """The parameter shapes a stored run's config implies, computed once per shape key."""
    def shapes(run: dict) -> dict:
        from groklab import api
        from groklab.config import from_dict

        cfg = from_dict(run["config"])
        if cfg.shape_key() not in cache:
            cache[cfg.shape_key()] = api.param_shapes(cfg)
        return cache[cfg.shape_key()]
    return shapes


def cmd_check(args: argparse.Namespace) -> int:
    from groklab.store import Store
    from groklab.store.check import check_store

    st = Store(args.store, create=False, repairing=True)     # a lost catalog is what check rebuilds
    problems, counts = check_store(st, repair=args.repair, expected_shapes=_expected_shapes({}))
    left = [p for p in problems if not p.repaired]
    if args.json:
        print_json({"store": str(st.root), "clean": not left, "checked": counts,
                    "repaired": sum(p.repaired for p in problems), "problems": [p.to_dict() for p in problems]})
        return 1 if left else 0
    for p in problems:
        print(p.line())
    what = f"{counts['runs']} runs, {counts['checkpoints']} checkpoints"
    if counts["running"]:
        what += f"; {counts['running']} running, skipped"
    if not problems:
        print(f"store {st.root}: clean ({what})")
    else:
        fixed = len(problems) - len(left)
        print(f"store {st.root}: {len(problems)} problem(s), {fixed} repaired, {len(left)} left ({what})"
              + ("" if args.repair or not any(p.repairable for p in left) else "; run with --repair to fix"))
    return 1 if left else 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    c = subparsers.add_parser("check", parents=[common], help="verify the run store (and repair it)",
                              description="Verify the run store: catalog integrity, run folders the catalog lacks "
                              "(a lost catalog), runs and sweeps left 'running' by a killed process, missing, corrupt "
                              "or invalid checkpoint files (checksum, safetensors header, tensors against the run's "
                              "config), orphaned rows and files, temporary files. One line per problem; exit 0 when "
                              "clean, 1 when problems remain.")
    c.add_argument("--repair", action="store_true",
                   help="fix what is safe to fix: re-register runs from their folders, mark dead runs and sweeps "
                        "interrupted, delete orphan rows and temporary files, move checkpoint files it cannot "
                        "attribute to lost+found/ (never deleted), drop rows of missing checkpoint files (corrupt "
                        "files are only reported)")
    c.set_defaults(func=cmd_check)
