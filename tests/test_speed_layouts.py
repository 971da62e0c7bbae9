"""Speed layouts that must not change a number: the leakage measures from one sort of one integer key
(``measure.leakage``), equal to a pair count by brute force, and their compiled evaluation holding one sort."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from groklab.measure.leakage import mia_auc, mia_auc_jax, tpr_at_fpr, tpr_at_fpr_jax


def _brute(losses, is_train, valid, fpr):
    """AUC by counting every (member, non-member) pair; TPR at the most permissive threshold with at most
    ⌊fpr · n⌋ false positives, by trying every threshold (float64, no sorting)."""
    m, n = losses[is_train & valid].astype(np.float64), losses[~is_train & valid].astype(np.float64)
    k = int(np.floor(fpr * len(n) * (1 + 1e-6)))
    if not len(m) or not len(n):       # fpr allowing every held-out row flags all: 1, else undefined
        return np.nan, (1.0 if k >= len(n) else np.nan)
    auc = ((m[:, None] < n[None, :]).sum() + 0.5 * (m[:, None] == n[None, :]).sum()) / (len(m) * len(n))
    best = 0.0
    for t in np.r_[np.unique(n), np.inf]:
        if (n < t).sum() <= k:
            best = max(best, (m < t).mean())
    return auc, (1.0 if k >= len(n) else best)


def _cases():
    rng = np.random.default_rng(3)
    out = []
    for i in range(12):
        n = (5, 64, 301)[i % 3]
        losses = (rng.integers(0, 4, n) * 0.25).astype(np.float32) if i % 2 else \
            rng.exponential(size=n).astype(np.float32)
        losses[rng.integers(0, n, 2)] = [np.inf, -0.0][i % 2]       # +inf and -0.0 (a tie with +0.0)
        is_train, valid = rng.random(n) < 0.4, rng.random(n) < 0.85
        out.append((losses, is_train, valid))
    return out


@pytest.mark.parametrize("fpr", [0.0, 0.01, 0.2, 1.0])
def test_one_sort_measures_equal_a_brute_force_pair_count(fpr):
    auc_f = jax.jit(mia_auc_jax)
    tpr_f = jax.jit(tpr_at_fpr_jax)
    for losses, is_train, valid in _cases():
        want_auc, want_tpr = _brute(losses, is_train, valid, fpr)
        got_auc, got_tpr = float(auc_f(losses, is_train, valid)), float(tpr_f(losses, is_train, valid, fpr))
        np.testing.assert_allclose([got_auc, got_tpr], [want_auc, want_tpr], atol=1e-6)
        if not np.isnan(want_auc):
            m, n = losses[is_train & valid], losses[~is_train & valid]
            assert mia_auc(m, n) == pytest.approx(want_auc, abs=1e-12)
            assert tpr_at_fpr(m, n, fpr) == pytest.approx(want_tpr, abs=1e-12)


def test_the_evaluation_of_both_measures_sorts_once_on_an_integer_key():
    f = jax.jit(jax.vmap(lambda l, t, v: (mia_auc_jax(l, t, v), tpr_at_fpr_jax(l, t, v, 0.01))))
    losses = jnp.ones((3, 50), jnp.float32)
    hlo = f.lower(losses, jnp.zeros((3, 50), bool), jnp.ones((3, 50), bool)).compile().as_text()
    sorts = [ln for ln in hlo.splitlines() if " sort(" in ln]
    assert len(sorts) == 1, sorts
    assert "u32[" in sorts[0] and "f32[" not in sorts[0].split("sort(")[0]


def test_negative_float32_losses_are_nan_not_a_wrong_order():
    losses = np.array([-1.0, 0.5, 2.0, 3.0], np.float32)
    is_train, valid = np.array([True, True, False, False]), np.ones(4, bool)
    assert np.isnan(float(mia_auc_jax(losses, is_train, valid)))
    assert np.isnan(float(tpr_at_fpr_jax(losses, is_train, valid, 0.5)))
    valid[0] = False                                  # padding may hold anything
    assert float(mia_auc_jax(losses, is_train, valid)) == 1.0
