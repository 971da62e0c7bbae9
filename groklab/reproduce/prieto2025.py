"""Prieto et al. 2025: grokking without weight decay, with StableMax and ⊥Grad (``prieto2025``)."""

from __future__ import annotations

import numpy as np

from groklab.config import Config, resolve
from groklab.reproduce.core import Published, Row, agrees, first_reach
from groklab.reproduce.experiment import Experiment, named, register
from groklab.reproduce.outcome import Outcome, not_trained, reach

NAME = "prieto2025"
PRIETO = "Prieto et al. 2025, Grokking at the edge of numerical stability"
PRIETO_ARMS = {"softmax": dict(loss="ce", orthograd=False), "stablemax": dict(loss="stablemax", orthograd=False),
               "orthograd": dict(loss="ce", orthograd=True)}
PRIETO_ORTHO = Published(300, f"{PRIETO}: ⊥Grad MLP generalizes within ~300 steps without weight decay",
                         approx=True, within=True)
PRIETO_STABLEMAX = Published("yes", f"{PRIETO}: StableMax gives grokking without weight decay")
PRIETO_SOFTMAX = Published("no", f"{PRIETO}: softmax cross-entropy in float32 without weight decay stalls "
                                 "(Softmax Collapse)")
PRIETO_ACC = 0.9
PRIETO_STEPS = (5_000, 20)
PRIETO_PAPER = dict(task="x+y", p=113, frac=0.4, model="mlp", n_layers=2, d_mlp=200, optimizer="adamw", lr=1e-2,
                    wd=0.0)


def _points(smoke: bool) -> list[Config]:
    steps, every = (150, 10) if smoke else PRIETO_STEPS
    size = dict(p=23, d_mlp=32, ckpt_per_decade=3) if smoke else {}
    return [named(NAME, arm, resolve("prieto2025", **size, **kw, steps=steps, eval_every=every))
            for arm, kw in PRIETO_ARMS.items()]


def _generalizes(out: Outcome, arm: str, pub: Published, what: str) -> Row:
    """Whether ``arm`` reached PRIETO_ACC test accuracy, against the published finding."""
    thr = f"{PRIETO_ACC:.0%}"
    runs = out.runs(arm)
    q = f"{what}: generalizes (test accuracy ≥ {thr})"
    if not runs:
        return Row(q, pub, None, "finding", why=not_trained(out, arm))
    m = out.metrics(runs[0])
    acc, step = float(m["test_acc"][-1]), first_reach(m["step"], m["test_acc"], PRIETO_ACC)
    ours = "yes" if step is not None else "no"
    detail = f"test accuracy {acc:.3f} at step {int(m['step'][-1]):,}" + \
             (f"; {thr} at step {step:,}" if step is not None else "")
    row = Row(q, pub, ours, "finding", agree=agrees("finding", pub, ours), detail=detail)
    if row.agree is False:
        row.why = (f"reached {thr} test accuracy at step {step:,}" if step is not None else
                   f"{thr} test accuracy not reached within the {int(m['step'][-1]):,}-step budget")
    return row


def _compare(out: Outcome) -> list[Row]:
    rows = []
    thr = f"{PRIETO_ACC:.0%}"
    rows.append(reach(out, "orthograd", "test_acc", PRIETO_ACC, published=PRIETO_ORTHO,
                      quantity=f"⊥Grad, softmax cross-entropy, no weight decay: steps to {thr} test accuracy"))
    for arm, pub, what in (("stablemax", PRIETO_STABLEMAX, "StableMax, no weight decay"),
                           ("softmax", PRIETO_SOFTMAX, "softmax float32 baseline, no weight decay")):
        rows.append(_generalizes(out, arm, pub, what))
    for arm in PRIETO_ARMS:
        runs = out.runs(arm)
        if runs:
            m = out.metrics(runs[0])
            c = m["collapse_frac"]
            rows.append(Row(f"{arm}: Softmax Collapse fraction of training samples at the end", None, float(c[-1]),
                            "frac", detail=f"max {np.nanmax(c):.3f} at step {int(m['step'][int(np.nanargmax(c))]):,}"))
    return rows


EXPERIMENT = register(Experiment(
    NAME, "Grokking without weight decay: StableMax and ⊥Grad", PRIETO,
    "without weight decay softmax float32 stalls in Softmax Collapse; StableMax and ⊥Grad generalize",
    plan=f"MLP [200, 200] on a+b mod 113, 40% data, AdamW lr 1e-2, no weight decay: softmax, StableMax and ⊥Grad "
         f"runs of {PRIETO_STEPS[0]:,} steps each",
    axes=("name",), paper=PRIETO_PAPER, points=_points, compare=_compare), order=40)
