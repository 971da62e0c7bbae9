"""`groklab memorization RUN|GROUP`: the memorization atlas of a subset ensemble (Feldman & Zhang 2020;
Zhang et al. 2021; Carlini et al. 2019 and 2022), read from the per-example measures in the store."""

from __future__ import annotations

import argparse

from groklab.cli.output import fmt, print_json, safe


def _attack(a: dict | None) -> str:
    if not a:
        return "-"
    return f"AUC {fmt(a.get('auc'))}  TPR@0.1%FPR {fmt(a.get('tpr@0.001'))}  TPR@1%FPR {fmt(a.get('tpr@0.01'))}"


def _example(e: dict) -> str:
    x = " ".join(str(v) for v in e["x"]) if e.get("x") is not None else f"row {e['row']}"
    flags = ("  corrupted" if e["corrupted"] else "") + ("  canary" if e["canary"] else "")
    return (f"  {x:>12} -> {e['label']:<5} (true {e['true_label']:<5})  mem {fmt(e['mem'])}  "
            f"P(correct | in) {fmt(e['p_in'])}  P(correct | out) {fmt(e['p_out'])}{flags}")


def _print(a: dict, top: int) -> None:
    s = a["summary"]
    how = f"{a['scheme']} subsets of" if a["subsets"] else "all trained on"
    print(f"group {safe(a['group_id'])}  {a['members']} members ({a['alive']} alive), {how} {a['n_pool']} pool "
          f"examples, {a['n_test']} held out; step {a['step']} of {len(a['steps'])} recorded")
    print(f"  mem: corrupted {fmt(s['mem_corrupted'])}  clean {fmt(s['mem_clean'])}  "
          f"AUC corrupted vs clean {fmt(s['mem_auc_corrupted'])}  test acc {fmt(s['test_acc'])}")
    print(f"  LiRA (online):  {_attack(s['lira'])}")
    print(f"  loss threshold: {_attack(s['loss_threshold'])}")
    if a["canaries"]:
        print(f"  canary exposure: {fmt(s['exposure_in'])} bits when trained on ({fmt(s['exposure_out'])} when not; "
              f"at most {fmt(s['max_exposure'])})")
    ex = sorted((e for e in a["examples"] if e["mem"] is not None), key=lambda e: -e["mem"])
    if ex:
        print(f"most memorized ({min(top, len(ex))} of {len(ex)}):")
        for e in ex[:top]:
            print(_example(e))
    if a["influence"]:
        print("highest influence infl(train -> test):")
        for q in a["influence"][:min(top, 5)]:
            print(f"  row {q['train_row']} -> row {q['test_row']}  infl {fmt(q['infl'])}  (mem {fmt(q['mem'])})")


def cmd_memorization(args: argparse.Namespace) -> int:
    from groklab.analysis.memorization import atlas
    from groklab.errors import ConfigError
    from groklab.store import Store

    if args.top < 0:
        raise ConfigError(f"top: got {args.top}; allowed an integer >= 0")
    a = atlas(Store(args.store, create=False), args.ref, step=args.step)
    if args.json:
        print_json(a)
    else:
        _print(a, args.top)
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    m = subparsers.add_parser("memorization", parents=[common], help="per-example memorization, influence, LiRA and "
                              "canary exposure of a subset ensemble",
                              description="The memorization atlas of a group trained with --subsets K (and/or "
                                          "--canaries N): scores per training example (Feldman & Zhang 2020's "
                                          "mem, Zhang et al. 2021's counterfactual loss), influence on held-out "
                                          "examples, online LiRA against the loss threshold (Carlini et al. 2022), "
                                          "and canary exposure (Carlini et al. 2019).")
    m.add_argument("ref", metavar="RUN|GROUP", help="a run of the group (id, prefix or name) or its group id")
    m.add_argument("--step", type=int, default=None, help="the recorded step nearest to this one (default: the last)")
    m.add_argument("--top", type=int, default=10, help="most memorized examples to list (text output)")
    m.set_defaults(func=cmd_memorization)
