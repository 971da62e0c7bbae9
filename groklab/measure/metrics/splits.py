"""Loss and accuracy on each named split of a task's rows (``Table.meta["splits"]``), with each split's
t_mem or t_gen in the summary: Wang et al. 2024 ("Grokked transformers are implicit reasoners") read
their knowledge-graph runs as atomic facts (ID and OOD), trained inferred facts, and held-out inferred
facts in distribution (ID) and out of it (OOD).

A split is declared once (``declare``): ``acc_<name>`` and ``loss_<name>`` at every evaluation of a run
whose task has it, drawn in the report's "splits" section, and in the summary under
``summary["splits"][name]``: its role, its final accuracy, loss and perplexity (exp of the loss, a
cross-entropy run's), and the first evaluation at which its accuracy reached ``acc_threshold``: t_mem
for a split of training rows, t_gen for a held-out one, t_reach for one that mixes them. The splits
below are known by name; the trainer declares any other a task brings, its role read off the rows.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from groklab.measure.registry import Metric, Panel, register

ROLES = ("train", "test", "mixed")
_TIME = {"train": "t_mem", "test": "t_gen", "mixed": "t_reach"}
ROLE: dict[str, str] = {}


def _first(steps: np.ndarray, acc: np.ndarray, threshold: float) -> int | None:
    hit = np.nonzero(np.nan_to_num(acc, nan=-1.0) >= threshold)[0]
    return int(steps[hit[0]]) if hit.size else None


def _summary(steps, m, cfg) -> dict:
    out = {}
    for name, role in ROLE.items():
        if f"acc_{name}" not in m:
            continue
        acc, loss = m[f"acc_{name}"], m[f"loss_{name}"]
        if not np.isfinite(acc).any():            # a split without rows
            out[name] = {"role": role, "rows": 0}
            continue
        row = {"role": role, "final_acc": float(acc[-1]), "max_acc": float(np.nanmax(acc)),
               "final_loss": float(loss[-1]), _TIME[role]: _first(steps, acc, cfg.acc_threshold)}
        if cfg.loss != "mse":
            row["final_ppl"] = float(np.exp(min(float(loss[-1]), 700.0)))
        out[name] = row
    return {"splits": out}


def declare(name: str, label: str, role: str, color: str = "#495057", order: int = 80) -> None:
    """Register ``acc_<name>`` and ``loss_<name>`` for the split ``name`` (role: train, test or mixed)."""
    if role not in ROLES:
        raise ValueError(f"split {name}: role {role!r} is not one of {ROLES}")
    if name in ROLE:
        return
    ROLE[name] = role
    tag = f"{label} ({'train' if role == 'train' else 'held out' if role == 'test' else 'mixed'})"

    def applies(setup, s=name) -> bool:
        return s in setup.splits

    register(
        Metric(f"acc_{name}", lambda c, s=name: _mean(c, c.correct, s), f"accuracy on the {label} rows",
               applies=applies, final=True, summarize=_summary, panel="split-accuracy", label=tag, color=color,
               order=order),
        Metric(f"loss_{name}", lambda c, s=name: _mean(c, c.loss, s), f"mean loss on the {label} rows",
               applies=applies, final=True, panel="split-loss", label=tag, color=color, order=order),
    )


def _mean(c, v, split: str):
    """The mean over the split's rows; NaN for a split without rows (no accuracy to read, not a zero one)."""
    mask = c.splits[split]
    return jnp.where(mask.any(), c.mean(v, mask), jnp.nan)


register(
    Panel("split-accuracy", "splits", "Accuracy per split", "accuracy", order=15, y_range=(0, 1), percent=True),
    Panel("split-loss", "splits", "Loss per split", "loss", order=16, log_y=True),
)
# Wang et al. 2024's probe sets, in their order (groklab.tasks.kg builds them)
for _i, (_name, _label, _role, _color) in enumerate((
        ("atomic_id", "ID atomic facts", "train", "#1c7ed6"),
        ("atomic_ood", "OOD atomic facts", "train", "#74c0fc"),
        ("inferred_train", "train inferred facts", "train", "#2f9e44"),
        ("inferred_id", "ID test inferred facts", "test", "#e8590c"),
        ("inferred_ood", "OOD test inferred facts", "test", "#862e9c"))):
    declare(_name, _label, _role, _color, order=80 + _i)
