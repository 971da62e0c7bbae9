"""Interpretability measures on plain arrays: Fourier structure, neurons, losses, parity, RQI.

Every function takes numpy (or JAX) arrays and returns numpy arrays, floats or small frozen
dataclasses; nothing here knows about the store, models or training. Sources: Nanda et al. 2023
(Fourier basis, key frequencies, restricted/excluded loss, Gini, weight norm); the PAIR
explorable, Pearce et al. 2023 (neuron clusters); Doshi et al. 2023 (IPR); Liu et al. 2022
(RQI); Barak et al. 2022 (sparse parity).
"""

from groklab.interp.fourier import (
    embedding_spectrum,
    fourier_basis,
    frequency_power,
    gini,
    ipr,
    key_frequencies_from_norms,
    unembedding_spectrum,
)
from groklab.interp.logits import (
    circuit_verdict,
    cross_entropy,
    excluded_loss,
    fourier_logit_fraction,
    logit_cos_coefficients,
    restricted_loss,
)
from groklab.interp.neurons import (
    UNCLUSTERED,
    NeuronFreqs,
    key_frequencies_from_neurons,
    neuron_clusters,
    neuron_frequencies,
)
from groklab.interp.parity import parity_bit_weights, relevant_bits
from groklab.interp.rqi import rqi
from groklab.interp.weights import sum_squared_weights

__all__ = [
    "UNCLUSTERED",
    "NeuronFreqs",
    "circuit_verdict",
    "cross_entropy",
    "embedding_spectrum",
    "excluded_loss",
    "fourier_basis",
    "fourier_logit_fraction",
    "frequency_power",
    "gini",
    "ipr",
    "key_frequencies_from_neurons",
    "key_frequencies_from_norms",
    "logit_cos_coefficients",
    "neuron_clusters",
    "neuron_frequencies",
    "parity_bit_weights",
    "relevant_bits",
    "restricted_loss",
    "rqi",
    "sum_squared_weights",
    "unembedding_spectrum",
]
