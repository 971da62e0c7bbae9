"""The memorization atlas (``memorization``): per-example memorization of noisy labels, LiRA against the
loss threshold and canary exposure on one subset ensemble; groklab's own measurement of three published
findings on grokking's modular arithmetic (no published numbers on this task to compare with)."""

from __future__ import annotations

import numpy as np

from groklab.config import Config, resolve
from groklab.reproduce.core import Row
from groklab.reproduce.experiment import Experiment, named, register
from groklab.reproduce.outcome import Outcome, not_trained
from groklab.train.subsets import expand_subsets

NAME = "memorization"
_LABEL = "atlas"
MEM_SRC = ("Feldman & Zhang 2020 (memorization and influence estimates from subset models; mislabeled examples "
           "are among the most memorized), Carlini et al. 2022 (LiRA, TPR at low FPR), Carlini et al. 2019 "
           "(canary exposure)")
# the README's command: gromov2023's quadratic MLP on a+b mod 31, 80% pool, 8% noisy labels, 8 canaries
MEM_RECIPE = dict(p=31, frac=0.8, d_mlp=128, noise=0.08, canaries=8, subsets=16, steps=600)
_SMOKE = dict(p=17, subsets=6, canaries=2, steps=100)   # 6: LiRA needs two shadow models a side


MEM_SEEDS = (0, 1, 2)       # one atlas per seed: its members' seeds 1000·s + k, its pool (data seed) s


def _points(smoke: bool) -> list[Config]:
    out = []
    for s in MEM_SEEDS[:1] if smoke else MEM_SEEDS:
        cfg = resolve("gromov2023", **{**MEM_RECIPE, **(_SMOKE if smoke else {}), "seed": 1000 * s, "data_seed": s})
        out += [named(NAME, _LABEL, c) for c in expand_subsets([cfg])]
    return out


def value_at(steps: np.ndarray, ex: np.ndarray, step: int | None) -> float | None:
    """Exposure at the last recorded step at or before ``step`` (None if ``step`` is None or before all)."""
    if step is None:
        return None
    ok = np.flatnonzero((steps <= step) & np.isfinite(ex))
    return float(ex[ok[-1]]) if ok.size else None


def fmt_or_dash(v, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def atlas_facts(out: Outcome, group_runs: list[dict]) -> dict:
    """One atlas's numbers: its summary, exposure curve, t_mem and t_gen (the median member's)."""
    from groklab.analysis.memorization import atlas

    a = atlas(out.store, group_runs[0]["group_id"])
    c = a["curves"]
    ex = np.array([np.nan if v is None else v for v in c["exposure_in"]], float)
    # t_mem: train accuracy 0.99; t_gen here: test accuracy 0.9 (t_test_liu), since members on half the pool
    # generalize to ~0.97; the median over the members that got there, if at least half did
    med = {}
    for key, src in (("t_mem", "t_mem"), ("t_gen", "t_test_liu")):
        v = [r["summary"].get(src) for r in group_runs if r.get("summary")]
        got = [x for x in v if x is not None]
        med[key] = int(np.median(got)) if v and 2 * len(got) >= len(v) else None
    return {"a": a, "steps": np.array(c["step"]), "ex": ex, **med}


def median_of(vals: list) -> float | None:
    v = [x for x in vals if x is not None]
    return float(np.median(v)) if v else None


def _compare(out: Outcome) -> list[Row]:
    runs = out.runs(_LABEL)
    if not runs:
        return [Row("memorization of noisy labels", None, None, "frac", why=not_trained(out, _LABEL))]
    groups: dict[str, list[dict]] = {}
    for r in runs:
        groups.setdefault(r["group_id"], []).append(r)
    facts = [atlas_facts(out, g) for g in groups.values()]
    n = len(facts)
    seeds = lambda f: "; ".join(f"atlas {i}: {f(x)}" for i, x in enumerate(facts))  # noqa: E731
    s0 = [x["a"]["summary"] for x in facts]
    lira = [x.get("lira") or {} for x in s0]
    loss = [x.get("loss_threshold") or {} for x in s0]
    tpr = lambda d, k: d.get(k)  # noqa: E731
    beats = sum(all((li.get(k) or 0) >= (lo.get(k) or 0) for k in ("tpr@0.001", "tpr@0.01"))
                for li, lo in zip(lira, loss))
    rows = [
        Row(f"AUC of mem(i) separating noisy from clean labels (median of {n} atlases)", None,
            median_of([x["mem_auc_corrupted"] for x in s0]), "frac",
            detail=seeds(lambda x: f"{fmt_or_dash(x['a']['summary']['mem_auc_corrupted'])} (mean mem noisy "
                                   f"{fmt_or_dash(x['a']['summary']['mem_corrupted'])}, clean "
                                   f"{fmt_or_dash(x['a']['summary']['mem_clean'])}; {x['a']['members']} members)")),
        Row("held-out accuracy of the members", None, median_of([x["test_acc"] for x in s0]), "acc"),
        Row("LiRA TPR at 0.1% FPR", None, median_of([tpr(d, "tpr@0.001") for d in lira]), "frac",
            detail=f"loss threshold {fmt_or_dash(median_of([tpr(d, 'tpr@0.001') for d in loss]))}"),
        Row("LiRA TPR at 1% FPR", None, median_of([tpr(d, "tpr@0.01") for d in lira]), "frac",
            detail=f"loss threshold {fmt_or_dash(median_of([tpr(d, 'tpr@0.01') for d in loss]))}"),
        Row("LiRA at least the loss threshold at 0.1% and 1% FPR (last step)", None, f"{beats} of {n} atlases",
            "finding"),
    ]
    return rows + _exposure_rows(facts)


def _exposure_rows(facts: list[dict]) -> list[Row]:
    """What grokking does to canary exposure: at step 0, at t_mem, at t_gen and at the end, per atlas."""
    def at(x, when):
        step = {"start": 0, "t_mem": x["t_mem"], "t_gen": x["t_gen"], "end": int(x["steps"][-1])}[when]
        return value_at(x["steps"], x["ex"], step)

    n = len(facts)
    rows = []
    for when, what in (("start", "at step 0"), ("t_mem", "at t_mem (memorized)"),
                       ("t_gen", "when test accuracy reaches 0.9 (generalized)"), ("end", "at the end")):
        vals = [at(x, when) for x in facts]
        rows.append(Row(f"canary exposure (bits) {what}, median of {n} atlases", None,
                        "—" if median_of(vals) is None else f"{median_of(vals):.2f}", "finding",
                        detail="; ".join(f"atlas {i}: {fmt_or_dash(v, '.2f')}"
                                         + (f" (step {x[when]})" if when in ("t_mem", "t_gen") else "")
                                         for i, (x, v) in enumerate(zip(facts, vals)))))
    gen = [x for x in facts if x["t_gen"] is not None and at(x, "t_gen") is not None]
    kept = [x for x in gen if at(x, "end") >= at(x, "t_gen") - 0.5]
    rows.append(Row("exposure kept after generalizing (at the end ≥ its value at test accuracy 0.9 − 0.5 bits)",
                    None, f"{len(kept)} of {len(gen)} atlases that generalized" if gen else "—", "finding",
                    detail=f"{n - len(gen)} of {n} atlases did not reach test accuracy 0.9" if len(gen) < n else
                    "canaries are trained-on rows with random labels; generalizing on the task leaves them exposed"
                    if len(kept) == len(gen) else ""))
    return rows


EXPERIMENT = register(Experiment(
    NAME, "Memorization atlas: noisy labels, LiRA and canaries", MEM_SRC,
    "mislabeled examples are the most memorized (Feldman & Zhang 2020); a per-example likelihood-ratio attack "
    "beats a global loss threshold at low false-positive rates (Carlini et al. 2022); planted canaries' secrets "
    "become exposed as the model memorizes (Carlini et al. 2019)",
    plan="gromov2023's quadratic MLP on a+b mod 31 with an 80% training pool, 8% noisy labels and 8 canaries; "
         "3 atlases (seeds and pools 0, 1, 2) of 16 members, each member on a random half of its pool, one batched "
         "ensemble per atlas, 600 full-batch steps; "
         "per-example loss, confidence and rank at every checkpoint (`groklab memorization`)",
    axes=("subset",), setup=lambda label: None, points=_points, compare=_compare), order=85)
