"""Export to TransformerLens: the HookedTransformer computes groklab's logits on every input."""

from __future__ import annotations

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from groklab.cli import main
from groklab.config import resolve
from groklab.errors import ConfigError
from groklab.export import EXTRA_MESSAGE, hooked_config_dict, to_hooked_transformer
from groklab.models import build
from groklab.store import Store
from groklab.tasks import build_dataset

P = 23


def _cfg(**kw):
    base = dict(task="x+y", p=P, model="transformer", d_model=32, n_heads=4, d_mlp=64, steps=1)
    return resolve(None, **{**base, **kw})


def _params(cfg, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights; LayerNorm gains and biases moved off 1 and 0 so that their mapping matters."""
    model = build(cfg, build_dataset(cfg))
    params = {k: np.asarray(v) for k, v in model.init(jax.random.PRNGKey(seed)).items()}
    rng = np.random.default_rng(seed)
    for k in params:
        if ".ln" in k or k.startswith("ln") or k.endswith("b_in") or k.endswith("b_out"):
            params[k] = params[k] + 0.3 * rng.standard_normal(params[k].shape).astype(np.float32)
    return params


def _groklab_logits(cfg, params) -> tuple[np.ndarray, np.ndarray]:
    """(tokens [p², 3] of every `a b =`, groklab's logits [p², n_classes])."""
    model = build(cfg, build_dataset(cfg))
    grid = np.stack(np.meshgrid(np.arange(P), np.arange(P), indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
    x = np.asarray(model.prepare(jnp.asarray(grid)))
    return x, np.asarray(model.apply({k: jnp.asarray(v) for k, v in params.items()}, x))


def _tl_logits(hooked, tokens: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return hooked(torch.from_numpy(tokens.astype(np.int64)))[:, -1].numpy()


@pytest.mark.parametrize("kw", [dict(n_layers=1, layernorm=False, act="relu"),
                                dict(n_layers=2, layernorm=True, act="gelu", tied=True)],
                         ids=["1-layer-no-ln", "2-layer-ln-tied-gelu"])
def test_hooked_transformer_gives_groklab_logits_on_all_inputs(kw):
    pytest.importorskip("transformer_lens")
    cfg = _cfg(**kw)
    params = _params(cfg)
    tokens, ref = _groklab_logits(cfg, params)
    hooked = to_hooked_transformer(params, cfg)
    assert hooked.cfg.d_vocab == P + 1 and hooked.cfg.d_vocab_out == P and hooked.cfg.n_ctx == 3
    assert hooked.cfg.normalization_type == ("LN" if kw["layernorm"] else None)
    out = _tl_logits(hooked, tokens)
    assert out.shape == (P * P, P)
    assert np.abs(out - ref).max() < 1e-4


def test_export_command_writes_state_dict_that_loads_with_weights_only(tmp_path, capsys):
    pytest.importorskip("transformer_lens")
    import torch
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    store = Store(tmp_path / "s")
    cfg = _cfg(n_layers=1)
    params = _params(cfg, seed=1)
    rid = store.create_runs([cfg.to_dict()], code_version="test", machine="test")[0]
    store.save_checkpoint(rid, 1, params)
    out = tmp_path / "model.pt"
    assert main(["export", rid, "--format", "transformer-lens", "--out", str(out), "--store", str(store.root)]) == 0
    assert str(out) in capsys.readouterr().out
    state = torch.load(out, weights_only=True)
    config = json.loads(out.with_suffix(".json").read_text())
    assert config == hooked_config_dict(cfg)
    hooked = HookedTransformer(HookedTransformerConfig(**config))
    hooked.load_state_dict(state)
    tokens, ref = _groklab_logits(cfg, params)
    assert np.abs(_tl_logits(hooked.eval(), tokens) - ref).max() < 1e-4


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_export_rejects_mlp_runs_and_quadratic_activations(tmp_path, capsys):
    store = Store(tmp_path / "s")
    mlp = resolve("gromov2023", p=P, d_mlp=16, steps=1)
    rid = store.create_runs([mlp.to_dict()], code_version="test", machine="test")[0]
    err = _one_line_error(capsys, ["export", rid, "--format", "transformer-lens", "--store", str(store.root)])
    assert "transformer and lm runs only" in err
    with pytest.raises(ConfigError, match="act quadratic"):
        hooked_config_dict(_cfg(act="quadratic"))
    err = _one_line_error(capsys, ["export", rid, "--format", "onnx", "--store", str(store.root)])
    assert "transformer-lens" in err


def test_export_without_the_extra_names_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)          # `import torch` now raises ImportError
    monkeypatch.setitem(sys.modules, "transformer_lens", None)
    cfg = _cfg()
    with pytest.raises(ConfigError) as e:
        to_hooked_transformer(_params(cfg), cfg)
    assert str(e.value) == EXTRA_MESSAGE
    store = Store(tmp_path / "s")
    rid = store.create_runs([cfg.to_dict()], code_version="test", machine="test")[0]
    store.save_checkpoint(rid, 1, _params(cfg))
    err = _one_line_error(capsys, ["export", rid, "--format", "transformer-lens", "--store", str(store.root)])
    assert err == f"groklab: error: {EXTRA_MESSAGE}"


@pytest.mark.parametrize("change", [{"layernorm": True, "ln_place": "post"}, {"bias": False}, {"op_token": True}])
def test_export_refuses_transformer_variants_it_cannot_map(change):
    from groklab.config import resolve
    from groklab.errors import ConfigError
    from groklab.export import hooked_config_dict

    with pytest.raises(ConfigError, match="no TransformerLens equivalent"):
        hooked_config_dict(resolve("nanda2023", **change))
