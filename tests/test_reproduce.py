"""`groklab reproduce` and `groklab results`: every experiment builds valid configs, smoke runs go
through the whole path into the store, and the results page shows exactly what the store holds."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from groklab import reproduce as rp
from groklab.cli import main
from groklab.config import FIELDS, MEMBER_FIELDS, from_dict, resolve
from groklab.errors import ConfigError
from groklab.measure.labels import phase_of
from groklab.results import collect, render
from groklab.store import Store

NAMES = list(rp.EXPERIMENTS)


def test_list_names_every_experiment(capsys):
    assert main(["reproduce", "--list"]) == 0
    text = capsys.readouterr().out
    assert len(NAMES) == 14                 # ten, accelerators, grokked-reasoning, secret-sharer, memorization-phases
    for name in NAMES:
        assert name in text
    assert main(["reproduce", "--list", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)["experiments"]
    assert [e["name"] for e in items] == NAMES
    assert all(e["smoke_command"].endswith("--smoke") for e in items)


def test_each_experiment_is_one_module_that_registers_itself():
    import importlib

    for name, exp in rp.EXPERIMENTS.items():
        mod = importlib.import_module(exp.points.__module__)
        assert mod.__name__.startswith("groklab.reproduce.") and mod.NAME == name and mod.EXPERIMENT is exp
    with pytest.raises(ValueError, match="registered twice"):
        rp.register(rp.get("doshi2023"), order=0)
    assert list(rp.EXPERIMENTS)[-1] == "leakage"            # the catalogue's order is unchanged


@pytest.mark.parametrize("argv,needle", [(["reproduce", "nanda2023"], "unknown experiment 'nanda2023'"),
                                         (["reproduce"], "give an experiment NAME or --list"),
                                         (["reproduce", "--list", "doshi2023"], "--list takes no NAME"),
                                         (["reproduce", "doshi2023", "--resume"], "no store at")])
def test_bad_name_is_a_one_line_error_and_touches_no_store(tmp_path, capsys, argv, needle):
    assert main([*argv, "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("groklab: error: ") and err.count("\n") == 1 and needle in err
    assert not (tmp_path / "s").exists()


def test_results_without_reproductions_is_an_error_and_writes_nothing(tmp_path, capsys):
    Store(tmp_path / "s").close()
    out = tmp_path / "results.md"
    assert main(["results", "--store", str(tmp_path / "s"), "--out", str(out)]) == 2
    assert "no reproductions" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("smoke", [True, False])
def test_points_are_named_valid_configs_on_the_report_axes(name, smoke):
    exp = rp.get(name)
    cfgs = exp.points(smoke)
    assert cfgs
    for c in cfgs:
        assert c.name.startswith(f"{name}/") and c.name.partition("/")[2]
        assert from_dict(c.to_dict()) == c                      # round-trips through the store's JSON
    assert all(a in FIELDS for a in exp.axes)
    spec = rp.spec_of(exp, smoke, cfgs)
    assert spec["smoke"] is smoke and spec["command"] == rp.command(name, smoke)
    assert [a["field"] for a in spec["axes"]] == list(exp.axes)


@pytest.mark.parametrize("name", NAMES)
def test_smoke_is_a_small_fraction_of_the_full_version(name):
    exp = rp.get(name)

    def work(cfgs):   # steps × training rows × members: a proxy of the compute
        from groklab.tasks import build_dataset
        return sum(c.steps * build_dataset(c).n_train for c in cfgs)

    assert work(exp.points(True)) * 20 < work(exp.points(False))


def test_members_that_can_share_an_ensemble_do():
    # liu2022's whole grid varies only member fields: one batched ensemble
    liu = rp.get("liu2022").points(False)
    assert len({c.shape_key() for c in liu}) == 1 and {"lr", "wd"} <= MEMBER_FIELDS
    # every arm's seeds train as one ensemble
    for name in ("grokfast2024", "prieto2025", "power2022-operators", "nanda2023-fraction"):
        by_label: dict[str, set] = {}
        for c in rp.get(name).points(False):
            by_label.setdefault(c.name, set()).add(c.shape_key())
        assert all(len(keys) == 1 for keys in by_label.values()), name
    # doshi2023's four weight decays: one ensemble, each point its doshi2023-wd* preset but for the record
    doshi = rp.get("doshi2023").points(False)
    assert len({c.shape_key() for c in doshi}) == 1
    for c in doshi:
        w = int(c.wd)
        assert c.replace(preset=f"doshi2023-wd{w}") == resolve(f"doshi2023-wd{w}", seed=c.seed, name=c.name,
                                                               eval_every=c.eval_every)


@pytest.mark.parametrize("kind,pub,ours,bound,expected", [
    ("steps", 1000, 1900, "", True), ("steps", 1000, 2100, "", False), ("steps", 1000, 450, "", False),
    ("steps", 21848, 10000, ">", None),      # not reached, published beyond the budget: undecided
    ("steps", 956, 2500, ">", False),        # not reached in over twice the published step
    ("steps", 956, 1500, ">", None),         # not reached, but within the factor: undecided
    ("ratio", 43.8, 5.0, "≥", None), ("acc", 0.9, 0.96, "", False), ("acc", 0.9, 0.94, "", True),
    ("finding", "grokking", "grokking", "", True), ("finding", "no", "yes", "", False)])
def test_agreement_rule(kind, pub, ours, bound, expected):
    assert rp.agrees(kind, rp.Published(pub, "src"), ours, bound) is expected


def test_a_published_upper_bound_agrees_with_anything_faster():
    within = rp.Published(300, "src", approx=True, within=True)
    assert rp.agrees("steps", within, 140) is True and rp.agrees("steps", within, 700) is False
    assert rp.fmt_published(within, "steps") == "≤ ~300"


def test_newest_prefers_a_completed_full_run_then_smoke_then_unfinished(tmp_path):
    st = Store(tmp_path / "s")
    pts = [{"task": "x+y", "p": 5, "seed": 0, "name": "doshi2023/wd=0"}]

    def sweep(smoke: bool, done: bool) -> str:
        sid = st.create_sweep("doshi2023", rp.KIND, {"experiment": "doshi2023", "smoke": smoke}, pts)
        if done:
            st.complete_points(sid, [0], ["r-none"])
        return sid

    assert rp.newest(st, "doshi2023") is None
    unfinished = sweep(False, False)
    assert rp.newest(st, "doshi2023")["sweep_id"] == unfinished
    smoke = sweep(True, True)
    sweep(False, False)
    assert rp.newest(st, "doshi2023")["sweep_id"] == smoke
    full = sweep(False, True)
    sweep(True, True)
    assert rp.newest(st, "doshi2023")["sweep_id"] == full
    res = rp.compare(st, unfinished)          # nothing trained: rows say so, nothing invented
    assert not res["complete"] and all(r["ours"] is None and "not trained" in r["why"] for r in res["rows"])


def test_results_across_stores_pick_full_over_smoke_then_the_newest(tmp_path, monkeypatch):
    from groklab import results

    a, b = Store(tmp_path / "a"), Store(tmp_path / "b")
    pts = [{"task": "x+y", "p": 5, "seed": 0, "name": "doshi2023/wd=0"}]

    def sweep(st: Store, smoke: bool) -> str:
        sid = st.create_sweep("doshi2023", rp.KIND, {"experiment": "doshi2023", "smoke": smoke}, pts)
        st.complete_points(sid, [0], ["r-none"])
        return sid

    shown = []
    monkeypatch.setattr(results, "compare", lambda st, sid: shown.append((st.root, sid)) or {"sweep_id": sid})
    smoke_a = sweep(a, True)
    assert results.collect([a, b]) == [{"sweep_id": smoke_a}] and shown[-1][0] == a.root
    full_b = sweep(b, False)                       # a full run in the other store wins over a smoke one
    assert results.collect([a, b])[0]["sweep_id"] == full_b and shown[-1][0] == b.root
    sweep(a, True)                                 # a newer smoke run does not displace it
    assert results.collect([a, b])[0]["sweep_id"] == full_b
    assert results.collect([a])[0]["sweep_id"] != full_b    # one store: as before


def test_resume_finds_a_reproduction_stored_before_fields_were_added(tmp_path):
    from groklab.config import FIELDS
    from groklab.reproduce.run import _same_configs

    st = Store(tmp_path / "s")
    exp = rp.get("doshi2023")
    cfgs = exp.points(True)
    spec = rp.spec_of(exp, True, cfgs)
    added = [k for k, f in FIELDS.items() if f.metadata.get("added")]
    old_points = [{k: v for k, v in c.to_dict().items() if k not in added} for c in cfgs]   # older code's dicts
    old = st.create_sweep("doshi2023", rp.KIND, {**spec, "spec_hash": "0" * 16}, old_points)
    assert _same_configs(st, st.get_sweep(old), spec, cfgs)
    other = st.create_sweep("doshi2023", rp.KIND, {**spec, "spec_hash": "1" * 16},
                            [{**d, "wd": d["wd"] + 1.0} for d in old_points])   # another experiment's configs
    assert not _same_configs(st, st.get_sweep(other), spec, cfgs)


@pytest.mark.slow
def test_resume_trains_the_points_an_unfinished_reproduction_lacks(tmp_path):
    st = Store(tmp_path / "s")
    exp = rp.get("doshi2023")
    cfgs = exp.points(True)
    sid = st.create_sweep("doshi2023", rp.KIND, rp.spec_of(exp, True, cfgs), [c.to_dict() for c in cfgs])
    with pytest.raises(ConfigError, match="no unfinished"):
        rp.reproduce(st, "prieto2025", smoke=True, resume=True)
    res = rp.reproduce(st, "doshi2023", smoke=True, resume=True, report=False)
    assert res["sweep_id"] == sid and res["resumed"] and res["complete"]
    assert len(rp.reproduction_sweeps(st)) == 1


@pytest.mark.slow
def test_resume_adds_the_points_an_experiment_gained_and_trains_only_them(tmp_path):
    """A reproduction finished before its experiment gained an arm: --resume adds the new points to the same
    sweep and trains only those; the points it had keep their runs."""
    st = Store(tmp_path / "s")
    exp = rp.get("doshi2023")
    cfgs = exp.points(True)
    old = rp.spec_of(exp, True, cfgs[:-1])
    sid = st.create_sweep("doshi2023", rp.KIND, old, [c.to_dict() for c in cfgs[:-1]])
    from groklab.sweep import run_sweep

    run_sweep(st, sid, pack_mode="ensemble")
    before = {p["point"]: p["run_id"] for p in st.sweep_points(sid)}
    n_runs = len(st.list_runs())
    res = rp.reproduce(st, "doshi2023", smoke=True, resume=True, report=False)
    points = st.sweep_points(sid)
    assert res["sweep_id"] == sid and res["complete"] and len(points) == len(cfgs)
    assert {p["point"]: p["run_id"] for p in points[:-1]} == before          # kept, not retrained
    assert len(st.list_runs()) == n_runs + 1 and points[-1]["status"] == "done"
    assert st.get_sweep(sid)["spec"]["spec_hash"] == rp.spec_of(exp, True, cfgs)["spec_hash"]
    assert len(rp.reproduction_sweeps(st)) == 1
    other = st.create_sweep("doshi2023", rp.KIND, old, [{**c.to_dict(), "wd": 99.0} for c in cfgs[:1]])
    assert rp.run._missing(st, st.get_sweep(other), cfgs) is None      # a point the experiment no longer has


# ---------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    """One store holding the smoke reproductions of doshi2023 (CLI, with its report) and
    nanda2023-fraction and prieto2025 (Python API)."""
    root = tmp_path_factory.mktemp("reproduce") / "store"
    assert main(["reproduce", "doshi2023", "--smoke", "--store", str(root), "--quiet"]) == 0
    st = Store(root)
    for name in ("nanda2023-fraction", "prieto2025", "leakage", "liu2022", "grokked-reasoning"):
        rp.reproduce(st, name, smoke=True, report=False)
    return root


@pytest.mark.slow
def test_smoke_reproduction_is_a_reproduce_sweep_with_every_point_done(smoke_store):
    st = Store(smoke_store, create=False)
    sweeps = rp.reproduction_sweeps(st)
    assert sorted(s["name"] for s in sweeps) == ["doshi2023", "grokked-reasoning", "leakage", "liu2022",
                                                     "nanda2023-fraction", "prieto2025"]
    for s in sweeps:
        assert s["kind"] == "reproduce" and s["spec"]["smoke"] is True and s["status"] == "completed"
        assert s["spec"]["cpus"] == os.cpu_count() and s["spec"]["load_avg"] >= 0
        assert s["n_done"] == s["n_points"] == len(rp.get(s["name"]).points(True))
    doshi = next(s for s in sweeps if s["name"] == "doshi2023")
    assert (smoke_store / "sweeps" / doshi["sweep_id"] / "report.html").is_file()


def _compared(smoke_store, name: str) -> tuple[Store, dict, dict]:
    """(store, the newest sweep's comparison of experiment ``name``, its rows by quantity)."""
    st = Store(smoke_store, create=False)
    res = rp.compare(st, rp.newest(st, name)["sweep_id"])
    return st, res, {r["quantity"]: r for r in res["rows"]}


@pytest.mark.slow
def test_rows_are_read_from_the_store(smoke_store):
    st, res, by_q = _compared(smoke_store, "nanda2023-fraction")
    for run in st.list_runs(sweep_id=res["sweep_id"]):
        m = st.metrics(run["run_id"])
        hit = np.flatnonzero(m["test_loss"] < rp.NANDA_LOSS)
        f = run["config"]["frac"]
        row = by_q[f"first step with test loss < {rp.NANDA_LOSS:g}, {f:.0%} of pairs in training"]
        assert row["published"]["value"] == rp.NANDA_FRACTION[f]
        if hit.size:
            assert row["ours"] == int(m["step"][hit[0]]) and row["bound"] == ""
        else:
            assert row["ours"] == int(m["step"][-1]) and row["bound"] == ">"
    # the departures from the paper are read off the stored configs: the smoke model is tiny
    assert "p 23 (paper 113)" in res["departures"] and "d_model 32 (paper 128)" in res["departures"]
    prieto = rp.compare(st, rp.newest(st, "prieto2025")["sweep_id"])
    for key in ("collapse_frac", "zero_terms"):
        rows = {r["quantity"].split(":")[0]: r for r in prieto["rows"] if f"({key})" in r["quantity"]}
        for run in st.list_runs(sweep_id=prieto["sweep_id"]):
            arm = run["name"].split("/")[1]
            if key == "zero_terms" or rp.PRIETO_SETUPS[arm]["loss"] == "ce":     # collapse_frac: softmax arms only
                assert rows[arm]["ours"] == pytest.approx(st.metrics(run["run_id"])[key][-1])
    # the departures are the diff of the stored configs against their published runs
    assert "p 23 (paper 113)" in prieto["departures"] and "stablemax: steps 60 (paper 80,000)" in prieto["departures"]
    fields = {d.split(": ")[-1].split(" ")[0] for d in prieto["departures"]}
    assert fields == {"p", "d_mlp", "steps"}          # eps, beta2, bias, init, loss_dtype: as theirs


@pytest.mark.slow
def test_leakage_rows_are_the_stored_attack_curves(smoke_store):
    st, res, by_q = _compared(smoke_store, "leakage")
    runs = st.list_runs(sweep_id=res["sweep_id"])
    assert len(runs) == len(rp.LEAK_SEEDS)
    peaks, finals, tprs = [], [], []
    for run in runs:
        m = st.metrics(run["run_id"])
        i = int(np.nanargmax(m["mia_auc"]))
        peaks.append(m["mia_auc"][i])
        finals.append(m["mia_auc"][-1])
        tprs.append(m["mia_tpr1"][-1])
        assert f"seed {run['seed']}: {m['mia_auc'][i]:.3f} at step {int(m['step'][i]):,}" in \
            by_q["peak AUC over training"]["detail"]
        # the curve rows read the AUC at the evaluated steps named
        row = by_q["curve: AUC / TPR@1%FPR at step 10"]
        j = int(np.flatnonzero(m["step"] == 10)[0])
        assert f"seed {run['seed']}: {m['mia_auc'][j]:.3f} / {m['mia_tpr1'][j]:.3f}" in row["detail"]
    assert by_q["peak AUC over training"]["ours"] == pytest.approx(float(np.median(peaks)))
    assert by_q["AUC at the end of training"]["ours"] == pytest.approx(float(np.median(finals)))
    assert by_q["TPR at 1% FPR: at the end"]["ours"] == pytest.approx(float(np.median(tprs)))
    fell = sum(f < p - 0.1 for p, f in zip(peaks, finals))
    assert by_q["AUC at the end more than 0.1 below its peak"]["ours"] == f"{fell} of {len(runs)} seeds"
    assert all(r["published"] is None and r["agree"] is None for r in res["rows"])


@pytest.mark.slow
def test_grokked_reasoning_rows_are_the_stored_split_curves(smoke_store):
    st, res, by_q = _compared(smoke_store, "grokked-reasoning")
    runs = st.list_runs(sweep_id=res["sweep_id"])
    assert len(runs) == rp.MIN_SEEDS and len({r["group_id"] for r in runs}) == 1      # the seeds: one ensemble
    ms = [st.metrics(r["run_id"]) for r in runs]
    from groklab.reproduce.grokked_reasoning import WANG_SPLITS

    for key, what in WANG_SPLITS:
        row = by_q[f"{what} accuracy at the end (max over the run)"]
        assert row["ours"] == pytest.approx(sorted(float(m[f"acc_{key}"][-1]) for m in ms)[1])
    for r in runs:                                  # each split's t_mem / t_gen is in the run's summary
        sp = r["summary"]["splits"]
        assert "t_mem" in sp["atomic_id"] and "t_gen" in sp["inferred_id"] and "t_gen" in sp["inferred_ood"]
    ood = by_q["OOD test inferred facts: generalizes (accuracy ≥ 0.9)"]
    assert ood["published"]["value"] == "no"
    if all(float(np.max(m["acc_inferred_ood"])) < 0.9 for m in ms):      # a short run decides nothing
        assert ood["verdict"].startswith("undecided (budget")
    assert "kg_entities 40 (paper 2,000)" in res["departures"] and "n_layers 1 (paper 8)" in res["departures"]
    (table,) = res["tables"]
    assert table["header"][:3] == ["step", "train", "ID atomic"]


@pytest.mark.slow
def test_phase_diagram_cells_are_the_stored_phases_and_delays(smoke_store):
    st, res, _ = _compared(smoke_store, "liu2022")
    (table,) = res["tables"]
    lrs = [float(h) for h in table["header"][1:]]
    cells = {(float(row[0]), lr): c for row in table["rows"] for lr, c in zip(lrs, row[1:])}
    runs = st.list_runs(sweep_id=res["sweep_id"])
    assert len(cells) == len(runs) == len(rp.get("liu2022").points(True))
    for run in runs:
        s, c = run["summary"], run["config"]
        cell = cells[(c["wd"], c["lr"])]
        assert cell.split(" ")[0] == phase_of(s, rule="liu", gap=c["phase_gap"])   # the paper's literal rule
        if s["t_train_liu"] is not None and s["t_test_liu"] is not None:
            assert cell.endswith(f"({s['t_test_liu'] - s['t_train_liu']:+,})")


@pytest.mark.slow
def test_results_page_matches_the_store(smoke_store, tmp_path, capsys):
    out = tmp_path / "docs" / "results.md"
    assert main(["results", "--store", str(smoke_store), "--out", str(out)]) == 0
    text = out.read_text()
    st = Store(smoke_store, create=False)
    for name in ("doshi2023", "nanda2023-fraction", "prieto2025"):
        assert f"`groklab reproduce {name} --smoke`" in text and f"## {name}" in text
    assert "`groklab reproduce omnigrok-digits`" in text    # listed as not run yet
    assert "**Phase diagram: phase" in text                 # liu2022's table
    doshi = rp.newest(st, "doshi2023")
    runs = {r["name"]: r for r in st.list_runs(sweep_id=doshi["sweep_id"])}
    for w, phase in rp.DOSHI_PHASE.items():
        s = runs[f"doshi2023/wd={w}"]["summary"]
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| weight decay {w}: phase |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == phase and cells[2] == s["noise"]["phase"]
        assert f"memorized {s['noise']['memorized_acc']:.3f}" in cells[3]
        assert cells[4] == ("yes" if phase == s["noise"]["phase"] else "**no**")
    assert text == render(collect(st))                     # regenerating gives the same page


# ---------------------------------------------------------------------------------------------- setups and verdicts
@pytest.mark.parametrize("name", NAMES)
def test_full_versions_run_a_complete_published_setup_with_at_least_three_seeds(name):
    exp = rp.get(name)
    seeds: dict[str, set] = {}
    for c in exp.points(False):
        label = c.name.partition("/")[2]
        seeds.setdefault(label, set()).add(c.seed)
        setup = exp.setup(label)
        if setup is None:
            continue
        missing = [k for k in rp.required_fields(setup) if k not in setup]
        assert not missing, f"{name}/{label}: the published setup lacks {missing}"
        assert all(k in FIELDS for k in setup), f"{name}/{label}: {set(setup) - set(FIELDS)}"
    import importlib

    probes = set(getattr(importlib.import_module(exp.points.__module__), "PROBE_LABELS", ()))  # one seed by design
    arms = {k: v for k, v in seeds.items() if k not in probes}
    assert arms and all(len(s) >= rp.MIN_SEEDS for s in arms.values()), {k: len(v) for k, v in arms.items()}


def test_departures_are_the_diff_of_the_stored_configs_against_the_setup():
    paper = dict(lr=1e-2, eps=1e-25, bias=False, steps=80_000)
    ours = [dict(lr=1e-2, eps=1e-8, bias=False, steps=5_000, seed=0), dict(lr=1e-2, eps=1e-8, bias=False, steps=6_000)]
    assert rp.setup_diff(paper, ours) == ["eps 1e-08 (paper 1e-25)", "steps 5,000, 6,000 (paper 80,000)"]
    assert rp.setup_diff({"d_mlp": rp.UNSTATED}, [dict(d_mlp=128)]) == ["d_mlp 128 (paper not stated)"]
    # prieto2025's full version departs from their runs only where its module says it trains longer
    exp = rp.get("prieto2025")
    for c in exp.points(False):
        label = c.name.partition("/")[2]
        diff = rp.setup_diff(exp.setup(label), [c.to_dict()])
        assert diff == ([] if label != "softmax" else ["steps 5,000 (paper 500)"]), (label, diff)


class _FakeOutcome:
    """What the row builders read: finished runs per label and their metric curves."""

    def __init__(self, runs: dict[str, list[tuple[dict, dict]]]):
        self._runs = {k: [dict(run_id=f"{k}{i}", seed=i, config=cfg, summary={"steps": int(m["step"][-1])})
                          for i, (cfg, m) in enumerate(v)] for k, v in runs.items()}
        self._m = {r["run_id"]: m for k, v in runs.items() for r, (_, m) in zip(self._runs[k], v)}
        self.points, self.n_done = [], 0

    def runs(self, label):
        return self._runs.get(label, [])

    def metrics(self, run):
        return self._m[run["run_id"]]


def _curve(steps, acc, zero=None):
    m = {"step": np.asarray(steps), "test_acc": np.asarray(acc, float)}
    if zero is not None:
        m["zero_terms"] = np.asarray(zero, float)
    return m


def test_a_finding_not_seen_before_the_published_horizon_is_undecided_not_no():
    pub = rp.Published("yes", "src", by=80_000)
    short = [({"wd": 0.0}, _curve([0, 5_000], [0.0, 0.3]))] * 3
    row = rp.finding(_FakeOutcome({"a": short}), "a", "test_acc", 0.9, pub, "q")
    assert row.ours == "undecided" and row.agree is None and row.verdict == "undecided (budget 5,000)"
    long = [({"wd": 0.0}, _curve([0, 80_000], [0.0, 0.3]))] * 3
    row = rp.finding(_FakeOutcome({"a": long}), "a", "test_acc", 0.9, pub, "q")
    assert row.ours == "no" and row.agree is False and row.verdict == "no"
    two_of_three = long[:1] + [({"wd": 0.0}, _curve([0, 1_000, 5_000], [0.0, 0.95, 0.99]))] * 2
    row = rp.finding(_FakeOutcome({"a": two_of_three}), "a", "test_acc", 0.9, pub, "q")
    assert row.ours == "yes" and row.agree is True and "2 of 3 seeds reached" in row.detail


def test_a_stalled_run_decides_no_at_any_budget():
    pub = rp.Published("no", "src", by=80_000)
    stalled = [({"wd": 0.0, "grokfast": "none"}, _curve([0, 500], [0.0, 0.01], zero=[0.0, 1.0]))] * 3
    row = rp.finding(_FakeOutcome({"a": stalled}), "a", "test_acc", 0.9, pub, "q")
    assert row.ours == "no" and row.agree is True and "stalled" in row.detail
    decayed = [({"wd": 1.0, "grokfast": "none"}, _curve([0, 500], [0.0, 0.01], zero=[0.0, 1.0]))] * 3
    row = rp.finding(_FakeOutcome({"a": decayed}), "a", "test_acc", 0.9, pub, "q")   # weight decay still moves it
    assert row.verdict == "undecided (budget 500)"


def test_step_rows_are_the_median_over_seeds_with_their_range():
    runs = [({}, _curve([0, 100, 200, 300], acc)) for acc in ([0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1])]
    row = rp.reach(_FakeOutcome({"a": runs}), "a", "test_acc", 0.9, published=rp.Published(150, "src"), quantity="q")
    assert row.ours == 200 and row.agree is True and row.detail == "range 100 – 300 over 3 seeds"
    missed = runs[:1] + [({}, _curve([0, 300], [0, 0.1]))] * 2
    row = rp.reach(_FakeOutcome({"a": missed}), "a", "test_acc", 0.9, published=rp.Published(1_000, "src"),
                   quantity="q")
    assert row.bound == ">" and row.ours == 300 and row.verdict == "undecided (budget 300)"


@pytest.mark.slow
def test_accelerator_race_table_is_read_from_the_store(tmp_path):
    from groklab.reproduce import accelerators as acc
    from groklab.reproduce.core import first_reach

    st = Store(tmp_path / "store")
    res = rp.reproduce(st, "accelerators", smoke=True, report=False)
    race, grid = res["tables"]
    by_arm = {row[0]: row for row in race["rows"]}
    assert set(by_arm) == set(acc.SMOKE_ARMS) | {f"{acc.TRANSFER} + weak"}
    runs = {r["name"].partition("/")[2]: r for r in st.list_runs(sweep_id=res["sweep_id"])}
    for arm in acc.SMOKE_ARMS:
        m = st.metrics(runs[arm]["run_id"])
        hit = first_reach(m["step"], m["test_acc"], acc.RACE_ACC)
        assert by_arm[arm][3] == acc.interval([hit], "steps", int(m["step"][-1]))
    label, a, b = acc._grid("adamw")[0]
    m = st.metrics(runs[label]["run_id"])
    hit = first_reach(m["step"], m["test_acc"], acc.RACE_ACC)
    cell = grid["rows"][0][1 + list(acc.GRID).index((a, b))]
    assert (cell == "—") if hit is None else cell.startswith(f"{hit:,}")
    by_q = {r["quantity"].split(":")[0]: r for r in res["rows"]}
    A = st.load_checkpoint(runs[acc.TRANSFER]["run_id"], 0)[1]["W_E_A"]        # its seed's weak model's W_E
    assert np.array_equal(A[:acc.TINY_TRANSFORMER["p"]], st.load_checkpoint(runs[acc.WEAK]["run_id"])[1]["W_E"])
    tr = by_q[acc.TRANSFER]                  # raced: its weak model trained first, its row read from the store
    assert tr["published"]["value"] == acc.XU_SPEEDUP and "the weak MLP's 40" in tr["detail"]
    assert isinstance(tr["ours"], float) or "neither reached" in tr["why"]   # 40 smoke steps: often neither
    assert by_arm[f"{acc.TRANSFER} + weak"][-1] == "80"
    assert by_q["grokfast-ema"]["published"]["value"] == rp.GROKFAST_SPEEDUP["ema"]
    assert "not trained" in by_q["grokfast-ema"]["why"]          # not in the smoke version


def test_a_departure_several_labels_share_is_listed_once_with_their_labels():
    class Exp:
        stand_ins = ("a stand-in",)

        def setup(self, label):
            return {"frac": 0.5, "steps": 100, "lr": 1e-3}

    class Out:
        labels = ("a", "b", "c")

        def configs(self, label):
            steps = {"a": 800, "b": 600, "c": 600}[label]
            return [{"frac": 0.98, "steps": steps, "lr": 1e-2 if label == "c" else 1e-3}]

    from groklab.reproduce.experiment import departures

    assert departures(Exp(), Out()) == ["frac 0.98 (paper 0.5)", "a: steps 800 (paper 100)",
                                        "b, c: steps 600 (paper 100)", "c: lr 0.01 (paper 0.001)", "a stand-in"]


def _fake_result(name: str, sid: str) -> dict:
    return {"name": name, "smoke": False, "complete": True, "n_done": 1, "n_points": 1,
            "command": f"groklab reproduce {name}", "wall_s": 60.0, "load_avg": 1.0, "cpus": 2,
            "title": f"title of {name}", "cite": "A et al.", "claim": "a claim",
            "sweep_id": sid, "created": "2026-12-02T00:00:00", "machine": "vm", "departures": [], "tables": [],
            "rows": [{"quantity": f"q of {sid}", "published_text": "1", "ours_text": "1", "detail": "", "agree": True,
                      "why": "", "published": {"source": "A et al."}}]}


def test_results_keep_the_sections_of_experiments_whose_store_is_gone(tmp_path, monkeypatch, capsys):
    """A lost store must not erase its experiment from the page: regenerating from a store that holds
    only doshi2023 keeps liu2022's row and section verbatim, says so, and --only-stores drops them."""
    from groklab import results

    out = tmp_path / "results.md"
    out.write_text(render([_fake_result("liu2022", "s-old-liu"), _fake_result("doshi2023", "s-old-doshi")]))
    old_liu = results.sections(out.read_text())["liu2022"]
    st = Store(tmp_path / "s")
    sid = st.create_sweep("doshi2023", rp.KIND, {"experiment": "doshi2023", "smoke": False},
                          [{"task": "x+y", "p": 5, "seed": 0, "name": "doshi2023/wd=0"}])
    st.complete_points(sid, [0], ["r-none"])
    st.close()
    monkeypatch.setattr(results, "compare", lambda st, s: _fake_result("doshi2023", s))
    assert main(["results", "--store", str(tmp_path / "s"), "--out", str(out), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in shown["experiments"]] == ["doshi2023"] and shown["kept"] == ["liu2022"]
    text = out.read_text()
    assert results.sections(text)["liu2022"] == old_liu                # verbatim
    assert f"q of {sid}" in text and "q of s-old-doshi" not in text      # the store's result replaces the old one
    assert "Kept from the page's previous version" in text and "[liu2022](#liu2022)." in text
    assert text.index("## doshi2023") < text.index("## liu2022")       # catalogue order, as before
    assert not list(tmp_path.glob(".results.md*"))                       # written atomically, no temp file left
    assert main(["results", "--store", str(tmp_path / "s"), "--out", str(out), "--only-stores"]) == 0
    text = out.read_text()
    assert "## liu2022" not in text and "`groklab reproduce liu2022`" in text and "Kept from" not in text
