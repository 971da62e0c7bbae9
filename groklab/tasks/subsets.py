"""Subset ensembles and planted canaries: which examples of the training pool each member trains on.

A *subset ensemble* of K members splits the task once (the training pool: the split of the data
seed, with its label noise) and gives member k the examples in row k of an inclusion matrix
``[K, n_pool]``. With the ``half`` scheme every example is in exactly ⌊K/2⌋ members, chosen at
random from the data seed, as Carlini et al. 2022 ("Membership inference attacks from first
principles") train their shadow models, so that each example has IN and OUT models in equal
numbers for the memorization estimates of Feldman & Zhang 2020 ("What neural networks memorize and
why"). With ``leave-one-out`` (K = n_pool + 1) member k < n_pool leaves out example k and the last
member trains on the whole pool: the exact leave-one-out values, for models small enough.

*Canaries* (Carlini et al. 2019, "The Secret Sharer"): training examples of the pool whose label is
replaced by a random secret (another class), chosen from the data seed; the model's exposure of
each secret is measured over training (``groklab.measure.memorization.exposure``).

Nothing here knows about configs (the fields are read with ``getattr``, as ``groklab.tasks`` does).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from groklab.errors import ConfigError
from groklab.tasks.base import Dataset

SCHEMES = ("half", "leave-one-out")
_TAG_SUBSETS, _TAG_CANARIES = 0x5B5E7, 0xCA4A7


def inclusion_matrix(n_pool: int, k: int, seed: int, scheme: str = "half") -> np.ndarray:
    """``[k, n_pool]`` bool: whether member m trains on pool example i.

    half: each example in exactly ⌊k/2⌋ members, a random choice per example from ``seed`` (Carlini
    et al. 2022's balanced subsets). leave-one-out: k must be n_pool + 1; member m < n_pool lacks
    example m, the last member has them all.
    """
    if scheme == "half":
        if k < 2:
            raise ConfigError(f"subsets: got {k}; allowed an integer >= 2 (each example needs IN and OUT members)")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(k), _TAG_SUBSETS]))
        order = np.argsort(rng.random((k, n_pool)), axis=0)
        return order < k // 2
    if scheme == "leave-one-out":
        if k != n_pool + 1:
            raise ConfigError(f"subsets: got {k}; the leave-one-out scheme needs the pool's size + 1 = {n_pool + 1} "
                              "members (one per left-out example, plus the whole pool)")
        return ~np.eye(n_pool + 1, n_pool, dtype=bool)
    raise ConfigError(f"subset_scheme: got {scheme!r}; allowed: {', '.join(SCHEMES)}")


def plant_canaries(ds: Dataset, n: int, seed: int) -> tuple[Dataset, np.ndarray]:
    """Replace the labels of ``n`` clean training examples by random secrets (never the true class).

    Returns the dataset (the canaries count as corrupted there: their label is not the task's) and
    their positions in ``ds.train_idx``. Deterministic from ``seed``.
    """
    if n == 0:
        return ds, np.zeros(0, np.int64)
    clean = np.nonzero(~ds.corrupted)[0]
    if n > clean.size:
        raise ConfigError(f"canaries: got {n}; the training set has only {clean.size} examples with clean labels")
    if ds.n_classes < 2:
        raise ConfigError("canaries: need a task with at least 2 classes")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _TAG_CANARIES]))
    pos = np.sort(rng.choice(clean, size=n, replace=False))
    y_train, corrupted = ds.y_train.copy(), ds.corrupted.copy()
    y_train[pos] = (ds.y[ds.train_idx[pos]] + rng.integers(1, ds.n_classes, size=n)) % ds.n_classes
    corrupted[pos] = True
    return dataclasses.replace(ds, y_train=y_train.astype(np.int32), corrupted=corrupted), pos


def restrict(ds: Dataset, keep: np.ndarray) -> Dataset:
    """The dataset trained on only the pool examples where ``keep`` (``[n_train]`` bool) is set;
    the test set stays the pool's, so every member is scored on the same held-out examples."""
    return dataclasses.replace(ds, train_idx=ds.train_idx[keep], y_train=ds.y_train[keep],
                               corrupted=ds.corrupted[keep])


def pool_and_member(c, ds: Dataset) -> tuple[Dataset, Dataset]:
    """(the training pool with its canaries, the member's dataset) of config ``c`` built on ``ds``."""
    pool, _ = plant_canaries(ds, int(getattr(c, "canaries", 0) or 0), c.split_seed)
    k = int(getattr(c, "subsets", 0) or 0)
    if k == 0:
        return pool, pool
    m = int(getattr(c, "subset", 0) or 0)
    if not 0 <= m < k:
        raise ConfigError(f"subset: got {m}; allowed an integer in [0, subsets - 1 = {k - 1}]")
    inc = inclusion_matrix(pool.n_train, k, c.split_seed, getattr(c, "subset_scheme", "half"))
    return pool, restrict(pool, inc[m])


def apply(c, ds: Dataset) -> Dataset:
    """The member's dataset: canaries planted, then restricted to its subset (if any)."""
    if not getattr(c, "canaries", 0) and not getattr(c, "subsets", 0):
        return ds
    return pool_and_member(c, ds)[1]
