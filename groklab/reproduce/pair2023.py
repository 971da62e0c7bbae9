"""The PAIR explorable (Pearce et al. 2023): the 24-neuron MLP's key frequencies, and sparse parity
(``pair2023``)."""

from __future__ import annotations

import numpy as np

from groklab.config import Config, resolve
from groklab.reproduce.core import Published, Row, agrees, fmt_number, majority
from groklab.reproduce.experiment import Experiment, named, register
from groklab.reproduce.nanda2023 import NANDA
from groklab.reproduce.outcome import Outcome, liu_reason, not_trained
from groklab.store import Store

NAME = "pair2023"
PAIR = "Pearce et al. 2023, Do machine learning models memorize or generalize? (PAIR explorable)"
PAIR_GROKS = Published("grokking", f"{PAIR}: a+b mod 67, 24 neurons, 40% data memorizes, then generalizes")
PAIR_FREQS = Published("3–7", f"{NANDA}: a grokked model typically uses 3–7 frequencies (PAIR: a handful)")
PAIR_FREQ_RANGE = (3, 7)
PARITY_PUB = Published("yes", f"{PAIR}: sparse parity (n = 30, k = 3, 1,200 strings) generalizes within 20,000 steps")
PAIR_SEEDS = (0, 1, 2)
_MLP_PAPER = dict(p=67, symmetric=True, frac=0.4, d_mlp=24, lr=1e-3, wd=1.0, steps=50_000)


def _points(smoke: bool) -> list[Config]:
    seeds = PAIR_SEEDS[:1] if smoke else PAIR_SEEDS
    small = dict(steps=300, eval_every=10, ckpt_per_decade=3)
    mlp = dict(p=23, **small) if smoke else {}
    par = dict(parity_n=12, n_train=300, n_test=200, d_mlp=32, **small) if smoke else {}
    # "mlp-symmetric": PAIR's own data, only the pairs a <= b, on which this model did not generalize
    # (groklab/presets.py, pair2023's note); kept beside the ordered-pairs runs to show it
    return ([named(NAME, "mlp", resolve("pair2023", **mlp, seed=s)) for s in seeds]
            + [named(NAME, "mlp-symmetric", resolve("pair2023", **{"steps": 20_000, **mlp}, symmetric=True,
                                                    seed=s)) for s in seeds[:1]]
            + [named(NAME, "parity", resolve("pair2023-parity", **par, seed=s)) for s in seeds])


def _after(store: Store, out: Outcome) -> None:
    from groklab.analysis import analyze_run

    for r in out.runs("mlp"):
        analyze_run(store, r["run_id"])


def _mlp_rows(out: Outcome, task: str) -> list[Row]:
    """The ordered-pairs MLP: its phase, and the number of key frequencies read from its checkpoints."""
    from groklab.analysis import ANALYSIS_KEY

    runs = out.runs("mlp")
    q = f"{task}: phase (Liu et al. 2022 rule)"
    if not runs:
        return [Row(q, PAIR_GROKS, None, "finding", why=not_trained(out, "mlp"), label="mlp")]
    rows = []
    ours = majority([r["summary"]["phase"] for r in runs])
    detail = "; ".join(f"seed {r['seed']}: {s['phase']}, t_mem {fmt_number(s['t_mem'], 'steps')}, "
                       f"t_gen {fmt_number(s['t_gen'], 'steps')}, PAIR class {s['pair_class']}"
                       for r in runs for s in [r["summary"]])
    row = Row(q, PAIR_GROKS, ours, "finding", agree=agrees("finding", PAIR_GROKS, ours), detail=detail,
              label="mlp")
    if row.agree is False:
        row.why = "; ".join(f"seed {r['seed']}: {liu_reason(r)}" for r in runs)
    rows.append(row)
    keys = [(r, (out.store.get_analysis(r["run_id"], ANALYSIS_KEY) or {}).get("key_freqs")) for r in runs]
    keys = [(r, k) for r, k in keys if k is not None]
    if keys:
        n = int(np.median([len(k) for _, k in keys]))
        lo, hi = PAIR_FREQ_RANGE
        row = Row(f"{task}: number of key frequencies", PAIR_FREQS, n, "count", agree=lo <= n <= hi, label="mlp",
                  detail="; ".join(f"seed {r['seed']}: {{{', '.join(map(str, k))}}}" for r, k in keys))
        if not row.agree:
            row.why = "key frequencies read from the checkpoints (groklab analyze): " + row.detail
        rows.append(row)
    return rows


def _symmetric_rows(out: Outcome, task: str) -> list[Row]:
    """PAIR's own data (pairs a ≤ b only): its phase, if it trained."""
    runs = out.runs("mlp-symmetric")
    if not runs:
        return []
    q = f"{task}, PAIR's pairs a ≤ b only: phase (Liu et al. 2022 rule)"
    ours = majority([r["summary"]["phase"] for r in runs])
    row = Row(q, PAIR_GROKS, ours, "finding", agree=agrees("finding", PAIR_GROKS, ours), label="mlp-symmetric",
              detail="; ".join(f"seed {r['seed']}: {s['phase']}, t_mem {fmt_number(s['t_mem'], 'steps')}, "
                               f"final test accuracy {s['final']['test_acc']:.3f}"
                               for r in runs for s in [r["summary"]]))
    if row.agree is False:
        row.why = "; ".join(f"seed {r['seed']}: {liu_reason(r)}" for r in runs)
    return [row]


def _parity_row(out: Outcome) -> Row:
    """Sparse parity: whether it generalizes (t_gen reached)."""
    runs = out.runs("parity")
    q = "sparse parity: generalizes (test accuracy ≥ 0.99)"
    if not runs:
        return Row(q, PARITY_PUB, None, "finding", why=not_trained(out, "parity"), label="parity")
    ours = majority(["yes" if r["summary"]["t_gen"] is not None else "no" for r in runs])
    detail = "; ".join(f"seed {r['seed']}: test accuracy {s['final']['test_acc']:.3f}, t_mem "
                       f"{fmt_number(s['t_mem'], 'steps')}, t_gen {fmt_number(s['t_gen'], 'steps')} "
                       f"of {s['steps']:,}"
                       for r in runs for s in [r["summary"]])
    row = Row(q, PARITY_PUB, ours, "finding", agree=agrees("finding", PARITY_PUB, ours), detail=detail,
              label="parity")
    if row.agree is False:
        row.why = "; ".join(f"seed {r['seed']}: 99% test accuracy " + (
            f"reached at step {r['summary']['t_gen']:,}" if r['summary']['t_gen'] is not None else
            f"not reached within the {r['summary']['steps']:,}-step budget") for r in runs)
    return row


def _compare(out: Outcome) -> list[Row]:
    cfg = (out.configs("mlp") or [{}])[0]
    task = f"{cfg.get('task')} mod {cfg.get('p')}, {cfg.get('d_mlp')} neurons"
    return [*_mlp_rows(out, task), *_symmetric_rows(out, task), _parity_row(out)]


EXPERIMENT = register(Experiment(
    NAME, "The 24-neuron MLP's frequencies, and sparse parity", PAIR,
    "the small MLP on a+b mod 67 groks with a handful of frequencies; sparse parity generalizes too",
    plan=f"pair2023 preset (50,000 full-batch steps, all ordered pairs) and the pair2023-parity preset (20,000 "
         f"steps), {len(PAIR_SEEDS)} seeds each, and one seed on PAIR's pairs a ≤ b (20,000 steps); key "
         f"frequencies from the checkpoints",
    axes=("name",), paper={}, points=_points, compare=_compare, after=_after,
    paper_by_label={"mlp": dict(_MLP_PAPER), "mlp-symmetric": dict(_MLP_PAPER),
                    "parity": dict(parity_n=30, parity_k=3, n_train=1200, lr=3e-3, beta1=0.99, beta2=0.98,
                                   steps=20_000)}), order=80)
