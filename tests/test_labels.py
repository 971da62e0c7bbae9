"""The one module that decides every label (groklab.measure.labels): the relative phase rule and Liu et
al.'s literal one, PAIR classes on PAIR's loss scale, "it grokked", and old summaries relabelled."""

from __future__ import annotations

import numpy as np
import pytest

from groklab.config import from_dict
from groklab.measure import refresh_labels, summarize
from groklab.measure.labels import (
    GROK_FACTOR,
    GROK_MIN_EVALS,
    LABELS_VERSION,
    grokked,
    liu_phase,
    outcome_line,
    pair_class,
    phase_from_times,
    phase_of,
    summarize_curves,
)
from groklab.presets import preset_values

# gromov2023's evaluation grid: every 5 steps and a log grid in between, up to step 300
GROMOV_STEPS = np.unique(np.r_[np.arange(0, 301, 5), np.round(np.geomspace(1, 300, 60)).astype(int), 19, 42])


def _jump(steps: np.ndarray, at: float | None, low: float = 0.02) -> np.ndarray:
    """An accuracy curve at ``low`` that jumps to 1.0 at step ``at`` (never, if None)."""
    return np.where(steps >= (np.inf if at is None else at), 1.0, low)


def _summary(steps, t_mem, t_gen, **kw) -> dict:
    tr, te = _jump(steps, t_mem), _jump(steps, t_gen)
    loss = np.geomspace(1e-2, 7e-4, steps.size)          # MSE-like: never below 1e-5
    return summarize_curves(steps, tr, te, loss, loss * 1.2, **kw)


def test_a_300_step_run_memorizing_at_19_and_generalizing_at_42_is_grokking():
    s = _summary(GROMOV_STEPS, 19, 42)
    assert (s["t_mem"], s["t_gen"], s["delay"]) == (19, 42, 23)
    assert s["phase"] == "grokking" and s["phase_rule"] == "relative"
    assert s["gap_evals"] >= GROK_MIN_EVALS and grokked(s)


def test_liu_literal_rule_still_calls_that_run_comprehension_when_asked_by_name():
    s = _summary(GROMOV_STEPS, 19, 42)
    assert phase_of(s, rule="liu") == "comprehension"            # 42 - 19 < 10^3
    assert phase_of(s, rule="liu", gap=20) == "grokking"        # phase_gap decides it
    assert liu_phase(GROMOV_STEPS, _jump(GROMOV_STEPS, 19), _jump(GROMOV_STEPS, 42)) == "comprehension"
    assert phase_of(s) == s["phase"] == phase_of(s, rule="relative") == "grokking"


@pytest.mark.parametrize("scale", [1, 10, 1000])
def test_relative_rule_gives_the_same_phase_at_any_budget(scale):
    steps = GROMOV_STEPS * scale
    assert _summary(steps, 19 * scale, 42 * scale)["phase"] == "grokking"
    assert _summary(steps, 100 * scale, 120 * scale)["phase"] == "comprehension"   # test follows train


def test_a_lag_of_fewer_than_the_floor_of_evaluations_is_not_grokking():
    coarse = np.arange(0, 1001, 50)                # t_test two evaluations after t_train: sampling, not delay
    s = _summary(coarse, 50, 150)
    assert s["gap_evals"] == 2 < GROK_MIN_EVALS and s["phase"] == "comprehension"
    assert _summary(np.arange(0, 1001, 10), 50, 150)["phase"] == "grokking"


@pytest.mark.parametrize(("t_train", "t_test", "relative", "liu"), [
    (100, 100 * GROK_FACTOR, "grokking", "comprehension"),
    (100, 100 * GROK_FACTOR - 1, "comprehension", "comprehension"),
    (100, 5000, "grokking", "grokking"),
    (100, None, "memorization", "memorization"),
    (None, None, "confusion", "confusion"),
    (None, 300, "comprehension", "confusion"),   # noisy labels: generalized without fitting them
])
def test_each_rule_gives_each_phase(t_train, t_test, relative, liu):
    assert phase_from_times(t_train, t_test) == relative
    assert phase_from_times(t_train, t_test, rule="liu") == liu


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="liu"):
        phase_from_times(1, 2, rule="power")


def test_pair_class_of_a_cross_entropy_run_is_judged_per_class():
    train = np.r_[np.geomspace(4.0, 3e-4, 50), np.full(50, 3e-4)]      # CE / 67 reaches 4.5e-6 < 1e-5
    test = np.r_[np.full(50, 4.0), np.geomspace(4.0, 4e-4, 50)]
    assert pair_class(train, test) == "no_learn"                        # raw per-example CE: never below 1e-5
    assert pair_class(train, test, scale=67) == "gen"
    s = summarize_curves(np.arange(100), np.ones(100), np.ones(100), train, test, loss="ce", n_classes=67)
    assert s["pair_class"] == "gen" and "67" in s["pair_rule"]


def test_pair_class_of_an_mse_run_that_generalizes_is_not_no_learn():
    cfg = from_dict(preset_values("gromov2023"))
    steps = GROMOV_STEPS
    loss = np.geomspace(1e-2, 7e-4, steps.size)                        # MSE with weight decay: floors near 1e-3
    m = {"step": steps, "train_acc": _jump(steps, 19), "test_acc": _jump(steps, 42), "train_loss": loss,
         "test_loss": loss * 1.2}
    s = summarize(cfg, "r", m, "completed", 1.0)
    assert s["phase"] == "grokking"
    assert s["pair_class"] != "no_learn"
    assert s["pair_class"] is None and s["pair_rule"].startswith("not applicable")


def test_outcome_line_says_it_grokked_exactly_when_the_phase_is_grokking():
    grok, comp = _summary(GROMOV_STEPS, 19, 42), _summary(GROMOV_STEPS, 100, 110)
    assert outcome_line(grok).startswith("it grokked") and "step 42" in outcome_line(grok)
    assert "grokked" not in outcome_line(comp) and "comprehension" in outcome_line(comp)
    assert "memorization" in outcome_line(_summary(GROMOV_STEPS, 19, None))


def test_refresh_relabels_an_old_summary_and_leaves_a_current_one():
    cfg = preset_values("gromov2023")
    m = {"step": GROMOV_STEPS, "train_acc": _jump(GROMOV_STEPS, 19), "test_acc": _jump(GROMOV_STEPS, 42),
         "train_loss": np.full(GROMOV_STEPS.size, 1e-3), "test_loss": np.full(GROMOV_STEPS.size, 1e-3)}
    old = {"run_id": "r", "t_mem": 19, "t_gen": 42, "phase": "comprehension", "pair_class": "no_learn", "leakage": 1}
    new = refresh_labels(old, cfg, lambda: m)
    assert (new["phase"], new["pair_class"], new["phase_rule"], new["leakage"]) == ("grokking", None, "relative", 1)
    calls = []
    assert refresh_labels(new, cfg, lambda: calls.append(1) or m) is new and calls == []   # current: no read
    assert refresh_labels(None, cfg, lambda: m) is None


def test_pair_class_never_says_no_learn_of_a_run_that_fitted_its_training_set():
    # nanda2023-fast after 800 steps: 100% train and test accuracy, CE 0.02 (0.02 / 113 = 1.8e-4 per class,
    # above PAIR's 1e-5): undecided, with the reason, not "no_learn"
    steps = np.arange(0, 801, 10)
    train = np.geomspace(4.7, 0.02, steps.size)
    s = summarize_curves(steps, _jump(steps, 110), _jump(steps, 160), train, train * 1.4, loss="ce", n_classes=113)
    assert s["pair_class"] is None
    assert s["pair_rule"].startswith("undecided: train accuracy reached 99% at step 110") and "1e-05" in s["pair_rule"]
    # a run that fits neither by accuracy nor by loss keeps PAIR's class
    s = summarize_curves(steps, np.zeros(steps.size), np.zeros(steps.size), train, train, loss="ce", n_classes=113)
    assert s["pair_class"] == "no_learn" and "per-class mean" in s["pair_rule"]
    # generalized by accuracy, test loss per class above PAIR's no_gen threshold: undecided too
    tiny = np.geomspace(1.0, 1e-9, steps.size)
    s = summarize_curves(steps, _jump(steps, 110), _jump(steps, 160), tiny, train, loss="ce", n_classes=113)
    assert s["pair_class"] is None and s["pair_rule"].startswith("undecided: test accuracy reached 99% at step 160")


def test_a_summary_of_an_earlier_labels_version_is_relabelled():
    cfg = preset_values("gromov2023")
    m = {"step": GROMOV_STEPS, "train_acc": _jump(GROMOV_STEPS, 19), "test_acc": _jump(GROMOV_STEPS, 42),
         "train_loss": np.full(GROMOV_STEPS.size, 1e-3), "test_loss": np.full(GROMOV_STEPS.size, 1e-3)}
    v1 = {"run_id": "r", "phase": "grokking", "phase_rule": "relative", "pair_class": "no_learn"}
    new = refresh_labels(v1, cfg, lambda: m)
    assert new["labels_version"] == LABELS_VERSION and new["pair_class"] is None
