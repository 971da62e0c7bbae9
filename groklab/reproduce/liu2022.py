"""Liu et al. 2022: a phase diagram of the decoder's learning rate × weight decay on their toy model
(``liu2022``).

Their setup, read from ejmichaud/grokking-squared (``phase_diagram_plot/phase_diagram-classification.ipynb``,
``toy/train_add.py``): addition of the numbers 0..9 without wrap-around, the 55 pairs i ≤ j, 45 of them for
training (full batch); a 1-d embedding of each number, the two summed, then a decoder of three nn.Linear
layers (width 200, tanh, PyTorch init) to the 19 sums, cross-entropy; the embedding trained by Adam at lr
1e-3, the decoder by AdamW (β (0.9, 0.999)) at the learning rate and weight decay of the diagram, decoder lr
10^-4..10^-2 (11 values) × decoder weight decay 0..20 (11 values), 10⁵ steps, thresholds 0.9.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from groklab.config import Config, from_dict
from groklab.measure.labels import LIU_GAP, phase_of
from groklab.reproduce.core import MIN_SEEDS, Published, Row, agrees
from groklab.reproduce.experiment import Experiment, register, seeded
from groklab.reproduce.outcome import Outcome

NAME = "liu2022"
LIU = "Liu et al. 2022, Towards understanding grokking: an effective theory of representation learning"
LIU_PHASES = ("comprehension", "grokking", "memorization", "confusion")
LIU_BUDGET = 100_000
LIU_PUB = Published("present", f"{LIU}: comprehension, grokking, memorization and confusion regions of the decoder "
                               "learning rate × weight decay plane (toy addition, 10^5 steps)", by=LIU_BUDGET)
LIU_LRS = tuple(float(f"{x:.3g}") for x in 10 ** np.linspace(-4, -2, 5))   # every other of their 11
LIU_WDS = (0.0, 4.0, 8.0, 12.0, 16.0, 20.0)                                 # every other of their 11
LIU_SEEDS = tuple(range(MIN_SEEDS))
LIU_STEPS = (20_000, 100)          # ours: steps, evaluation interval
LIU_SETUP = dict(task="x+y", p=19, operands=10, symmetric=True, y_nonzero=False, n_train=45, model="mlp",
                 input="embed-sum", d_embed=1, n_layers=2, d_mlp=200, act="tanh", bias=True, tied=False,
                 init="uniform", init_scale=1.0, optimizer="adamw", beta1=0.9, beta2=0.999, eps=1e-8, warmup=0,
                 loss="ce", loss_dtype="float32", batch_size=None, steps=LIU_BUDGET, grokfast="none",
                 orthograd=False)
LIU_STAND_INS = ("their embedding has its own optimizer, Adam at lr 1e-3 without decay, initialised U(−0.5, 0.5) "
                 "(ours: the decoder's learning rate and decay apply to it too, and PyTorch's N(0, 1) init); their "
                 "loss is the mean over the 19 classes too, CE/19",
                 "a 5 × 6 subgrid of their 11 × 11 (learning rates and decays every other value); 3 seeds per cell "
                 "(theirs: one)")


def _label(lr: float, wd: float) -> str:
    return f"lr={lr:g} wd={wd:g}"


def _setup(label: str) -> dict:
    lr, wd = (float(part.split("=")[1]) for part in label.split())
    return {**LIU_SETUP, "lr": lr, "wd": wd}


def _points(smoke: bool) -> list[Config]:
    lrs, wds, seeds = ((1e-3, 1e-2), (0.0, 8.0), (0,)) if smoke else (LIU_LRS, LIU_WDS, LIU_SEEDS)
    steps, every = (150, 10) if smoke else LIU_STEPS
    small = dict(d_mlp=32, ckpt_per_decade=3) if smoke else {}
    return [c for w in wds for lr in lrs for c in seeded(
        NAME, _label(lr, w), from_dict({**_setup(_label(lr, w)), **small, "steps": steps, "eval_every": every}),
        seeds)]


def _phase(run: dict) -> str | None:
    """A run's phase by Liu et al.'s literal rule (fixed gap, config field phase_gap), which this reproduction
    tests; the run's own reports use groklab's default rule (groklab.measure.labels)."""
    return phase_of(run["summary"], rule="liu", gap=run["config"].get("phase_gap", LIU_GAP))


def _tables(out: Outcome) -> list[dict]:
    """The phase diagram: weight decay down, learning rate across; each cell the Liu phase and, when both
    accuracies got there, t_test − t_train (the grokking delay; small for comprehension)."""
    cells: dict[tuple[float, float], str] = {}
    for label in out.labels:
        for x in out.labels[label]:
            c, run = x["config"], x["run"]
            if not run or not run["summary"]:
                cells[(c["wd"], c["lr"])] = "not trained"
                continue
            s = run["summary"]
            tr, te = s.get("t_train_liu"), s.get("t_test_liu")
            cells[(c["wd"], c["lr"])] = _phase(run) + (f" ({te - tr:+,})" if tr is not None and te is not None else "")
    wds = sorted({k[0] for k in cells})
    lrs = sorted({k[1] for k in cells})
    rows = [[f"{w:g}", *(cells.get((w, lr), "—") for lr in lrs)] for w in wds]
    return [{"title": "Phase diagram: phase (t_test − t_train, steps) at each learning rate × weight decay",
             "header": ["weight decay ↓ / learning rate →", *(f"{lr:g}" for lr in lrs)], "rows": rows}]


def _compare(out: Outcome) -> list[Row]:
    runs = [r for label in out.labels for r in out.runs(label)]
    counts = Counter(_phase(r) for r in runs)
    cfgs = out.configs()
    budget = max((c["steps"] for c in cfgs), default=0)
    axis = {k: ", ".join(f"{v:g}" for v in sorted({c[k] for c in cfgs})) for k in ("lr", "wd")}
    grid = f"learning rates {axis['lr']} × weight decays {axis['wd']}, {budget:,} steps"
    rows = []
    for ph in LIU_PHASES:
        seen = counts.get(ph, 0)
        # a phase seen is there; one not seen is absent only once the runs are as long as theirs (a memorization
        # or confusion cell of a shorter run may still turn into grokking or comprehension later)
        ours = "present" if seen else ("absent" if budget >= LIU_BUDGET else "undecided")
        row = Row(f"{ph}: points in the region", LIU_PUB, ours, "finding", detail=f"{seen} of {len(runs)} points")
        row.agree = agrees("finding", LIU_PUB, ours) if ours != "undecided" else None
        row.budget = budget if row.agree is None else None
        if row.agree is False:
            row.why = f"none of the {len(runs)} points fell in it ({grid})"
        rows.append(row)
    return rows


EXPERIMENT = register(Experiment(
    NAME, "A phase diagram: learning rate × weight decay", LIU,
    "comprehension, grokking, memorization and confusion each occupy a region of the decoder learning rate × "
    "weight decay plane",
    plan=f"their toy (0..9 added without wrap-around, 45 of the 55 pairs i ≤ j, a 1-d summed embedding, a tanh "
         f"decoder of width 200, CE, AdamW β (0.9, 0.999)): learning rates {', '.join(f'{x:g}' for x in LIU_LRS)} × "
         f"weight decays {', '.join(f'{w:g}' for w in LIU_WDS)}, {len(LIU_SEEDS)} seeds per cell, one ensemble of "
         f"{len(LIU_LRS) * len(LIU_WDS) * len(LIU_SEEDS)} members, {LIU_STEPS[0]:,} of their 10^5 full-batch steps",
    axes=("lr", "wd"), setup=_setup, points=_points, compare=_compare, tables=_tables,
    stand_ins=LIU_STAND_INS), order=70)
