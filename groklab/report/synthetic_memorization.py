"""The synthetic run view's "memorization" section (``groklab.analysis.memorization.report_view``'s schema):
a subset ensemble on ``x+y mod p`` whose noisy labels stay memorized while the clean examples' mem(i) rises
with memorization and falls as the model generalizes (Feldman & Zhang 2020), LiRA and loss-threshold ROCs
(Carlini et al. 2022) and canary exposure (Carlini et al. 2019). No model is trained."""

from __future__ import annotations

import numpy as np


def _sig(steps: np.ndarray, at: float, width: float = 0.25) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.log10(np.maximum(steps, 1)) - np.log10(at)) / width))


def synthetic_memorization(rng: np.random.Generator, p: int, steps: np.ndarray, t_mem: int, t_gen: int) -> dict:
    """The section for a run with ``steps`` recorded checkpoints, memorizing at t_mem, generalizing at t_gen."""
    n = p * p
    pool = rng.random(n) < 0.8
    noisy = pool & (rng.random(n) < 0.08)
    mem_on, gen = _sig(steps, t_mem), _sig(steps, t_gen)
    clean_mem = mem_on * (1 - gen)
    q = {"mem_q10": clean_mem * 0.6 - 0.05, "mem_q50": clean_mem, "mem_q90": np.minimum(1, clean_mem + 0.2 + 0.1 * gen),
         "mem_max": np.ones_like(clean_mem), "mem_corrupted": mem_on * 0.98, "mem_clean": clean_mem,
         "mem_canary": mem_on * 0.97}
    grids = []
    for j in range(steps.size):
        m = np.where(noisy, mem_on[j] * rng.uniform(0.85, 1.0, n), clean_mem[j] * rng.uniform(0.4, 1.2, n))
        grids.append([round(float(v), 4) if ok else None for v, ok in zip(np.clip(m, 0, 1), pool)])
    fpr = np.geomspace(1e-4, 1, 30)
    exposure = np.log2(p) * (0.2 + 0.8 * mem_on)
    top = [{"row": int(i), "x": [int(i // p), int(i % p)], "label": int((i // p + i % p + 3) % p),
            "true_label": int((i // p + i % p) % p), "corrupted": True, "canary": k == 1, "mem": 1.0,
            "p_in": 1.0, "p_out": 0.0, "exposure": float(np.log2(p)) if k == 1 else None}
           for k, i in enumerate(np.nonzero(noisy)[0][:12])]
    roc_at = [int(steps[np.argmin(np.abs(steps - t))]) for t in (t_mem, steps[-1])]
    return {
        "group_id": "synthetic-group", "members": 16, "n_pool": int(pool.sum()), "step": int(steps[-1]),
        "n_classes": p,
        "summary": {"mem_auc_corrupted": 0.99, "mem_corrupted": 0.98, "mem_clean": float(clean_mem[-1]),
                    "test_acc": 0.97, "max_exposure": float(np.log2(p)), "exposure_in": float(exposure[-1]),
                    "exposure_out": 1.2, "lira": {"auc": 1.0, "tpr@0.001": 0.99, "tpr@0.01": 1.0},
                    "loss_threshold": {"auc": 0.999, "tpr@0.001": 0.93, "tpr@0.01": 0.98}},
        "curves": {"step": steps.tolist(), **{k: v.tolist() for k, v in q.items()},
                   "exposure_in": exposure.tolist(), "exposure_out": (1.2 + 0.1 * rng.random(steps.size)).tolist()},
        "top": top,
        "heatmap": {"side": p, "step": steps.tolist(), "mem": grids},
        "roc": [{"step": s, "lira": {"fpr": fpr.tolist(), "tpr": np.minimum(1, fpr ** (0.05 * (k + 1))).tolist()},
                 "loss": {"fpr": fpr.tolist(), "tpr": np.minimum(1, fpr ** (0.15 * (k + 1))).tolist()}}
                for k, s in enumerate(roc_at)],
    }
