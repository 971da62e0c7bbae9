"""Analysis of stored runs: progress measures over checkpoints, the report view, caching, the CLI."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from groklab import analysis
from groklab.analysis import ANALYSIS_KEY, analyze_run, phase_boundaries, run_view
from groklab.cli import main
from groklab.config import resolve
from groklab.errors import StoreError
from groklab.models import build
from groklab.store import Store
from groklab.tasks import build_dataset


def _stored_run(store: Store, cfg, params_by_step: dict[int, dict], acc=None) -> str:
    """A run recorded in the store from hand-made checkpoints (no training)."""
    rid = store.create_runs([cfg.to_dict()], code_version="test", machine="test")[0]
    for step, params in params_by_step.items():
        store.save_checkpoint(rid, step, {k: np.asarray(v, np.float32) for k, v in params.items()})
        tr, te = acc(step) if acc else (0.5, 0.1)
        store.log_metrics([rid], step, [{"train_acc": tr, "test_acc": te, "train_loss": 1.0 - tr,
                                         "test_loss": 1.0 - te + 0.01, "weight_norm": 10.0}])
    store.finish(rid, "completed", None, 1.0)
    return rid


def _init_params(cfg, seed: int = 0) -> dict[str, np.ndarray]:
    model = build(cfg, build_dataset(cfg))
    return {k: np.asarray(v) for k, v in model.init(jax.random.PRNGKey(seed)).items()}


def _periodic_cfg(p: int = 23, task: str = "x+y"):
    return resolve(None, task=task, p=p, model="mlp", input="embed", d_embed=2, d_mlp=32, n_layers=1, steps=10)


def _periodic_run(store: Store, p: int = 23, k: int = 5, task: str = "x+y") -> str:
    """Step 0: random weights; step 10: embedding exactly on the circle of frequency k."""
    cfg = _periodic_cfg(p, task)
    p0 = _init_params(cfg)
    w = 2 * np.pi * k / p
    p1 = {**p0, "W_E": np.stack([np.cos(w * np.arange(p)), np.sin(w * np.arange(p))], axis=1)}
    return _stored_run(store, cfg, {0: p0, 10: p1})


# ------------------------------------------------------------------------------------------ trained runs
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One batched ensemble: gromov2023 that groks, and the same model that memorizes (wd 0, 20% data)."""
    from groklab.api import train

    store = Store(tmp_path_factory.mktemp("analysis") / "store")
    grok = resolve("gromov2023", steps=150, eval_every=5, name="grok")
    mem = grok.replace(wd=0.0, frac=0.2, name="mem")
    res = train([grok, mem], store=store)
    return store, res.run_ids[0], res.run_ids[1], res.summaries


@pytest.mark.slow
def test_ipr_rises_above_half_as_gromov_generalizes_and_stays_low_when_memorizing(trained):
    store, grok_id, mem_id, summaries = trained
    assert summaries[0]["final"]["test_acc"] >= 0.99
    assert summaries[1]["final"]["train_acc"] >= 0.99 and summaries[1]["final"]["test_acc"] < 0.1

    grok = analyze_run(store, grok_id)["progress"]
    mem = analyze_run(store, mem_id)["progress"]
    assert grok["ipr_mean"][0] < 0.1
    assert grok["ipr_mean"][-1] > 0.5
    # IPR lags test accuracy: at the first checkpoint with test accuracy >= 0.99 it has risen well above
    # its start, it keeps rising, and it is above 0.5 at every checkpoint from 1.5 x that step on
    generalized = [i for i, a in enumerate(grok["test_acc"]) if a >= 0.99]
    assert generalized
    i0, steps, ipr = generalized[0], grok["step"], grok["ipr_mean"]
    assert ipr[i0] > 3 * ipr[0]
    assert all(b >= a - 1e-3 for a, b in zip(ipr[i0:], ipr[i0 + 1:]))
    late = [i for i in generalized if steps[i] >= 1.5 * steps[i0]]
    assert late and all(ipr[i] > 0.5 for i in late)
    assert max(mem["ipr_mean"]) < 0.1
    assert grok["ipr_mean"][-1] > 5 * mem["ipr_mean"][-1]


@pytest.mark.slow
def test_phases_are_ordered_for_grokking_run_and_open_for_memorizing_run(trained):
    store, grok_id, mem_id, _ = trained
    ph = analyze_run(store, grok_id)["phases"]
    assert ph["memorization_end"] is not None and ph["circuit_end"] is not None
    assert ph["memorization_end"] <= ph["circuit_end"] <= (ph["cleanup_end"] or 10**9)
    mem = analyze_run(store, mem_id)
    assert mem["phases"]["memorization_end"] is not None
    assert mem["phases"]["circuit_end"] is None
    assert "memorizing" in mem["verdict"].lower()


@pytest.mark.slow
def test_generalizing_run_explains_most_logit_variance_with_its_key_frequencies(trained):
    store, grok_id, _, _ = trained
    a = analyze_run(store, grok_id)
    assert a["key_freqs"]
    assert a["final"]["logit_fraction"] > 0.5 > a["progress"]["logit_fraction"][0]
    assert "generalizing Fourier circuit" in a["verdict"]
    n = len(a["neurons"]["freq"])
    assert sorted(a["neurons"]["order"]) == list(range(n))
    assert len(a["neurons"]["heatmap"]) == n and len(a["neurons"]["heatmap"][0]) == 97


# ------------------------------------------------------------------------------------------ hand-built runs
def test_periodic_embedding_gives_its_frequency_clock_and_sparse_spectrum(tmp_path):
    store = Store(tmp_path / "s")
    rid = _periodic_run(store, p=23, k=5)
    a = analyze_run(store, rid)
    assert a["steps"] == [0, 10]
    assert a["key_freqs_norms"] == [5] and a["key_freqs"] == [5]
    g0, g1 = a["progress"]["gini_embed"]
    assert g1 > 0.85 > g0
    assert a["progress"]["ipr_mean"][1] > 0.99
    spec = np.array(a["spectrum"]["norms"][1])
    assert spec.argmax() == 4 and spec[4] > 100 * np.delete(spec, 4).max()
    pts = np.array(a["clock"]["points"][0])
    assert pts.shape == (23, 2)
    r = np.linalg.norm(pts, axis=1)
    assert np.allclose(r, r.mean(), rtol=1e-3)
    step = np.diff(np.arctan2(pts[:, 1], pts[:, 0])) % (2 * np.pi)
    assert np.allclose(np.minimum(step, 2 * np.pi - step), 2 * np.pi * 5 / 23, atol=1e-3)


def test_run_that_lost_its_generalization_is_read_where_it_generalized(tmp_path):
    store = Store(tmp_path / "s")
    cfg = _periodic_cfg()
    w = 2 * np.pi * 5 / 23
    periodic = {**_init_params(cfg), "W_E": np.stack([np.cos(w * np.arange(23)), np.sin(w * np.arange(23))], 1)}
    acc = {0: (0.1, 0.0), 10: (1.0, 1.0), 20: (0.2, 0.05)}
    rid = _stored_run(store, cfg, {0: _init_params(cfg), 10: periodic, 20: _init_params(cfg, seed=7)},
                      acc=acc.__getitem__)
    a = analyze_run(store, rid)
    assert a["reference_step"] == 10 and a["key_freqs"] == [5]
    assert "lost it" in a["verdict"] and any("step 10" in n for n in a["notes"])


def test_subtraction_is_analyzed_as_a_plus_minus_b(tmp_path):
    store = Store(tmp_path / "s")
    a = analyze_run(store, _periodic_run(store, task="x-y"))
    assert a["key_freqs"] == [5]
    assert all(isinstance(v, float) for v in a["progress"]["restricted_loss"] + a["progress"]["excluded_loss"])
    assert "rqi" in a["not_applicable"] and "restricted_loss" not in a["not_applicable"]


def test_phase_boundaries_follow_the_documented_rule():
    steps = np.arange(0, 1000, 10)
    train_acc = np.where(steps >= 100, 1.0, 0.5)
    test_loss = np.where(steps < 100, 2.0 + steps / 100, np.where(steps < 500, 3.0, 3.0 * np.exp(-(steps - 500) / 50)))
    test_loss = np.maximum(test_loss, 1e-3)
    test_acc = np.where(test_loss < 0.1, 1.0, 0.0)
    norm = np.where(steps < 500, 100.0, 10.0 + 90.0 * np.exp(-(steps - 500) / 100))
    ph = phase_boundaries(steps, train_acc, test_acc, test_loss, norm, acc_threshold=0.99)
    assert ph["memorization_end"] == 100
    # log descent from 3 to 1e-3: 20% of it is a factor 3000^0.2 ≈ 4.96 → loss 0.605 at ≈ step 580
    assert ph["circuit_end"] == 590
    # 90% of the log descent: loss ≤ 3000^-0.9·3 at step ≥ 860.3; the norm has made 90% of its fall
    # from step 590 by step 805, so the loss decides
    assert ph["cleanup_end"] == 870
    never = phase_boundaries(steps, train_acc, np.zeros_like(test_acc), test_loss, norm)
    assert never == {"memorization_end": 100, "circuit_end": None, "cleanup_end": None}


def test_second_call_reads_the_cache_and_a_new_checkpoint_invalidates_it(tmp_path, monkeypatch):
    store = Store(tmp_path / "s")
    rid = _periodic_run(store)
    first = analyze_run(store, rid)
    assert store.get_analysis(rid, ANALYSIS_KEY)["fingerprint"] == first["fingerprint"]

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although the cache is up to date")

    with monkeypatch.context() as m:
        m.setattr(analysis.stored, "_compute", fail)
        assert analyze_run(store, rid) == first
        with pytest.raises(AssertionError):
            analyze_run(store, rid, refresh=True)
    store.save_checkpoint(rid, 20, _init_params(_periodic_cfg(), seed=3))
    again = analyze_run(store, rid)
    assert again["steps"] == [0, 10, 20] and again["fingerprint"] != first["fingerprint"]


def test_run_view_has_fourier_sections_only_for_modular_runs(tmp_path):
    store = Store(tmp_path / "s")
    modular = run_view(store, _periodic_run(store))
    for key in ("progress", "spectrum", "key_freqs", "clock", "neurons", "verdict"):
        assert key in modular, key
    assert "parity" not in modular
    assert set(modular["progress"]["phases"]) >= {"memorization_end", "circuit_end"}
    assert {"run_id", "name", "status", "task", "config", "code_version", "machine", "wall_s", "created"} \
        <= set(modular["run"])
    json.dumps(modular, allow_nan=False)

    perm_cfg = resolve(None, task="perm-compose", perm_n=3, model="mlp", input="embed", d_embed=4, d_mlp=8,
                       steps=1)
    perm = run_view(store, _stored_run(store, perm_cfg, {0: _init_params(perm_cfg)}))
    for key in ("spectrum", "key_freqs", "clock", "neurons", "parity"):
        assert key not in perm, key
    assert "weight_norm" in perm["progress"] and perm["circuit"]["basis"] == "irreps" and "verdict" in perm
    digits_cfg = resolve(None, task="digits", n_train=200, model="mlp", input="features", d_mlp=8, steps=1)
    digits = run_view(store, _stored_run(store, digits_cfg, {0: _init_params(digits_cfg)}))
    for key in ("spectrum", "key_freqs", "clock", "neurons", "parity", "verdict", "circuit"):
        assert key not in digits, key
    assert "weight_norm" in digits["progress"] and any("not modular" in n for n in digits["notes"])

    empty = store.create_runs([perm_cfg.to_dict()], code_version="test", machine="test")[0]
    store.finish(empty, "failed", None, 0.0)
    view = run_view(store, empty)
    assert "progress" not in view and any("no checkpoints" in n for n in view["notes"])


def test_parity_analysis_finds_the_bits_the_first_layer_weights(tmp_path):
    store = Store(tmp_path / "s")
    cfg = resolve(None, task="parity", parity_n=10, parity_k=3, n_train=64, n_test=32, model="mlp",
                  input="onehot", d_mlp=16, steps=1)
    bits = build_dataset(cfg).meta["bits"]
    params = _init_params(cfg)
    W = 0.01 * params["W_in"]
    for b in bits:                          # one-hot rows 2b (bit is 0) and 2b+1 (bit is 1)
        W[2 * b + 1] += 1.0
    params["W_in"] = W
    rid = _stored_run(store, cfg, {0: _init_params(cfg), 5: params})
    a = analyze_run(store, rid)
    assert a["family"] == "parity"
    assert a["parity"]["bits"] == bits and a["parity"]["found"] is True
    assert a["progress"]["true_bit_weight_frac"][1] > 0.9 > a["progress"]["true_bit_weight_frac"][0]
    assert "spectrum" in a["not_applicable"]
    view = run_view(store, rid)
    assert view["parity"]["bits"] == bits and len(view["parity"]["weights"]) == 16
    assert "spectrum" not in view and "clock" not in view


# ------------------------------------------------------------------------------------------ CLI
def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_analyze_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    store = Store(tmp_path / "s")
    assert "no run" in _one_line_error(capsys, ["analyze", "nope", "--store", str(store.root)])
    cfg = resolve(None, task="digits", n_train=200, model="mlp", input="features", d_mlp=8, steps=1)
    rid = _stored_run(store, cfg, {0: _init_params(cfg)})
    assert "not modular" in _one_line_error(capsys, ["analyze", rid, "--store", str(store.root)])
    empty = store.create_runs([cfg.to_dict()], code_version="test", machine="test")[0]
    assert "no checkpoints" in _one_line_error(capsys, ["analyze", empty, "--store", str(store.root)])
    with pytest.raises(StoreError):
        analyze_run(store, empty)


def test_analyze_cli_prints_key_frequencies_table_phases_and_verdict(tmp_path, capsys):
    store = Store(tmp_path / "s")
    rid = _periodic_run(store)
    assert main(["analyze", rid, "--store", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "key frequencies: 5" in out and "phases" in out and "verdict:" in out
    assert "restrict" in out and "gini W_E" in out
    assert main(["analyze", rid, "--store", str(store.root), "--json", "--refresh"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["key_freqs"] == [5] and data["run_id"] == rid
