"""Each model's interpretability readouts: shapes, None where they do not apply, and the values
the analysis read off the parameters before the models owned them."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from groklab.config import resolve
from groklab.interp import parity_bit_weights
from groklab.models import build
from groklab.tasks import build_dataset

P = 7


def _model(**kw):
    cfg = resolve(None, steps=1, **kw)
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    params = {k: np.asarray(v, np.float64) for k, v in model.init(jax.random.PRNGKey(0)).items()}
    return cfg, ds, model, params


MODULAR = {
    "transformer": dict(task="x+y", p=P, model="transformer", d_model=8, n_heads=2, d_mlp=12, n_layers=1),
    "transformer-2-tied": dict(task="x+y", p=P, model="transformer", d_model=8, n_heads=2, d_mlp=12, n_layers=2,
                               tied=True, layernorm=True),
    "mlp-embed": dict(task="x+y", p=P, model="mlp", input="embed", d_embed=3, d_mlp=12, n_layers=1),
    "mlp-embed-sum": dict(task="x+y", p=P, model="mlp", input="embed-sum", d_embed=3, d_mlp=12, n_layers=1),
    "mlp-onehot": dict(task="x+y", p=P, model="mlp", input="onehot", d_mlp=12, n_layers=2),
}


@pytest.mark.parametrize("name", sorted(MODULAR))
def test_modular_readouts_have_their_shapes_and_the_old_values(name):
    cfg, ds, model, params = _model(**MODULAR[name])
    V, C, T = ds.vocab_size, ds.n_classes, ds.x.shape[1]
    E, W, U = model.token_weights(params), model.neuron_weights(params), model.unembedding(params)
    assert model.reads_tokens and model.bit_weights(params) is None       # 7 tokens, not bits
    assert W.shape == (cfg.d_mlp, V) and U.shape == (cfg.d_mlp, C)
    assert all(a.dtype == np.float64 for a in (E, W, U))
    # the extraction groklab.analysis did before the readouts (token rows restricted to Z_p)
    if cfg.model == "transformer":
        assert E.shape == (V, cfg.d_model)
        np.testing.assert_array_equal(E[:P], params["W_E"][:P])
        ov = np.einsum("hdk,hke->de", params["blocks.0.attn.W_V"], params["blocks.0.attn.W_O"])
        np.testing.assert_array_equal(W[:, :P], (params["W_E"][:P] @ ov @ params["blocks.0.mlp.W_in"]).T)
        W_U = params["W_E"][:C].T if cfg.tied else params["W_U"]
        np.testing.assert_array_equal(U, params[f"blocks.{cfg.n_layers - 1}.mlp.W_out"] @ W_U)
    elif cfg.input == "onehot":
        assert E.shape == (V, T * cfg.d_mlp)
        old = np.concatenate([params["W_in"][i * V:i * V + P] for i in range(T)], axis=1)
        np.testing.assert_array_equal(E[:P], old)
        np.testing.assert_array_equal(W[:, :P], params["W_in"][:P].T)
        np.testing.assert_array_equal(U, params["W_out"])
    else:
        assert E.shape == (V, cfg.d_embed)
        np.testing.assert_array_equal(E[:P], params["W_E"][:P])
        np.testing.assert_array_equal(W[:, :P], (params["W_E"][:P] @ params["W_in"][:cfg.d_embed]).T)
        np.testing.assert_array_equal(U, params["W_out"])


def test_real_valued_inputs_have_no_token_readouts():
    cfg, ds, model, params = _model(task="x+y", p=P, model="mlp", input="features", d_mlp=12)
    assert not model.reads_tokens
    assert model.token_weights(params) is None and model.neuron_weights(params) is None
    assert model.unembedding(params).shape == (cfg.d_mlp, ds.n_classes)


PARITY = dict(task="parity", parity_n=6, parity_k=2, n_train=32, n_test=16, d_mlp=10)


@pytest.mark.parametrize("inp", ["onehot", "embed", "features", "embed-sum"])
def test_parity_bit_weights_are_the_first_layers_weight_on_each_bit(inp):
    cfg, ds, model, params = _model(model="mlp", input=inp, d_embed=3, **PARITY)
    n = ds.x.shape[1]
    bw = model.bit_weights(params)
    if inp == "embed-sum":                     # the bits' positions are summed away
        assert bw is None
        return
    assert bw.shape == (cfg.d_mlp, n) and np.all(bw >= 0)
    if inp == "features":
        old = parity_bit_weights(params["W_in"], n, "bits")
    elif inp == "onehot":
        old = parity_bit_weights(params["W_in"], n, "one_hot")
    else:
        W = params["W_in"].reshape(n, cfg.d_embed, -1)
        old = parity_bit_weights(np.einsum("vd,ndh->nvh", params["W_E"][:2], W).reshape(2 * n, -1), n, "one_hot")
    np.testing.assert_array_equal(bw, old)


def test_transformer_has_no_bit_weights():
    _, _, model, params = _model(model="transformer", d_model=8, n_heads=2, n_layers=1, **PARITY)
    assert model.bit_weights(params) is None
    assert model.token_weights(params).shape == (2, 8)


def test_readouts_accept_jax_float32_params():
    _, _, model, _ = _model(**MODULAR["mlp-onehot"])
    raw = model.init(jax.random.PRNGKey(1))
    W = model.neuron_weights(raw)
    assert isinstance(W, np.ndarray) and W.dtype == np.float64
    np.testing.assert_allclose(W, np.asarray(raw["W_in"])[:P].T)
