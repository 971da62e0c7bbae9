"""How much a model leaks which examples it was trained on: the loss-threshold membership
inference attack.

Members are the training examples, non-members the held-out ones; the attack predicts "member"
when an example's loss is low. Its strength is reported as the ROC AUC and as the true-positive
rate at a low false-positive rate.

References:
- Yeom, Giacomelli, Fredrikson, Jha 2018, "Privacy risk in machine learning: analyzing the
  connection to overfitting" — the loss-threshold attack.
- Carlini, Chien, Nasr, Song, Terzis, Tramèr 2022, "Membership inference attacks from first
  principles" — report TPR at low FPR (e.g. 1%) next to the AUC.

Each measure has a numpy version taking the two groups of losses, and a JAX version taking one
array of losses with masks (fixed shapes, so it can be jitted and vmapped over an ensemble). Both
count from one sorted order (``_ranked``: one sort serves the AUC and the TPR, no binary searches), so
they give the same numbers on the same float dtype.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import jax

# Relative slack when rounding fpr · n_heldout down, so that float rounding (fpr = 0.01 is
# 0.0099999998 in float32) does not cost one allowed false positive.
_FPR_REL_TOL = 1e-6


def _sorted_jax(losses, member, nonmember):
    """The valid losses in increasing order with their member / non-member flags, by one sort of one
    uint32 key: a non-negative float32's bits (-0 made +0) shifted left, the member flag in the lowest
    bit, padding as the largest key. XLA's CPU sort of a single integer operand is several times faster
    than of a float key or of several operands. Losses below 0 (no per-example loss here has them) are
    not ordered by this key; float64 losses keep a sort of their own values."""
    import jax
    import jax.numpy as jnp

    if losses.dtype != jnp.float32:
        valid = member | nonmember
        return jax.lax.sort((jnp.where(valid, losses, jnp.inf), member, nonmember), num_keys=1)
    bits = jax.lax.bitcast_convert_type(losses + jnp.float32(0.0), jnp.uint32)
    pad = jnp.uint32(0xFFFFFFFF)
    key = jnp.where(member | nonmember, (bits << 1) | member.astype(jnp.uint32), pad)
    k = jnp.sort(key)
    valid = k != pad
    return k >> 1, valid & (k & 1 == 1), valid & (k & 1 == 0)


def _ranked(losses, is_train, valid, xp: ModuleType):
    """One sort shared by both measures: the valid losses in increasing order (padding last) with the
    member and non-member flags carried along, and, for every sorted position, the first and one past
    the last position of its run of equal losses (found by running max / min, not by searches)."""
    member = is_train & valid
    nonmember = ~is_train & valid
    if xp is np:
        order = np.argsort(np.where(valid, losses, np.inf), kind="stable")
        s, m_s, n_s = losses[order], member[order], nonmember[order]
        cummax, cummin_rev = np.maximum.accumulate, lambda a: np.minimum.accumulate(a[::-1])[::-1]
    else:
        import jax

        s, m_s, n_s = _sorted_jax(losses, member, nonmember)
        cummax, cummin_rev = jax.lax.cummax, lambda a: jax.lax.cummin(a, reverse=True)
    n = s.shape[0]
    new_run = xp.concatenate([xp.ones(1, bool), s[1:] != s[:-1]])     # position i starts a run of equal losses
    ends = xp.concatenate([new_run[1:], xp.ones(1, bool)])            # position i ends one
    idx = xp.arange(n)
    return s, m_s, n_s, cummax(xp.where(new_run, idx, 0)), cummin_rev(xp.where(ends, idx + 1, n))


def _auc(losses, is_train, valid, xp: ModuleType, count_dtype):
    """AUC as the Mann–Whitney U statistic: for each non-member, count members with a strictly
    lower loss plus half those with an equal loss, read off the member counts before the start and
    before the end of its run of equal losses in the one sorted order (``_ranked``)."""
    s, m_s, n_s, first, stop = _ranked(losses, is_train, valid, xp)
    n_member = m_s.sum()
    n_nonmember = n_s.sum()
    before = xp.concatenate([xp.zeros(1, count_dtype), xp.cumsum(m_s, dtype=count_dtype)])   # members before i
    twice_u = xp.sum(xp.where(n_s, before[first] + before[stop], 0), dtype=count_dtype)
    return twice_u / (2.0 * n_member * n_nonmember)


def _tpr_at_fpr(losses, is_train, valid, fpr, xp: ModuleType):
    """Flag as members the examples with loss strictly below the (k+1)-th smallest held-out loss,
    k = ⌊fpr · n_heldout⌋: the most permissive threshold whose FPR is at most fpr, even when held-out
    losses tie at the threshold. The threshold is read off the same sorted order as the AUC's."""
    s, m_s, n_s, first, _ = _ranked(losses, is_train, valid, xp)
    n_member = m_s.sum()
    n_nonmember = n_s.sum()
    k = xp.floor(fpr * n_nonmember * (1 + _FPR_REL_TOL)).astype(xp.int32)
    # the (k+1)-th non-member in sorted order; members strictly below it are those before its run of ties
    at = xp.argmax(xp.cumsum(n_s) >= k + 1)
    true_pos = xp.sum(m_s & (xp.arange(s.shape[0]) < first[at]))
    return xp.where(k >= n_nonmember, 1.0, true_pos / n_member)


def _groups(train_losses: np.ndarray, test_losses: np.ndarray):
    train = np.asarray(train_losses)
    test = np.asarray(test_losses)
    for name, arr in (("train_losses", train), ("test_losses", test)):
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
        if np.isnan(arr).any():
            raise ValueError(f"{name} contains NaN")
    losses = np.concatenate([train, test])
    if not np.issubdtype(losses.dtype, np.floating):
        losses = losses.astype(np.float64)
    is_train = np.arange(losses.shape[0]) < train.shape[0]
    return losses, is_train, np.ones_like(is_train)


def _check_fpr(fpr: float) -> None:
    if isinstance(fpr, int | float) and not 0.0 <= fpr <= 1.0:
        raise ValueError(f"fpr must be in [0, 1], got {fpr}")


def mia_auc(train_losses: np.ndarray, test_losses: np.ndarray) -> float:
    """ROC AUC of the loss-threshold membership attack (Yeom et al. 2018; Carlini et al. 2022).

    train_losses: [N_train] per-example losses of members; test_losses: [N_test] of non-members.
    Returns P(loss_nonmember > loss_member) + ½·P(tie) over all (member, non-member) pairs,
    computed exactly in O(N log N): 0.5 means no leakage, 1.0 means every training example has a
    lower loss than every held-out one.
    """
    losses, is_train, valid = _groups(train_losses, test_losses)
    return float(_auc(losses, is_train, valid, np, np.int64))


def tpr_at_fpr(train_losses: np.ndarray, test_losses: np.ndarray, fpr: float = 0.01) -> float:
    """True-positive rate of the loss-threshold attack at false-positive rate ``fpr`` (Carlini et
    al. 2022 report it at 1%).

    The attack flags an example as a member when its loss is below a threshold; the threshold is
    the largest one that flags at most ⌊fpr · N_test⌋ held-out examples. When held-out losses tie at
    the threshold, all of the tied values are left unflagged (conservative: the FPR never exceeds
    ``fpr``). Returns the fraction of training examples flagged (1.0 when fpr = 1).
    """
    _check_fpr(fpr)
    losses, is_train, valid = _groups(train_losses, test_losses)
    return float(_tpr_at_fpr(losses, is_train, valid, fpr, np))


def mia_auc_jax(losses: jax.Array, is_train: jax.Array, valid: jax.Array) -> jax.Array:
    """``mia_auc`` on fixed shapes, for use inside jit/vmap (e.g. over the members of an ensemble).

    losses: [N] per-example losses; is_train: [N] bool, True for members (training examples);
    valid: [N] bool, False for padding to leave out. Returns a float scalar, NaN when either group
    is empty. Losses must not be NaN, and float32 losses must be >= 0 (every per-example loss is; NaN
    otherwise). Pair counts are summed in uint32, so n_members ·
    n_nonmembers must stay below 2^31 (N up to about 90,000).
    """
    import jax.numpy as jnp

    losses, valid = jnp.asarray(losses), jnp.asarray(valid, bool)
    return _unordered_as_nan(losses, valid, _auc(losses, jnp.asarray(is_train, bool), valid, jnp, jnp.uint32))


def tpr_at_fpr_jax(losses: jax.Array, is_train: jax.Array, valid: jax.Array,
                   fpr: float | jax.Array = 0.01) -> jax.Array:
    """``tpr_at_fpr`` on fixed shapes, for use inside jit/vmap; arguments as in ``mia_auc_jax``.

    Returns a float scalar; NaN when there are no members. Losses as in ``mia_auc_jax``.
    """
    import jax.numpy as jnp

    _check_fpr(fpr)
    losses, valid = jnp.asarray(losses), jnp.asarray(valid, bool)
    return _unordered_as_nan(losses, valid, _tpr_at_fpr(losses, jnp.asarray(is_train, bool), valid, fpr, jnp))


def _unordered_as_nan(losses, valid, out):
    """NaN where a valid float32 loss is negative: ``_sorted_jax``'s key does not order those."""
    import jax.numpy as jnp

    if losses.dtype != jnp.float32:
        return out
    return jnp.where(jnp.any(valid & (losses < 0)), jnp.nan, out)
