"""The PAIR explorable (Pearce et al. 2023): its MLP's phase and key frequencies, and sparse parity
(``pair2023``).

Their model, read from PAIR-code/ai-explorables ``server-side/grokking/MLP_Modular_Addition.ipynb``: a+b mod
67 on the pairs a ≤ b, 40% for training; a 500-d embedding E tied to the unembedding, one bias-free hidden
projection W shared by both operands, ``logits = (W_out · ReLU(W e_a + W e_b)) Eᵀ``; optax.adamw lr 1e-3
wd 1 β (0.9, 0.98), 50,000 full-batch steps, float64 (``jax_enable_x64``).
"""

from __future__ import annotations

import numpy as np

from groklab.config import Config, from_dict
from groklab.reproduce.core import MIN_SEEDS, UNSTATED, Published, Row, fmt_number
from groklab.reproduce.experiment import Experiment, register, seeded
from groklab.reproduce.nanda2023 import NANDA
from groklab.reproduce.outcome import Outcome, finding, not_trained, phase_row
from groklab.store import Store

NAME = "pair2023"
PAIR = "Pearce et al. 2023, Do machine learning models memorize or generalize? (PAIR explorable)"
PAIR_BUDGET = 50_000
PAIR_GROKS = Published("grokking", f"{PAIR}: a+b mod 67 on the pairs a ≤ b, 24 neurons, 40% data memorizes, then "
                                   "generalizes within 50,000 steps", by=PAIR_BUDGET)
PAIR_FREQS = Published("3–7", f"{NANDA}: a grokked model typically uses 3–7 frequencies (PAIR: a handful)")
PAIR_FREQ_RANGE = (3, 7)
PARITY_PUB = Published("yes", f"{PAIR}: sparse parity (n = 30, k = 3, 1,200 strings) generalizes within 20,000 steps",
                       by=20_000)
PAIR_SEEDS = tuple(range(MIN_SEEDS))
PAIR_SETUPS = {
    "mlp": dict(task="x+y", p=67, symmetric=True, y_nonzero=False, operands=None, frac=0.4, model="mlp",
                input="embed-sum", d_embed=500, n_layers=1, d_mlp=24, act="relu", bias=False, tied=True,
                init="normal", init_scale=1.0, optimizer="adamw", lr=1e-3, wd=1.0, beta1=0.9, beta2=0.98, eps=1e-8,
                warmup=0, loss="ce", loss_dtype="float64", batch_size=None, steps=PAIR_BUDGET, grokfast="none",
                orthograd=False),
    # the explorable's parity figure: its text gives n, k, the data, the optimizer and the budget only
    "parity": dict(task="parity", parity_n=30, parity_k=3, n_train=1200, n_test=UNSTATED, model="mlp",
                   input="onehot", n_layers=1, d_mlp=UNSTATED, act="relu", bias=UNSTATED, tied=False, init=UNSTATED,
                   init_scale=1.0, optimizer="adamw", lr=3e-3, wd=UNSTATED, beta1=0.99, beta2=0.98, eps=1e-8,
                   warmup=0, loss="ce", loss_dtype="float32", batch_size=None, steps=20_000, grokfast="none",
                   orthograd=False),
}
PAIR_STAND_INS = ("mlp: their init is haiku's (truncated normal, std 1/√fan_in for W and W_out, √(2/67) for E; "
                  "ours N(0, 1/fan_in), E with std 1/√500); their loss is the mean over the 67 classes too, CE/67, "
                  "which Adam's normalization undoes but for eps",)


def _points(smoke: bool) -> list[Config]:
    seeds = PAIR_SEEDS[:1] if smoke else PAIR_SEEDS
    small = dict(steps=300, eval_every=10, ckpt_per_decade=3)
    mlp = {**PAIR_SETUPS["mlp"], **(dict(p=23, d_embed=32, **small) if smoke else dict(eval_every=250))}
    par = {**PAIR_SETUPS["parity"], "n_test": 1000, "d_mlp": 128, "bias": True, "init": "normal", "wd": 0.1,
           "eval_every": 50, **(dict(parity_n=12, n_train=300, n_test=200, d_mlp=32, **small) if smoke else {})}
    return seeded(NAME, "mlp", from_dict(mlp), seeds) + seeded(NAME, "parity", from_dict(par), seeds)


def _after(store: Store, out: Outcome) -> None:
    from groklab.analysis import analyze_run

    for r in out.runs("mlp"):
        analyze_run(store, r["run_id"])


def _key_freq_row(out: Outcome, task: str) -> list[Row]:
    """The number of key frequencies read from the checkpoints of the runs that generalized."""
    from groklab.analysis import ANALYSIS_KEY

    runs = [r for r in out.runs("mlp") if r["summary"].get("t_gen") is not None]
    keys = [(r, (out.store.get_analysis(r["run_id"], ANALYSIS_KEY) or {}).get("key_freqs")) for r in runs]
    keys = [(r, k) for r, k in keys if k is not None]
    if not keys:
        return []
    n = int(np.median([len(k) for _, k in keys]))
    lo, hi = PAIR_FREQ_RANGE
    row = Row(f"{task}: number of key frequencies (runs that generalized)", PAIR_FREQS, n, "count",
              agree=lo <= n <= hi, label="mlp",
              detail="; ".join(f"seed {r['seed']}: {{{', '.join(map(str, k))}}}" for r, k in keys))
    if not row.agree:
        row.why = "key frequencies read from the checkpoints (groklab analyze): " + row.detail
    return [row]


def _compare(out: Outcome) -> list[Row]:
    cfg = (out.configs("mlp") or [{}])[0]
    task = f"{cfg.get('task')} mod {cfg.get('p')} (pairs a ≤ b), {cfg.get('d_mlp')} neurons"
    runs = out.runs("mlp")
    phase = phase_row(out, "mlp", PAIR_GROKS, f"{task}: phase (Liu et al.'s phases, groklab's rule)")
    if runs:
        phase.detail += "; " + "; ".join(
            f"seed {r['seed']}: t_mem {fmt_number(s['t_mem'], 'steps')}, t_gen {fmt_number(s['t_gen'], 'steps')}, "
            f"final test accuracy {s['final']['test_acc']:.3f}, PAIR class {s['pair_class']}"
            for r in runs for s in [r["summary"]])
    parity = finding(out, "parity", "test_acc", 0.99, PARITY_PUB, "sparse parity: generalizes (test accuracy ≥ 0.99)")
    if not out.runs("parity"):
        parity.why = not_trained(out, "parity")
    return [phase, *_key_freq_row(out, task), parity]


EXPERIMENT = register(Experiment(
    NAME, "The 24-neuron MLP's phase and frequencies, and sparse parity", PAIR,
    "PAIR's tied-embedding MLP on a+b mod 67 (pairs a ≤ b) memorizes, then generalizes with a handful of "
    "frequencies; sparse parity generalizes too",
    plan=f"their MLP (500-d tied embedding, a shared bias-free projection to 24 ReLU neurons, pairs a ≤ b, AdamW lr "
         f"1e-3 wd 1) for {PAIR_BUDGET:,} full-batch steps and sparse parity (n = 30, k = 3) for 20,000, "
         f"{len(PAIR_SEEDS)} seeds each; key frequencies from the checkpoints; about an hour on 2 cores",
    axes=("name",), setup=PAIR_SETUPS.get, points=_points, compare=_compare, after=_after,
    stand_ins=PAIR_STAND_INS), order=80)
