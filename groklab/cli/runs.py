"""`groklab runs`: the runs in the store, newest first."""

from __future__ import annotations

import argparse

from groklab.cli.output import fmt, print_json, safe

_JSON_KEYS = ("run_id", "name", "status", "task", "seed", "created", "step", "wall_s", "sweep_id", "group_id")


def cmd_runs(args: argparse.Namespace) -> int:
    from groklab.measure import refresh_labels
    from groklab.store import Store

    st = Store(args.store, create=False)
    rows = [{**r, "summary": refresh_labels(r["summary"], r["config"], lambda rid=r["run_id"]: st.metrics(rid))}
            for r in st.list_runs(limit=args.limit)]
    if args.json:
        print_json({"runs": [{k: r[k] for k in _JSON_KEYS} | {"summary": r["summary"]} for r in rows]})
        return 0
    print(f"{'run':<16} {'name':<20} {'status':<11} {'task':<12} {'seed':>4} {'step':>8} {'test acc':>8} "
          f"{'phase':<13} created")
    for r in rows:
        s = r["summary"] or {}
        fin = s.get("final") or {}
        print(f"{safe(r['run_id']):<16} {safe(r['name'] or '')[:20]:<20} {r['status']:<11} {safe(r['task'])[:12]:<12} "
              f"{r['seed']:>4} {r['step']:>8} {fmt(fin.get('test_acc')):>8} {fmt(s.get('phase')):<13} {r['created']}")
    if not rows:
        print("(no runs yet: try `groklab demo`)")
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    r = subparsers.add_parser("runs", parents=[common], help="list the runs in the store")
    r.add_argument("--limit", type=int, default=50)
    r.set_defaults(func=cmd_runs)
