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


def _points(smoke: bool) -> list[Config]:
    cfg = resolve("gromov2023", **{**MEM_RECIPE, **(_SMOKE if smoke else {})})
    return [named(NAME, _LABEL, c) for c in expand_subsets([cfg])]


def _num(v, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def _compare(out: Outcome) -> list[Row]:
    from groklab.analysis.memorization import atlas

    runs = out.runs(_LABEL)
    if not runs:
        return [Row("memorization of noisy labels", None, None, "frac", why=not_trained(out, _LABEL))]
    a = atlas(out.store, runs[0]["group_id"])
    s, c = a["summary"], a["curves"]
    t_mem = runs[0]["summary"].get("t_mem")
    lira, loss = s["lira"] or {}, s["loss_threshold"] or {}
    ex = np.array([np.nan if v is None else v for v in c["exposure_in"]], float)
    steps = np.array(c["step"])
    reached = steps[np.isfinite(ex) & (ex >= np.nanmax(ex) - 0.05)] if np.isfinite(ex).any() else []
    rows = [
        Row("AUC of mem(i) separating noisy from clean labels", None, s["mem_auc_corrupted"], "frac",
            detail=f"mean mem: noisy {_num(s['mem_corrupted'])}, clean {_num(s['mem_clean'])}; {a['members']} "
                   f"members, {a['n_pool']} pool examples, step {a['step']}"),
        Row("held-out accuracy of the members", None, s["test_acc"], "acc"),
        Row("LiRA TPR at 0.1% FPR", None, lira.get("tpr@0.001"), "frac",
            detail=f"loss threshold {_num(loss.get('tpr@0.001'))}"),
        Row("LiRA TPR at 1% FPR", None, lira.get("tpr@0.01"), "frac",
            detail=f"loss threshold {_num(loss.get('tpr@0.01'))}"),
        Row("LiRA at least the loss threshold at 0.1% and 1% FPR (last step)", None,
            "—" if lira.get("tpr@0.01") is None else
            "yes" if all(lira[k] >= loss[k] for k in ("tpr@0.001", "tpr@0.01")) else "no", "finding"),
        Row("canary exposure (bits): at step 0, at the end, at most", None,
            f"{ex[0]:.2f}, {ex[-1]:.2f}, {s['max_exposure']:.2f}" if np.isfinite(ex).any() else "—", "finding",
            detail=f"maximum first within 0.05 bits at step {int(reached[0]) if len(reached) else '—'}; "
                   f"t_mem {t_mem}; not trained on: {_num(s['exposure_out'], '.2f')} bits at the end"),
    ]
    return rows


EXPERIMENT = register(Experiment(
    NAME, "Memorization atlas: noisy labels, LiRA and canaries", MEM_SRC,
    "mislabeled examples are the most memorized (Feldman & Zhang 2020); a per-example likelihood-ratio attack "
    "beats a global loss threshold at low false-positive rates (Carlini et al. 2022); planted canaries' secrets "
    "become exposed as the model memorizes (Carlini et al. 2019)",
    plan="gromov2023's quadratic MLP on a+b mod 31 with an 80% training pool, 8% noisy labels and 8 canaries; "
         "16 members, each on a random half of the pool, as one batched ensemble, 600 full-batch steps; "
         "per-example loss, confidence and rank at every checkpoint (`groklab memorization`)",
    axes=("subset",), setup=lambda label: None, points=_points, compare=_compare), order=85)
