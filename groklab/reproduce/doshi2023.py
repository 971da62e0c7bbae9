"""Doshi et al. 2023: the four label-noise phases by weight decay (``doshi2023``)."""

from __future__ import annotations

from groklab.config import Config, resolve
from groklab.reproduce.core import MIN_SEEDS, UNSTATED, Published, Row, agrees, fmt_number, majority, mean_finite
from groklab.reproduce.experiment import Experiment, named, register
from groklab.reproduce.outcome import Outcome, not_trained

NAME = "doshi2023"
DOSHI = "Doshi et al. 2023, To grok or not to grok: disentangling generalization and memorization"
DOSHI_PHASE = {0: "coexistence", 5: "partial_inversion", 15: "full_inversion", 20: "forgetting"}
DOSHI_SRC = f"{DOSHI}: p = 97, 50% data, 35% label noise, quadratic MLP"
DOSHI_SEEDS = tuple(range(MIN_SEEDS))
# Gromov's quadratic MLP as Doshi et al. train it (REFERENCES.md); what neither states is marked UNSTATED
DOSHI_SETUP = dict(task="x+y", p=97, symmetric=False, y_nonzero=False, operands=None, frac=0.5, noise=0.35,
                   model="mlp", input="onehot", n_layers=1, d_mlp=500, act="quadratic", bias=False, tied=False,
                   init="normal", init_std=0.5 / (2 * 500) ** (1 / 3), init_scale=1.0, optimizer="adamw", lr=1e-2,
                   beta1=0.9, beta2=0.98, eps=UNSTATED, warmup=0, loss="mse", loss_dtype=UNSTATED, batch_size=None,
                   steps=UNSTATED, grokfast="none", orthograd=False)


def _setup(label: str) -> dict:
    return {**DOSHI_SETUP, "wd": float(label.split("=")[1])}


def doshi_reason(test_acc: float, noise: dict) -> str:
    """The numbers ``measure.doshi_phase`` classified a label-noise run by (its default thresholds, 0.9)."""
    return (f"test accuracy {test_acc:.3f}, on the corrupted labels memorized {noise['memorized_acc']:.3f} and "
            f"inverted {noise['inverted_acc']:.3f} (thresholds 0.9)")


def _points(smoke: bool) -> list[Config]:
    # the phases are read at the end: evaluating every 50 steps instead of the presets' 20 saves ~10%
    size = dict(p=23, d_mlp=64, steps=100, eval_every=10, ckpt_per_decade=3) if smoke else dict(eval_every=50)
    seeds = DOSHI_SEEDS[:1] if smoke else DOSHI_SEEDS
    # the four doshi2023-wd* presets differ in wd alone: every point starts from wd0's and sets its wd, so
    # all share one batched ensemble (the preset field, recorded only, would otherwise split them)
    return [named(NAME, f"wd={w}", resolve("doshi2023-wd0", **size, wd=float(w), seed=s))
            for w in DOSHI_PHASE for s in seeds]


def _compare(out: Outcome) -> list[Row]:
    rows = []
    for w, phase in DOSHI_PHASE.items():
        label = f"wd={w}"
        pub = Published(phase, DOSHI_SRC)
        q = f"weight decay {w}: phase"
        runs = out.runs(label)
        if not runs:
            rows.append(Row(q, pub, None, "finding", why=not_trained(out, label)))
            continue
        noise = [r["summary"]["noise"] for r in runs]
        ours = majority([n["phase"] for n in noise])
        accs = {k: mean_finite([n[k] for n in noise]) for k in ("memorized_acc", "inverted_acc")}
        test = mean_finite([r["summary"]["final"]["test_acc"] for r in runs])
        n = f" (mean of {len(runs)} seeds)" if len(runs) > 1 else ""
        detail = (f"test {fmt_number(test, 'acc')}, memorized {fmt_number(accs['memorized_acc'], 'acc')}, "
                  f"inverted {fmt_number(accs['inverted_acc'], 'acc')}{n}")
        row = Row(q, pub, ours, "finding", agree=agrees("finding", pub, ours), detail=detail)
        if row.agree is False:
            row.why = "; ".join(f"seed {r['seed']}: {doshi_reason(r['summary']['final']['test_acc'], n)}"
                                for r, n in zip(runs, noise))
        rows.append(row)
    return rows


EXPERIMENT = register(Experiment(
    NAME, "Label noise: four phases by weight decay", DOSHI,
    "with 35% label noise, weight decay 0/5/15/20 gives coexistence / partial inversion / full inversion / "
    "forgetting",
    plan=f"the doshi2023-wd0/5/15/20 presets (quadratic MLP, a+b mod 97, 50% data, 35% noise), "
         f"{len(DOSHI_SEEDS)} seeds each, 3,000 full-batch steps",
    axes=("wd",), setup=_setup, points=_points, compare=_compare), order=60)
