"""Core behaviour: training is deterministic, ensembles equal separate runs, the answer-position
shortcut equals the full model, accelerators match their formulas, the store round-trips."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from groklab.api import load_params, train
from groklab.config import resolve
from groklab.models import build
from groklab.tasks import build_dataset
from groklab.train import filters, losses

TINY = dict(p=23, steps=40, eval_every=5, ckpt_per_decade=4)


def tiny_mlp(**kw):
    return resolve("gromov2023", **{**TINY, **kw})


def tiny_transformer(**kw):
    base = dict(p=23, d_model=32, n_heads=4, d_mlp=64, steps=20, eval_every=5, ckpt_per_decade=3)
    return resolve("nanda2023", **{**base, **kw})


def test_same_seed_gives_bit_identical_metrics(tmp_path):
    a = train(tiny_mlp(seed=3), store=tmp_path / "a")
    b = train(tiny_mlp(seed=3), store=tmp_path / "b")
    from groklab.store import Store
    ma = Store(tmp_path / "a").metrics(a.run_ids[0])
    mb = Store(tmp_path / "b").metrics(b.run_ids[0])
    assert ma.keys() == mb.keys()
    for k in ma:
        np.testing.assert_array_equal(ma[k], mb[k])
    for k in a.params[0]:
        np.testing.assert_array_equal(a.params[0][k], b.params[0][k])
    c = train(tiny_mlp(seed=4), store=tmp_path / "c")
    assert not np.array_equal(a.params[0]["W_in"], c.params[0]["W_in"])


def test_ensemble_members_equal_separate_runs(tmp_path):
    cfgs = [tiny_mlp(seed=s, wd=w, frac=f) for s, w, f in [(0, 5.0, 0.5), (1, 1.0, 0.4), (2, 0.0, 0.6)]]
    ens = train(cfgs, store=tmp_path / "e")
    for i, c in enumerate(cfgs):
        one = train(c, store=tmp_path / f"s{i}")
        for k in ("train_loss", "test_loss", "train_acc", "test_acc"):
            np.testing.assert_allclose(ens.summaries[i]["final"][k], one.summaries[0]["final"][k], rtol=2e-4,
                                       atol=1e-6)
        for k in one.params[0]:
            np.testing.assert_allclose(ens.params[i][k], one.params[0][k], rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("layers,ln", [(1, False), (2, True), (2, False)])
def test_answer_position_shortcut_equals_full_transformer(layers, ln):
    cfg = tiny_transformer(n_layers=layers, layernorm=ln)
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    params = model.init(jax.random.PRNGKey(0))
    x = model.prepare(jnp.asarray(ds.x))
    fast = model.apply(params, x)
    full = model.apply(params, x, full=True)
    np.testing.assert_allclose(np.asarray(fast), np.asarray(full), rtol=1e-4, atol=1e-5)
    assert fast.shape == (ds.x.shape[0], 23)
    # and the same gradients (one block: scores gathered from the score table; deeper: per-example)
    w = jax.random.normal(jax.random.PRNGKey(1), fast.shape)
    g_fast = jax.grad(lambda p: (model.apply(p, x) * w).sum())(params)
    g_full = jax.grad(lambda p: (model.apply(p, x, full=True) * w).sum())(params)
    for k in params:
        np.testing.assert_allclose(np.asarray(g_fast[k]), np.asarray(g_full[k]), rtol=1e-3, atol=1e-4, err_msg=k)


def test_groklab_turns_off_ynn_dot_fusions_unless_told_not_to():
    import subprocess
    import sys

    code = "import os, groklab; print(os.environ.get('XLA_FLAGS', ''))"
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "GROKLAB_XLA_DEFAULTS")}
    run = lambda **e: subprocess.run([sys.executable, "-c", code], env={**env, **e}, capture_output=True,  # noqa: E731
                                     text=True, check=True).stdout.strip()
    assert run() == "--xla_cpu_experimental_ynn_fusion_type="
    assert run(XLA_FLAGS="--xla_cpu_experimental_ynn_fusion_type=dot") == "--xla_cpu_experimental_ynn_fusion_type=dot"
    assert run(XLA_FLAGS="--foo=1") == "--foo=1 --xla_cpu_experimental_ynn_fusion_type="
    assert run(GROKLAB_XLA_DEFAULTS="0") == ""


@pytest.mark.parametrize("task,bias", [("x+y", False), ("perm-compose", True)])
def test_onehot_first_layer_gather_equals_the_onehot_matmul(task, bias):
    from groklab.models import mlp

    cfg = tiny_mlp(bias=bias, **({"task": task, "perm_n": 3} if task != "x+y" else {}))
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    params = model.init(jax.random.PRNGKey(1))
    x = jnp.asarray(ds.x)
    onehot = jax.nn.one_hot(x, ds.vocab_size).reshape(x.shape[0], -1) @ params["W_in"]
    gathered = mlp._first_layer(params, x, cfg, ds.vocab_size)
    np.testing.assert_allclose(np.asarray(gathered), np.asarray(onehot), rtol=1e-5, atol=1e-5)
    # and the gradient a step takes: the gather's transpose is the one-hot matmul's
    def loss(p, first):
        h = first(p)
        return jnp.sum(jnp.sin(h))
    g1 = jax.grad(loss)(params, lambda p: mlp._first_layer(p, x, cfg, ds.vocab_size))["W_in"]
    g2 = jax.grad(loss)(params, lambda p: jax.nn.one_hot(x, ds.vocab_size).reshape(x.shape[0], -1) @ p["W_in"])["W_in"]
    np.testing.assert_allclose(np.asarray(g1), np.asarray(g2), rtol=1e-4, atol=1e-4)


def test_store_round_trips_checkpoint_to_same_logits(tmp_path):
    res = train(tiny_transformer(), store=tmp_path)
    step, params = load_params(res.run_ids[0], store=tmp_path)
    assert step == 20
    cfg = tiny_transformer()
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    x = model.prepare(jnp.asarray(ds.x))
    a = model.apply({k: jnp.asarray(v) for k, v in params.items()}, x)
    b = model.apply({k: jnp.asarray(v) for k, v in res.params[0].items()}, x)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_summary_has_the_contract_keys(tmp_path):
    s = train(tiny_mlp(), store=tmp_path).summaries[0]
    for k in ("run_id", "task", "p", "seed", "steps", "final", "t_mem", "t_gen", "phase", "wall_s"):
        assert k in s
    assert set(s["final"]) >= {"train_acc", "test_acc", "train_loss", "test_loss"}
    assert s["steps"] == 40 and s["p"] == 23


def _rand_tree(key, shapes=((3, 4), (5,))):
    ks = jax.random.split(key, len(shapes))
    return {f"w{i}": jax.random.normal(k, s) for i, (k, s) in enumerate(zip(ks, shapes))}


def test_grokfast_ema_matches_formula():
    alpha, lamb = 0.9, 2.0
    tx = filters.grokfast_ema(alpha, lamb)
    params = _rand_tree(jax.random.PRNGKey(0))
    state = tx.init(params)
    mu = None
    for t in range(5):
        g = _rand_tree(jax.random.PRNGKey(10 + t))
        out, state = tx.update(g, state, params)
        mu = g if mu is None else jax.tree.map(lambda m, x: alpha * m + (1 - alpha) * x, mu, g)
        expect = jax.tree.map(lambda x, m: x + lamb * m, g, mu)
        for k in g:
            np.testing.assert_allclose(out[k], expect[k], rtol=1e-6, atol=1e-6)


def test_grokfast_ma_matches_formula():
    w, lamb = 3, 5.0
    tx = filters.grokfast_ma(w, lamb)
    params = _rand_tree(jax.random.PRNGKey(0))
    state = tx.init(params)
    hist = []
    for t in range(7):
        g = _rand_tree(jax.random.PRNGKey(20 + t))
        hist.append(g)
        out, state = tx.update(g, state, params)
        for k in g:
            if len(hist) >= w:
                mean = np.mean([h[k] for h in hist[-w:]], axis=0)
                np.testing.assert_allclose(out[k], g[k] + lamb * mean, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(out[k], g[k])


def test_orthograd_removes_the_weight_direction_and_keeps_the_norm():
    tx = filters.orthograd()
    params = _rand_tree(jax.random.PRNGKey(1))
    g = _rand_tree(jax.random.PRNGKey(2))
    out, _ = tx.update(g, tx.init(params), params)
    for k in g:
        w, gk, o = (np.asarray(t[k], np.float64) for t in (params, g, out))
        perp = gk - (w.ravel() @ gk.ravel()) / (w.ravel() @ w.ravel()) * w
        expect = perp * np.linalg.norm(gk) / np.linalg.norm(perp)
        np.testing.assert_allclose(o, expect, rtol=1e-4, atol=1e-6)
        assert abs(np.vdot(o, w)) < 1e-4 * np.linalg.norm(o) * np.linalg.norm(w)


def test_stablemax_cross_entropy_matches_formula():
    z = jnp.array([[2.0, -1.0, 0.0], [-3.0, 0.5, 4.0]])
    y = jnp.array([0, 2])
    s = np.where(np.asarray(z) >= 0, np.asarray(z) + 1, 1 / (1 - np.asarray(z)))
    p = s / s.sum(-1, keepdims=True)
    expect = -np.log(p[np.arange(2), np.asarray(y)])
    np.testing.assert_allclose(losses.per_example("stablemax", z, y), expect, rtol=1e-6)


def test_softmax_collapse_flags_exact_ones_in_float32():
    from groklab.measure.metrics.weights import softmax_collapse

    z = jnp.array([[200.0, 0.0, 0.0], [1.0, 0.5, 0.0]])
    np.testing.assert_array_equal(np.asarray(softmax_collapse(z)), [True, False])


def test_float64_loss_agrees_with_float32_on_moderate_logits():
    z = jax.random.normal(jax.random.PRNGKey(0), (8, 5))
    y = jnp.arange(8) % 5
    a = losses.per_example("ce", z, y, jnp.float32)
    b = losses.per_example("ce", z, y, jnp.float32)
    np.testing.assert_allclose(a, b)
    ref = -np.log(np.exp(z) / np.exp(z).sum(-1, keepdims=True))[np.arange(8), np.asarray(y)]
    np.testing.assert_allclose(a, ref, rtol=1e-5)


def test_adamw_chain_equals_optax_adamw():
    from groklab.train import optim
    cfg = tiny_mlp(warmup=0, lr=1e-2, wd=0.5)
    hp = {k: getattr(cfg, k) for k in optim.HP_FIELDS}
    ours = optim.make(cfg, hp)
    ref = optax.adamw(1e-2, b1=cfg.beta1, b2=cfg.beta2, eps=cfg.eps, weight_decay=0.5)
    params = _rand_tree(jax.random.PRNGKey(3))
    so, sr = ours.init(params), ref.init(params)
    po, pr = params, params
    for t in range(4):
        g = _rand_tree(jax.random.PRNGKey(30 + t))
        uo, so = ours.update(g, so, po)
        ur, sr = ref.update(g, sr, pr)
        po, pr = optax.apply_updates(po, uo), optax.apply_updates(pr, ur)
    for k in params:
        np.testing.assert_allclose(po[k], pr[k], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("preset,kw", [("nanda2023", {}), ("nanda2023", dict(layernorm=True)),
                                       ("nanda2023", dict(n_layers=2)), ("pair2023", {}), ("gromov2023", {})])
def test_flops_per_example_counts_what_xla_computes(preset, kw):
    """The benchmark's GFLOP/s divides by these counts: they must be the work the forward pass does
    (XLA's own cost analysis of the compiled forward), not the work of the full model."""
    small = dict(p=23, d_model=32, n_heads=4, d_mlp=64) if preset == "nanda2023" else dict(p=23)
    cfg = resolve(preset, **{**small, **kw})
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    params = model.init(jax.random.PRNGKey(0))

    def xla_flops(n):
        cost = jax.jit(model.apply).lower(params, model.prepare(jnp.asarray(ds.x[:n]))).compile().cost_analysis()
        return (cost[0] if isinstance(cost, list) else cost)["flops"]

    # per example: the slope between two batch sizes, so per-step work (vocabulary projections,
    # the score table) that does not grow with the batch drops out
    ratio = (xla_flops(400) - xla_flops(200)) / (model.flops_per_example * 200)
    assert 0.97 <= ratio <= 1.1, ratio     # XLA also counts softmax and biases


def test_embed_sum_input_is_blind_to_operand_order_and_matches_its_definition():
    from groklab.models import mlp

    cfg = resolve("pair2023", p=23, input="embed-sum", steps=1)
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    params = model.init(jax.random.PRNGKey(2))
    x = jnp.asarray(ds.x)
    np.testing.assert_allclose(np.asarray(model.apply(params, x)), np.asarray(model.apply(params, x[:, ::-1])),
                               rtol=1e-5, atol=1e-5)
    explicit = (params["W_E"][x[:, 0]] + params["W_E"][x[:, 1]]) @ params["W_in"]
    np.testing.assert_allclose(np.asarray(mlp._first_layer(params, x, cfg, ds.vocab_size)), np.asarray(explicit),
                               rtol=1e-5, atol=1e-5)
    assert params["W_in"].shape == (cfg.d_embed, cfg.d_mlp)


def test_every_checkpoint_step_is_evaluated_and_the_log_grid_is_optional():
    from groklab.train.loop import Trainer, eval_schedule, log_grid

    # 800 steps, every 10: the 10-per-decade checkpoint grid is not inside the 20-per-decade eval grid
    ckpts = set(log_grid(800, 10))
    assert ckpts - set(eval_schedule(800, 10, 20)), "premise: the two log grids differ at 800 steps"
    assert ckpts <= set(eval_schedule(800, 10, 20, ckpts))
    assert eval_schedule(100, 10, 0) == list(range(0, 101, 10))
    assert set(eval_schedule(100, 10, 5)) == set(range(0, 101, 10)) | set(log_grid(100, 5))
    tr = Trainer([resolve("nanda2023-fast", p=23, d_model=32, d_mlp=64, steps=800, eval_per_decade=5)])
    assert tr.ckpt_steps <= set(tr.schedule)
    assert len(tr.schedule) < len(eval_schedule(800, 10, 20, tr.ckpt_steps))


# ------------------------------------------------------------------------------ config declarations
def test_every_field_declares_group_constraint_and_doc_and_help_states_them():
    from groklab.config import FIELDS, GROUPS, SPECS, allowed, field_help

    assert set(SPECS) == set(FIELDS)
    for name, s in SPECS.items():
        assert s.group in GROUPS and s.doc and "%" not in s.doc, name
        h = field_help(name)
        assert h.startswith(s.doc) and "default " in h and allowed(name) in h, h


def test_every_declared_bad_value_is_rejected_in_one_message_style():
    from groklab.config import FIELDS, from_dict, invalid_values
    from groklab.errors import ConfigError

    for name in FIELDS:
        for v in invalid_values(name):
            with pytest.raises(ConfigError) as e:
                from_dict({name: v})
            msg = str(e.value)
            assert msg.startswith(f"{name}: "), msg
            if name != "task":      # the task registry words its own errors
                assert "; allowed " in msg and msg.startswith(f"{name}: got "), msg


def test_declared_limits_are_the_real_limits():
    """Each closed end of a declared interval is accepted (and ``invalid_values`` shows the other side fails)."""
    from groklab.config import SPECS, from_dict
    from groklab.constraints import Interval

    fix = {"d_model": {"n_heads": 1}, "n_heads": {"d_model": 65536}}
    for name, s in SPECS.items():
        iv = s.allowed
        if not isinstance(iv, Interval):
            continue
        ends = [(iv.low, iv.closed in ("both", "left")), (iv.high, iv.closed in ("both", "right"))]
        for bound, closed in ends:
            if bound is not None and closed:
                assert getattr(from_dict({name: bound, **fix.get(name, {})}), name) == bound


def test_messages_state_the_limit():
    from groklab.config import from_dict
    from groklab.errors import ConfigError

    cases = [({"p": 1}, "p: got 1; allowed an integer in [2, 2000]"),
             ({"act": "sigmoid"}, "act: got 'sigmoid'; allowed one of relu, gelu, quadratic, tanh"),
             ({"d_model": 0}, "d_model: got 0; allowed an integer in [1, 65536]"),
             ({"n_heads": 5}, "n_heads: got 5; allowed a divisor of d_model (128)"),
             ({"batch_size": 0}, "batch_size: got 0; allowed an integer >= 1, or none"),
             ({"lr": "nan"}, "lr: got 'nan'; allowed a number > 0"),
             ({"steps": None}, "steps: got None; allowed an integer in [1, 10000000]")]
    for d, msg in cases:
        with pytest.raises(ConfigError) as e:
            from_dict(d)
        assert str(e.value) == msg


def test_member_fields_and_traced_hyperparameters_come_from_the_declarations():
    from groklab.config import MEMBER_FIELDS, SPECS, Config
    from groklab.train import optim

    assert MEMBER_FIELDS == {"name", "seed", "data_seed", "lr", "wd", "init_scale", "frac", "n_train", "noise",
                             "beta1", "beta2", "grokfast_lamb", "grokfast_alpha", "subset", "embed_from"}
    assert MEMBER_FIELDS == {n for n, s in SPECS.items() if s.member}
    assert optim.HP_FIELDS == ("lr", "wd", "beta1", "beta2", "grokfast_alpha", "grokfast_lamb")

    class Recorder(dict):
        def __getitem__(self, k):
            used.add(k)
            return super().__getitem__(k)

    used: set[str] = set()
    for kw in ({}, {"optimizer": "adam"}, {"optimizer": "sgd"}, {"grokfast": "ema"}, {"grokfast": "ma"}):
        cfg = Config(**kw)
        optim.make(cfg, Recorder({k: getattr(cfg, k) for k in optim.HP_FIELDS}))
    assert used == set(optim.HP_FIELDS)


def test_config_hash_is_unchanged():
    from groklab.config import Config, from_dict

    assert Config().hash() == "a4b69f902986d197"      # stores match runs by it
    assert from_dict(Config().to_dict()).hash() == Config().hash()
    assert resolve("nanda2023").hash() == "bdc7fad645574adc" and resolve("gromov2023").hash() == "75ed7b40bacd32dc"


def test_groklab_train_stays_the_train_function_once_the_train_package_is_imported(tmp_path):
    import groklab
    import groklab.train.loop  # noqa: F401  (sets the attribute groklab.train to the package)

    res = groklab.train(groklab.resolve("gromov2023", steps=3), store=tmp_path)
    assert res.run_ids and res.group_id.startswith("g")
    again = groklab.train(groklab.resolve("gromov2023", steps=3, seed=1), store=tmp_path)
    assert again.run_ids != res.run_ids
