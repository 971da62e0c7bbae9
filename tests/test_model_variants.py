"""The papers' model variants as config fields: LayerNorm placement (pre, Power et al.'s post-LN,
Grokfast's residual-normalizing block), bias-free layers, PyTorch's uniform init, PAIR's tied MLP,
an operator token, tanh, and the data options (y != 0, a range of operands). Each is checked against
a hand computation in NumPy, and configs that leave the new fields at their defaults keep their hash
and draw the same initial weights as before the fields existed."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from groklab.config import Config, from_dict, resolve
from groklab.errors import ConfigError
from groklab.models import build, mlp, transformer
from groklab.tasks import build_dataset, build_table

SMALL_TF = dict(task="x+y", p=7, frac=0.5, model="transformer", n_layers=2, d_model=8, n_heads=2, d_mlp=16)


def _np(p):
    return {k: np.asarray(v, np.float64) for k, v in p.items()}


def _ln(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * w + b


def _attn(p, b, x, cfg):
    """Causal multi-head attention written out head by head and position by position."""
    B, T, d = x.shape
    dh = d // cfg.n_heads
    out = np.zeros_like(x)
    for h in range(cfg.n_heads):
        q, k, v = (x @ p[f"{b}attn.{w}"][h] for w in ("W_Q", "W_K", "W_V"))
        for t in range(T):
            s = np.einsum("bk,bsk->bs", q[:, t], k[:, :t + 1]) / math.sqrt(dh)
            a = np.exp(s - s.max(1, keepdims=True))
            a /= a.sum(1, keepdims=True)
            out[:, t] += np.einsum("bs,bsk->bk", a, v[:, :t + 1]) @ p[f"{b}attn.W_O"][h]
    return out


def _mlp(p, b, x, act):
    h = x @ p[b + "mlp.W_in"] + p.get(b + "mlp.b_in", 0.0)
    h = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "gelu": None}[act](h)
    return h @ p[b + "mlp.W_out"] + p.get(b + "mlp.b_out", 0.0)


def reference_logits(p, tokens, cfg, n_classes):
    """A transformer as the papers write it: pre-LN (x + f(LN x)), Power et al.'s post-LN
    (LN(x + f(x)), no final LN) or Grokfast's block (x = LN1(x); x = x + attn(x); x = x + mlp(LN2 x))."""
    p = _np(p)
    x = p["W_E"][tokens] + p["W_pos"][: tokens.shape[1]]
    for layer in range(cfg.n_layers):
        b = f"blocks.{layer}."
        ln1 = lambda z, b=b: _ln(z, p[b + "ln1.w"], p[b + "ln1.b"])  # noqa: E731
        ln2 = lambda z, b=b: _ln(z, p[b + "ln2.w"], p[b + "ln2.b"])  # noqa: E731
        if not cfg.layernorm:
            x = x + _attn(p, b, x, cfg)
            x = x + _mlp(p, b, x, cfg.act)
        elif cfg.ln_place == "pre":
            x = x + _attn(p, b, ln1(x), cfg)
            x = x + _mlp(p, b, ln2(x), cfg.act)
        elif cfg.ln_place == "post":
            x = ln1(x + _attn(p, b, x, cfg))
            x = ln2(x + _mlp(p, b, x, cfg.act))
        else:
            x = ln1(x)
            x = x + _attn(p, b, x, cfg)
            x = x + _mlp(p, b, ln2(x), cfg.act)
    last = x[:, -1]
    if cfg.layernorm and cfg.ln_place != "post":
        last = _ln(last, p["ln_final.w"], p["ln_final.b"])
    W_U = p["W_E"][:n_classes].T if cfg.tied else p["W_U"]
    return last @ W_U


def _perturbed(params, key):
    """Random LayerNorm gains/biases and biases, so that a misplaced one shows in the logits."""
    ks = iter(jax.random.split(key, len(params)))
    return {k: v + 0.3 * jax.random.normal(next(ks), v.shape) if (".ln" in k or k.startswith("ln") or ".b_" in k)
            else v for k, v in params.items()}


@pytest.mark.parametrize("variant", [
    dict(layernorm=False), dict(layernorm=True, ln_place="pre"), dict(layernorm=True, ln_place="post"),
    dict(layernorm=True, ln_place="resid"), dict(layernorm=True, ln_place="post", bias=False, op_token=True),
    dict(layernorm=True, ln_place="resid", tied=True, act="tanh", init="uniform")])
def test_transformer_variants_match_a_hand_computation(variant):
    cfg = from_dict({**SMALL_TF, **variant})
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    params = _perturbed(model.init(jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    x = model.prepare(jnp.asarray(ds.x[:40]))
    want = reference_logits(params, np.asarray(x), cfg, ds.n_classes)
    for full in (False, True):          # the answer-position-only path and the full one
        got = np.asarray(model.apply(params, x, full=full), np.float64)
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
    assert model.neurons(params, x).shape == (40, cfg.d_mlp)


def test_post_ln_has_no_final_layernorm_and_bias_free_blocks_no_biases():
    post = build(cfg := from_dict({**SMALL_TF, "layernorm": True, "ln_place": "post", "bias": False}),
                 build_dataset(cfg)).init(jax.random.PRNGKey(0))
    assert "ln_final.w" not in post and "blocks.0.ln2.w" in post
    assert not any(".b_in" in k or ".b_out" in k for k in post)
    pre = build(c2 := from_dict({**SMALL_TF, "layernorm": True}), build_dataset(c2)).init(jax.random.PRNGKey(0))
    assert "ln_final.w" in pre and pre["blocks.1.mlp.b_out"].shape == (8,)


def test_operator_token_sits_between_the_operands():
    cfg = from_dict({**SMALL_TF, "op_token": True})
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    x = np.asarray(model.prepare(jnp.asarray(ds.x[:5])))
    V = ds.vocab_size
    assert x.shape == (5, 4) and (x[:, 1] == V + 1).all() and (x[:, 3] == V).all()
    np.testing.assert_array_equal(x[:, [0, 2]], ds.x[:5])
    params = model.init(jax.random.PRNGKey(0))
    assert params["W_E"].shape == (V + 2, 8) and params["W_pos"].shape == (4, 8)


def _uniform_bounds(params, fan_in):
    for name, fi in fan_in.items():
        w = np.asarray(params[name])
        bound = 1 / math.sqrt(fi)
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound, name
        assert abs(w.std() - bound / math.sqrt(3)) < 0.25 * bound / math.sqrt(3), name   # U(-a, a): std a/√3


def test_uniform_init_is_pytorchs_default_for_weights_and_biases():
    cfg = from_dict({**SMALL_TF, "d_model": 32, "d_mlp": 64, "init": "uniform"})
    p = build(cfg, build_dataset(cfg)).init(jax.random.PRNGKey(0))
    _uniform_bounds(p, {"blocks.0.attn.W_Q": 32, "blocks.0.attn.W_O": 32, "blocks.0.mlp.W_in": 32,
                        "blocks.0.mlp.b_in": 32, "blocks.0.mlp.W_out": 64, "blocks.0.mlp.b_out": 64, "W_U": 32})
    assert abs(float(p["W_E"].std()) - 1.0) < 0.2          # nn.Embedding: N(0, 1)
    m = resolve("omnigrok-digits", init="uniform", d_mlp=64)
    q = build(m, build_dataset(m)).init(jax.random.PRNGKey(0))
    _uniform_bounds(q, {"W_in": 64, "b_in": 64, "blocks.1.W": 64, "blocks.2.b": 64, "W_out": 64, "b_out": 64})


def test_default_init_draws_the_same_weights_as_before_the_init_field():
    # values drawn by the code before `init`, `bias` (transformer) and `ln_place` existed (seed 3)
    cfg = resolve("nanda2023", n_layers=2)
    p = transformer.init(jax.random.PRNGKey(3), cfg, 98, 3, 97)
    assert float(p["W_E"][0, 0]) == pytest.approx(-0.21021752, abs=1e-7)
    assert float(p["blocks.1.mlp.W_out"][5, 7]) == pytest.approx(-0.00597775, abs=1e-7)
    assert float(p["W_U"][2, 3]) == pytest.approx(-0.00711776, abs=1e-7)
    assert float(jnp.abs(p["blocks.0.mlp.b_in"]).max()) == 0.0
    g = resolve("gromov2023")
    q = mlp.init(jax.random.PRNGKey(3), g, 2, 97, None, 97)
    assert float(q["W_in"][1, 2]) == pytest.approx(0.02224696, abs=1e-7)


def test_pair_tied_mlp_is_relu_of_shared_projection_then_through_the_embedding():
    cfg = resolve("pair2023", p=11, input="embed-sum", d_embed=20, d_mlp=6, bias=False, tied=True,
                  symmetric=True)
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    p = model.init(jax.random.PRNGKey(0))
    assert set(p) == {"W_E", "W_in", "W_out"} and p["W_out"].shape == (6, 20)
    x = ds.x[:30]
    P = _np(p)
    E, W = P["W_E"], P["W_in"]
    want = np.maximum(E[x[:, 0]] @ W + E[x[:, 1]] @ W, 0) @ P["W_out"] @ E.T      # (W_out·h)·Eᵀ
    np.testing.assert_allclose(np.asarray(model.apply(p, jnp.asarray(x))), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.unembedding(p), P["W_out"] @ E[:11].T, rtol=1e-6)
    assert mlp.flops_per_example(cfg, 20, 11, 2) == 2 * 6 + 2 * 6 * 20 + 2 * 20 * 11
    with pytest.raises(ConfigError, match="tied"):
        build(c := resolve("gromov2023", p=11, tied=True), build_dataset(c))


def test_tanh_activation():
    cfg = from_dict(dict(task="x+y", p=7, model="mlp", input="onehot", d_mlp=5, act="tanh", bias=False))
    model = build(cfg, ds := build_dataset(cfg))
    p = model.init(jax.random.PRNGKey(0))
    P = _np(p)
    x = ds.x[:9]
    want = np.tanh(P["W_in"][x[:, 0]] + P["W_in"][7 + x[:, 1]]) @ P["W_out"]
    np.testing.assert_allclose(np.asarray(model.apply(p, jnp.asarray(x))), want, rtol=1e-5, atol=1e-6)


def test_y_nonzero_drops_the_y_zero_column_for_any_operator():
    t = build_table(from_dict(dict(task="x*y", p=97, y_nonzero=True)))
    assert t.x.shape == (97 * 96, 2) and (t.x[:, 1] != 0).all()
    np.testing.assert_array_equal(t.y, (t.x[:, 0] * t.x[:, 1]) % 97)
    assert build_table(from_dict(dict(task="x*y", p=97))).x.shape == (97 * 97, 2)


def test_operands_restrict_the_numbers_so_the_sum_does_not_wrap():
    # Liu et al. 2022's toy: 10 numbers, pairs i <= j (55 of them), labels i + j in 0..18
    t = build_table(from_dict(dict(task="x+y", p=19, operands=10, symmetric=True)))
    assert t.x.shape == (55, 2) and t.x.max() == 9 and t.n_classes == 19
    np.testing.assert_array_equal(t.y, t.x.sum(1))
    with pytest.raises(ConfigError, match="operands"):
        from_dict(dict(task="x+y", p=7, operands=10))


def test_new_fields_at_their_defaults_leave_the_hash_unchanged():
    assert Config().hash() == "a4b69f902986d197"
    old = {k: v for k, v in resolve("nanda2023").to_dict().items()
           if k not in ("ln_place", "op_token", "init", "y_nonzero", "operands")}
    assert from_dict(old).hash() == resolve("nanda2023").hash() == "bdc7fad645574adc"
    changed = {resolve("nanda2023", **kw).hash() for kw in (dict(ln_place="post"), dict(op_token=True),
                                                            dict(init="uniform"), dict(y_nonzero=True),
                                                            dict(operands=50))}
    assert len(changed) == 5 and resolve("nanda2023").hash() not in changed
