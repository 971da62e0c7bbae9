"""The race's optimizer parts: Muon (optax.contrib.muon), the delayed Frobenius penalty, the cosine and
one-cycle schedules, and how the ``accelerators`` reproduction reads intervals off the seeds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from groklab.config import Config, from_dict, resolve
from groklab.errors import ConfigError
from groklab.reproduce import accelerators as acc
from groklab.train import filters, optim
from groklab.train.loop import Trainer

HP = {"lr": 1e-2, "wd": 0.0, "beta1": 0.9, "beta2": 0.98, "grokfast_alpha": 0.98, "grokfast_lamb": 2.0}


def _params(key=0) -> dict:
    k = jax.random.split(jax.random.PRNGKey(key), 5)
    return {"W_E": jax.random.normal(k[0], (10, 8)), "blocks.0.attn.W_Q": jax.random.normal(k[1], (2, 8, 4)),
            "blocks.0.mlp.W_in": jax.random.normal(k[2], (8, 16)), "blocks.0.mlp.b_in": jnp.zeros(16),
            "W_U": jax.random.normal(k[3], (8, 7))}


def _first_update(cfg: Config, grads: dict, params: dict) -> dict:
    tx = optim.make(cfg, HP)
    updates, _ = tx.update(grads, tx.init(params), params)
    return updates


def test_muon_orthogonalizes_hidden_matrices_and_leaves_embeddings_to_adamw():
    params, grads = _params(0), _params(1)
    base = Config(warmup=0)
    muon = _first_update(base.replace(optimizer="muon"), grads, params)
    adamw = _first_update(base, grads, params)
    sv = np.linalg.svd(np.asarray(muon["blocks.0.mlp.W_in"]), compute_uv=False)
    sv_adam = np.linalg.svd(np.asarray(adamw["blocks.0.mlp.W_in"]), compute_uv=False)
    # Newton–Schulz brings every singular value near one value; Adam's sign-like first step does not
    assert sv.max() / sv.min() < 2.0 < sv_adam.max() / sv_adam.min()
    assert not np.allclose(muon["blocks.0.mlp.W_in"], adamw["blocks.0.mlp.W_in"])
    for head in range(2):       # attention: orthogonalized per head (the head axis is a batch axis)
        s = np.linalg.svd(np.asarray(muon["blocks.0.attn.W_Q"][head]), compute_uv=False)
        assert s.max() / s.min() < 2.0
    dims = optim.muon_dims(base)(params)
    assert dims["W_E"] is None and dims["W_U"] is None and dims["blocks.0.mlp.b_in"] is None
    assert dims["blocks.0.attn.W_Q"] == optax.contrib.MuonDimensionNumbers(1, 2)


def test_muon_flops_count_only_the_matrices_muon_orthogonalizes():
    shapes = {k: v.shape for k, v in _params().items()}
    per_iter = 2 * (4 * 8 * 8 * 16 + 2 * 8 ** 3) + 2 * 2 * (4 * 4 * 4 * 8 + 2 * 4 ** 3)
    assert optim.muon_flops(Config(optimizer="muon"), shapes) == optim.MUON_NS_STEPS * per_iter
    assert optim.muon_flops(Config(), shapes) == 0.0


def test_delayed_frobenius_is_zero_below_its_trigger_and_2_lamb_w_above():
    params, grads = _params(0), _params(1)
    tx = filters.delayed_frobenius(0.1, 0.99)
    state = tx.init(params)
    off, state = tx.update(grads, state, params, train_acc=jnp.float32(0.98))
    assert all(np.array_equal(off[k], grads[k]) for k in grads)
    on, state = tx.update(grads, state, params, train_acc=jnp.float32(0.99))
    for k in grads:
        want = grads[k] + 0.2 * params[k] if params[k].ndim >= 2 else grads[k]
        np.testing.assert_allclose(on[k], want, rtol=1e-6)
    assert int(state.on_steps) == 1
    with pytest.raises(ValueError, match="train_acc"):
        tx.update(grads, state, params)


def test_the_trainer_switches_the_penalty_on_by_minibatch_train_accuracy():
    def train(**kw):
        cfg = resolve("gromov2023", p=11, d_mlp=16, steps=3, eval_every=3, **kw)
        return Trainer([cfg]).fit()["params"]

    plain = train()
    never = train(frob_lamb=0.5)                         # accuracy far below 0.99 after 3 steps: no penalty
    always = train(frob_lamb=0.5, frob_threshold=1e-6)   # every step passes the trigger
    # (another compiled program, so equal to rounding, not bit for bit)
    assert max(float(np.abs(plain[k] - never[k]).max()) for k in plain) < 1e-6
    assert float(np.abs(plain["W_in"] - always["W_in"]).max()) > 1e-4


@pytest.mark.parametrize("schedule,at", [
    ("constant", {0: 1.0, 50: 1.0, 100: 1.0}),
    ("cosine", {0: 1.0, 50: 0.5, 100: 0.0, 150: 0.0}),
    ("one-cycle", {0: 1 / 25, 30: 1.0, 100: 1 / 25e4}),
])
def test_schedules_at_known_steps(schedule, at):
    rate = optim.learning_rate(Config(warmup=0, steps=100, schedule=schedule), 1.0)
    for count, want in at.items():
        assert float(rate(jnp.int32(count))) == pytest.approx(want, rel=1e-5, abs=1e-7)


def test_the_constant_schedule_is_the_old_warm_up_bit_for_bit():
    cfg = Config(warmup=10)
    rate = optim.learning_rate(cfg, jnp.float32(3e-3))
    for count in (0, 4, 9, 10, 500):
        c = jnp.int32(count)
        assert float(-rate(c)) == float(-jnp.float32(3e-3) * jnp.minimum((c + 1) / 10, 1.0))


def test_new_fields_keep_old_hashes_and_reject_bad_values():
    assert Config().hash() == Config(schedule="constant", frob_lamb=0.0, frob_threshold=0.99).hash()
    assert Config(schedule="cosine").hash() != Config().hash()
    for field, bad in (("schedule", "linear"), ("optimizer", "lion"), ("frob_lamb", -1), ("frob_threshold", 0)):
        with pytest.raises(ConfigError, match=f"^{field}: got"):
            from_dict({field: bad})


def test_interval_is_the_median_and_range_of_the_seeds():
    assert acc.interval([160, 83, 90, 164, 140], "steps") == "140 [83 – 164]"
    assert acc.interval([100, None, 80, 90, 120], "steps", 250) == "100 [80 – > budget]"
    assert acc.interval([None, None, 80, None, 120], "steps", 250) == "> 250"
    assert acc.interval([], "steps") == "—"


def seeds_of(pts, arm):
    return [c for c in pts if c.name == f"{acc.NAME}/{arm}"]


def test_race_trains_each_arms_seeds_as_one_ensemble_before_any_grid():
    pts = acc.EXPERIMENT.points(False)
    by_label: dict[str, set] = {}
    for c in pts:
        by_label.setdefault(c.name.partition("/")[2], set()).add(c.shape_key())
    assert {label.split(" ")[0] for label in by_label} == set(acc.ARMS) | {acc.WEAK}
    assert all(len(k) == 1 for k in by_label.values())
    first_later = next(i for i, c in enumerate(pts) if c.eval_every == acc.LATER_EVERY)
    assert all(c.eval_every == acc.LATER_EVERY for c in pts[first_later:])      # the grids come last
    assert {c.name.partition("/")[2] for c in pts[:first_later]} == set(acc.ARMS) - {"nanda2023"} | {acc.WEAK}
    weak = [c for c in pts if c.name == f"{acc.NAME}/{acc.WEAK}"]
    assert pts[:len(weak)] == weak and [c.seed for c in weak] == list(acc.RACE_SEEDS)   # trained first
    transfer = [c for c in pts if c.name.startswith(f"{acc.NAME}/{acc.TRANSFER}") and c.model == "transformer"]
    assert len(transfer) == len(acc.RACE_SEEDS) + len(acc.GRID) - 1
    by_hash = {c.hash(): c.seed for c in weak}
    assert all(by_hash[c.embed_from.removeprefix("config:")] == c.seed for c in transfer)   # its seed's weak model
    assert transfer[0].shape_key() != seeds_of(pts, acc.BASELINE)[0].shape_key()     # never packed with adamw
    assert len(pts) - first_later == 5 + (len(acc.GRID) - 1) * len(acc.GRID_ARMS)
    seeds = [c for c in pts if c.name == f"{acc.NAME}/{acc.BASELINE}"]
    assert sorted(c.seed for c in seeds) == list(acc.RACE_SEEDS) and len(seeds) >= 5
    fast = resolve("nanda2023-fast")
    assert all(getattr(seeds[0], k) == getattr(fast, k) for k in ("lr", "wd", "beta2", "init_scale", "frac", "p"))


def test_muon_and_penalty_states_save_under_unique_names_and_load_back():
    from groklab.train import state as opt_names

    params = _params()
    for cfg in (Config(optimizer="muon"), Config(frob_lamb=0.1, schedule="one-cycle")):
        st = optim.make(cfg, HP).init(params)
        tensors = opt_names.to_tensors(st)
        assert len(tensors) == len(jax.tree.leaves(st))             # no two leaves share a name
        template = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), st)
        back = opt_names.order(tensors, template, "test")
        assert all(np.array_equal(a, b) for a, b in zip(back, jax.tree.leaves(st)))


def test_the_groktransfer_row_counts_the_weak_models_training(monkeypatch):
    def f(seed, hit, flops, budget=200, bflops=None, seconds=1.0):
        return dict(seed=seed, hit=hit, flops=flops, budget=budget, budget_flops=bflops or flops, final=0.4,
                    seconds=seconds, budget_seconds=seconds, stays=True, rule="yes", lr=1e-2, wd=3.0)
    table = {acc.BASELINE: [f(s, 100, 10e12) for s in range(5)],
             acc.TRANSFER: [f(s, 40, 4e12) for s in range(5)],
             acc.WEAK: [f(s, 1000, 1e12, budget=1000) for s in range(5)]}
    monkeypatch.setattr(acc, "facts", lambda out, label: table.get(label, []))
    row = acc._transfer_row(object())
    assert row.ours == pytest.approx(10e12 / (4e12 + 1e12)) and row.bound == "" and row.agree is False
    assert row.published.value == acc.XU_SPEEDUP == 5.31
    assert "+ the weak MLP's 1,000 [1,000 – 1,000] (1e+12 [1e+12 – 1e+12] FLOPs, 1.00 [1.00 – 1.00] s" in row.detail
    weak = acc._with_weak(object())
    assert [w["hit"] for w in weak] == [1040] * 5 and weak[0]["budget"] == 1200 and weak[0]["seconds"] == 2.0
    table[acc.TRANSFER] = [f(s, None, None, bflops=8e12) for s in range(5)]      # missed: an upper bound
    row = acc._transfer_row(object())
    assert row.bound == "<" and row.ours == pytest.approx(10e12 / 9e12)
