"""Prieto et al. 2025: grokking without weight decay, with StableMax and ⊥Grad (``prieto2025``).

Each arm is one of their published runs (LucasPrietoAl/grokking-at-the-edge-of-numerical-stability,
``run_main_experiments.sh``, with ``utils.py``'s defaults: AdamW eps 1e-25, β₁ 0.9, no weight decay,
``nn.Linear(bias=False)`` with PyTorch's default init, full batch, one-hot concatenated inputs):

- stablemax: Figure 1, ``--lr 0.01 --num_epochs 80000 --train_fraction 0.4 --loss_function stablemax
  --beta2 0.999`` (the logits cast to float64 inside the loss);
- orthograd: Figure 1, ``--lr 0.01 --num_epochs 300 --train_fraction 0.4 --beta2 0.99
  --orthogonal_gradients`` (float32 softmax cross-entropy);
- softmax: Figure 6's baseline, ``--lr 0.005 --num_epochs 500 --train_fraction 0.4`` (float32 softmax
  cross-entropy, β₂ 0.99), trained here ten times longer to show where it stalls.

Softmax Collapse is read two ways: the exp-based count (``collapse_frac``: Σ exp(z − max z) == 1 in
float32) and their logger's ``zero_terms`` (training rows whose loss is exactly zero in the run's own
loss and dtype), the one that means something under StableMax.
"""

from __future__ import annotations

import numpy as np

from groklab.config import Config, from_dict
from groklab.reproduce.core import MIN_SEEDS, Published, Row, fmt_number, spread, upper_median
from groklab.reproduce.experiment import Experiment, register, seeded
from groklab.reproduce.outcome import Outcome, finding, not_trained, reach

NAME = "prieto2025"
PRIETO = "Prieto et al. 2025, Grokking at the edge of numerical stability"
PRIETO_ACC = 0.9
PRIETO_SEEDS = tuple(range(MIN_SEEDS))
_SRC = "LucasPrietoAl/grokking-at-the-edge-of-numerical-stability"
_MLP = dict(task="x+y", p=113, symmetric=False, y_nonzero=False, operands=None, frac=0.4, model="mlp",
            input="onehot", n_layers=2, d_mlp=200, act="relu", bias=False, init="uniform", init_scale=1.0,
            tied=False, optimizer="adamw", wd=0.0, beta1=0.9, eps=1e-25, warmup=0, batch_size=None,
            grokfast="none")
# label -> the paper's run, as config fields (every departure is computed against these); the short arms
# first, so that an interrupted full run (resumable) has them
PRIETO_SETUPS = {
    "orthograd": {**_MLP, "loss": "ce", "loss_dtype": "float32", "lr": 1e-2, "beta2": 0.99, "orthograd": True,
                  "steps": 300},
    "softmax": {**_MLP, "loss": "ce", "loss_dtype": "float32", "lr": 5e-3, "beta2": 0.99, "orthograd": False,
                "steps": 500},
    "stablemax": {**_MLP, "loss": "stablemax", "loss_dtype": "float64", "lr": 1e-2, "beta2": 0.999,
                  "orthograd": False, "steps": 80_000},
}
PRIETO_ARMS = tuple(PRIETO_SETUPS)
PRIETO_STEPS = {"stablemax": (80_000, 500), "orthograd": (300, 10), "softmax": (5_000, 50)}   # ours: steps, eval
PRIETO_STABLEMAX = Published("yes", f"{PRIETO}, Figure 1: StableMax without weight decay reaches high test accuracy "
                                    "within its 80,000 full-batch steps", by=80_000)
PRIETO_STABLEMAX_STEP = Published(47_000, f"{PRIETO}, Figure 1 StableMax run: its saved curve (paper_plots.ipynb) "
                                          "passes 90% test accuracy near step 47,000 (read off the plot)", approx=True)
PRIETO_ORTHO = Published(300, f"{PRIETO}, Figure 1: ⊥Grad generalizes within its 300 steps without weight decay",
                         approx=True, within=True)
PRIETO_SOFTMAX = Published("no", f"{PRIETO}, Figure 6: float32 softmax cross-entropy without weight decay or ⊥Grad "
                                 "does not generalize within its 500 steps (Softmax Collapse)", by=500)
# their saved StableMax curve, read off paper_plots.ipynb (approximate): step -> test accuracy
PRIETO_CURVE = {5_000: 0.00, 20_000: 0.06, 30_000: 0.29, 40_000: 0.73, 50_000: 0.9}
LATER_STEPS = (60_000, 63_000, 70_000, 80_000)    # ours beyond their read-off points: does it stay?
PRIETO_CURVE_SRC = f"{PRIETO}: the Figure 1 StableMax curve saved in {_SRC}'s paper_plots.ipynb, read off the plot"
_SMOKE = dict(p=23, d_mlp=32, ckpt_per_decade=3)


def _points(smoke: bool) -> list[Config]:
    out = []
    for arm, setup in PRIETO_SETUPS.items():
        steps, every = (60, 10) if smoke else PRIETO_STEPS[arm]
        cfg = from_dict({**setup, "preset": None, "steps": steps, "eval_every": every, **(_SMOKE if smoke else {})})
        out += seeded(NAME, arm, cfg, PRIETO_SEEDS[:1] if smoke else PRIETO_SEEDS)
    return out


def _collapse_rows(out: Outcome) -> list[Row]:
    """Per arm, at the end: the fraction of training rows with an exactly-zero loss term, and (softmax arms)
    the exp-based Softmax Collapse count; median over seeds."""
    rows = []
    for arm in PRIETO_ARMS:
        runs = out.runs(arm)
        if not runs:
            continue
        metrics = [out.metrics(r) for r in runs]
        keys = ["zero_terms"] + (["collapse_frac"] if PRIETO_SETUPS[arm]["loss"] == "ce" else [])
        for key in keys:
            vals = [float(m[key][-1]) for m in metrics if key in m]
            if not vals:
                continue
            what = "training rows with an exactly-zero loss term (zero_terms)" if key == "zero_terms" else \
                "Softmax Collapse, Σ exp(z − max z) = 1 in float32 (collapse_frac)"
            peak = [(float(np.nanmax(m[key])), int(m["step"][int(np.nanargmax(m[key]))])) for m in metrics]
            rows.append(Row(f"{arm}: {what}, at the end", None, upper_median(vals), "frac", label=arm,
                            detail="; ".join(f"seed {r['seed']}: {v:.3f} (max {mx:.3f} at step {st:,})"
                                             for r, v, (mx, st) in zip(runs, vals, peak))))
    return rows


def _compare(out: Outcome) -> list[Row]:
    thr = f"{PRIETO_ACC:.0%}"
    return [
        finding(out, "stablemax", "test_acc", PRIETO_ACC, PRIETO_STABLEMAX,
                f"StableMax, no weight decay: generalizes (test accuracy ≥ {thr})"),
        reach(out, "stablemax", "test_acc", PRIETO_ACC, published=PRIETO_STABLEMAX_STEP,
              quantity=f"StableMax, no weight decay: first step with {thr} test accuracy"),
        reach(out, "orthograd", "test_acc", PRIETO_ACC, published=PRIETO_ORTHO,
              quantity=f"⊥Grad, float32 softmax, no weight decay: first step with {thr} test accuracy"),
        finding(out, "softmax", "test_acc", PRIETO_ACC, PRIETO_SOFTMAX,
                f"float32 softmax, no ⊥Grad, no weight decay: generalizes (test accuracy ≥ {thr})"),
        *_collapse_rows(out),
    ]


def _at(m: dict[str, np.ndarray], step: int) -> float | None:
    """Test accuracy at ``step`` if the run was evaluated there (None past its end)."""
    hit = np.flatnonzero(m["step"] == step)
    return float(m["test_acc"][hit[0]]) if hit.size else None


def _tables(out: Outcome) -> list[dict]:
    """The StableMax arm's test-accuracy curve beside their saved one."""
    runs = out.runs("stablemax")
    if not runs:
        return [{"title": "StableMax test accuracy beside their saved curve", "header": ["step", "theirs", "ours"],
                 "rows": [[not_trained(out, "stablemax"), "", ""]]}]
    metrics = [out.metrics(r) for r in runs]
    budget = max(int(m["step"][-1]) for m in metrics)
    rows = []
    for step, theirs in [*PRIETO_CURVE.items(), *((s, None) for s in LATER_STEPS if s <= budget)]:
        got = [v for v in (_at(m, step) for m in metrics) if v is not None]
        ours = fmt_number(upper_median(got), "acc") + (f" ({spread(got, 'acc')})" if len(got) > 1 else "") if got \
            else f"— (budget {budget:,})"
        mark = "—" if theirs is None else ("≥ " if step == 50_000 else "~") + f"{theirs:.2f}"
        rows.append([f"{step:,}", mark, ours])
    return [{"title": f"StableMax test accuracy beside their saved curve (ours: median of {len(runs)} seeds; "
                      f"theirs: {PRIETO_CURVE_SRC})", "header": ["step", "theirs", "ours"], "rows": rows}]


EXPERIMENT = register(Experiment(
    NAME, "Grokking without weight decay: StableMax and ⊥Grad", PRIETO,
    "without weight decay, StableMax generalizes within 80,000 steps and ⊥Grad within ~300, while float32 "
    "softmax cross-entropy stalls in Softmax Collapse",
    plan=f"their bias-free MLP [200, 200] (PyTorch init) on a+b mod 113, 40% data, full batch, AdamW lr 1e-2 eps "
         f"1e-25, no weight decay, {MIN_SEEDS} seeds per arm: StableMax in float64 (β₂ 0.999) for "
         f"{PRIETO_STEPS['stablemax'][0]:,} steps, ⊥Grad (β₂ 0.99) for {PRIETO_STEPS['orthograd'][0]:,}, float32 "
         f"softmax (their Figure 6 baseline, lr 5e-3) for {PRIETO_STEPS['softmax'][0]:,}; 2.5-6 hours on 2 cores "
         f"(StableMax: 40-90 ms per step and seed, measured at load 2.5-9)",
    axes=("name",), setup=PRIETO_SETUPS.get, points=_points, compare=_compare, tables=_tables), order=40)
