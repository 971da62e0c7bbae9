"""Measures of what happened in a run, as pure functions over plain arrays.

- ``labels``: every label a user reads (Liu et al. 2022 phases by groklab's relative rule or their
  literal one, Pearce et al. 2023 PAIR classes on PAIR's loss scale, "it grokked", Nanda et al.
  2023's three phases) and the memorization / generalization times they are read from.
- ``leakage``: loss-threshold membership inference, AUC and TPR at low FPR (Yeom et al. 2018;
  Carlini et al. 2022), in numpy and in jittable JAX.
- ``noise``: what a model does with corrupted training labels (Doshi et al. 2023).
- ``summary``: a run's summary from its curves, and stored summaries brought up to today's rules.
"""

from groklab.measure.labels import (
    first_step,
    grokked,
    liu_phase,
    outcome_line,
    pair_class,
    phase_from_times,
    phase_of,
    summarize_curves,
)
from groklab.measure.leakage import mia_auc, mia_auc_jax, tpr_at_fpr, tpr_at_fpr_jax
from groklab.measure.noise import doshi_phase, noise_accuracies, prune_lowest_ipr

__all__ = ["doshi_phase", "first_step", "grokked", "liu_phase", "mia_auc", "mia_auc_jax", "noise_accuracies",
           "outcome_line", "pair_class", "phase_from_times", "phase_of", "prune_lowest_ipr", "refresh_labels",
           "summarize", "summarize_curves", "tpr_at_fpr", "tpr_at_fpr_jax"]


def __getattr__(name: str):
    """``summarize`` and ``refresh_labels`` load on first use: they need the metric registry (and so JAX),
    which the labels and the other measures do not."""
    if name in ("refresh_labels", "summarize"):
        from groklab.measure import summary

        return getattr(summary, name)
    raise AttributeError(f"module 'groklab.measure' has no attribute {name!r}")
