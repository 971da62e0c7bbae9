"""Canary exposure and k-extractable memorization, on a tiny hand-written causal model (no trainer)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from groklab.measure.exposure import (
    canary_exposure,
    exposure_from_losses,
    rank_of,
    secret_losses,
    secret_losses_bruteforce,
)
from groklab.measure.extraction import extractable, greedy_extractable, prefix_suffix

V = 23
DIGITS = np.arange(5, 15, dtype=np.int32)          # token ids of "0" … "9"
PREFIX = np.array([1, 2, 3, 4], np.int32)


def tiny_params(seed: int, scale: float = 1.0) -> dict:
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    return {"W_E": scale * jax.random.normal(k1, (V, 8)), "W_B": scale * jax.random.normal(k2, (V, V)),
            "W_U": scale * jax.random.normal(k3, (8, V))}


@jax.jit
def tiny_apply(params: dict, x) -> jax.Array:
    """A causal model: position t's logits = a bigram term on x_t plus a read of the running mean of the
    embeddings of x_0..x_t, so every earlier token matters and no later one does."""
    e = params["W_E"][x]                                               # [B, T, 8]
    running = jnp.cumsum(e, axis=1) / jnp.arange(1, x.shape[1] + 1)[None, :, None]
    return params["W_B"][x] + jnp.tanh(running) @ params["W_U"]        # [B, T, V]


def brute_rank(losses: np.ndarray, true_index: int) -> int:
    """The rank by sorting: the true secret's place among candidates ordered by loss, ties in its favour."""
    order = sorted(range(losses.size), key=lambda i: (losses[i], i != true_index))
    return order.index(true_index) + 1


@pytest.mark.parametrize("k", [1, 2, 3])
def test_batched_secret_losses_equal_one_by_one_scoring(k):
    p = tiny_params(k)
    fast = secret_losses(tiny_apply, p, PREFIX, DIGITS, k, batch=7)
    slow = secret_losses_bruteforce(tiny_apply, p, PREFIX, DIGITS, k)
    assert fast.shape == (10 ** k,)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exposure_equals_brute_force_rank(seed):
    k = 3
    p = tiny_params(seed)
    losses = secret_losses_bruteforce(tiny_apply, p, PREFIX, DIGITS, k)
    secret = f"{np.random.default_rng(seed).integers(10 ** k):0{k}d}"
    want = np.log2(10 ** k) - np.log2(brute_rank(losses, int(secret)))
    assert canary_exposure(tiny_apply, p, PREFIX, DIGITS, secret) == pytest.approx(want, abs=1e-9)
    assert float(exposure_from_losses(losses, int(secret))) == pytest.approx(want, abs=1e-5)


def test_exposure_is_maximal_for_the_likeliest_secret_and_zero_for_the_least_likely():
    p = tiny_params(4)
    losses = secret_losses(tiny_apply, p, PREFIX, DIGITS, 2)
    best, worst = f"{int(np.argmin(losses)):02d}", f"{int(np.argmax(losses)):02d}"
    assert canary_exposure(tiny_apply, p, PREFIX, DIGITS, best) == pytest.approx(np.log2(100))
    assert canary_exposure(tiny_apply, p, PREFIX, DIGITS, worst) == pytest.approx(0.0)


def test_ties_count_in_the_secrets_favour():
    assert int(rank_of(1.0, np.array([1.0, 1.0, 1.0, 2.0]))) == 1
    assert int(rank_of(2.0, np.array([1.0, 1.0, 1.0, 2.0]))) == 4


def test_exposure_from_losses_traces_under_jit():
    losses = jnp.array([0.5, 0.1, 0.9, 0.3])
    f = jax.jit(lambda v: exposure_from_losses(v, 3))
    assert float(f(losses)) == pytest.approx(2.0 - 1.0)    # rank 2 of 4


def row_losses(apply, params, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean next-token NLL over scored positions (y >= 0), as the trainer's per-example sequence loss."""
    lp = jax.nn.log_softmax(apply(params, jnp.asarray(x)), axis=-1)
    scored = y >= 0
    nll = -jnp.take_along_axis(lp, jnp.maximum(jnp.asarray(y), 0)[..., None], axis=-1)[..., 0]
    return np.asarray((nll * scored).sum(axis=1) / scored.sum(axis=1))


def test_candidate_rows_of_the_corpus_layout_rank_like_the_brute_force():
    """The corpus task's candidate rows (template, candidate, filler; scored on the secret only) give the
    loss the brute force gives each candidate, so the compiled metric's rank is the exact rank."""
    from groklab.tasks.corpus import all_secrets

    k, p = 2, tiny_params(7)
    cand = all_secrets(k)
    x = np.concatenate([np.tile(PREFIX, (100, 1)), DIGITS[cand], np.full((100, 5), 3, np.int32)], axis=1)
    y = np.full_like(x, -1)
    y[:, PREFIX.size - 1: PREFIX.size - 1 + k] = DIGITS[cand]
    rows = row_losses(tiny_apply, p, x, y)
    np.testing.assert_allclose(rows, secret_losses_bruteforce(tiny_apply, p, PREFIX, DIGITS, k), rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_teacher_forced_extraction_equals_greedy_decoding(seed):
    rng = np.random.default_rng(seed)
    p = tiny_params(seed, scale=3.0)
    T, k, l = 12, 6, 6
    seqs = rng.integers(0, V, size=(200, T + 1)).astype(np.int32)
    # make some rows the model's own greedy continuation, so both outcomes occur
    for n in range(0, 200, 3):
        for t in range(k, T + 1):
            seqs[n, t] = int(np.asarray(tiny_apply(p, seqs[n: n + 1, :t]))[0, -1].argmax())
    x, y = seqs[:, :-1], seqs[:, 1:]
    pred = np.asarray(tiny_apply(p, x)).argmax(-1)
    fast = extractable(pred, y, k, l)
    slow = greedy_extractable(tiny_apply, p, x, k, l)
    assert fast.dtype == bool and 0 < fast.sum() < fast.size
    np.testing.assert_array_equal(fast, slow)


def test_prefix_and_suffix_fill_the_window():
    assert prefix_suffix(32) == (16, 16)
    k, l = prefix_suffix(33)
    assert k + l == 33 and k == 16
