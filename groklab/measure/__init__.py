"""Measures of what happened in a run, as pure functions over plain arrays.

- ``phases``: memorization / generalization times and run classes from metric curves
  (Liu et al. 2022 phase diagram; Pearce et al. 2023 PAIR run classes).
- ``leakage``: loss-threshold membership inference, AUC and TPR at low FPR (Yeom et al. 2018;
  Carlini et al. 2022), in numpy and in jittable JAX.
- ``noise``: what a model does with corrupted training labels (Doshi et al. 2023).
"""

from groklab.measure.leakage import mia_auc, mia_auc_jax, tpr_at_fpr, tpr_at_fpr_jax
from groklab.measure.noise import doshi_phase, noise_accuracies, prune_lowest_ipr
from groklab.measure.phases import first_step, liu_phase, pair_class, summarize_curves
from groklab.measure.summary import summarize

__all__ = ["doshi_phase", "first_step", "liu_phase", "mia_auc", "mia_auc_jax", "noise_accuracies",
           "pair_class", "prune_lowest_ipr", "summarize", "summarize_curves", "tpr_at_fpr", "tpr_at_fpr_jax"]
