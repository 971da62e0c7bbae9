"""Liu, Michaud, Tegmark 2022 (Omnigrok): delayed generalization at a large initialisation, none at the
standard one (``omnigrok-digits``).

Their setup, read from KindXiaoming/Omnigrok ``mnist/grokking/mnist-grokking.ipynb``: ``depth = 3`` nn.Linear
modules (784 → 200 → 200 → 10, two hidden ReLU layers, with biases) in PyTorch's default init, every
parameter (weights and biases) multiplied by α = 8; MSE on one-hot targets; AdamW lr 1e-3 (β (0.9, 0.999),
eps 1e-8) with weight decay 0.01; batches of 200 of 1,000 training images; 10⁵ steps; the network in float64.
"""

from __future__ import annotations

import numpy as np

from groklab.config import Config, from_dict
from groklab.reproduce.core import MIN_SEEDS, Published, Row, fmt_number
from groklab.reproduce.experiment import Experiment, register, seeded
from groklab.reproduce.outcome import Outcome, phase_row

NAME = "omnigrok-digits"
OMNIGROK = "Liu, Michaud, Tegmark 2022, Omnigrok: grokking beyond algorithmic data"
OMNIGROK_BUDGET = 100_000
OMNIGROK_PHASE = {
    8.0: Published("grokking", f"{OMNIGROK}: MNIST, 1,000 points, init ×8 memorizes and generalizes much later "
                               "(the LU mechanism), within 10^5 steps", by=OMNIGROK_BUDGET),
    1.0: Published("comprehension", f"{OMNIGROK}: at the standard initialisation the delay disappears",
                   by=OMNIGROK_BUDGET)}
OMNIGROK_SEEDS = tuple(range(MIN_SEEDS))
OMNIGROK_STEPS = (OMNIGROK_BUDGET, 500)       # ours: their 10^5 steps, evaluated every 500
OMNIGROK_SETUP = dict(task="digits", n_train=1000, model="mlp", input="features", n_layers=2, d_mlp=200, act="relu",
                      bias=True, tied=False, init="uniform", optimizer="adamw", lr=1e-3, wd=0.01, beta1=0.9,
                      beta2=0.999, eps=1e-8, warmup=0, loss="mse", loss_dtype="float64", batch_size=200,
                      steps=OMNIGROK_BUDGET, grokfast="none", orthograd=False)
OMNIGROK_STAND_INS = ("scikit-learn's 8×8 digits (1,797 images, 797 held out) stand in for MNIST (1,000 of 60,000 "
                      "for training, the 10,000 test images held out)",
                      "their whole network is float64 (ours: float32 weights and activations, the loss in float64)",
                      "they cycle through shuffled epochs of 5 batches (ours: 200 rows drawn at each step)")


def _label(alpha: float) -> str:
    return f"init x{alpha:g}"


def _setup(label: str) -> dict:
    return {**OMNIGROK_SETUP, "init_scale": float(label.split("x")[1])}


def _points(smoke: bool) -> list[Config]:
    steps, every = (200, 10) if smoke else OMNIGROK_STEPS
    size = dict(d_mlp=32, ckpt_per_decade=3) if smoke else {}
    return [c for a in OMNIGROK_PHASE for c in seeded(
        NAME, _label(a), from_dict({**_setup(_label(a)), **size, "steps": steps, "eval_every": every}),
        OMNIGROK_SEEDS[:1] if smoke else OMNIGROK_SEEDS)]


def _facts(out: Outcome, r: dict) -> str:
    """One seed's measured course: memorization, generalization, peak test accuracy, weight norm."""
    m, s = out.metrics(r), r["summary"]
    i = int(np.nanargmax(m["test_acc"]))
    at = np.flatnonzero(m["step"] == s["t_mem"]) if s.get("t_mem") is not None else []
    acc_mem = f" (test accuracy there {float(m['test_acc'][at[0]]):.3f})" if len(at) else ""
    return (f"seed {r['seed']}: t_mem {fmt_number(s.get('t_mem'), 'steps')}{acc_mem}, test ≥ 0.9 at "
            f"{fmt_number(s.get('t_test_liu'), 'steps')}, peak test accuracy {m['test_acc'][i]:.3f} "
            f"at step {int(m['step'][i]):,}, sum of squared weights {m['weight_norm'][0]:,.0f} → "
            f"{m['weight_norm'][-1]:,.0f}")


def _compare(out: Outcome) -> list[Row]:
    rows = []
    for a, pub in OMNIGROK_PHASE.items():
        label = _label(a)
        row = phase_row(out, label, pub, f"init ×{a:g}: phase (Liu et al.'s phases, groklab's rule)")
        if out.runs(label):
            row.detail += "; " + "; ".join(_facts(out, r) for r in out.runs(label))
        rows.append(row)
    return rows


EXPERIMENT = register(Experiment(
    NAME, "Omnigrok: large initialisation makes grokking", OMNIGROK,
    "a large initialisation (×8) delays generalization long after memorization; at standard init it does not",
    plan=f"their MLP (three linear layers of width 200, PyTorch init with weights and biases ×α, MSE, AdamW lr 1e-3 "
         f"wd 0.01, batch 200) on 1,000 8×8 digits: α = 8 and α = 1, {len(OMNIGROK_SEEDS)} seeds each, one ensemble "
         f"of {OMNIGROK_STEPS[0]:,} steps",
    axes=("init_scale",), setup=_setup, points=_points, compare=_compare, stand_ins=OMNIGROK_STAND_INS), order=50)
