"""Sparse parity: the label of an n-bit string is the XOR of k fixed bits (Barak et al. 2022).

The PAIR explorable's setting is n = 30, k = 3 with 1,200 training strings. The relevant bits
and the strings are drawn from the data seed; training and test strings are sampled together
without repetition, so the two sets are disjoint and the split is fixed (``frac`` is ignored).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from groklab.errors import ConfigError
from groklab.tasks import TaskFamily
from groklab.tasks.base import Table

if TYPE_CHECKING:
    from groklab.tasks import TaskConfig as Config

DEFAULT_N_TRAIN = 1200
DEFAULT_N_TEST = 1000
MAX_BITS = 64
MAX_STRINGS = 1_000_000
_SMALL_SPACE_BITS = 20   # up to 2^20 strings: sample codes without replacement; above: reject repeats


def relevant_bits(n: int, k: int, seed: int) -> np.ndarray:
    """The k bit positions (sorted, int64) whose parity is the label."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB175]))
    return np.sort(rng.choice(n, size=k, replace=False))


def sample_strings(n: int, m: int, seed: int) -> np.ndarray:
    """m distinct n-bit strings in random order, uint8 [m, n]; needs m <= 2^n."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5781]))
    if n <= _SMALL_SPACE_BITS:
        codes = rng.choice(2**n, size=m, replace=False)
        return ((codes[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.uint8)
    bits = np.zeros((0, n), np.uint8)
    while bits.shape[0] < m:  # a repeat has probability <= m / 2^20, so this loops once or twice
        bits = np.concatenate([bits, rng.integers(0, 2, size=(m - bits.shape[0], n), dtype=np.uint8)])
        _, first = np.unique(bits, axis=0, return_index=True)
        bits = bits[np.sort(first)]
    return bits


def parity_table(n: int, k: int, n_train: int, n_test: int, seed: int) -> Table:
    """n_train training then n_test test strings (all distinct) labelled by their sparse parity."""
    _check_sizes(n, k, n_train, n_test)
    bits = relevant_bits(n, k, seed)
    x = sample_strings(n, n_train + n_test, seed)
    y = np.bitwise_xor.reduce(x[:, bits], axis=1)
    return Table(name="parity", x=x.astype(np.int32), y=y.astype(np.int32), n_classes=2, vocab_size=2,
                 meta={"bits": [int(i) for i in bits], "parity_n": n, "parity_k": k, "modular": False},
                 fixed_train_idx=np.arange(n_train))


def _check_sizes(n: int, k: int, n_train: int, n_test: int) -> None:
    if not 2 <= n <= MAX_BITS:
        raise ConfigError(f"parity_n: must be between 2 and {MAX_BITS}, got {n}")
    if not 1 <= k <= n:
        raise ConfigError(f"parity_k: must be between 1 and parity_n ({n}), got {k}")
    if n_train + n_test > MAX_STRINGS:
        raise ConfigError(f"n_train: n_train + n_test must be at most {MAX_STRINGS}, got {n_train} + {n_test}")
    if n_train + n_test > 2**n:
        raise ConfigError(f"n_train: n_train + n_test must be at most 2^parity_n = {2**n}, "
                          f"got {n_train} + {n_test}")


def _sizes(c: "Config") -> tuple[int, int]:
    return (DEFAULT_N_TRAIN if c.n_train is None else c.n_train,
            DEFAULT_N_TEST if c.n_test is None else c.n_test)


def _check(c: "Config") -> None:
    _check_sizes(c.parity_n, c.parity_k, *_sizes(c))


def _build(c: "Config") -> Table:
    return parity_table(c.parity_n, c.parity_k, *_sizes(c), seed=c.split_seed)


FAMILIES: list[TaskFamily] = [
    TaskFamily(key="parity",
               names={"parity": "sparse parity: label = XOR of parity_k fixed bits of a parity_n-bit string"},
               params=("parity_n", "parity_k", "n_train", "n_test", "noise"), check=_check, build=_build),
]
