"""Loss-threshold membership inference (Yeom et al. 2018), AUC and TPR at 1 % FPR (Carlini et al. 2022)."""

import numpy as np

from groklab.measure.leakage import mia_auc_jax, tpr_at_fpr_jax
from groklab.measure.registry import Metric, Panel, register


def _summary(steps, m, cfg) -> dict:
    auc = m["mia_auc"]
    out = {"final_auc": float(auc[-1]), "max_auc": float(np.nanmax(auc)),
           "step_max_auc": int(steps[int(np.nanargmax(auc))])}
    if "mia_tpr1" in m:
        out["final_tpr1"] = float(m["mia_tpr1"][-1])
    return {"leakage": out}


register(
    Panel("leakage", "leakage", "Membership inference", "score", order=60, y_range=(0, 1),
          hline=(0.5, "chance AUC")),
    Metric("mia_auc", lambda c: mia_auc_jax(c.loss, c.is_train, c.is_train | c.is_test),
           "AUC of telling training from held-out rows by their loss", summarize=_summary, panel="leakage",
           label="AUC", color="#c2255c", order=60),
    Metric("mia_tpr1", lambda c: tpr_at_fpr_jax(c.loss, c.is_train, c.is_train | c.is_test, 0.01),
           "true-positive rate of the loss threshold at 1% false positives", panel="leakage",
           label="TPR @ 1% FPR", color="#5f3dc4", order=61),
)
