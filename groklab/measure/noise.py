"""Memorization under label noise: what a model does with the training labels that were corrupted.

Reference: Doshi, Das, Gromov 2023, "To grok or not to grok: disentangling generalization and
memorization on corrupted algorithmic datasets". A fraction of training labels is replaced by wrong
ones; a model can memorize them (predict the corrupted label), invert them (predict the true label
on the very examples it was trained to get wrong), or fail at everything. Neurons with a low
inverse participation ratio (IPR) of their weights' DFT do the memorizing; pruning them removes it.
"""

from __future__ import annotations

import numpy as np


def noise_accuracies(pred_train: np.ndarray, y_train_noisy: np.ndarray, y_true_train: np.ndarray,
                     corrupted: np.ndarray) -> dict[str, float]:
    """Accuracies on the training set split by corruption (Doshi et al. 2023).

    pred_train: [N_train] predicted classes; y_train_noisy: [N_train] the labels trained on;
    y_true_train: [N_train] the true labels; corrupted: [N_train] bool, True where the label trained
    on is wrong. Returns a dict of
    - ``clean_acc``: accuracy on uncorrupted examples;
    - ``memorized_acc``: fraction of corrupted examples predicted as their corrupted label;
    - ``inverted_acc``: fraction of corrupted examples predicted as their true label.
    An accuracy over an empty group is NaN.
    """
    arrays = [np.asarray(a) for a in (pred_train, y_train_noisy, y_true_train, corrupted)]
    names = ("pred_train", "y_train_noisy", "y_true_train", "corrupted")
    for name, arr in zip(names, arrays, strict=True):
        if arr.shape != arrays[0].shape or arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D with the shape of pred_train {arrays[0].shape}, "
                             f"got {arr.shape}")
    pred, y_noisy, y_true, corrupted = arrays
    corrupted = corrupted.astype(bool)

    def mean_over(hits: np.ndarray, group: np.ndarray) -> float:
        return float(hits[group].mean()) if group.any() else float("nan")

    return {
        "clean_acc": mean_over(pred == y_true, ~corrupted),
        "memorized_acc": mean_over(pred == y_noisy, corrupted),
        "inverted_acc": mean_over(pred == y_true, corrupted),
    }


def doshi_phase(test_acc: float, memorized_acc: float, inverted_acc: float, *,
                gen_threshold: float = 0.9, mem_threshold: float = 0.9,
                inv_threshold: float = 0.9) -> str:
    """Phase of a run trained on corrupted labels, after the phase diagram of Doshi et al. 2023.

    A model generalizes when ``test_acc ≥ gen_threshold``. Then, on the corrupted examples:
    - ``"full_inversion"``: ``inverted_acc ≥ inv_threshold`` — it predicts the true label on
      (almost) all of them;
    - ``"coexistence"``: ``memorized_acc ≥ mem_threshold`` — it memorized the wrong labels and
      generalizes anyway;
    - ``"partial_inversion"`` otherwise — some memorized, some inverted.
    A model that does not generalize is in
    - ``"memorization"`` if ``memorized_acc ≥ mem_threshold`` — it fits the wrong labels only;
    - ``"forgetting"`` otherwise — it neither generalizes nor fits the training set.

    ``mem_threshold`` and ``inv_threshold`` must be in (0.5, 1] so that full inversion and
    coexistence cannot both hold (an example cannot be predicted as both its true and its corrupted
    label); ``gen_threshold`` in (0, 1]. memorized_acc and
    inverted_acc are those of ``noise_accuracies``; they must not be NaN (the run needs corrupted
    examples).
    """
    if not 0.0 < gen_threshold <= 1.0:
        raise ValueError(f"gen_threshold must be in (0, 1], got {gen_threshold}")
    for name, value in (("mem_threshold", mem_threshold), ("inv_threshold", inv_threshold)):
        if not 0.5 < value <= 1.0:
            raise ValueError(f"{name} must be in (0.5, 1], got {value}")
    for name, value in (("test_acc", test_acc), ("memorized_acc", memorized_acc),
                        ("inverted_acc", inverted_acc)):
        if np.isnan(value):
            raise ValueError(f"{name} is NaN; doshi_phase needs a run with corrupted labels")
    if test_acc >= gen_threshold:
        if inverted_acc >= inv_threshold:
            return "full_inversion"
        return "coexistence" if memorized_acc >= mem_threshold else "partial_inversion"
    return "memorization" if memorized_acc >= mem_threshold else "forgetting"


def prune_lowest_ipr(W_rows_ipr: np.ndarray, fraction: float) -> np.ndarray:
    """Keep-mask that drops the neurons with the lowest IPR, the memorizing ones (Doshi et al. 2023).

    W_rows_ipr: [n] the IPR of each neuron's weight row. fraction: share of neurons to drop, in
    [0, 1]; round(fraction · n) neurons are dropped (halves round up), ties broken by lower index
    first. Returns [n] bool, False for the dropped neurons: multiply the neurons' weights by it and
    re-evaluate ``noise_accuracies`` to see what the pruned model still memorizes.
    """
    ipr = np.asarray(W_rows_ipr)
    if ipr.ndim != 1:
        raise ValueError(f"W_rows_ipr must be 1-D (one IPR per neuron), got shape {ipr.shape}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    n_drop = int(np.floor(fraction * ipr.shape[0] + 0.5))
    keep = np.ones(ipr.shape[0], dtype=bool)
    keep[np.argsort(ipr, kind="stable")[:n_drop]] = False
    return keep
