"""Interpretability measures on hand-built weights, activations and logits with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from groklab.errors import ConfigError
from groklab.interp import (
    UNCLUSTERED,
    NeuronFreqs,
    circuit_verdict,
    cross_entropy,
    embedding_spectrum,
    excluded_loss,
    fourier_basis,
    fourier_logit_fraction,
    gini,
    ipr,
    key_frequencies_from_neurons,
    key_frequencies_from_norms,
    logit_cos_coefficients,
    neuron_clusters,
    neuron_frequencies,
    parity_bit_weights,
    relevant_bits,
    restricted_loss,
    rqi,
    sum_squared_weights,
    unembedding_spectrum,
)

# (p, key frequencies); p = 24 has the cos-only frequency p/2 = 12
CASES = [(23, (3, 7)), (113, (14, 35, 41, 42, 52)), (59, (5,)), (24, (5, 12))]


def periodic_rows(p: int, freqs, d: int, rng, noise: float = 0.01) -> np.ndarray:
    """[p, d]: row x = Σ_k cos(w_k x)·u_k + sin(w_k x)·v_k, plus a little noise."""
    x = np.arange(p)[:, None]
    out = noise * rng.normal(size=(p, d))
    for k in freqs:
        w = 2 * np.pi * k / p
        out += np.cos(w * x) * rng.normal(size=d) + np.sin(w * x) * rng.normal(size=d)
    return out


def clock_logits(p: int, freqs, scale: float = 1.0) -> np.ndarray:
    """[p, p, p]: scale · Σ_k cos(w_k(a+b−c)), the logits of a perfect Fourier circuit."""
    r = np.arange(p)
    phase = r[:, None, None] + r[None, :, None] - r[None, None, :]
    return scale * sum(np.cos(2 * np.pi * k * phase / p) for k in freqs)


def sum_labels(p: int) -> np.ndarray:
    return np.add.outer(np.arange(p), np.arange(p)) % p


# --- Fourier basis and spectra --------------------------------------------------------------


@pytest.mark.parametrize("p", [3, 10, 23, 24, 113])
def test_fourier_basis_is_orthonormal(p):
    F, labels = fourier_basis(p)
    assert F.shape == (p, p) and len(labels) == p
    np.testing.assert_allclose(F @ F.T, np.eye(p), atol=1e-12)
    assert labels[:3] == ("const", "cos 1", "sin 1")
    assert labels[-1] == (f"cos {p // 2}" if p % 2 == 0 else f"sin {(p - 1) // 2}")


def test_fourier_basis_rejects_tiny_modulus():
    with pytest.raises(ConfigError, match="p must be"):
        fourier_basis(2)


@pytest.mark.parametrize("p,freqs", CASES)
def test_key_frequencies_from_embedding_norms(p, freqs):
    rng = np.random.default_rng(p)
    W_E = np.concatenate([periodic_rows(p, freqs, 32, rng), 5 * rng.normal(size=(1, 32))])
    spectrum = embedding_spectrum(W_E, p)  # the extra '=' row must be ignored
    assert spectrum.shape == (p // 2,)
    np.testing.assert_array_equal(key_frequencies_from_norms(spectrum), freqs)


def test_embedding_spectrum_norm_matches_total_non_constant_energy():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(24, 5))
    spectrum = embedding_spectrum(W, 24)
    centred = W - W.mean(axis=0)
    np.testing.assert_allclose(np.sum(spectrum**2), np.sum(centred**2))


@pytest.mark.parametrize("p,freqs", CASES)
def test_key_frequencies_from_unembedding_norms(p, freqs):
    rng = np.random.default_rng(p + 1)
    W_U = periodic_rows(p, freqs, 16, rng).T  # [d_model, p]: periodic over the classes
    W_out = rng.normal(size=(40, 16))  # [d_mlp, d_model]
    np.testing.assert_array_equal(key_frequencies_from_norms(unembedding_spectrum(W_out, p, W_U)),
                                  freqs)
    W_out_mlp = periodic_rows(p, freqs, 40, rng).T  # MLP: [d_hidden, p]
    np.testing.assert_array_equal(key_frequencies_from_norms(unembedding_spectrum(W_out_mlp, p)),
                                  freqs)


def test_random_embedding_has_no_key_frequencies():
    rng = np.random.default_rng(1)
    assert key_frequencies_from_norms(embedding_spectrum(rng.normal(size=(113, 128)), 113)).size == 0
    assert key_frequencies_from_norms(np.zeros(10)).size == 0


def test_key_frequencies_from_norms_keeps_a_weaker_key_frequency():
    s = np.full(40, 0.1)
    s[[4, 9, 20]] = [10.0, 1.5, 3.0]  # uneven key norms, all far above the floor
    np.testing.assert_array_equal(key_frequencies_from_norms(s), [5, 10, 21])


# --- neurons --------------------------------------------------------------------------------


def tuned_acts(p: int, freqs, kind: str, per_freq: int, n_noise: int, rng) -> tuple:
    """acts [p, p, n] of neurons tuned to freqs (per_freq each) followed by noise neurons."""
    a = np.arange(p)[:, None, None]
    b = np.arange(p)[None, :, None]
    assigned = np.repeat(np.asarray(freqs), per_freq)
    w = 2 * np.pi * assigned / p
    phi1, phi2 = rng.uniform(0, 1, size=(2, assigned.size))
    if kind == "relu":
        tuned = np.maximum(np.cos(w * (a + b) + phi1), 0)
    else:  # quadratic activation of a periodic first layer (Gromov 2023)
        tuned = (np.cos(w * a + phi1) + np.cos(w * b + phi2)) ** 2
    noise = rng.normal(size=(p, p, n_noise))
    return np.concatenate([tuned, noise], axis=2), assigned


@pytest.mark.parametrize("kind", ["relu", "quadratic"])
@pytest.mark.parametrize("p,freqs", CASES)
def test_key_frequencies_from_neuron_dft(p, freqs, kind):
    rng = np.random.default_rng(7 * p)
    acts, assigned = tuned_acts(p, freqs, kind, per_freq=6, n_noise=5, rng=rng)
    nf = neuron_frequencies(acts)
    np.testing.assert_array_equal(nf.freq[: assigned.size], assigned)
    assert np.all(nf.frac_explained[: assigned.size] > 0.75)
    assert np.all(nf.frac_explained[assigned.size:] < 0.05)
    np.testing.assert_array_equal(key_frequencies_from_neurons(nf), freqs)


def test_neuron_clusters_group_tuned_neurons_and_set_noise_apart():
    rng = np.random.default_rng(3)
    acts, assigned = tuned_acts(23, (3, 7), "relu", per_freq=4, n_noise=3, rng=rng)
    acts = np.concatenate([acts, np.full((23, 23, 1), 2.5)], axis=2)  # a dead neuron
    nf = neuron_frequencies(acts)
    assert nf.freq[-1] == 0 and nf.frac_explained[-1] == 0
    clusters = neuron_clusters(nf, min_frac=0.5)
    assert set(clusters) == {UNCLUSTERED, 3, 7}
    np.testing.assert_array_equal(clusters[3], np.arange(4))
    np.testing.assert_array_equal(clusters[7], np.arange(4, 8))
    np.testing.assert_array_equal(clusters[UNCLUSTERED], np.arange(8, 12))


def test_key_frequencies_from_neurons_needs_several_neurons():
    nf = NeuronFreqs(freq=np.array([4, 4, 4, 9, 2]), frac_explained=np.array([.9, .9, .9, .9, .2]))
    np.testing.assert_array_equal(key_frequencies_from_neurons(nf), [4])
    np.testing.assert_array_equal(key_frequencies_from_neurons(nf, min_count=1), [4, 9])
    np.testing.assert_array_equal(key_frequencies_from_neurons(nf, min_frac=0.1, min_count=1),
                                  [2, 4, 9])


# --- losses on logits -----------------------------------------------------------------------


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0], [1e4, 0.0]], dtype=np.float32)
    assert cross_entropy(logits, np.array([0, 1])) == pytest.approx(5e3)
    assert cross_entropy(np.zeros((3, 7)), np.array([0, 3, 6])) == pytest.approx(np.log(7))


def test_cross_entropy_rejects_out_of_range_labels():
    with pytest.raises(ConfigError, match="labels"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 3]))


@pytest.mark.parametrize("p,freqs", [(23, (3, 7)), (59, (5, 11, 20)), (24, (5, 7, 12))])
def test_restricted_loss_keeps_a_clock_circuit_and_excluded_loss_breaks_it(p, freqs):
    rng = np.random.default_rng(p)
    bias = rng.normal(size=p)  # a per-output mean over (a, b): kept by both projections
    logits = clock_logits(p, freqs, scale=40.0) + bias
    labels = sum_labels(p)
    full = cross_entropy(logits, labels)
    assert full < 0.01
    assert restricted_loss(logits, labels, freqs) == pytest.approx(full, abs=1e-9)
    train = rng.random((p, p)) < 0.3
    bias_only = np.broadcast_to(bias, logits.shape)
    expected = cross_entropy(bias_only[train], labels[train])
    assert excluded_loss(logits, labels, freqs, train) == pytest.approx(expected)
    assert expected > 2.5
    # the wrong frequencies carry nothing of the circuit
    other = [k for k in range(1, p // 2 + 1) if k not in freqs][:2]
    assert restricted_loss(logits, labels, other) == pytest.approx(cross_entropy(bias_only, labels))


def test_restricted_loss_removes_memorization_noise():
    p, freqs = 23, (3, 7)
    rng = np.random.default_rng(5)
    labels = sum_labels(p)
    noisy = clock_logits(p, freqs, scale=4.0) + 3.0 * rng.normal(size=(p, p, p))
    restricted = restricted_loss(noisy, labels, freqs)
    assert restricted < cross_entropy(noisy, labels) - 0.5
    assert restricted == pytest.approx(cross_entropy(clock_logits(p, freqs, 4.0), labels), abs=0.1)


def test_losses_skip_pairs_that_are_not_equations():
    p, freqs = 23, (3, 7)
    logits = clock_logits(p, freqs, scale=2.0)
    labels = sum_labels(p)
    labels[:, 0] = -1  # e.g. division excludes b = 0
    expected = cross_entropy(logits[:, 1:], labels[:, 1:])
    assert restricted_loss(logits, labels, freqs) == pytest.approx(expected)
    everywhere = np.ones((p, p), dtype=bool)
    assert excluded_loss(logits, labels, [], everywhere) == pytest.approx(expected)


def test_losses_reject_bad_frequencies_and_masks():
    logits, labels = clock_logits(23, (3,)), sum_labels(23)
    with pytest.raises(ConfigError, match="1..11"):
        restricted_loss(logits, labels, [12])
    with pytest.raises(ConfigError, match="train_mask"):
        excluded_loss(logits, labels, [3], np.ones((23, 23)))


@pytest.mark.parametrize("p,freqs", [(23, (3, 7)), (24, (5, 12))])
def test_logit_cos_coefficients_of_a_clock_circuit(p, freqs):
    alphas = np.array([2.0, 5.0])
    logits = sum(a * clock_logits(p, (k,)) for a, k in zip(alphas, freqs, strict=True))
    logits = logits + np.random.default_rng(0).normal(size=(p, p, 1))  # softmax-free offsets
    norms = np.sqrt([p**3 if 2 * k == p else p**3 / 2 for k in freqs])
    np.testing.assert_allclose(logit_cos_coefficients(logits, freqs), alphas * norms)
    assert fourier_logit_fraction(logits, freqs) == pytest.approx(1.0)
    assert fourier_logit_fraction(logits, freqs[:1]) == pytest.approx(
        alphas[0] ** 2 * norms[0] ** 2 / np.sum(alphas**2 * norms**2))


def test_fourier_logit_fraction_of_random_logits_is_small():
    logits = np.random.default_rng(2).normal(size=(23, 23, 23))
    assert fourier_logit_fraction(logits, (3, 7)) < 0.01


# --- summaries ------------------------------------------------------------------------------


def test_gini_known_values():
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini(np.eye(10)[3]) == pytest.approx(0.9)  # 1 − 1/N
    assert gini([0, 0, 1, 1]) == pytest.approx(0.5)
    assert gini([0, 0, 7, 7]) == pytest.approx(0.5)  # scale-free
    assert gini(np.zeros(4)) == 0.0
    with pytest.raises(ConfigError):
        gini([1.0, -1.0])


def test_ipr_high_for_periodic_neurons_low_for_random():
    p = 97
    rng = np.random.default_rng(4)
    x = np.arange(p)
    periodic = np.stack([3.0 + np.cos(2 * np.pi * k * x / p + phase)
                         for k, phase in zip([1, 17, 48], rng.uniform(0, 6, 3), strict=True)])
    assert np.all(ipr(periodic) > 0.999)
    two = np.cos(2 * np.pi * 5 * x / p) + np.sin(2 * np.pi * 9 * x / p)
    assert ipr(two[None])[0] == pytest.approx(0.5)
    random = ipr(rng.normal(size=(50, p)))
    assert np.all(random < 0.15) and random.mean() < 0.08
    assert ipr(np.ones((1, p)))[0] == 0.0


def test_sum_squared_weights_per_tensor_and_total():
    out = sum_squared_weights({"W_E": np.ones((2, 3)), "b_in": np.array([1.0, 2.0])})
    assert out == {"W_E": 6.0, "b_in": 5.0, "total": 11.0}
    with pytest.raises(ConfigError, match="total"):
        sum_squared_weights({"total": np.ones(2)})


def test_circuit_verdict_sentences():
    grokked = circuit_verdict([14, 35, 41], 0.992, 1.0)
    assert "14, 35, 41" in grokked and "99.2%" in grokked and "generalizing" in grokked
    assert circuit_verdict([], 0.01, 0.03).startswith("no periodic structure: memorizing")
    assert "forming" in circuit_verdict([14], 0.7, 0.2)
    assert "without a dominant Fourier circuit" in circuit_verdict([], 0.1, 0.95)


# --- sparse parity --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["bits", "one_hot"])
def test_parity_bits_recovered(mode):
    n_bits, n_hidden, relevant = 20, 16, [3, 7, 11]
    rng = np.random.default_rng(6)
    signal = 0.02 * rng.normal(size=(n_bits, n_hidden))
    signal[relevant] = rng.choice([-1.0, 1.0], size=(3, n_hidden)) * rng.uniform(0.5, 1, (3, n_hidden))
    if mode == "bits":
        W_in = signal
    else:  # the shared row is large; only the difference between a bit's two rows matters
        base = 3.0 * rng.normal(size=(n_bits, n_hidden))
        W_in = np.stack([base, base + signal], axis=1).reshape(2 * n_bits, n_hidden)
    bw = parity_bit_weights(W_in, n_bits, mode)
    assert bw.shape == (n_hidden, n_bits)
    np.testing.assert_allclose(bw, np.abs(signal).T)
    np.testing.assert_array_equal(relevant_bits(bw), relevant)
    np.testing.assert_array_equal(relevant_bits(bw, k=3), relevant)


def test_relevant_bits_empty_without_a_gap():
    bw = np.abs(np.random.default_rng(8).normal(size=(64, 30))) + 1.0
    assert relevant_bits(bw).size == 0
    with pytest.raises(ConfigError, match="W_in"):
        parity_bit_weights(np.zeros((20, 4)), 20, "one_hot")


# --- RQI ------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [23, 113])
def test_rqi_linear_embedding_is_perfect_random_is_not(p):
    rng = np.random.default_rng(p)
    v, offset = rng.normal(size=8), rng.normal(size=8)
    E = np.arange(p)[:, None] * v + offset
    assert rqi(E, p) == 1.0
    assert rqi(rng.normal(size=(p, 8)), p, tol=0.1) < 0.05


def test_rqi_sampling_is_seeded_and_partial_structure_in_between():
    p = 113  # about 62k parallelograms: sampled
    rng = np.random.default_rng(9)
    E = np.arange(p)[:, None] * rng.normal(size=4)
    E[::4] += 5 * rng.normal(size=(len(E[::4]), 4))  # every fourth token breaks the pattern
    value = rqi(E, p, seed=1)
    assert value == rqi(E, p, seed=1)
    assert 0.2 < value < 0.6  # (3/4)^4 ≈ 0.32 of parallelograms avoid the broken tokens
