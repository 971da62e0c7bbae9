"""The memorization atlas's pieces on small arrays (seconds): subsets and canaries, the estimators of
Feldman & Zhang 2020 and Zhang et al. 2021 against brute force, online LiRA (Carlini et al. 2022)
against the loss threshold, exposure (Carlini et al. 2019), and the per-example files in the store."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import groklab
from groklab.errors import ConfigError, StoreError
from groklab.measure import memorization as mm
from groklab.store import Store
from groklab.tasks import build_dataset
from groklab.tasks.subsets import inclusion_matrix
from groklab.train.examples import confidence
from groklab.train.subsets import expand_subsets

TINY = dict(task="x+y", p=7, frac=0.6, model="mlp", input="onehot", d_mlp=8, steps=5, noise=0.1)


def test_half_subsets_put_every_example_in_half_the_members():
    inc = inclusion_matrix(50, 16, seed=3)
    assert inc.shape == (16, 50) and (inc.sum(0) == 8).all()
    assert (inc == inclusion_matrix(50, 16, seed=3)).all() and (inc != inclusion_matrix(50, 16, seed=4)).any()
    loo = inclusion_matrix(4, 5, 0, "leave-one-out")
    assert (loo.sum(1) == [3, 3, 3, 3, 4]).all() and not loo[np.arange(4), np.arange(4)].any()
    with pytest.raises(ConfigError, match="pool's size"):
        inclusion_matrix(4, 6, 0, "leave-one-out")
    with pytest.raises(ConfigError, match="subsets"):
        inclusion_matrix(4, 1, 0)


def test_members_train_on_their_subset_of_one_pool():
    cfgs = expand_subsets([groklab.from_dict({**TINY, "subsets": 4, "canaries": 2, "seed": 5})])
    assert [c.subset for c in cfgs] == [0, 1, 2, 3] and [c.seed for c in cfgs] == [5, 6, 7, 8]
    assert {c.split_seed for c in cfgs} == {5}
    pool = build_dataset(cfgs[0].replace(subsets=0, subset=0))
    members = [build_dataset(c) for c in cfgs]
    count = np.zeros(pool.n_train, int)
    for d in members:
        assert (d.test_idx == pool.test_idx).all()
        pos = np.searchsorted(pool.train_idx, d.train_idx)
        assert (pool.train_idx[pos] == d.train_idx).all() and (pool.y_train[pos] == d.y_train).all()
        count[pos] += 1
    assert (count == 2).all()                 # each pool example in half of the 4 members
    n_noisy = int(np.floor(0.1 * pool.n_train))
    assert pool.corrupted.sum() == n_noisy + 2 and (pool.y_train[pool.corrupted] != pool.y[pool.train_idx][
        pool.corrupted]).all()                # canaries' secrets are never the true class
    with pytest.raises(ConfigError, match="subset: got 4"):
        cfgs[0].replace(subset=4)
    with pytest.raises(ConfigError, match="share"):
        expand_subsets([cfgs[0], cfgs[1].replace(data_seed=9)])
    with pytest.raises(ConfigError, match="exactly 4 seeds"):
        expand_subsets([cfgs[0].replace(subset=0, seed=s) for s in range(3)])
    seeded = expand_subsets([cfgs[0].replace(subset=0, seed=s) for s in (4, 4, 9, 9)])
    assert [c.subset for c in seeded] == [0, 1, 2, 3] and [c.seed for c in seeded] == [4, 4, 9, 9]
    assert groklab.from_dict(TINY).hash() == groklab.from_dict({**TINY, "subsets": 0, "canaries": 0}).hash()


def test_memorization_and_influence_match_brute_force():
    rng = np.random.default_rng(0)
    inc = rng.random((12, 9)) < 0.5
    inc[0], inc[1] = True, False                # every example has IN and OUT members
    correct = rng.random((12, 9)) < 0.6
    loss = rng.random((12, 9))
    alive = np.ones(12, bool)
    alive[5] = False
    mem = mm.memorization(inc, correct, alive)
    meml = mm.counterfactual_loss(inc, loss, alive)
    for i in range(9):
        i_in, i_out = inc[:, i] & alive, ~inc[:, i] & alive
        assert mem[i] == pytest.approx(correct[i_in, i].mean() - correct[i_out, i].mean())
        assert meml[i] == pytest.approx(loss[i_out, i].mean() - loss[i_in, i].mean())
    test = rng.random((12, 6)) < 0.5
    infl = mm.influence(inc, test, alive, top=5, block=4)
    full = np.array([[test[inc[:, i] & alive, j].mean() - test[~inc[:, i] & alive, j].mean() for j in range(6)]
                     for i in range(9)])
    assert np.allclose(infl["max"], full.max(1)) and (full[np.arange(9), infl["argmax"]] == full.max(1)).all()
    assert [p["infl"] for p in infl["pairs"]] == pytest.approx(sorted(full.ravel())[::-1][:5])


def test_lira_leave_target_out_statistics_and_per_example_calibration():
    rng = np.random.default_rng(1)
    K, n = 64, 400
    inc = inclusion_matrix(n, K, seed=0)
    hardness = rng.normal(0, 3, n)             # examples differ far more than membership moves them
    phi = hardness[None, :] + 1.5 * inc + rng.normal(0, 0.5, (K, n))
    mu, var, n_t = mm._loo_stats(inc, phi)
    t, i = 7, 11
    others = [k for k in range(K) if k != t and inc[k, i]]
    assert mu[t, i] == pytest.approx(phi[others, i].mean()) and var[t, i] == pytest.approx(phi[others, i].var(ddof=1))
    lira = mm.attack_metrics(mm.lira_scores(inc, phi), inc)            # 31-32 shadows a side: per example
    pooled = mm.attack_metrics(mm.lira_scores(inc, phi, per_example_min=10**6), inc)
    loss = mm.attack_metrics(phi, inc)                                # the global threshold on φ
    assert lira["tpr@0.01"] > 0.3 and pooled["tpr@0.01"] > 0.3 and loss["tpr@0.01"] < 0.1
    assert lira["auc"] > loss["auc"] + 0.1
    dead = np.ones(K, bool)
    dead[3] = False
    assert np.isnan(mm.lira_scores(inc, phi, dead)[3]).all()
    roc = mm.roc_points(mm.lira_scores(inc, phi), inc)
    assert roc["fpr"][-1] == 1.0 and roc["tpr"][-1] == 1.0 and np.all(np.diff(roc["tpr"]) >= 0)


def test_exposure_and_separation():
    assert mm.exposure(np.array([1, 2, 32]), 32).tolist() == [5.0, 4.0, 0.0]
    assert mm.separation_auc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([True, True, False, False])) == 1.0
    assert mm.separation_auc(np.array([0.1, 0.9]), np.array([True, False])) == 0.0
    assert mm.separation_auc(np.array([0.1, 0.9]), np.array([False, False])) is None


def test_confidence_is_the_logit_scaled_probability():
    z = jnp.array([[2.0, -1.0, 0.5], [30.0, -5.0, 0.0]])
    y = jnp.array([0, 0])
    p = np.exp([2.0, -1.0, 0.5]) / np.exp([2.0, -1.0, 0.5]).sum()
    got = np.asarray(confidence("ce", z, y, None))
    assert got[0] == pytest.approx(np.log(p[0] / (1 - p[0])), rel=1e-5)
    assert got[1] == pytest.approx(30.0 - np.log(np.exp(-5.0) + 1.0), rel=1e-6)   # exact where p_y rounds to 1
    # StableMax (Prieto et al. 2025): s = (3, 1/2, 1.5) on the first row, so p_y / (1 - p_y) = 3 / 2
    assert np.asarray(confidence("stablemax", z, y, None))[0] == pytest.approx(np.log(3.0 / 2.0), rel=1e-5)
    assert np.asarray(confidence("mse", z, y, jnp.array([1e-4, 1.0]))).tolist() == pytest.approx([np.log(1e4), 0.0])


def test_store_keeps_per_example_files_and_resume_drops_later_steps(tmp_path):
    st = Store(tmp_path / "s")
    [rid, rid2] = st.create_runs([{"task": "x+y", "seed": 0}] * 2, code_version="t", machine="m", group_id="g-test1")
    st.save_examples(rid, None, {"rows": np.arange(3, dtype=np.int32)}, {"n_classes": 7})
    for step in (0, 5, 10):
        st.save_examples(rid, step, {"loss": np.full((2, 3), step, np.float32)}, {})
    assert st.example_steps(rid) == [0, 5, 10]
    assert st.load_examples(rid, 5)["loss"].tolist() == [[5.0] * 3] * 2
    assert st.load_examples(rid)["rows"].tolist() == [0, 1, 2]
    assert st.resolve_group("g-test")[0] == "g-test1" and st.resolve_group(rid2)[1][0]["run_id"] == rid
    st.truncate_after(rid, 5)
    assert st.example_steps(rid) == [0, 5] and st.load_examples(rid)["rows"].size == 3
    with pytest.raises(StoreError, match="no per-example measures at step 10"):
        st.load_examples(rid, 10)
