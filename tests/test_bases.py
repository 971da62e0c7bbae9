"""The bases of the circuit test, checked as mathematics: primitive roots and discrete logs, S_n's irreps
(homomorphisms, orthogonal characters, known character values and dimensions), orthonormality of every
basis, the Walsh candidates, and the key-component rule and verdict on logits made by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from groklab.errors import ConfigError
from groklab.interp.bases import additive_basis, irrep_label_basis, multiplicative_label_basis
from groklab.interp.circuit import (
    LABELS,
    CircuitTest,
    chance_bound,
    circuit_label,
    circuit_sentence,
    circuit_test,
    key_components,
)
from groklab.interp.fourier2d import Fourier2DBasis, components_2d
from groklab.interp.irreps import Irrep, check_irreps, compose_index, irrep_basis, irrep_norms, irreps, partitions
from groklab.interp.multiplicative import discrete_log, log_spectrum, multiplicative_basis, primitive_root
from groklab.interp.walsh import WalshBasis, candidate_subsets, walsh_spectrum
from groklab.tasks.groups import compose_table, permutations


# ------------------------------------------------------------------------------------ multiplicative
@pytest.mark.parametrize("p, g", [(3, 2), (7, 3), (23, 5), (31, 3), (97, 5), (113, 3)])
def test_primitive_root_is_the_smallest_generator_and_log_inverts_its_powers(p, g):
    assert primitive_root(p) == g
    assert len({pow(g, e, p) for e in range(p - 1)}) == p - 1
    assert all(len({pow(h, e, p) for e in range(p - 1)}) < p - 1 for h in range(2, g))   # smaller ones are not
    log = discrete_log(p)
    assert log[0] == -1 and sorted(log[1:].tolist()) == list(range(p - 1))
    assert all(pow(g, int(log[x]), p) == x for x in range(1, p))


def test_discrete_log_turns_products_into_sums_and_rejects_composites():
    p = 97
    log = discrete_log(p)
    x, y = np.meshgrid(np.arange(1, p), np.arange(1, p))
    assert np.array_equal(log[x * y % p], (log[x] + log[y]) % (p - 1))
    with pytest.raises(ConfigError):
        primitive_root(91)
    with pytest.raises(ConfigError):
        discrete_log(13, g=3)                               # 3 has order 3 mod 13


@pytest.mark.parametrize("p", [5, 13, 97])
def test_multiplicative_basis_is_orthonormal_with_the_legendre_symbol_last(p):
    B, comp, labels = multiplicative_basis(p)
    assert B.shape == (p, p) and np.allclose(B @ B.T, np.eye(p), atol=1e-12)
    assert labels[:2] == ("const", "zero") and len(labels) == 2 + (p - 1) // 2
    legendre = np.array([0] + [1 if pow(x, (p - 1) // 2, p) == 1 else -1 for x in range(1, p)], float)
    last = B[comp == comp.max()]
    assert last.shape[0] == 1 and np.allclose(last[0] * np.sqrt(p - 1), legendre)
    # a character times a character of the same frequency: its row space is closed under x -> g·x
    g = primitive_root(p)
    k1 = B[comp == 2]                                       # frequency 1: cos and sin
    shifted = k1[:, (g * np.arange(p)) % p]
    assert np.allclose(shifted @ k1.T @ k1, shifted)


def test_log_spectrum_finds_a_planted_frequency():
    p = 31
    log = discrete_log(p)
    W = np.zeros((p, 3))
    W[1:, 0] = np.cos(2 * np.pi * 4 * log[1:] / (p - 1))
    W[1:, 1] = np.sin(2 * np.pi * 4 * log[1:] / (p - 1) + 0.3)
    spec = log_spectrum(W, p)
    assert spec.shape == (15,) and spec.argmax() == 3 and np.allclose(np.delete(spec, 3), 0, atol=1e-12)


# ------------------------------------------------------------------------------------ irreps
def _hook_dim(shape) -> int:
    n = sum(shape)
    hooks = 1
    for r, length in enumerate(shape):
        for c in range(length):
            arm = length - c - 1
            leg = sum(1 for rr in range(r + 1, len(shape)) if shape[rr] > c)
            hooks *= arm + leg + 1
    return math.factorial(n) // hooks


@pytest.mark.parametrize("n", [3, 4, 5])
def test_irreps_are_homomorphisms_with_orthonormal_characters_and_hook_length_dimensions(n):
    perms = permutations(n)
    reps = irreps(perms)
    check_irreps(reps, perms)
    assert [r.partition for r in reps] == partitions(n)
    assert [r.dim for r in reps] == [_hook_dim(s) for s in partitions(n)]
    assert np.array_equal(compose_index(perms), compose_table(n))
    B, comp = irrep_basis(reps)
    assert np.allclose(B @ B.T, np.eye(len(perms)), atol=1e-10)
    assert np.bincount(comp).tolist() == [r.dim ** 2 for r in reps]


def test_s6_irreps_pass_the_same_checks():
    perms = permutations(6)
    reps = irreps(perms)
    assert len(reps) == 11 and sum(r.dim ** 2 for r in reps) == 720
    check_irreps(reps, perms)


def test_characters_match_the_known_table_of_s4():
    """χ on the classes e, (12), (12)(34), (123), (1234) (Fulton & Harris): rows (4), (3,1), (2,2), (2,1,1), (1^4)."""
    perms = permutations(4)
    reps = irreps(perms)

    def cycle_type(row):
        seen, lengths = set(), []
        for i in range(4):
            if i not in seen:
                j, length = i, 0
                while j not in seen:
                    seen.add(j)
                    j = row[j]
                    length += 1
                lengths.append(length)
        return tuple(sorted(lengths, reverse=True))

    reps_of = {(1, 1, 1, 1): "e", (2, 1, 1): "(12)", (2, 2): "(12)(34)", (3, 1): "(123)", (4,): "(1234)"}
    table = {"e": [1, 3, 2, 3, 1], "(12)": [1, 1, 0, -1, -1], "(12)(34)": [1, -1, 2, -1, 1],
             "(123)": [1, 0, -1, 0, 1], "(1234)": [1, -1, 0, 1, -1]}
    for g, row in enumerate(perms.tolist()):
        assert np.allclose([r.character[g] for r in reps], table[reps_of[cycle_type(row)]], atol=1e-12)


def test_check_irreps_rejects_a_map_that_is_not_a_homomorphism():
    perms = permutations(4)
    reps = irreps(perms)
    bad = reps[1].matrices.copy()
    bad[[5, 7]] = bad[[7, 5]]                                # two elements' matrices swapped
    with pytest.raises(ValueError, match="homomorphism"):
        check_irreps([reps[0], Irrep(reps[1].partition, bad), *reps[2:]], perms)
    with pytest.raises(ValueError, match="sum"):
        check_irreps(reps[:-1], perms)                       # the sign irrep left out


def test_irrep_norms_of_a_standard_embedding():
    perms = permutations(4)
    reps = irreps(perms)
    P = np.zeros((24, 4, 4))
    for g, row in enumerate(perms):
        P[g, row, np.arange(4)] = 1.0
    W = P.reshape(24, 16) - 0.25                             # the permutation matrices, trivial part removed
    norms = irrep_norms(W, reps)
    assert norms.argmax() == 1 and np.allclose(np.delete(norms, 1), 0, atol=1e-10)


# ------------------------------------------------------------------------------------ 2-D and Walsh
def test_2d_components_cover_every_nonzero_frequency_pair_once():
    for p in (5, 6, 7):
        f = components_2d(p)
        pairs = {tuple(v) for v in f.tolist()} | {((-a) % p, (-b) % p) for a, b in f.tolist()}
        assert len(pairs) == p * p - 1 and (0, 0) not in pairs
        b = Fourier2DBasis(p, np.stack(np.meshgrid(np.arange(p), np.arange(p), indexing="ij"), -1).reshape(-1, 2))
        D = np.concatenate([np.ones((p * p, 1)), b.design(np.arange(len(f)), np.arange(p * p))], axis=1)
        assert D.shape[1] == p * p and np.allclose(D.T @ D, np.diag(np.diag(D.T @ D)), atol=1e-9)


def test_walsh_candidates_fit_the_budget_and_include_the_top_bits_subsets():
    c = candidate_subsets(30)
    assert len(c) == 30 + 435 + 4060 and max(len(s) for s in c) == 3
    c = candidate_subsets(30, ranking=np.array([29, 3, 17, 5, 0, 8, 9, 10, 11, 12, 13]), top=6)
    assert (0, 3, 5, 17, 29) in c and (3, 5, 17, 29) in c and (0, 3, 5, 8, 17, 29) in c
    assert len(set(c)) == len(c)
    bits = np.random.default_rng(1).integers(0, 2, (500, 8))
    v = (-1.0) ** bits[:, [1, 6]].sum(1)
    spec = walsh_spectrum(v, bits, [(1,), (6,), (1, 6), (2, 3)])
    assert spec[2] == 1.0 and np.all(np.abs(spec[[0, 1, 3]]) < 0.2)


# ------------------------------------------------------------------------------------ key components, verdict
def test_no_component_of_random_logits_stands_out():
    rng = np.random.default_rng(0)
    p = 31
    h = rng.integers(0, p, 2000)
    for basis in (additive_basis(p, h), multiplicative_label_basis(p, h)):
        z = rng.normal(size=(2000, p))
        t = circuit_test(basis, z, h, np.arange(1000, 2000))
        assert t.components == () and t.explained < 0.05
    bits = rng.integers(0, 2, (3000, 20))
    walsh = WalshBasis(bits, tuple(candidate_subsets(20)))
    t = circuit_test(walsh, rng.normal(size=(3000, 2)), rng.integers(0, 2, 3000), np.arange(1500, 3000))
    assert t.components == ()


def test_key_components_keep_the_planted_ones_and_the_rule_is_relative():
    power = np.array([50.0, 0.2, 0.3, 30.0, 0.25, 0.1])
    dims = np.ones(6, int)
    total, rows = power.sum() + 50.0, 1000
    assert key_components(power, dims, 10, total, rows).tolist() == [0, 3]
    # a component under 1 % of the strongest's power is left out even far above noise
    assert key_components(np.array([100.0, 0.5, 0.0]), np.ones(3, int), 10, 100.5, 10**6).tolist() == [0]
    assert key_components(np.zeros(4), np.ones(4, int), 10, 1.0, 100).size == 0


def _t(acc, keep, remove, comps=(0,), loss=0.01, keep_loss=0.02, chance=0.01):
    return CircuitTest("irreps", comps, tuple(f"c{c}" for c in comps), (0.9,) * len(comps), 0.9,
                       acc, loss, keep, keep_loss, remove, 4.0, chance)


def test_circuit_label_is_a_test_of_both_ablations():
    assert chance_bound(0.01) == 0.02 and chance_bound(0.5) == pytest.approx(0.55)
    assert circuit_label(_t(1.0, 1.0, 0.015), 1.0) == LABELS[0]
    assert circuit_label(_t(1.0, 0.95, 0.015), 1.0) == LABELS[1]          # keeping them loses accuracy
    assert circuit_label(_t(1.0, 1.0, 0.015, keep_loss=0.5), 1.0) == LABELS[1]   # ... or loss
    assert circuit_label(_t(1.0, 1.0, 0.3), 1.0) == LABELS[1]             # removing them leaves accuracy
    assert circuit_label(_t(1.0, 1.0, 0.0, comps=()), 1.0) == LABELS[1]   # no components at all
    assert circuit_label(_t(0.05, 1.0, 0.01), 1.0) == LABELS[2]
    assert circuit_label(_t(0.05, 0.05, 0.01), 0.5) == LABELS[3]
    s = circuit_sentence(_t(1.0, 1.0, 0.015), 1.0)
    assert "a generalizing irrep circuit" in s and "100.0%" in s and "1.5%" in s and "chance 1.0%" in s
    m = circuit_sentence(_t(0.3, 0.95, 0.01), 1.0)
    assert m.startswith("fits its training set but is memorizing") and "circuit is forming" in m
    assert "generalizing" not in m


def test_labels_are_group_elements_for_the_irrep_basis():
    reps = irreps(permutations(3))
    with pytest.raises(ConfigError):
        irrep_label_basis(reps, np.array([0, 6]))
    b = irrep_label_basis(reps, np.arange(6))
    assert b.names == ("(2,1)", "(1,1,1)") and b.dims.tolist() == [4, 1]


@pytest.mark.parametrize("p", [10, 11])
def test_2d_projection_on_the_whole_grid_by_fft_equals_least_squares(p):
    from groklab.interp.circuit import ablate

    rng = np.random.default_rng(p)
    xy = np.stack(np.meshgrid(np.arange(p), np.arange(p), indexing="ij"), -1).reshape(-1, 2)[rng.permutation(p * p)]
    basis = Fourier2DBasis(p, xy)
    z = rng.normal(size=(p * p, 4))
    comps = rng.choice(len(basis.names), size=7, replace=False)
    keep, removed = ablate(basis, z, comps, np.arange(p * p), np.arange(p * p))
    A = np.concatenate([np.ones((p * p, 1)), basis.design(comps, np.arange(p * p))], axis=1)
    zc = z - z.mean(axis=1, keepdims=True)
    beta = np.linalg.lstsq(A, zc, rcond=None)[0]
    assert np.allclose(keep, A @ beta, atol=1e-10) and np.allclose(removed, zc - A[:, 1:] @ beta[1:], atol=1e-10)
