"""Which frequency each MLP neuron reads, and the key frequencies many neurons share.

Nanda et al. 2023 ("Progress measures for grokking via mechanistic interpretability"): centre a
neuron's activations over the p×p grid of inputs (a, b), take the 2-D transform in the
orthonormal Fourier basis, and find the frequency k whose terms (const, cos_k, sin_k on each
axis: cos_k(a), sin_k(b), cos_k(a)·cos_k(b), …) hold the largest share of its variance. Neurons
grouped by that frequency are the clusters of the PAIR explorable (Pearce et al. 2023).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groklab.errors import ConfigError
from groklab.interp.fourier import fourier_basis, row_frequency

# key of ``neuron_clusters`` holding neurons that no single frequency explains
UNCLUSTERED = 0


@dataclass(frozen=True)
class NeuronFreqs:
    """Best frequency of each neuron and the share of its variance that frequency explains.

    freq: int [n_neurons] in 1..p//2, or 0 for a neuron constant over the grid (dead).
    frac_explained: float64 [n_neurons] in [0, 1].
    """

    freq: np.ndarray
    frac_explained: np.ndarray


def neuron_frequencies(acts: np.ndarray) -> NeuronFreqs:
    """Best frequency per neuron from its activations over all inputs (Nanda et al. 2023).

    acts [p, p, n_neurons]: activation of each neuron at input (a, b), a and b in 0..p−1.
    """
    acts = np.asarray(acts, dtype=np.float64)
    if acts.ndim != 3 or acts.shape[0] != acts.shape[1]:
        raise ConfigError(f"acts must be [p, p, n_neurons] over the full grid, got {acts.shape}")
    p = acts.shape[0]
    F, _ = fourier_basis(p)
    centred = acts - acts.mean(axis=(0, 1))
    coef = np.einsum("ia,abn,jb->ijn", F, centred, F, optimize=True)  # [p, p, n]
    power = coef**2
    # sum power over blocks of rows/columns of equal frequency: G[f_a, f_b, n]
    onehot = (row_frequency(p)[:, None] == np.arange(p // 2 + 1)[None, :]).astype(np.float64)
    G = np.einsum("if,ijn,jg->fgn", onehot, power, onehot, optimize=True)  # [K+1, K+1, n]
    k = np.arange(1, p // 2 + 1)
    per_freq = G[k, 0] + G[0, k] + G[k, k]  # [K, n]
    total = power.sum(axis=(0, 1))
    best = per_freq.argmax(axis=0)
    alive = total > 1e-20 * np.sum(acts**2, axis=(0, 1))  # constant up to rounding = dead
    frac = np.where(alive, per_freq[best, np.arange(best.size)] / np.where(alive, total, 1), 0.0)
    return NeuronFreqs(freq=np.where(alive, best + 1, 0).astype(np.int64),
                       frac_explained=np.clip(frac, 0.0, 1.0))


def neuron_clusters(neuron_freqs: NeuronFreqs, min_frac: float = 0.5) -> dict[int, np.ndarray]:
    """Group neurons by their best frequency (PAIR explorable, Pearce et al. 2023).

    A neuron joins the cluster of its frequency when that frequency explains at least
    ``min_frac`` of its variance; the others (and dead neurons) go under ``UNCLUSTERED`` (0).
    Returns {frequency: int [n] neuron indices}, frequencies ascending, UNCLUSTERED first
    when present.
    """
    if not 0 <= min_frac <= 1:
        raise ConfigError(f"min_frac must be in [0, 1], got {min_frac}")
    freq = np.asarray(neuron_freqs.freq)
    clustered = (neuron_freqs.frac_explained >= min_frac) & (freq > 0)
    label = np.where(clustered, freq, UNCLUSTERED)
    return {int(k): np.flatnonzero(label == k) for k in np.unique(label)}


def key_frequencies_from_neurons(neuron_freqs: NeuronFreqs, min_frac: float = 0.5,
                                 min_count: int | None = None) -> np.ndarray:
    """Frequencies that many neurons are tuned to (Nanda et al. 2023).

    A frequency is key when at least ``min_count`` neurons are in its cluster (see
    ``neuron_clusters``); by default min_count = max(2, 2 % of the neurons), so one stray
    neuron never makes a key frequency. Returns int [m], ascending.
    """
    n = len(neuron_freqs.freq)
    if min_count is None:
        min_count = max(2, int(np.ceil(0.02 * n)))
    if min_count < 1:
        raise ConfigError(f"min_count must be >= 1, got {min_count}")
    clusters = neuron_clusters(neuron_freqs, min_frac)
    keys = [k for k, idx in clusters.items() if k != UNCLUSTERED and idx.size >= min_count]
    return np.asarray(sorted(keys), dtype=np.int64)
