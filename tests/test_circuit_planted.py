"""Planted circuits: hand-built quadratic MLPs whose logits are made of chosen components of a basis
(multiplicative characters, S_n irreps, Walsh subsets, 2-D and Z_p characters); the analysis must
choose the task's basis from its labels and recover exactly the planted components, with the ablations
keeping the model's accuracy and removing it."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from groklab.analysis import analyze_checkpoints
from groklab.config import resolve
from groklab.interp.multiplicative import discrete_log
from groklab.models import build
from groklab.tasks import build_dataset
from groklab.tasks.groups import permutations

NOISE_NEURONS = 16


def _quadratic(task: str, terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]], vocab: int, **kw):
    """A bias-free quadratic one-hot MLP whose logits are Σ_t u_t(a)·v_t(b)·r_t(c) plus a little noise.

    Each rank-1 term takes two neurons, (u(a) + v(b))² and (u(a) − v(b))², read out with ±r(c)/4: their
    difference is 4·u(a)·v(b), the squares cancel. NOISE_NEURONS random neurons add logits about 1 %
    of the planted ones (so that what the ablations leave is noise, not float32 rounding of the plant)."""
    n = 2 * len(terms)
    cfg = resolve(None, task=task, model="mlp", input="onehot", act="quadratic", bias=False,
                  d_mlp=n + NOISE_NEURONS, steps=1, **kw)
    W_in = np.zeros((2 * vocab, n + NOISE_NEURONS))
    W_out = np.zeros((n + NOISE_NEURONS, len(terms[0][2])))
    for t, (u, v, r) in enumerate(terms):
        for j, sign in ((2 * t, 1.0), (2 * t + 1, -1.0)):
            W_in[:vocab, j], W_in[vocab:, j] = u, sign * v
            W_out[j] = sign * r / 4
    rng = np.random.default_rng(0)
    scale = 0.01 * np.mean([np.abs(r).max() for _, _, r in terms])
    W_in[:, n:] = 0.1 * rng.normal(size=(2 * vocab, NOISE_NEURONS))        # small next to the plant's weights
    W_out[n:] = rng.normal(size=(NOISE_NEURONS, W_out.shape[1])) * 50 * scale / np.sqrt(NOISE_NEURONS)
    return cfg, {"W_in": W_in, "W_out": W_out}


def _analyze(cfg, params: dict) -> dict:
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    assert set(params) == set(model.init(jax.random.PRNGKey(0)))
    metrics = {"step": np.array([1]), "train_acc": np.array([1.0]), "test_acc": np.array([1.0]),
               "test_loss": np.array([0.01])}
    return analyze_checkpoints(cfg, [(1, params)], metrics, dataset=ds, model=model)


def _cos_terms(A: np.ndarray, B: np.ndarray, Cc: np.ndarray, amp: float) -> list:
    """amp·cos(A(a) + B(b) − C(c)) as four rank-1 terms."""
    ca, sa, cb, sb, cc, sc = np.cos(A), np.sin(A), np.cos(B), np.sin(B), np.cos(Cc), np.sin(Cc)
    return [(ca, cb, amp * cc), (-sa, sb, amp * cc), (sa, cb, amp * sc), (ca, sb, amp * sc)]


def test_planted_multiplicative_characters_and_zero_are_recovered_exactly():
    p = 31
    log = discrete_log(p)
    nz = (np.arange(p) > 0).astype(float)
    terms = []
    for k, amp in ((1, 1.0), (7, 0.7)):                  # gcd(k, p − 1) = 1: the answer is the unique argmax
        ang = 2 * np.pi * k * np.where(log >= 0, log, 0) / (p - 1)
        terms += [(u * nz, v * nz, r * nz) for u, v, r in _cos_terms(ang, ang, ang, 10 * amp)]
    d0 = (np.arange(p) == 0).astype(float)
    # 20·1[a·b = 0] on class 0: 1[a=0] + 1[b=0] − 1[a=0]·1[b=0], each a rank-1 term (u·v with v or u = 1)
    ones = np.ones(p)
    terms += [(d0, ones, 20 * d0), (ones, d0, 20 * d0), (d0, d0, -20 * d0)]
    cfg, params = _quadratic("x*y", terms, p, p=p, frac=0.5)
    a = _analyze(cfg, params)
    assert a["basis"] == "multiplicative"
    assert sorted(c["name"] for c in a["components"]) == ["1", "7", "zero"]
    ab = a["ablation"]
    assert ab["model"]["acc"] == 1.0 and ab["keep"]["acc"] == 1.0 and ab["explained"] > 0.99
    assert ab["remove"]["acc"] <= ab["chance_bound"] and ab["circuit"] == "generalizing circuit"
    assert "generalizing multiplicative-character circuit" in a["verdict"]
    assert any("primitive root 3" in n for n in a["notes"])        # 3 generates Z_31^*
    # the discrete-log spectrum of the token weights has exactly the planted frequencies
    w = np.array(a["basis_weights"]["norms"][0])
    names = a["basis_weights"]["names"]
    top = np.argsort(-w)
    assert {names[i] for i in top[:2]} == {"1", "7"} and w[top[2]] < 0.2 * w[top[1]]


def _perm_matrices(n: int) -> np.ndarray:
    """P(g)[g(i), i] = 1, so that P(a)P(b) = P(a·b) for (a·b)(i) = a(b(i)): [n!, n, n]."""
    perms = permutations(n)
    P = np.zeros((perms.shape[0], n, n))
    for g, row in enumerate(perms):
        P[g, row, np.arange(n)] = 1.0
    return P


@pytest.mark.parametrize("n", [4, 5])
def test_planted_standard_and_sign_irreps_of_sn_are_recovered_exactly(n):
    """Logits fix(a·b·c⁻¹) + 2·sgn(a)sgn(b)sgn(c), built from permutation matrices (not from the
    analysis' irreps): the fixed-point count is the trivial plus the standard irrep (n−1, 1), the sign
    is (1, …, 1)."""
    P = _perm_matrices(n)
    m = P.shape[0]
    sgn = np.round(np.linalg.det(P))
    terms = [(P[:, i, j], P[:, j, l], 3 * P[:, i, l]) for i in range(n) for j in range(n) for l in range(n)]
    terms.append((sgn, sgn, 6 * sgn))
    cfg, params = _quadratic("perm-compose", terms, m, perm_n=n, frac=0.5)
    a = _analyze(cfg, params)
    assert a["family"] == "group" and a["basis"] == "irreps"
    std, sign = f"({n - 1},1)", "(" + ",".join(["1"] * n) + ")"
    assert sorted(c["name"] for c in a["components"]) == sorted([std, sign])
    assert {c["name"]: c["dim"] for c in a["components"]} == {std: (n - 1) ** 2, sign: 1}
    ab = a["ablation"]
    assert ab["model"]["acc"] == 1.0 and ab["keep"]["acc"] == 1.0
    assert ab["remove"]["acc"] <= ab["chance_bound"] and "generalizing irrep circuit" in a["verdict"]
    norms = dict(zip(a["basis_weights"]["names"], a["basis_weights"]["norms"][0]))
    assert max(norms, key=norms.get) == std                   # the embedding lives in the standard irrep


def test_planted_walsh_subsets_are_recovered_exactly_whatever_the_task_bits():
    cfg0 = resolve(None, task="parity", parity_n=12, parity_k=3, n_train=600, n_test=400, model="mlp",
                   input="onehot", act="quadratic", bias=False, d_mlp=4, steps=1)
    n = 12
    W_in = np.zeros((2 * n, 4))
    W_out = np.zeros((4, 2))
    for s, ((i, j), amp) in enumerate([((1, 4), 1.0), ((3, 8), 0.7)]):
        for col, sign in ((2 * s, 1.0), (2 * s + 1, -1.0)):   # (s_i ± s_j)², s = 1 − 2·bit
            W_in[2 * i, col], W_in[2 * i + 1, col] = 1.0, -1.0
            W_in[2 * j, col], W_in[2 * j + 1, col] = sign, -sign
            W_out[col] = sign * amp * np.array([-1.0, 1.0]) / 8
    a = _analyze(cfg0, {"W_in": W_in, "W_out": W_out})
    assert a["basis"] == "walsh"
    assert sorted(c["name"] for c in a["components"]) == ["{1,4}", "{3,8}"]
    assert a["ablation"]["explained"] > 0.99
    spec = a["basis_spectrum"]
    assert [n for n, k in zip(spec["names"], spec["key"]) if k] == ["{1,4}", "{3,8}"]


def test_planted_2d_characters_of_a_polynomial_task_are_recovered_exactly():
    p = 23
    x = np.arange(p)
    terms = []
    for (k1, k2), amp in (((1, 2), 1.0), ((3, 5), 0.8)):
        terms += _cos_terms(2 * np.pi * k1 * x / p, 2 * np.pi * k2 * x / p, 2 * np.pi * x / p, 10 * amp)
    cfg, params = _quadratic("expr:x^2+3*y", terms, p, p=p, frac=0.5)
    a = _analyze(cfg, params)
    assert a["basis"] == "2d"
    assert sorted(c["name"] for c in a["components"]) == ["(1,2)", "(3,5)"]
    assert a["ablation"]["explained"] > 0.99
    assert a["ablation"]["keep"]["acc"] == a["ablation"]["model"]["acc"]


@pytest.mark.parametrize("task", ["x+y", "x-y"])
def test_planted_zp_characters_of_addition_and_subtraction(task):
    p = 29
    x = np.arange(p)
    sign = 1 if task == "x+y" else -1
    terms = []
    for k, amp in ((3, 1.0), (11, 0.6)):
        w = 2 * np.pi * k / p
        terms += _cos_terms(w * x, sign * w * x, w * x, 10 * amp)
    cfg, params = _quadratic(task, terms, p, p=p, frac=0.5)
    a = _analyze(cfg, params)
    assert a["basis"] == "additive"
    assert sorted(int(c["name"]) for c in a["components"]) == [3, 11]
    assert a["ablation"]["keep"]["acc"] == 1.0 and a["ablation"]["remove"]["acc"] <= a["ablation"]["chance_bound"]
    assert "generalizing Fourier circuit" in a["verdict"]
