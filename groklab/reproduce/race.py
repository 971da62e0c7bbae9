"""What the accelerator race (``accelerators``) reads off each stored run: steps, training FLOPs and seconds
to ``RACE_ACC`` test accuracy, whether the run stayed there, the replacement rule's verdict, and the
"median [min – max]" interval over the seeds that every row and table prints."""

from __future__ import annotations

import functools
import json

import numpy as np

from groklab.config import from_dict
from groklab.reproduce.core import first_reach, fmt_number, upper_median
from groklab.reproduce.outcome import Outcome

RACE_ACC = 0.99
STAY_FACTOR = 5               # the replacement rule: never below RACE_ACC after t_gen for >= 5 x t_gen steps


@functools.lru_cache(maxsize=64)
def _step_flops(cfg_json: str) -> float:
    """Training FLOPs of one member's step: 3 × the model's forward FLOPs per example × the batch (the
    benchmark's count), plus Muon's Newton–Schulz iterations; evaluations are not counted."""
    import jax

    from groklab.models import build
    from groklab.tasks import build_dataset
    from groklab.train.optim import muon_flops

    cfg = from_dict(json.loads(cfg_json))
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    shapes = {k: v.shape for k, v in jax.eval_shape(model.init, jax.random.PRNGKey(0)).items()}
    batch = ds.n_train if cfg.batch_size is None else min(cfg.batch_size, ds.n_train)
    return 3.0 * float(model.flops_per_example) * batch + muon_flops(cfg, shapes)


def _seconds(run: dict, hit: int, budget: int) -> float:
    """Seconds one member took to ``hit``: its group's training time by then (the stored wall time at that
    evaluation when the summary has it, else the share of the run's wall time), less compilation, ÷ members."""
    s = run["summary"]
    members = s.get("members") or 1
    to_gen = s.get("to_gen") or {}
    if to_gen.get("step") == hit and to_gen.get("seconds") is not None:
        total = to_gen["seconds"] - (s.get("compile_s") or 0.0)
    else:
        total = (float(run.get("wall_s") or 0.0) - (s.get("compile_s") or 0.0)) * hit / max(budget, 1)
    return max(total, 0.0) / members


def facts(out: Outcome, label: str) -> list[dict]:
    """Per finished run of ``label``: seed, first step with test accuracy ≥ RACE_ACC (None: not reached),
    whether it stayed there to the end, the replacement rule's verdict (yes / no / open: too short to
    tell), the budget, the final accuracy, FLOPs and seconds to the hit (and for the whole budget)."""
    got = []
    for r in out.runs(label):
        m = out.metrics(r)
        steps, acc = m["step"], m["test_acc"]
        hit = first_reach(steps, acc, RACE_ACC)
        budget = int(steps[-1])
        stays = hit is not None and float(np.nanmin(acc[steps >= hit])) >= RACE_ACC
        rule = "no" if hit is None or not stays else "yes" if budget >= (1 + STAY_FACTOR) * hit else "open"
        cfg = {k: v for k, v in r["config"].items() if k != "name"}
        step = _step_flops(json.dumps(cfg, sort_keys=True))
        got.append(dict(seed=r["seed"], hit=hit, stays=stays, rule=rule, budget=budget, final=float(acc[-1]),
                        flops=step * hit if hit is not None else None, budget_flops=step * budget,
                        seconds=_seconds(r, hit, budget) if hit is not None else None,
                        budget_seconds=_seconds(r, budget, budget), lr=r["config"]["lr"], wd=r["config"]["wd"]))
    return got


def interval(xs: list, kind: str, budget: int | None = None) -> str:
    """"median [min – max]" over the values reached (misses counted as above every hit), "> budget" when
    most missed; "—" for no values."""
    if not xs:
        return "—"
    got = [x for x in xs if x is not None]
    if 2 * len(got) <= len(xs):
        return f"> {budget:,}" if budget is not None else "not reached"
    med = upper_median([x if x is not None else np.inf for x in xs])
    hi = "> budget" if len(got) < len(xs) else _num(max(got), kind)
    return f"{_num(med, kind)} [{_num(min(got), kind)} – {hi}]"


def _num(v: float, kind: str) -> str:
    if kind == "flops":
        return f"{v:.3g}"
    if kind == "seconds":
        return f"{v:.2f}"
    if kind == "acc":
        return f"{v:.3f}"
    return fmt_number(v, "steps")


def median_reached(xs: list) -> float | None:
    """The upper median with misses (None) counted as above every value; None when most missed (or none)."""
    if not xs or 2 * sum(x is not None for x in xs) <= len(xs):
        return None
    return float(upper_median([x if x is not None else np.inf for x in xs]))


def _median_hit(fs: list[dict]) -> float | None:
    return median_reached([f["hit"] for f in fs])
