"""The causal sequence transformer (model = lm): its mask, its next-token loss, and training it with the
trainer, per-split metrics and summary, and the errors it gives."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from groklab import tasks
from groklab.config import from_dict
from groklab.errors import ConfigError
from groklab.models import build, lm
from groklab.tasks.base import Table
from groklab.train import losses

V, T = 11, 6


def _cfg(**kw):
    base = dict(task="kg-compose", model="lm", n_layers=2, d_model=32, n_heads=4, d_mlp=64, layernorm=True,
                kg_entities=40, kg_relations=8, kg_degree=8, kg_phi=2.0, n_test=40)
    return from_dict({**base, **kw})


def _params(cfg, vocab=V, n_ctx=T, seed=0):
    return lm.init(jax.random.PRNGKey(seed), cfg, vocab, n_ctx)


@pytest.mark.parametrize("pos", ["learned", "rope"])
@pytest.mark.parametrize("ln_place", ["pre", "post"])
def test_causal_mask_no_position_sees_a_later_one(pos, ln_place):
    cfg = _cfg(pos=pos, ln_place=ln_place)
    p = _params(cfg)
    x = np.random.default_rng(0).integers(0, V, size=(4, T))
    base = np.asarray(lm.forward(p, jnp.asarray(x), cfg))
    for j in range(T):
        y = x.copy()
        y[:, j] = (y[:, j] + 1 + np.arange(4)) % V         # change token j only
        out = np.asarray(lm.forward(p, jnp.asarray(y), cfg))
        np.testing.assert_allclose(out[:, :j], base[:, :j], atol=1e-6, err_msg=f"a position before {j} saw it")
        assert np.abs(out[:, j:] - base[:, j:]).max() > 1e-4, f"positions from {j} on ignore token {j}"


def test_rope_logits_depend_on_relative_position_only_without_other_position_signal():
    """One block of pure attention scores under RoPE: shifting a query/key pair together keeps the score."""
    sin, cos = lm.rope_sin_cos(8, 8)
    rng = np.random.default_rng(1)
    q, k = (jnp.asarray(rng.normal(size=(1, 1, 1, 8)), jnp.float32) for _ in range(2))
    def score(tq, tk):
        rq = lm._rotate(jnp.broadcast_to(q, (1, 8, 1, 8)), sin, cos)[0, tq, 0]
        rk = lm._rotate(jnp.broadcast_to(k, (1, 8, 1, 8)), sin, cos)[0, tk, 0]
        return float(rq @ rk)
    assert score(3, 1) == pytest.approx(score(6, 4), abs=1e-4)
    assert abs(score(3, 1) - score(3, 0)) > 1e-4


def _naive_loss(kind, logits, labels):
    out = []
    for n in range(labels.shape[0]):
        terms = []
        for t in range(labels.shape[1]):
            if labels[n, t] < 0:
                continue
            z = logits[n, t].astype(np.float64)
            if kind == "mse":
                terms.append(np.mean((z - np.eye(z.size)[labels[n, t]]) ** 2))
            else:
                terms.append(np.log(np.exp(z - z.max()).sum()) + z.max() - z[labels[n, t]])
        out.append(np.mean(terms) if terms else 0.0)
    return np.array(out)


@pytest.mark.parametrize("kind", ["ce", "mse"])
def test_next_token_loss_equals_a_naive_per_position_loop(kind):
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5, T, V)).astype(np.float32) * 3
    labels = rng.integers(0, V, size=(5, T))
    labels[rng.random((5, T)) < 0.4] = -1
    labels[0] = -1                                             # an example with nothing scored
    got = np.asarray(losses.per_example(kind, jnp.asarray(logits), jnp.asarray(labels)))
    np.testing.assert_allclose(got, _naive_loss(kind, logits, labels), rtol=1e-5, atol=1e-6)


def test_sequence_correctness_needs_every_scored_position():
    logits = np.zeros((3, 2, 4), np.float32)
    logits[:, 0, 1] = logits[:, 1, 2] = 1.0                    # predicts [1, 2] everywhere
    labels = np.array([[1, 2], [1, 3], [-1, 2]])
    assert np.asarray(losses.correct(jnp.asarray(logits), jnp.asarray(labels))).tolist() == [True, False, True]


def _copy_table(c) -> Table:
    """Sequences a b a b: the second a and b are scored (a copy task); the last 10 rows are neither
    trained on nor held out (as canary candidates are)."""
    rng = np.random.default_rng(3)
    ab = rng.integers(0, V, size=(60, 2))
    x = np.concatenate([ab, ab], axis=1).astype(np.int32)
    y = np.full_like(x, -1)
    y[:, 1], y[:, 2] = x[:, 2], x[:, 3]
    side = np.zeros(60, bool)
    side[50:] = True
    return Table("copy-seq", x, y, V, V, meta={"sequence": True, "splits": {"side": side, "empty": np.zeros(60, bool)}},
                 fixed_train_idx=np.arange(40), fixed_test_idx=np.arange(40, 50))


@pytest.fixture
def copy_task():
    fam = tasks.TaskFamily(key="test:copy-seq", names={"copy-seq": "test"}, params=(), check=lambda c: None,
                           build=_copy_table)
    tasks.FAMILIES.append(fam)
    yield "copy-seq"
    tasks.FAMILIES.remove(fam)


def test_lm_trains_an_ensemble_and_reports_each_split(copy_task):
    from groklab.measure import summarize
    from groklab.train.loop import Trainer

    cfgs = [from_dict(dict(task=copy_task, model="lm", n_layers=1, d_model=32, n_heads=2, d_mlp=64,
                           layernorm=True, lr=3e-3, wd=0.1, steps=60, eval_every=20, eval_per_decade=0,
                           seed=s)) for s in (0, 1)]
    tr = Trainer(cfgs)
    assert not (tr.data.is_train | tr.data.is_test)[:, 50:].any()
    assert (tr.data.train_idx < 40).all()
    rows = []
    tr.fit(on_eval=rows.append)
    first, last = rows[0].metrics, rows[-1].metrics
    assert {"acc_side", "loss_side", "mia_auc", "train_acc"} <= set(last)
    assert (last["train_loss"] < first["train_loss"]).all()
    assert not np.allclose(last["train_loss"][0], last["train_loss"][1])   # members are distinct seeds
    m = {"step": np.array([r.step for r in rows])} | {k: np.array([r.metrics[k][0] for r in rows]) for k in last}
    s = summarize(cfgs[0], "r", m, "completed", 1.0)
    assert s["splits"]["side"]["role"] == "mixed" and "t_reach" in s["splits"]["side"]
    assert s["splits"]["side"]["final_ppl"] == pytest.approx(np.exp(s["splits"]["side"]["final_loss"]), rel=1e-6)
    assert np.isnan(last["acc_empty"]).all() and s["splits"]["empty"]["rows"] == 0    # no rows: no accuracy, not 0


def test_kg_run_summary_has_t_mem_and_t_gen_per_split():
    from groklab.measure import summarize
    from groklab.train.loop import Trainer

    cfg = _cfg(steps=20, eval_every=10, eval_per_decade=0, lr=3e-3, wd=0.1, batch_size=64)
    tr = Trainer([cfg])
    rows = []
    tr.fit(on_eval=rows.append)
    m = {"step": np.array([r.step for r in rows])} | {k: np.array([r.metrics[k][0] for r in rows])
                                                       for k in rows[0].metrics}
    sp = summarize(cfg, "r", m, "completed", 1.0)["splits"]
    assert set(sp) == {"atomic_id", "atomic_ood", "inferred_train", "inferred_id", "inferred_ood"}
    assert "t_mem" in sp["atomic_id"] and "t_gen" in sp["inferred_id"] and "t_gen" in sp["inferred_ood"]


def test_lm_and_sequence_tasks_refuse_each_other_and_noise():
    with pytest.raises(ConfigError, match=r"^model: got 'transformer'; allowed lm"):
        _cfg(model="transformer")
    with pytest.raises(ConfigError, match=r"^noise: got 0.1; allowed 0"):
        _cfg(noise=0.1)
    c = from_dict(dict(task="x+y", p=7, model="lm"))
    with pytest.raises(ConfigError, match=r"^model: got 'lm'; allowed transformer or mlp"):
        build(c, tasks.build_dataset(c))


def test_lm_weights_carry_the_transformer_names():
    cfg = _cfg(bias=True, tied=False)
    names = set(_params(cfg))
    for k in ("W_E", "W_pos", "W_U", "blocks.1.attn.W_Q", "blocks.1.attn.W_O", "blocks.1.mlp.W_in",
              "blocks.1.mlp.b_out", "blocks.0.ln1.w", "ln_final.b"):
        assert k in names
    assert "W_pos" not in _params(_cfg(pos="rope"))
    assert "W_U" not in _params(_cfg(tied=True))


@pytest.mark.parametrize("kw", [dict(pos="learned", act="gelu", tied=False), dict(pos="rope", act="relu", tied=True)],
                         ids=["learned-gelu", "rope-tied-relu"])
def test_transformer_lens_export_gives_the_lm_logits_at_every_position(kw):
    pytest.importorskip("transformer_lens")
    import torch

    from groklab.export import hooked_config_dict, to_hooked_transformer

    cfg = _cfg(**kw)
    ds = tasks.build_dataset(cfg)
    model = build(cfg, ds)
    params = {k: np.asarray(v) for k, v in model.init(jax.random.PRNGKey(0)).items()}
    rng = np.random.default_rng(4)
    for k in params:                                           # gains and biases off 1 and 0: their mapping matters
        if ".ln" in k or k.startswith("ln") or k.endswith(("b_in", "b_out")):
            params[k] = params[k] + 0.3 * rng.standard_normal(params[k].shape).astype(np.float32)
    x = ds.x[:: max(1, ds.x.shape[0] // 200)]
    ref = np.asarray(model.apply({k: jnp.asarray(v) for k, v in params.items()}, jnp.asarray(x)))
    hc = hooked_config_dict(cfg)
    assert hc["d_vocab"] == hc["d_vocab_out"] == ds.vocab_size and hc["n_ctx"] == ds.x.shape[1]
    assert hc["positional_embedding_type"] == ("rotary" if kw["pos"] == "rope" else "standard")
    with torch.no_grad():
        out = to_hooked_transformer(params, cfg)(torch.from_numpy(x.astype(np.int64))).numpy()
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 1e-4


def test_flops_per_example_counts_what_xla_computes():
    cfg = _cfg(layernorm=False, act="relu")
    ds = tasks.build_dataset(cfg)
    model = build(cfg, ds)
    params = model.init(jax.random.PRNGKey(0))

    def xla_flops(n):
        x = np.resize(ds.x, (n, ds.x.shape[1]))
        cost = jax.jit(model.apply).lower(params, jnp.asarray(x)).compile().cost_analysis()
        return (cost[0] if isinstance(cost, list) else cost)["flops"]

    ratio = (xla_flops(400) - xla_flops(200)) / (model.flops_per_example * 200)
    assert 0.97 <= ratio <= 1.15, ratio     # XLA also counts the softmax and biases
