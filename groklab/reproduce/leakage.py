"""Membership-inference leakage across grokking (``leakage``): groklab's own measurement, nothing
published to compare with."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from groklab.config import Config, resolve
from groklab.reproduce.core import Row, fmt_number
from groklab.reproduce.experiment import TINY_TRANSFORMER, Experiment, named, register
from groklab.reproduce.outcome import Outcome, not_trained

NAME = "leakage"
LEAK_SRC = ("no published measurement: REFERENCES.md, membership inference (loss-threshold attack, Yeom et al. "
            "2018; AUC and TPR at 1% FPR as in Carlini et al. 2022)")
LEAK_SEEDS = (0, 1, 2)
LEAK_CURVE = (10, 30, 100, 200, 300, 500, 800)   # the steps the curve rows show (nearest evaluated step)
_LABEL = "nanda2023-fast"


# The attack is measured on a recipe with a distinct memorization phase before grokking: nanda2023-fast's
# task, model and budget with AdamW lr 3e-3 wd 5 (its recipe until 2026-11-29). Measured with the current
# nanda2023-fast (lr 1e-2, beta2 0.999, init x0.5; sweep s261129-146c92): t_mem 70-100 and t_gen 86-150 nearly
# coincide, and the AUC peaks lower (0.84-0.89) and before t_mem (steps 35-70).
LEAK_RECIPE = dict(lr=3e-3, wd=5.0, beta2=0.98, init_scale=1.0, eval_per_decade=20, ckpt_per_decade=10)


def _points(smoke: bool) -> list[Config]:
    size = dict(**TINY_TRANSFORMER, steps=150, eval_every=10, ckpt_per_decade=3) if smoke else {}
    return [named(NAME, _LABEL, resolve("nanda2023-fast", **{**LEAK_RECIPE, **size}, seed=s))
            for s in LEAK_SEEDS]


def _at(m: dict[str, np.ndarray], key: str, step: int | None) -> float | None:
    """``key`` at the evaluated step nearest ``step`` (None without a step)."""
    if step is None:
        return None
    i = int(np.argmin(np.abs(m["step"] - step)))
    return float(m[key][i])


def _seed_facts(out: Outcome, r: dict) -> dict:
    """One seed's attack curve: its peak, its values at t_mem, t_gen and the end, and the curve's steps."""
    m, s = out.metrics(r), r["summary"]
    auc, tpr = m["mia_auc"], m["mia_tpr1"]
    i = int(np.nanargmax(auc))
    j = int(np.nanargmax(tpr))
    return dict(seed=r["seed"], t_mem=s["t_mem"], t_gen=s["t_gen"], end=int(m["step"][-1]),
                peak=float(auc[i]), peak_step=int(m["step"][i]), tpr_peak=float(tpr[j]),
                tpr_peak_step=int(m["step"][j]), at_mem=_at(m, "mia_auc", s["t_mem"]),
                at_gen=_at(m, "mia_auc", s["t_gen"]), final=float(auc[-1]), tpr_final=float(tpr[-1]),
                curve=[(st, _at(m, "mia_auc", st), _at(m, "mia_tpr1", st))
                       for st in LEAK_CURVE if st <= int(m["step"][-1])])


def _compare(out: Outcome) -> list[Row]:
    runs = out.runs(_LABEL)
    if not runs:
        return [Row("membership-inference AUC", None, None, "frac", why=not_trained(out, _LABEL))]
    per = [_seed_facts(out, r) for r in runs]

    def med(k: str) -> float | None:
        xs = [p[k] for p in per if p[k] is not None]
        return float(np.median(xs)) if xs else None

    def each(fmt: Callable[[dict], str]) -> str:
        return "; ".join(f"seed {p['seed']}: {fmt(p)}" for p in per)

    n = len(per)
    rows = [
        Row("memorized (train accuracy ≥ 0.99 at t_mem): AUC", None, med("at_mem"), "frac",
            detail=each(lambda p: f"{fmt_number(p['at_mem'], 'frac')} at step {fmt_number(p['t_mem'], 'steps')}")),
        Row("peak AUC over training", None, med("peak"), "frac",
            detail=each(lambda p: f"{p['peak']:.3f} at step {p['peak_step']:,}")),
        Row("generalized (test accuracy ≥ 0.99 at t_gen): AUC", None, med("at_gen"), "frac",
            detail=each(lambda p: f"{fmt_number(p['at_gen'], 'frac')} at step {fmt_number(p['t_gen'], 'steps')}")),
        Row("AUC at the end of training", None, med("final"), "frac",
            detail=each(lambda p: f"{p['final']:.3f} at step {p['end']:,}")),
        Row("TPR at 1% FPR: peak", None, med("tpr_peak"), "frac",
            detail=each(lambda p: f"{p['tpr_peak']:.3f} at step {p['tpr_peak_step']:,}")),
        Row("TPR at 1% FPR: at the end", None, med("tpr_final"), "frac",
            detail=each(lambda p: f"{p['tpr_final']:.3f}")),
    ]
    for st in LEAK_CURVE:
        pts = [(p["seed"], c) for p in per for c in p["curve"] if c[0] == st]
        if pts:
            rows.append(Row(f"curve: AUC / TPR@1%FPR at step {st:,}", None, float(np.median([c[1] for _, c in pts])),
                            "frac", detail="; ".join(f"seed {sd}: {c[1]:.3f} / {c[2]:.3f}" for sd, c in pts)))
    fell = [p["final"] < p["peak"] - 0.1 for p in per]
    peak_between = [p["t_mem"] is not None and p["peak_step"] >= p["t_mem"]
                    and (p["t_gen"] is None or p["peak_step"] <= p["t_gen"]) for p in per]
    rows.append(Row("AUC at the end more than 0.1 below its peak", None,
                    f"{sum(fell)} of {n} seeds", "finding",
                    detail=each(lambda p: f"peak {p['peak']:.3f} → end {p['final']:.3f}")))
    rows.append(Row("the AUC peak falls between memorizing and generalizing (t_mem ≤ peak ≤ t_gen)", None,
                    f"{sum(peak_between)} of {n} seeds", "finding",
                    detail=each(lambda p: f"t_mem {fmt_number(p['t_mem'], 'steps')}, peak at "
                                          f"{p['peak_step']:,}, t_gen {fmt_number(p['t_gen'], 'steps')}")))
    return rows


EXPERIMENT = register(Experiment(
    NAME, "Membership-inference leakage across grokking", LEAK_SRC,
    "none published: how much a loss-threshold attack learns about the training set as a model memorizes, "
    "then generalizes",
    plan=f"nanda2023-fast's task, model and budget (the nanda2023 transformer on a+b mod 113, 30% data, 800 "
         f"full-batch steps, evaluated every 10) with AdamW lr 3e-3 wd 5, a recipe with a distinct memorization "
         f"phase; {len(LEAK_SEEDS)} seeds as one ensemble; the attack's AUC "
         f"and TPR at 1% FPR over all p² examples at every evaluation",
    axes=("seed",), setup=lambda label: None, points=_points, compare=_compare), order=90)
