"""Measures of what happened: phases, membership leakage, label-noise accuracies."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from groklab.measure import (
    doshi_phase,
    first_step,
    liu_phase,
    mia_auc,
    mia_auc_jax,
    noise_accuracies,
    pair_class,
    prune_lowest_ipr,
    summarize_curves,
    tpr_at_fpr,
    tpr_at_fpr_jax,
)
from groklab.measure.labels import LABELS_VERSION

STEPS = np.arange(0, 10_000, 100)


def _rise(at: float | None) -> np.ndarray:
    """Accuracy curve that jumps from 0.1 to 1.0 at step ``at`` (never, if None)."""
    return np.where(STEPS >= (np.inf if at is None else at), 1.0, 0.1)


# ---------------------------------------------------------------- phases


def test_first_step_returns_first_step_at_or_above_threshold():
    assert first_step(np.array([10, 20, 30, 40]), np.array([0.2, 0.9, 0.5, 0.95]), 0.9) == 20


def test_first_step_is_none_when_never_reached():
    assert first_step(np.array([10, 20, 30]), np.array([0.2, 0.89, np.nan]), 0.9) is None


def test_first_step_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="values"):
        first_step(np.arange(3), np.zeros(4), 0.5)


@pytest.mark.parametrize(("t_train", "t_test", "phase"), [
    (500, 800, "comprehension"),
    (500, 1400, "comprehension"),     # gap 900 < 1000
    (500, 1500, "grokking"),          # gap exactly 1000 counts as grokking
    (500, 6000, "grokking"),
    (500, None, "memorization"),
    (None, None, "confusion"),
    (None, 800, "confusion"),         # test reached without fitting train
])
def test_liu_phase_classifies_synthetic_curves(t_train, t_test, phase):
    assert liu_phase(STEPS, _rise(t_train), _rise(t_test)) == phase


def test_liu_phase_uses_threshold_and_gap():
    train = np.where(STEPS >= 500, 0.95, 0.1)
    test = np.where(STEPS >= 5000, 0.95, 0.1)
    assert liu_phase(STEPS, train, test) == "grokking"
    assert liu_phase(STEPS, train, test, gap=10_000) == "comprehension"
    assert liu_phase(STEPS, train, test, threshold=0.99) == "confusion"


def _decay(start: float, end: float, n: int = 100) -> np.ndarray:
    return np.geomspace(start, end, n)


@pytest.mark.parametrize(("train_loss", "test_loss", "cls"), [
    (_decay(1.0, 1e-3), _decay(1.0, 1e-3), "no_learn"),
    (_decay(1.0, 1e-8), _decay(2.0, 1e-2), "no_gen"),
    (_decay(1.0, 1e-8), _decay(10.0, 1e-7), "gen"),   # test/train stays 10
    # train loss falls to 1e-8 by the middle while test loss stays at 1: ratio 1e8, then it drops
    (np.r_[_decay(1.0, 1e-8, 50), np.full(50, 1e-8)], np.r_[np.ones(50), _decay(1.0, 1e-7, 50)],
     "grok"),
])
def test_pair_class_gives_each_class(train_loss, test_loss, cls):
    assert pair_class(train_loss, test_loss) == cls


def test_pair_class_thresholds_are_configurable():
    train, test = _decay(1.0, 1e-3), _decay(1.0, 1e-3)
    assert pair_class(train, test, no_learn=1e-2, no_gen=1e-2) == "gen"
    assert pair_class(train, test, no_learn=1e-2, no_gen=1e-2, gen_ratio=1.0) == "grok"


def test_pair_class_ignores_nan_evaluations_and_zero_losses():
    train = np.array([1.0, 0.0, 0.0, np.nan])
    assert pair_class(train, np.array([1.0, 0.0, 1e-6, 5.0])) == "grok"   # 1e-6 / 0 = inf
    assert pair_class(train, np.array([1.0, 0.0, 0.0, 5.0])) == "gen"     # 0 / 0 counts as 0


def test_summarize_curves_reports_times_delay_and_classes():
    train_acc = np.where(STEPS >= 300, 1.0, np.where(STEPS >= 200, 0.95, 0.1))
    test_acc = np.where(STEPS >= 4000, 1.0, np.where(STEPS >= 3000, 0.92, 0.1))
    train_loss = np.r_[_decay(1.0, 1e-8, 50), np.full(50, 1e-8)]
    test_loss = np.r_[np.ones(50), _decay(1.0, 1e-7, 50)]
    out = summarize_curves(STEPS, train_acc, test_acc, train_loss, test_loss)
    assert out == {"t_mem": 300, "t_gen": 4000, "delay": 3700, "phase": "grokking", "phase_rule": "relative",
                   "pair_class": "grok", "pair_rule": "losses as given", "t_train_liu": 200, "t_test_liu": 3000,
                   "gap_evals": 28, "labels_version": LABELS_VERSION}
    never = summarize_curves(STEPS, train_acc, np.zeros_like(STEPS, float), train_loss, test_loss,
                             pair_thresholds={"gen_ratio": 1e9})
    assert (never["t_gen"], never["delay"], never["phase"], never["pair_class"]) == (
        None, None, "memorization", "gen")


def test_summarize_curves_rejects_unknown_pair_threshold():
    with pytest.raises(ValueError, match="no_gen_ratio"):
        summarize_curves(STEPS, _rise(1), _rise(1), _decay(1, 1e-8), _decay(1, 1e-8),
                         pair_thresholds={"no_gen_ratio": 1.0})


# ---------------------------------------------------------------- leakage


def _brute_auc(members: np.ndarray, nonmembers: np.ndarray) -> float:
    diff = nonmembers[None, :] - members[:, None]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def _brute_tpr(members: np.ndarray, nonmembers: np.ndarray, fpr: float) -> float:
    """Best TPR over every threshold `loss ≤ τ` whose FPR is at most fpr."""
    best = 0.0
    for tau in np.r_[-np.inf, members, nonmembers]:
        if (nonmembers <= tau).mean() <= fpr:
            best = max(best, float((members <= tau).mean()))
    return best


def test_mia_auc_of_perfect_and_reversed_separators():
    low, high = np.array([0.01, 0.2, 0.3]), np.array([0.5, 0.7, 0.9, 2.0])
    assert mia_auc(low, high) == 1.0    # members have the lower losses
    assert mia_auc(high, low) == 0.0


def test_mia_auc_is_half_for_identical_distributions_and_for_ties():
    rng = np.random.default_rng(0)
    assert abs(mia_auc(rng.exponential(size=20_000), rng.exponential(size=20_000)) - 0.5) < 0.02
    assert mia_auc(np.full(5, 0.3), np.full(7, 0.3)) == 0.5


@pytest.mark.parametrize("seed", range(5))
def test_mia_auc_equals_pairwise_count(seed):
    rng = np.random.default_rng(seed)
    members = rng.integers(0, 8, size=rng.integers(1, 40)).astype(float)   # many ties
    nonmembers = rng.integers(2, 10, size=rng.integers(1, 40)).astype(float)
    assert mia_auc(members, nonmembers) == pytest.approx(_brute_auc(members, nonmembers), abs=1e-12)


def test_mia_auc_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="test_losses"):
        mia_auc(np.ones(3), np.array([]))
    with pytest.raises(ValueError, match="train_losses contains NaN"):
        mia_auc(np.array([np.nan]), np.ones(3))


def test_tpr_at_fpr_on_hand_made_losses():
    heldout = np.arange(100.0)   # 1% of 100 allows one false positive: threshold below 1.0
    members = np.array([-1.0, 0.5, 0.99, 1.0, 2.0])
    assert tpr_at_fpr(members, heldout, fpr=0.01) == pytest.approx(3 / 5)
    assert tpr_at_fpr(members, heldout, fpr=0.0) == pytest.approx(1 / 5)
    assert tpr_at_fpr(members, heldout, fpr=0.03) == pytest.approx(5 / 5)
    assert tpr_at_fpr(np.array([28.5]), heldout, fpr=0.29) == 1.0   # 0.29 · 100 = 28.999… in floats
    assert tpr_at_fpr(np.array([50.0, np.inf]), heldout, fpr=1.0) == 1.0


def test_tpr_at_fpr_leaves_held_out_ties_unflagged():
    # Two held-out losses tie at 0.0: flagging them would give FPR 2/100 > 1%, so 0.0 is excluded.
    heldout = np.r_[0.0, 0.0, np.arange(1.0, 99.0)]
    assert tpr_at_fpr(np.array([-0.5, 0.0, 0.5]), heldout, fpr=0.01) == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", range(3))
def test_tpr_at_fpr_equals_best_threshold_by_brute_force(seed):
    rng = np.random.default_rng(seed)
    members = rng.integers(0, 30, size=60).astype(float)
    nonmembers = rng.integers(5, 40, size=70).astype(float)
    for fpr in (0.0, 0.01, 0.05, 0.29, 0.5):
        assert tpr_at_fpr(members, nonmembers, fpr) == pytest.approx(
            _brute_tpr(members, nonmembers, fpr), abs=1e-12)


def test_tpr_at_fpr_rejects_fpr_outside_unit_interval():
    with pytest.raises(ValueError, match="fpr"):
        tpr_at_fpr(np.ones(3), np.ones(3), fpr=1.5)


FPRS = (0.0, 0.01, 0.1, 0.29, 0.53, 1.0)

# One compiled call per measure over an ensemble [E, N]; TPR at every FPR of a vector.
_auc_ensemble = jax.jit(jax.vmap(mia_auc_jax))
_tpr_ensemble = jax.jit(jax.vmap(jax.vmap(tpr_at_fpr_jax, in_axes=(None, None, None, 0)),
                                 in_axes=(0, 0, 0, None)))


def _ensemble():
    """Float32 losses on a coarse grid (ties), a random split and padding per member, some leakage;
    the last member has no training examples. Member 0 is hand-made: held-out losses 0, 1, …, 99 and
    member losses 0.5, 1.5, …, 99.5, so its TPR equals the FPR; fpr · 100 is 28.999… for 0.29 in
    float64 and 52.999… for 0.53 in float32, which must still allow 29 and 53 false positives."""
    rng = np.random.default_rng(0)
    losses = (np.round(rng.exponential(size=(4, 300)) * 20) / 20).astype(np.float32)
    is_train = rng.random(losses.shape) < 0.4
    is_train[-1] = False
    losses[is_train] *= np.float32(0.7)
    valid = rng.random(losses.shape) < 0.9
    losses[0, :200] = np.r_[np.arange(100), np.arange(100) + 0.5]
    is_train[0], valid[0] = np.arange(300) >= 100, np.arange(300) < 200
    return losses, is_train, valid


def _groups(losses, is_train, valid, e):
    return losses[e][is_train[e] & valid[e]], losses[e][~is_train[e] & valid[e]]


def test_mia_auc_jax_equals_numpy_over_ensemble_with_masks():
    losses, is_train, valid = _ensemble()
    auc = np.asarray(_auc_ensemble(losses, is_train, valid))
    for e in range(losses.shape[0] - 1):
        assert auc[e] == pytest.approx(mia_auc(*_groups(losses, is_train, valid, e)), abs=1e-6)
    assert 0.55 < auc[:-1].mean() < 0.95
    assert np.isnan(auc[-1])   # no members: undefined


def test_tpr_at_fpr_jax_equals_numpy_over_ensemble_with_masks():
    losses, is_train, valid = _ensemble()
    tpr = np.asarray(_tpr_ensemble(losses, is_train, valid, np.array(FPRS, np.float32)))
    for e in range(losses.shape[0] - 1):
        for f, fpr in enumerate(FPRS):
            expected = tpr_at_fpr(*_groups(losses, is_train, valid, e), fpr)
            assert tpr[e, f] == pytest.approx(expected, abs=1e-6)
    np.testing.assert_allclose(tpr[0], FPRS, atol=1e-6)   # one member below each held-out loss


# ---------------------------------------------------------------- noise


def test_noise_accuracies_on_hand_made_example():
    y_true = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    corrupted = np.array([False, False, False, False, True, True, True, True])
    y_noisy = np.where(corrupted, (y_true + 1) % 8, y_true)          # 5, 6, 7, 0 on the last four
    pred = np.array([0, 1, 2, 9, 5, 6, 6, 3])                          # clean: 3/4 right
    out = noise_accuracies(pred, y_noisy, y_true, corrupted)
    assert out == {"clean_acc": 0.75, "memorized_acc": 0.5, "inverted_acc": 0.25}


def test_noise_accuracies_without_corruption_are_nan():
    out = noise_accuracies(np.array([1, 2]), np.array([1, 2]), np.array([1, 2]), np.zeros(2, bool))
    assert out["clean_acc"] == 1.0 and np.isnan(out["memorized_acc"]) and np.isnan(out["inverted_acc"])


@pytest.mark.parametrize(("test_acc", "memorized", "inverted", "phase"), [
    (0.99, 0.98, 0.01, "coexistence"),
    (0.99, 0.40, 0.55, "partial_inversion"),
    (0.99, 0.02, 0.97, "full_inversion"),
    (0.10, 0.99, 0.00, "memorization"),
    (0.30, 0.05, 0.30, "forgetting"),
])
def test_doshi_phase_gives_each_phase(test_acc, memorized, inverted, phase):
    assert doshi_phase(test_acc, memorized, inverted) == phase


def test_doshi_phase_thresholds_are_keywords_and_validated():
    assert doshi_phase(0.85, 0.98, 0.0) == "memorization"
    assert doshi_phase(0.85, 0.98, 0.0, gen_threshold=0.8) == "coexistence"
    assert doshi_phase(0.99, 0.40, 0.55, inv_threshold=0.51) == "full_inversion"
    with pytest.raises(ValueError, match="mem_threshold"):
        doshi_phase(0.99, 0.5, 0.5, mem_threshold=0.4)
    with pytest.raises(ValueError, match="memorized_acc is NaN"):
        doshi_phase(0.99, float("nan"), float("nan"))


def test_prune_lowest_ipr_drops_the_lowest_fraction():
    ipr = np.array([0.5, 0.01, 0.9, 0.02, 0.3, 0.02])
    keep = prune_lowest_ipr(ipr, 0.5)
    np.testing.assert_array_equal(keep, [True, False, True, False, True, False])
    np.testing.assert_array_equal(prune_lowest_ipr(ipr, 0.25), [True, False, True, False, True, True])
    assert prune_lowest_ipr(ipr, 0.0).all() and not prune_lowest_ipr(ipr, 1.0).any()
    with pytest.raises(ValueError, match="fraction"):
        prune_lowest_ipr(ipr, 1.2)
