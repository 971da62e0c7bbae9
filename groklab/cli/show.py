"""`groklab show RUN`: one run's record and summary."""

from __future__ import annotations

import argparse

from groklab.cli.output import fmt, pair_text, print_json, safe


def to_gen_text(g: dict, threshold: float) -> str:
    """What reaching t_gen cost, in one line (the summary's ``to_gen``)."""
    return (f"to test acc >= {threshold:g}: step {g['step']}, {fmt(g['seconds'])} s (compilation included), "
            f"{g['flops'] / 1e12:.3g} TFLOP training + {g['eval_flops'] / 1e12:.3g} evaluating")


def _print_summary(r: dict, s: dict) -> None:
    from groklab.measure.labels import outcome_line

    print(f"run {safe(r['run_id'])}  {safe(r['name'] or '')}  [{r['status']}]")
    print(f"  task {safe(r['task'])}  seed {r['seed']}  model {fmt(r['config']['model'])}  "
          f"preset {fmt(r['config'].get('preset'))}")
    print(f"  created {r['created']}  code {fmt(r['code_version'])}  machine {fmt(r['machine'])}")
    fin = s.get("final") or {}
    print(f"  steps {s.get('steps')}  wall {fmt(s.get('wall_s'))} s")
    print(f"  final: train acc {fmt(fin.get('train_acc'))} loss {fmt(fin.get('train_loss'))}  "
          f"test acc {fmt(fin.get('test_acc'))} loss {fmt(fin.get('test_loss'))}")
    print(f"  t_mem {fmt(s.get('t_mem'))}  t_gen {fmt(s.get('t_gen'))}  delay {fmt(s.get('delay'))}  "
          f"phase {fmt(s.get('phase'))}  PAIR class {pair_text(s)}")
    if s.get("to_gen"):
        print(f"  {to_gen_text(s['to_gen'], r['config'].get('acc_threshold') or 0.99)}")
    if s.get("phase"):
        print(f"  {outcome_line(s, r['config'].get('phase_threshold') or 0.9)}"
              + (f" (phase rule: {s['phase_rule']})" if s.get("phase_rule") else ""))
    if s.get("leakage"):
        lk = s["leakage"]
        print(f"  membership inference: final AUC {fmt(lk['final_auc'])}  max AUC {fmt(lk['max_auc'])} "
              f"at step {lk['step_max_auc']}  TPR@1%FPR {fmt(lk['final_tpr1'])}")
    if s.get("noise"):
        nz = s["noise"]
        print(f"  label noise {nz['fraction']}: clean {fmt(nz['clean_acc'])}  memorized {fmt(nz['memorized_acc'])}"
              f"  inverted {fmt(nz['inverted_acc'])}  phase {nz['phase']}")
    if r.get("message"):
        print(f"  note: {safe(r['message'])}")


def cmd_show(args: argparse.Namespace) -> int:
    from groklab.config import from_dict
    from groklab.measure import refresh_labels, summarize
    from groklab.store import Store

    st = Store(args.store, create=False)
    r = st.get_run(args.run)
    s = refresh_labels(r["summary"], r["config"], lambda: st.metrics(r["run_id"]))
    if s is None:   # still running or interrupted: summarise what is stored so far
        s = summarize(from_dict(r["config"]), r["run_id"], st.metrics(r["run_id"]), r["status"], r["wall_s"])
    s = {**s, "status": r["status"]}
    if args.json:
        print_json(s)
    else:
        _print_summary(r, s)
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    s = subparsers.add_parser("show", parents=[common], help="one run's summary")
    s.add_argument("run", help="run id, id prefix or name")
    s.set_defaults(func=cmd_show)
