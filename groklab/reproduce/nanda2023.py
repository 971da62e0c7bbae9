"""Nanda et al. 2023: steps to test loss < 0.1 against the training fraction (``nanda2023-fraction``)."""

from __future__ import annotations

from groklab.config import Config, from_dict
from groklab.reproduce.core import MIN_SEEDS, Published, Row, ratio_row
from groklab.reproduce.experiment import TINY_TRANSFORMER, Experiment, register, seeded
from groklab.reproduce.outcome import Outcome, reach

NAME = "nanda2023-fraction"
NANDA = "Nanda et al. 2023, Progress measures for grokking via mechanistic interpretability"
NANDA_FRACTION_SRC = (f"{NANDA}: their saved sweep of the training fraction, first epoch (= full-batch step) "
                      "with test loss < 0.1")
# their saved sweep: fraction -> first epoch with test loss < 0.1; 0.6-0.9 read second-hand from
# saved_runs/mod_addition_frac_train_sweep.pth (../shared/REFERENCES.md), not monotone above 0.6
NANDA_FRACTION = {0.95: 157, 0.9: 222, 0.8: 252, 0.7: 222, 0.6: 440, 0.5: 956, 0.4: 3_109, 0.3: 7_930,
                  0.28: 15_037, 0.25: 21_848}
NANDA_SECOND_HAND = (0.6, 0.7, 0.8, 0.9)
# full version: fraction -> (step budget, eval every). Each budget is at least twice the published step,
# so that a miss is decided by the factor rule; 0.28 and 0.25 (15-22k steps, ×3 seeds) are left out.
NANDA_BUDGETS = {0.95: (400, 10), 0.9: (500, 10), 0.8: (600, 10), 0.7: (500, 10), 0.6: (1_000, 10),
                 0.5: (2_000, 20), 0.4: (6_500, 50), 0.3: (16_000, 100)}
NANDA_SEEDS = tuple(range(MIN_SEEDS))
NANDA_LOSS = 0.1
# their model and optimizer (Nanda et al.'s grokking notebook): 1 layer, no LayerNorm, MLP biases, their
# N(0, 1/d) init, AdamW lr 1e-3 wd 1 β (0.9, 0.98), 10-step warm-up, full batch, 40,000 epochs
NANDA_SETUP = dict(task="x+y", p=113, symmetric=False, y_nonzero=False, operands=None, model="transformer",
                   n_layers=1, d_model=128, n_heads=4, d_mlp=512, act="relu", layernorm=False, tied=False,
                   op_token=False, bias=True, init="normal", init_scale=1.0, optimizer="adamw", lr=1e-3, wd=1.0,
                   beta1=0.9, beta2=0.98, eps=1e-8, warmup=10, loss="ce", loss_dtype="float32", batch_size=None,
                   steps=40_000, grokfast="none", orthograd=False)


def _setup(label: str) -> dict:
    return {**NANDA_SETUP, "frac": float(label.split("=")[1])}


def _points(smoke: bool) -> list[Config]:
    if smoke:
        tiny = {**NANDA_SETUP, **TINY_TRANSFORMER, "steps": 150, "eval_every": 10, "ckpt_per_decade": 3}
        return [c for f in (0.5, 0.95) for c in seeded(NAME, f"frac={f:g}", from_dict({**tiny, "frac": f}), (0,))]
    return [c for f, (s, e) in sorted(NANDA_BUDGETS.items()) for c in seeded(
        NAME, f"frac={f:g}", from_dict({**NANDA_SETUP, "frac": f, "steps": s, "eval_every": e}), NANDA_SEEDS)]


def _source(f: float) -> str:
    return NANDA_FRACTION_SRC + (" (read second-hand from the saved sweep; verify)" if f in NANDA_SECOND_HAND else "")


def _compare(out: Outcome) -> list[Row]:
    rows = []
    fracs = sorted(float(label.split("=")[1]) for label in out.labels)
    for f in fracs:
        pub = NANDA_FRACTION.get(f)
        rows.append(reach(out, f"frac={f:g}", "test_loss", NANDA_LOSS, below=True,
                          published=Published(pub, _source(f)) if pub else None,
                          quantity=f"first step with test loss < {NANDA_LOSS:g}, {f:.0%} of pairs in training"))
    # the steep rise: how much longer each step down in data takes (over the monotone part, ≤ 0.6)
    known = [(f, r) for f, r in zip(fracs, rows) if f in NANDA_FRACTION and (f <= 0.6 or f == 0.95)]
    for (f_lo, r_lo), (f_hi, r_hi) in zip(known, known[1:]):
        pub = Published(round(NANDA_FRACTION[f_lo] / NANDA_FRACTION[f_hi], 2), f"{NANDA} (ratio of the table's epochs)")
        q = f"slow-down from {f_hi:.0%} to {f_lo:.0%} of pairs (steps ratio)"
        rows.append(ratio_row(q, pub, r_lo, r_hi, "needs both steps reached",
                              f"{f_lo:.0%} not reached within its budget"))
    return rows


EXPERIMENT = register(Experiment(
    NAME, "Steps to generalize against the training fraction", NANDA,
    "the step at which test loss falls below 0.1 rises steeply as the training fraction falls",
    plan="their 1-layer transformer (a+b mod 113, AdamW lr 1e-3 wd 1, full batch) at training fractions "
         + ", ".join(f"{f:g} ({s:,} steps)" for f, (s, _) in sorted(NANDA_BUDGETS.items()))
         + f", {len(NANDA_SEEDS)} seeds each (one ensemble per fraction); about 3 hours on 2 cores",
    axes=("frac",), setup=_setup, points=_points, compare=_compare), order=10)
