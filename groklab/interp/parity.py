"""Which input bits a sparse-parity network relies on.

Sparse parity (Barak et al. 2022; PAIR explorable, Pearce et al. 2023): the label is the parity
of k of n input bits. A network that has found the rule puts its first-layer weight on those k
bits and little on the others, so the bits stand out of the per-bit weight totals.
"""

from __future__ import annotations

import numpy as np

from groklab.errors import ConfigError

INPUT_MODES = ("bits", "one_hot")


def parity_bit_weights(W_in: np.ndarray, n_bits: int, input_mode: str = "bits") -> np.ndarray:
    """Magnitude of the weight each hidden neuron puts on each input bit (Barak et al. 2022).

    W_in [d_in, n_hidden]. input_mode "bits": d_in = n_bits, one row per bit (the bit's value,
    0/1 or ±1, multiplies it); the magnitude is |W_in[i]|. "one_hot": d_in = 2·n_bits, each bit
    one-hot encoded with rows 2i (bit i is 0) and 2i+1 (bit i is 1), as flattening a
    [n_bits, 2] one-hot gives; only the difference of the two rows tells the bit's value apart,
    so the magnitude is |W_in[2i+1] − W_in[2i]|. Returns float64 [n_hidden, n_bits].
    """
    if input_mode not in INPUT_MODES:
        raise ConfigError(f"input_mode must be one of {INPUT_MODES}, got {input_mode!r}")
    W = np.asarray(W_in, dtype=np.float64)
    rows = n_bits * (2 if input_mode == "one_hot" else 1)
    if W.ndim != 2 or W.shape[0] != rows:
        raise ConfigError(f"W_in must be [{rows}, n_hidden] for {n_bits} bits in mode "
                          f"{input_mode!r}, got {W.shape}")
    if input_mode == "one_hot":
        pairs = W.reshape(n_bits, 2, W.shape[1])
        W = pairs[:, 1] - pairs[:, 0]
    return np.abs(W).T


def relevant_bits(bit_weights: np.ndarray, k: int | None = None,
                  min_gap: float = 2.0) -> np.ndarray:
    """The bits a network relies on: those with the largest total weight (Barak et al. 2022).

    bit_weights [n_hidden, n_bits] from ``parity_bit_weights``. With k given, the k bits of
    largest total weight over neurons. With k None, a gap rule: sort the totals descending and
    cut at the largest ratio between neighbours; the parity bits carry about equal weight and
    the noise bits far less, so that is where the split lies. If no ratio reaches ``min_gap``
    nothing stands out and the result is empty. Returns int [m], ascending bit indices.
    """
    w = np.asarray(bit_weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] < 1:
        raise ConfigError(f"bit_weights must be [n_hidden, n_bits], got shape {w.shape}")
    total = w.sum(axis=0)
    order = np.argsort(-total, kind="stable")
    n_bits = total.size
    if k is not None:
        if not 0 <= k <= n_bits:
            raise ConfigError(f"k must be in 0..{n_bits}, got {k}")
        return np.sort(order[:k]).astype(np.int64)
    s = total[order]
    if n_bits < 2 or s[0] == 0:
        return np.zeros(0, dtype=np.int64)
    floor = np.finfo(np.float64).tiny + 1e-12 * s[0]  # exact zeros: ratio finite but huge
    ratios = s[:-1] / np.maximum(s[1:], floor)
    cut = int(np.argmax(ratios))
    if ratios[cut] < min_gap:
        return np.zeros(0, dtype=np.int64)
    return np.sort(order[: cut + 1]).astype(np.int64)
