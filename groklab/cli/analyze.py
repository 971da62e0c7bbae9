"""`groklab analyze RUN`: the progress measures, key frequencies, phases and verdict of a run (from
``groklab.analysis``), as a table."""

from __future__ import annotations

import argparse

from groklab.cli.output import fmt, print_json, safe
from groklab.errors import ConfigError

# rows of the per-checkpoint table shown in text mode (all of them with --json)
MAX_ROWS = 24

_COLUMNS = [  # (progress key, header, width)
    ("step", "step", 8), ("train_loss", "train CE", 9), ("test_loss", "test CE", 9),
    ("test_acc", "test acc", 8), ("restricted_loss", "restrict", 9), ("excluded_loss", "exclude", 9),
    ("gini_embed", "gini W_E", 8), ("gini_unembed", "gini W_U", 8), ("weight_norm", "‖w‖²", 9),
    ("ipr_mean", "IPR", 6), ("logit_fraction", "logit frac", 10), ("true_bit_weight_frac", "bit frac", 8),
    ("explained", "explained", 9), ("keep_acc", "keep acc", 8), ("remove_acc", "rm acc", 8),
]


def _rows(n: int, keep: int | None = None) -> list[int]:
    """Indices of about MAX_ROWS checkpoints, spread evenly; first, last and ``keep`` included."""
    if n <= MAX_ROWS:
        return list(range(n))
    return sorted({round(i * (n - 1) / (MAX_ROWS - 1)) for i in range(MAX_ROWS)} | ({keep} - {None}))


def format_analysis(a: dict) -> str:
    """The text shown by `groklab analyze` (key frequencies, progress table, phases, verdict)."""
    lines = [f"run {a['run_id']}  task {safe(a['task'])}  model {a['model']}  {len(a['steps'])} checkpoints"]
    if a["family"] == "other":
        lines.append("partial analysis: " + next(iter(a["not_applicable"].values()))
                     + "; losses and weight norms only")
    if a.get("key_freqs") is not None:
        lines.append(f"key frequencies: {', '.join(map(str, a['key_freqs'])) or 'none'}  (by neurons: "
                     f"{', '.join(map(str, a['key_freqs_neurons'])) or 'none'}; by embedding norms: "
                     f"{', '.join(map(str, a['key_freqs_norms'])) or 'none'})")
    if a.get("parity"):
        pa = a["parity"]
        lines.append(f"parity bits the network relies on: {pa['bits'] or 'none stand out'}; task's bits: "
                     f"{pa['true_bits']}")
    if a.get("basis"):
        lines.append(_circuit_line(a))
    prog = a["progress"]
    cols = [c for c in _COLUMNS if c[0] in prog and any(v is not None for v in prog[c[0]])]
    lines.append("  ".join(f"{h:>{w}}" for _, h, w in cols))
    ref = a.get("reference_step")
    idx = _rows(len(prog["step"]), prog["step"].index(ref) if ref in prog["step"] else None)
    for i in idx:
        lines.append("  ".join(f"{fmt(prog[k][i], 3):>{w}}" for k, _, w in cols))
    if len(idx) < len(prog["step"]):
        lines.append(f"({len(idx)} of {len(prog['step'])} checkpoints shown; --json gives all)")
    ph = a.get("phases")
    if ph:
        lines.append(f"phases (Nanda et al. 2023): memorization ends {_step(ph['memorization_end'])}, circuit "
                     f"formation ends {_step(ph['circuit_end'])}, clean-up ends {_step(ph['cleanup_end'])}")
    ck = a.get("checks")
    if ck:
        lead = ck.get("restricted_lead_steps")
        lead = f" (restricted loss leads by {lead:,} steps)" if lead is not None else ""
        lines.append(f"restricted loss < 0.1 {_step(ck['restricted_below_0.1'])}; test loss < 0.1 "
                     f"{_step(ck['test_below_0.1'])}{lead}; excluded/train loss at step {ck['at_step']}: "
                     f"{fmt(ck['excluded_over_train'], 3)}")
    if a.get("verdict"):
        lines.append(f"verdict: {a['verdict']}")
    for k, why in (a.get("not_applicable") or {}).items():
        if a["family"] != "other":
            lines.append(f"not applicable: {k}: {why}")
    lines += [f"note: {n}" for n in a.get("notes", [])]
    return "\n".join(lines)


def _circuit_line(a: dict) -> str:
    """The basis, its key components and the two ablations at the reference checkpoint."""
    ab, names = a["ablation"], [c["name"] for c in a.get("components", [])]
    shown = ", ".join(names[:16]) + (f" (+{len(names) - 16} more)" if len(names) > 16 else "")
    return (f"basis: {a['basis']}; key components at step {ab['step']}: {shown or 'none'}; explained "
            f"{fmt(ab['explained'], 3)}; keep only: acc {fmt(ab['keep']['acc'], 3)} loss {fmt(ab['keep']['loss'], 3)}; "
            f"remove: acc {fmt(ab['remove']['acc'], 3)} loss {fmt(ab['remove']['loss'], 3)} (chance "
            f"{fmt(ab['chance'], 3)}): {ab['circuit']}")


def _step(s) -> str:
    return "—" if s is None else f"at step {s}"


def cmd_analyze(args: argparse.Namespace) -> int:
    from groklab.analysis import analyze_run

    a = analyze_run(args.store, args.run, refresh=args.refresh)
    if a["family"] == "other" and not args.json:
        raise ConfigError(f"analyze: {next(iter(a['not_applicable'].values()))}; Fourier and parity measures "
                          "do not apply (use --json for its losses and weight norms per checkpoint)")
    if args.json:
        print_json(a)
    else:
        print(format_analysis(a))
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    a = subparsers.add_parser(
        "analyze", parents=[common], help="interpret a run from its checkpoints (Fourier, neurons, phases)",
        description="Progress measures at every checkpoint (restricted/excluded loss, Gini, weight norm, IPR, "
                    "logit fraction), key frequencies, Nanda et al.'s phases and a one-line verdict. Reads the "
                    "run's checkpoints only; results are cached in the store.")
    a.add_argument("run", help="run id, id prefix or name")
    a.add_argument("--refresh", action="store_true", help="recompute even if a cached analysis is up to date")
    a.set_defaults(func=cmd_analyze)
