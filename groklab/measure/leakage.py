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
run the same code, so they give the same numbers on the same float dtype.
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


def _auc(losses, is_train, valid, xp: ModuleType, count_dtype):
    """AUC as the Mann–Whitney U statistic: for each non-member, count members with a strictly
    lower loss plus half those with an equal loss, by binary search in the sorted member losses."""
    member = is_train & valid
    nonmember = ~is_train & valid
    n_member = member.sum()
    n_nonmember = nonmember.sum()
    # Non-members and padding sort last as +inf; searchsorted "right" is capped at the member count
    # so that the padding never counts as a tie with a non-member loss of +inf.
    member_sorted = xp.sort(xp.where(member, losses, xp.inf))
    below = xp.searchsorted(member_sorted, losses, side="left")
    at_or_below = xp.minimum(xp.searchsorted(member_sorted, losses, side="right"), n_member)
    twice_u = xp.sum(xp.where(nonmember, below + at_or_below, 0), dtype=count_dtype)
    return twice_u / (2.0 * n_member * n_nonmember)


def _tpr_at_fpr(losses, is_train, valid, fpr, xp: ModuleType):
    """Flag as members the examples with loss strictly below the (k+1)-th smallest held-out loss,
    k = ⌊fpr · n_heldout⌋: the most permissive threshold whose FPR is at most fpr, even when held-out
    losses tie at the threshold."""
    member = is_train & valid
    nonmember = ~is_train & valid
    n_member = member.sum()
    n_nonmember = nonmember.sum()
    heldout_sorted = xp.sort(xp.where(nonmember, losses, xp.inf))
    k = xp.floor(fpr * n_nonmember * (1 + _FPR_REL_TOL)).astype(xp.int32)
    threshold = heldout_sorted[xp.minimum(k, losses.shape[0] - 1)]
    true_pos = xp.sum(member & (losses < threshold))
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
    is empty. Losses must not be NaN. Pair counts are summed in uint32, so n_members ·
    n_nonmembers must stay below 2^31 (N up to about 90,000).
    """
    import jax.numpy as jnp

    return _auc(jnp.asarray(losses), jnp.asarray(is_train, bool), jnp.asarray(valid, bool), jnp,
                jnp.uint32)


def tpr_at_fpr_jax(losses: jax.Array, is_train: jax.Array, valid: jax.Array,
                   fpr: float | jax.Array = 0.01) -> jax.Array:
    """``tpr_at_fpr`` on fixed shapes, for use inside jit/vmap; arguments as in ``mia_auc_jax``.

    Returns a float scalar; NaN when there are no members. Losses must not be NaN.
    """
    import jax.numpy as jnp

    _check_fpr(fpr)
    return _tpr_at_fpr(jnp.asarray(losses), jnp.asarray(is_train, bool), jnp.asarray(valid, bool),
                       fpr, jnp)
