"""The dataset every task produces and every model consumes.

A task turns a few parameters into a table of examples (inputs and true labels); the split into
train/test and label noise are applied on top of that table, the same way for every task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from groklab.errors import ConfigError


@dataclass(frozen=True)
class Table:
    """All examples of a task before splitting.

    x: int32 [N, T] operand tokens in [0, vocab_size) (discrete tasks), or float32 [N, D] features
       (real-valued tasks, vocab_size None). Sequence models append their own '=' token.
    y: int32 [N] true labels in [0, n_classes).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    n_classes: int
    vocab_size: int | None
    meta: dict = field(default_factory=dict)
    # Optional fixed split (tasks whose train and test sets are sampled separately, e.g. parity).
    fixed_train_idx: np.ndarray | None = None
    # With a fixed split: the held-out rows (None: every row not trained on). Rows in neither are evaluated,
    # never trained on nor counted as held out (the corpus task's canary candidates).
    fixed_test_idx: np.ndarray | None = None


@dataclass(frozen=True)
class Dataset:
    """A table split into train and test, with the (possibly noisy) training labels.

    train_idx/test_idx index rows of x; y_train[i] is the label trained on for row train_idx[i];
    corrupted[i] says whether it differs from the true label y[train_idx[i]].
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    n_classes: int
    vocab_size: int | None
    train_idx: np.ndarray
    test_idx: np.ndarray
    y_train: np.ndarray
    corrupted: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        return int(self.train_idx.shape[0])

    @property
    def is_tokens(self) -> bool:
        return self.vocab_size is not None


def split(table: Table, frac: float | None, seed: int, n_train: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/test split of a table's rows from the seed.

    Either a training fraction or an absolute number of training rows; tasks with a fixed split
    (table.fixed_train_idx) ignore both.
    """
    n = table.x.shape[0]
    if table.fixed_train_idx is not None:
        train = np.asarray(table.fixed_train_idx, dtype=np.int64)
        if table.fixed_test_idx is not None:
            return train, np.asarray(table.fixed_test_idx, dtype=np.int64)
        mask = np.ones(n, bool)
        mask[train] = False
        return train, np.nonzero(mask)[0]
    perm = np.random.default_rng(np.random.SeedSequence([seed, 0x5117])).permutation(n)
    k = int(n_train) if n_train is not None else int(round(float(frac) * n))
    if not 1 <= k < n:
        raise ConfigError(f"frac: gives {k} training examples out of {n}; need between 1 and {n - 1}")
    return np.sort(perm[:k]), np.sort(perm[k:])


def corrupt_labels(y_train: np.ndarray, n_classes: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Replace exactly floor(noise * N_train) training labels by a different random class.

    Deterministic from the seed; a corrupted label never equals the true one.
    Returns (noisy labels, corrupted mask).
    """
    if not 0.0 <= noise < 1.0:
        raise ConfigError(f"noise: must be in [0, 1), got {noise}")
    y_noisy = y_train.copy()
    mask = np.zeros(y_train.shape[0], bool)
    k = int(np.floor(noise * y_train.shape[0]))
    if k == 0:
        return y_noisy, mask
    if n_classes < 2:
        raise ConfigError("noise: needs a task with at least 2 classes")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x4015E]))
    idx = rng.choice(y_train.shape[0], size=k, replace=False)
    shift = rng.integers(1, n_classes, size=k)  # 1..C-1: never the true class
    y_noisy[idx] = (y_train[idx] + shift) % n_classes
    mask[idx] = True
    return y_noisy, mask


def make_dataset(table: Table, frac: float | None, seed: int, noise: float = 0.0,
                 n_train: int | None = None) -> Dataset:
    """Split a table and corrupt a fraction of its training labels, all from one seed."""
    train_idx, test_idx = split(table, frac, seed, n_train)
    y_train, corrupted = corrupt_labels(table.y[train_idx], table.n_classes, noise, seed)
    return Dataset(name=table.name, x=table.x, y=table.y, n_classes=table.n_classes,
                   vocab_size=table.vocab_size, train_idx=train_idx.astype(np.int32),
                   test_idx=test_idx.astype(np.int32), y_train=y_train.astype(np.int32),
                   corrupted=corrupted, meta=dict(table.meta))
