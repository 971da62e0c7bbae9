"""Ensemble layouts (train/ensemble.py) and the MLP's per-vocabulary first layer (``embed_table``) against the
vmapped reference: member groups give the same numbers bit for bit (MLPs; transformers, with the atlas's
per-example scores); the table the same loss, gradients and training steps within float32 rounding; ``auto``
picks groups by shape."""

import dataclasses
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from groklab.config import resolve
from groklab.errors import ConfigError
from groklab.models import build
from groklab.tasks import build_dataset
from groklab.train import ensemble, examples, loop, losses
from groklab.train.loop import Trainer
from groklab.train.subsets import expand_subsets

# pair2023's model (factored embedding, one ReLU layer, AdamW, full batch) at a tiny size; each seed its own split
TINY = dict(task="x+y", p=11, frac=0.5, model="mlp", input="embed", d_embed=8, d_mlp=6, act="relu", bias=True,
            optimizer="adamw", lr=1e-2, wd=1.0, batch_size=None, steps=12, eval_every=4)


def _configs(E, **kw):
    return [resolve("pair2023", **{**TINY, **kw, "seed": s}) for s in range(E)]


def _train(trainer, steps):
    d = trainer.device_data()
    params, opt = trainer.init_state()
    params, opt = trainer.run_steps(params, opt, d, jnp.int32(0), jnp.int32(steps))
    metrics = trainer.evaluate(params, d)
    return jax.device_get((params, opt, metrics))


@pytest.mark.parametrize("batch_size", [None, 16])
def test_member_groups_equal_the_vmap_bit_for_bit(monkeypatch, batch_size):
    """Seven members in groups of two (lax.map over two groups, the last three as one more call) train and
    evaluate to exactly the vmapped reference's parameters, optimizer state and metrics (full batch, and
    minibatches drawn from each member's own key)."""
    ref = Trainer(_configs(7, layout="vmap", batch_size=batch_size))
    assert ref.group == 7 and ref.eval_group == 7
    monkeypatch.setattr(ensemble, "GROUP_BYTES", 1)          # every member over budget: groups of two
    grouped = Trainer(_configs(7, layout="groups", batch_size=batch_size))
    assert grouped.group == 2 and grouped.eval_group == 2
    want, got = _train(ref, 9), _train(grouped, 9)
    for w, g in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    assert float(np.abs(want[0]["W_in"]).sum()) > 0


@pytest.mark.parametrize("E,c,calls", [(7, 2, [2, 3]), (8, 4, [4]), (10, 4, [4, 2]), (5, 4, [5]), (3, 2, [3]),
                                       (9, 4, [4, 5])])
def test_in_groups_splits_members_as_documented(E, c, calls):
    """Groups of c mapped (traced once), the rest as one more call, a lone odd member merged into the last
    group (never a group of one); each member's result lands in its own row."""
    seen = []

    def fn(tree, k):
        seen.append(tree["x"].shape[0])
        return {"y": tree["x"] * k}

    x = jnp.arange(E * 3, dtype=jnp.float32).reshape(E, 3)
    out = jax.jit(lambda t: ensemble.in_groups(fn, c)(t, 2.0))({"x": x})
    np.testing.assert_array_equal(np.asarray(out["y"]), 2 * np.asarray(x))
    assert seen == calls


def test_auto_groups_by_shape(monkeypatch):
    """auto: pair2023's 64-member step in groups of four (0.5 MB of logits each), its evaluation over all 4,489
    rows in twos; small ensembles, tiny members, models without an estimate and accelerators keep one batch."""
    big = [resolve("pair2023", seed=s) for s in range(64)]
    assert (Trainer(big).group, Trainer(big).eval_group) == (4, 2)
    monkeypatch.setattr(loop, "pick_device", lambda name: types.SimpleNamespace(platform="gpu"))
    assert (Trainer(big).group, Trainer(big).eval_group) == (64, 64)
    assert Trainer([dataclasses.replace(c, layout="groups") for c in big]).group == 4
    monkeypatch.undo()
    assert Trainer([resolve("pair2023", seed=s) for s in range(4)]).group == 4         # one group: the vmap
    assert Trainer(_configs(8)).group == 8                                           # 8 tiny members fit
    assert ensemble.group_size("auto", 64, 0) == 64                                  # no estimate
    assert ensemble.group_size("vmap", 64, 1e9) == 64
    assert ensemble.group_size("groups", 64, 1e9) == 2
    assert ensemble.group_size("groups", 64, ensemble.GROUP_BYTES / 8) == 8
    assert ensemble.group_size("auto", 12, ensemble.GROUP_BYTES / 8) == 12          # 8 > 12 / 2: one group


# nanda2023-fast's transformer at a tiny size: one block (Q/K/V per vocabulary entry, scores gathered from a table)
# or two with LayerNorm (every projection per example); members of one subset ensemble with two canaries
TINY_TF = dict(p=11, d_model=16, n_heads=2, d_mlp=24, frac=0.6, subsets=5, canaries=2, steps=12, eval_every=4)


def _tf_configs(layout, **kw):
    return expand_subsets([resolve("nanda2023-fast", **{**TINY_TF, **kw}, layout=layout)])


@pytest.mark.parametrize("kw", [{}, {"n_layers": 2, "layernorm": True}])
def test_transformer_groups_equal_the_vmap_bit_for_bit(monkeypatch, kw):
    """A five-member subset ensemble of the transformer in groups of two (one mapped group, the last three as one
    more call) trains, evaluates and scores every table row (the atlas's loss, phi and rank) exactly as the vmap."""
    ref = Trainer(_tf_configs("vmap", **kw))
    assert ref.group == 5 and ref.eval_group == 5
    monkeypatch.setattr(ensemble, "GROUP_BYTES", 1)
    grouped = Trainer(_tf_configs("groups", **kw))
    assert grouped.group == 2 and grouped.eval_group == 2
    want, got = _train(ref, 7), _train(grouped, 7)
    for w, g in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    assert float(np.abs(want[0]["W_U"] - jax.device_get(ref.init_state()[0])["W_U"]).sum()) > 0   # it trained
    y = jnp.asarray(examples.pool_facts(ref.cfgs, [d.train_idx for d in ref.datasets])[0]["y"])
    x = jnp.asarray(ref.data.x)
    scored = [jax.device_get(examples.per_example_program(t)(want[0], x, y)) for t in (ref, grouped)]
    for w, g in zip(*scored):
        assert w.shape == (5, x.shape[1])
        np.testing.assert_array_equal(g, w)
    assert len(np.unique(scored[0][1])) > 5                                   # phi varies by member and row


def test_lm_groups_equal_the_vmap_bit_for_bit(monkeypatch):
    """The causal lm (kg-compose at a tiny width, minibatches): five members in groups of two train and evaluate
    exactly as the vmap."""
    cfgs = [resolve("kg-compose", d_model=16, n_heads=2, d_mlp=32, n_layers=1, batch_size=16, steps=8, seed=s)
            for s in range(5)]
    ref = Trainer([c.replace(layout="vmap") for c in cfgs])
    monkeypatch.setattr(ensemble, "GROUP_BYTES", 1)
    grouped = Trainer([c.replace(layout="groups") for c in cfgs])
    assert (ref.group, grouped.group, grouped.eval_group) == (5, 2, 2)
    want, got = _train(ref, 5), _train(grouped, 5)
    for w, g in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    assert len(np.unique(want[2]["train_loss"])) == 5


def test_auto_groups_the_nanda2023_atlas():
    """auto: nanda2023-fast's 64-member subset ensemble steps and scores in groups of two (each member's
    d_mlp = 512 neurons a row over ~1,900 training rows, ~3.9 MB, is past GROUP_BYTES), a three-member one
    keeps the vmap; the transformer's estimate is its widest activation, the lm's every position's."""
    cfgs = expand_subsets([resolve("nanda2023-fast", subsets=64)])
    t = Trainer(cfgs)
    assert t.model.activation_width == max(cfgs[0].d_mlp, 3 * cfgs[0].d_model, t.model.n_classes)
    assert t.data.train_idx.shape[1] * 4 * t.model.activation_width > ensemble.GROUP_BYTES
    assert (t.group, t.eval_group) == (2, 2)
    assert (Trainer(cfgs[:3]).group, Trainer(cfgs[:3]).eval_group) == (3, 3)
    two = resolve("nanda2023-fast", n_layers=2, layernorm=True)
    ds = build_dataset(two)
    assert build(two, ds).activation_width == 3 * max(two.d_model, two.d_mlp, two.n_heads * 3)
    lm = resolve("kg-compose")
    ds = build_dataset(lm)
    T = ds.x.shape[1]
    assert build(lm, ds).activation_width == T * max(lm.d_model, lm.d_mlp, lm.n_heads * T, ds.vocab_size)


def _loss_and_grads(cfg, params, ds):
    model = build(cfg, ds)
    x, y = jnp.asarray(ds.x[ds.train_idx]), jnp.asarray(ds.y_train)

    def loss(p):
        return losses.per_example(cfg.loss, model.apply(p, x), y).mean()
    return jax.value_and_grad(loss)(params)


@pytest.mark.parametrize("tied", [False, True])
def test_embed_table_equals_the_matmul(tied):
    """Three members' loss and gradients with the first layer gathered from W_E·W_in equal the matmul's within
    float32 rounding, and so do the hidden neurons over the whole table."""
    for cfg in _configs(3, tied=tied):
        table = dataclasses.replace(cfg, embed_table=True)
        ds = build_dataset(cfg)
        params = build(cfg, ds).init(jax.random.PRNGKey(cfg.seed))
        (l0, g0), (l1, g1) = _loss_and_grads(cfg, params, ds), _loss_and_grads(table, params, ds)
        np.testing.assert_allclose(float(l1), float(l0), rtol=1e-6)
        for k in g0:
            np.testing.assert_allclose(np.asarray(g1[k]), np.asarray(g0[k]), rtol=1e-4, atol=1e-6, err_msg=k)
    h0 = build(cfg, ds).neurons(params, jnp.asarray(ds.x))
    h1 = build(table, ds).neurons(params, jnp.asarray(ds.x))
    np.testing.assert_allclose(np.asarray(h1), np.asarray(h0), rtol=1e-5, atol=1e-6)


def test_embed_table_trains_like_the_matmul():
    """A few AdamW steps of a three-member ensemble: the same parameters within float32 tolerance."""
    (p0, _, m0), (p1, _, m1) = _train(Trainer(_configs(3)), 5), _train(Trainer(_configs(3, embed_table=True)), 5)
    for k in p0:
        np.testing.assert_allclose(p1[k], p0[k], rtol=1e-4, atol=1e-5, err_msg=k)
    np.testing.assert_allclose(m1["train_loss"], m0["train_loss"], rtol=1e-4)
    assert any(not np.array_equal(p1[k], p0[k]) for k in p0), "the table path was not taken"


def test_embed_table_counts_fewer_flops_and_refuses_other_inputs():
    cfg = resolve("pair2023")
    ds = build_dataset(cfg)
    assert build(resolve("pair2023", embed_table=True), ds).flops_per_example < build(cfg, ds).flops_per_example
    with pytest.raises(ConfigError, match="embed_table"):
        build(resolve("pair2023", input="onehot", embed_table=True), ds)


def test_ensemble_bench_ratios_are_against_one_model_at_a_time():
    """The bench's interleaved measure: 'ratio' against E = 1 of the baseline, 'batching' against E = 1 alike."""
    from benchmarks.ensemble_bench import measure

    res = measure([2], {"matmul": ("pair2023", TINY), "table": ("pair2023", {**TINY, "embed_table": True})},
                  chunk=4, reps=1)
    base = res["matmul"][0]["model_steps_s"]
    for rows in res.values():
        assert [r["E"] for r in rows] == [1, 2]
        one = rows[0]["model_steps_s"]
        for r in rows:
            assert r["model_steps_s"] > 0 and r["one_at_a_time_steps_s"] == base
            assert r["ratio"] == pytest.approx(r["model_steps_s"] / base)
            assert r["batching"] == pytest.approx(r["model_steps_s"] / one)
    per_step = {v: rows[0]["gflops"] / rows[0]["model_steps_s"] for v, rows in res.items()}
    assert per_step["table"] < per_step["matmul"]          # each variant's GFLOP/s from its own FLOP count
