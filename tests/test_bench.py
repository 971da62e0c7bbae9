"""The speed benchmark's pieces on tiny sizes: positive numbers, files written (no timing assertions)."""

from __future__ import annotations

import json

import pytest

from groklab.cli import main
from groklab.cli.bench import load

bench = load()

TINY_T = dict(p=11, frac=0.5, d_model=16, n_heads=2, d_mlp=32)
TINY_MLP = dict(p=11, d_embed=8, d_mlp=8)
# Gromov's quadratic MLP on a + b mod 13: 99% test accuracy near step 95 (seconds)
TINY_TTG = dict(p=13, frac=0.7, d_mlp=128, init_std=0.5 / (2 * 128) ** (1 / 3), steps=200, eval_every=5)
TINY_LM = dict(corpus_windows=64, corpus_context=16, corpus_vocab=300, d_model=16, n_heads=2, d_mlp=32, n_layers=1,
               batch_size=8)


def tiny_plan() -> "bench.Plan":
    return bench.Plan(matmul_sizes=(64,), matmul_reps=1,
                      step_models={"nanda2023": ("nanda2023", TINY_T), "mlp-wide": ("pair2023", TINY_MLP)},
                      chunk=3, reps=1, torch_steps=2, ensemble_preset=("pair2023", TINY_MLP),
                      ensemble_sizes=(1, 2), ensemble_chunk=3, ensemble_reps=1,
                      ttg={"fast": ("gromov2023", TINY_TTG)}, lm=TINY_LM, sweep_file=None, quick=True)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    return bench.run(tiny_plan(), out), out


def test_matmul_ceiling_is_positive_and_names_its_library(result):
    c = result[0]["ceiling"]
    assert c["best"] > 0
    assert c["best_lib"] in ("numpy", "jax", "torch")
    assert c["gflops"]["numpy"]["64"] > 0 and c["gflops"]["jax"]["64"] > 0


def test_step_speeds_are_positive_with_a_ceiling_fraction(result):
    for r in result[0]["steps"]:
        assert r["groklab_steps_s"] > 0 and r["gflops"] > 0 and r["ceiling_frac"] > 0
        if result[0]["machine"]["torch"]:
            assert r["torch_steps_s"] > 0 and r["ratio"] > 0


def test_xla_defaults_row_times_the_same_step_in_a_child_without_groklabs_flag(result):
    import groklab

    x = result[0]["xla_defaults"]
    assert x["model"] == "nanda2023" and x["groklab_steps_s"] > 0 and x["default_steps_s"] > 0
    assert groklab.XLA_DEFAULT_FLAGS in x["groklab_flags"]
    assert groklab.XLA_DEFAULT_FLAGS not in x["default_flags"]
    assert x["ratio"] == pytest.approx(x["groklab_steps_s"] / x["default_steps_s"])
    assert "(d') groklab's XLA flags" in (result[1] / "latest-quick.md").read_text()


def test_ensemble_rows_compare_against_the_single_model(result):
    rows = result[0]["ensemble"]
    assert [r["E"] for r in rows] == [1, 2]
    assert rows[0]["ratio"] == pytest.approx(1.0)
    assert all(r["model_steps_s"] > 0 and r["one_at_a_time_steps_s"] == rows[0]["model_steps_s"] for r in rows)


def test_time_to_99_runs_cold_and_warm_in_child_processes(result):
    t = result[0]["time_to_99"]["fast"]
    for phase in ("cold", "warm"):
        r = t[phase]
        assert r["compile_s"] > 0 and r["train_s"] > 0 and r["total_s"] >= r["train_s"]
        assert r["step"] is None or 0 <= r["step"] <= TINY_TTG["steps"]


def test_time_to_99_ratio_is_slow_over_fast_and_none_when_skipped(monkeypatch):
    runs = {"a": 100.0, "b": 4.0}
    monkeypatch.setattr(bench, "_run_child", lambda preset, ov, cache, compile_only=False: {
        "step": int(runs[preset]), "total_s": runs[preset], "budget": 1000, "flops": 1e9})
    plan = bench.Plan(ttg={"slow": ("a", {}), "fast": ("b", {})})
    t = bench.time_to_99(plan)
    assert t["ratio_warm"] == pytest.approx(25.0) and t["ratio_cold"] == pytest.approx(25.0)
    assert t["ratio_steps"] == pytest.approx(25.0)
    plan.ttg_skip = ("slow",)
    t = bench.time_to_99(plan)
    assert "skipped" in t["slow"] and t["ratio_warm"] is None


def test_a_train_once_entry_composes_its_warm_row_from_a_compile_only_child(monkeypatch):
    calls = []

    def child(preset, ov, cache, compile_only=False):
        calls.append(compile_only)
        if compile_only:
            return {"step": None, "budget": 1000, "compile_s": 2.0, "setup_s": 1.0}
        return {"step": 500, "budget": 1000, "compile_s": 9.0, "setup_s": 3.0, "train_s": 50.0, "total_s": 62.0}

    monkeypatch.setattr(bench, "_run_child", child)
    t = bench.time_to_99(bench.Plan(ttg={"slow": ("a", {})}, ttg_train_once=("slow",)))["slow"]
    assert calls == [False, True]                       # trained once (cold), then compiled only (warm)
    assert t["warm"]["composed"] and t["warm"]["step"] == 500 and t["warm"]["train_s"] == 50.0
    assert t["warm"]["total_s"] == pytest.approx(1.0 + 2.0 + 50.0)
    assert "composed" not in t["cold"]


def test_ensemble_bound_is_the_ceiling_over_one_models_rate(result):
    res = result[0]
    for r in res["ensemble"]:
        assert r["ceiling_bound"] == pytest.approx(res["ceiling"]["best"] / r["single_gflops"])
        assert r["gflops"] == pytest.approx(r["single_gflops"] * r["ratio"])


def test_json_and_markdown_are_written(result):
    res, out = result
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([res["files"]["json"].split("/")[-1], "latest-quick.md"])
    back = json.loads((out / files[0]).read_text()) if files[0].endswith(".json") else \
        json.loads((out / files[1]).read_text())
    assert back["ceiling"]["best"] == pytest.approx(res["ceiling"]["best"])
    md = (out / "latest-quick.md").read_text()
    assert "## (a) float32 matmul ceiling" in md and "## targets" in md and "| nanda2023 |" in md
    assert {t["name"] for t in res["targets"]} == set(bench.TARGETS)


def test_text_table_lists_every_section(result):
    out = bench.text(result[0])
    for title in ("(a)", "(b, d)", "(c)", "(e)", "targets"):
        assert title in out


def test_step_speed_without_torch_skips_the_baseline(monkeypatch):
    monkeypatch.setattr(bench, "_torch", lambda: None)
    r = bench.step_speed("tiny", "pair2023", TINY_MLP, tiny_plan(), ceiling=100.0)
    assert r["groklab_steps_s"] > 0 and r["torch_steps_s"] is None and r["ratio"] is None


def test_quick_mode_skips_nanda2023_run_to_99():
    plan = bench.Plan.quick_plan()
    assert plan.ttg_skip == ("nanda2023",)
    assert "nanda2023-fast" in plan.ttg


def test_bench_command_is_registered(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "--quick" in capsys.readouterr().out


def test_sequence_model_row_times_both_loops_of_one_model(result):
    r = result[0]["lm"]
    assert r["groklab_tokens_s"] > 0 and r["context"] == TINY_LM["corpus_context"] and r["batch"] == 8
    if result[0]["machine"]["torch"]:
        assert r["torch_tokens_s"] > 0 and r["ratio"] == pytest.approx(r["groklab_tokens_s"] / r["torch_tokens_s"])
        assert r["max_logit_diff"] < 1e-4          # the PyTorch twin computes groklab's function
    assert "(g) sequence model" in (result[1] / "latest-quick.md").read_text()


def test_time_to_99_stops_at_the_first_evaluation_at_99_and_counts_its_flops(result):
    from groklab import resolve
    from groklab.api import step_flops
    from groklab.train.loop import Trainer

    r = result[0]["time_to_99"]["fast"]["cold"]
    assert r["step"] is not None and r["step"] < TINY_TTG["steps"], "the recipe reaches 99% well within its budget"
    per_step, _ = step_flops(Trainer([resolve("gromov2023", **TINY_TTG)]))
    assert r["flops"] == pytest.approx(per_step * r["step"]) and r["eval_flops"] > 0


def test_targets_compare_in_their_direction():
    res = {"steps": [{"model": "nanda2023", "ratio": 6.0, "gflops": 80.0}, {"model": "mlp-wide", "ratio": 1.2}],
           "ensemble": [{"E": 64, "ratio": 1.4}], "ceiling": {"gflops": {"numpy": {"2048": 100.0}}},
           "sweep": {"ratio": 6.0},
           "time_to_99": {"nanda2023-fast": {"warm": {"step": 40, "total_s": 2.5, "flops": 4e11}}, "ratio_warm": 120}}
    got = {t["name"]: t for t in bench.targets(res)}
    assert got["step_vs_torch"]["met"] and got["ceiling_frac"]["value"] == pytest.approx(0.8)
    assert got["ceiling_frac"]["met"] and got["ceiling_frac"]["ceiling"] == 100.0
    assert got["mlp_wide_vs_torch"]["met"] is False and got["ensemble_e64"]["met"] and got["sweep_packed"]["met"]
    assert got["fast_ttg_s"]["met"] and got["fast_ttg_s"]["op"] == "≤"
    assert got["fast_ttg_tflop"]["value"] == pytest.approx(0.4) and got["fast_ttg_tflop"]["met"] is False
    assert got["fast_vs_slow"]["met"]


def test_sweep_flags_rebuild_each_points_config():
    from benchmarks.sweep_bench import DEFAULT_FILE, train_flags
    from groklab.cli.flags import config_overrides
    from groklab.cli.parser import build_parser
    from groklab.config import from_dict
    from groklab.sweep.spec import load_sweep_file

    configs = load_sweep_file(DEFAULT_FILE).configs
    assert len(configs) == 64
    for c in configs[:: 9]:
        args = build_parser().parse_args(["train", *train_flags(c)])
        again = from_dict(config_overrides(args)).to_dict()
        assert {k: v for k, v in again.items() if k not in ("preset", "name")} == \
            {k: v for k, v in c.items() if k not in ("preset", "name")}


@pytest.mark.slow
def test_sweep_row_times_one_sweep_process_and_one_train_process_per_point(tmp_path):
    from benchmarks.sweep_bench import sweep_speed

    spec = tmp_path / "tiny.toml"
    spec.write_text('name = "tiny"\npreset = "gromov2023"\nbudget = 10\n[base]\np = 7\nd_mlp = 8\n'
                    'eval_every = 5\n[grid]\nwd = [0, 1]\n')
    r = sweep_speed(spec)
    assert r["points"] == 2 and r["steps"] == 10
    assert r["packed_s"] > 0 and r["separate_s"] >= r["separate_max_s"] > 0
    assert r["ratio"] == pytest.approx(r["separate_s"] / r["packed_s"])


def test_dot_row_reads_every_dot_of_the_step_and_sums_them(result):
    d = result[0]["dots"]
    assert d["preset"] == "nanda2023" and d["n_dots"] == len(d["dots"]) > 0
    assert d["gflop"] * 1e9 == pytest.approx(sum(r["flops"] for r in d["dots"]))
    assert d["xla_ms"] == pytest.approx(1e3 * sum(r["xla_s"] for r in d["dots"]))
    assert d["numpy_gflops"] > 0 and d["xla_gflops"] > 0 and d["numpy_frac"] > 0 and d["step_ms"] > 0
    assert "(a') nanda2023: the step's own matmuls" in (result[1] / "latest-quick.md").read_text()


def test_the_steps_dots_carry_the_models_flops_forward_and_backward():
    """The jaxpr's dots of one step are the per-example matmuls of ``flops_per_example`` three times over
    (forward, and the two products of each backward), plus the per-step vocabulary tables."""
    from benchmarks.dot_bench import step_dots

    trainer = bench._trainer("nanda2023", TINY_T)
    n, per = trainer.datasets[0].n_train, trainer.model.flops_per_example
    batch_dots = sum(r["flops"] for r in step_dots(trainer) if n in r["lhs"] or n in r["rhs"])
    assert batch_dots == pytest.approx(3 * per * n, rel=0.05)


def test_dots_laid_out_as_matmuls_equal_dot_general():
    import numpy as np
    from jax import lax

    from benchmarks.dot_bench import _as_matmul

    rng = np.random.default_rng(0)
    for sa, sb, dims in (((5, 3), (3, 4), (((1,), (0,)), ((), ()))),          # x @ w
                         ((5, 3), (5, 4), (((0,), (0,)), ((), ()))),          # xᵀ g (a weight gradient)
                         ((2, 5, 3), (2, 4, 3), (((2,), (2,)), ((0,), (0,)))),  # batched, contracting last
                         ((6, 2, 3), (3, 2, 4), (((2,), (0,)), ((1,), (1,))))):  # batch dim in the middle
        a, b = rng.standard_normal(sa, np.float32), rng.standard_normal(sb, np.float32)
        A, B = _as_matmul(a, b, dims)
        want = np.asarray(lax.dot_general(a, b, dims))
        np.testing.assert_allclose(np.matmul(A, B).reshape(want.shape), want, rtol=1e-5, atol=1e-5)


def test_the_mlp_wide_target_reads_the_embed_table_row_and_names_the_plain_one():
    res = {"steps": [{"model": "nanda2023", "ratio": 6.0, "gflops": 80.0}, {"model": "mlp-wide", "ratio": 1.05},
                     {"model": "mlp-wide-table", "ratio": 1.8}],
           "ensemble": [], "ceiling": {"gflops": {"numpy": {"2048": 100.0}}}, "time_to_99": {}}
    got = {t["name"]: t for t in bench.targets(res)}["mlp_wide_vs_torch"]
    assert got["value"] == 1.8 and got["met"] and got["plain"] == 1.05
    assert bench._target_note(got) == "with the matmul first layer: 1.05×"
    assert "mlp-wide-table" in bench.STEP_MODELS and bench.STEP_MODELS["mlp-wide-table"][1]["embed_table"] is True


def test_the_full_plan_measures_issue_17s_atlas_and_its_target_reads_the_ensembles_total():
    full, quick = bench.Plan.full(), bench.Plan.quick_plan()
    assert full.atlas == bench.ATLAS_ROW and full.atlas[0] == 64 and quick.atlas is None
    assert full.on_device("cuda").atlas[2]["device"] == "cuda"
    res = {"steps": [], "ensemble": [], "ceiling": {"gflops": {"numpy": {"2048": 100.0}}}, "time_to_99": {},
           "atlas": {"members": 64, "ensemble": {"total_s": 700.0}}}
    got = {t["name"]: t for t in bench.targets(res)}["atlas64_s"]
    assert got["value"] == 700.0 and got["met"] is False and got["op"] == "≤"
