"""Grids and sweep files: axes, plans, packing, the cost model, recording, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from groklab.cli import main
from groklab.config import resolve
from groklab.errors import ConfigError
from groklab.store import Store
from groklab.sweep import (
    COST_FILE,
    Pack,
    axis_values,
    load_sweep_file,
    make_plan,
    pack,
    parse_axis,
    phase_diagram,
    point_seconds,
    record_result,
    run_sweep,
    schedule,
    start,
    train_group,
)

# a quadratic MLP (Gromov 2023) small enough that a 36-member ensemble trains in seconds
TINY = ["--preset", "gromov2023", "--p", "23", "--d-mlp", "48", "--init-std", "none", "--eval-every", "10"]
TINY_BASE = {"p": 23, "d_mlp": 48, "init_std": None, "eval_every": 10}


def tiny(**kw):
    return resolve("gromov2023", **{**TINY_BASE, "steps": 40, **kw})


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def n_sweeps(store: Path) -> int:
    if not (store / "groklab.db").exists():
        return 0
    with sqlite3.connect(store / "groklab.db") as c:
        return c.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0]


# ---------------------------------------------------------------------------------------------- axes
def test_linear_axis_includes_both_ends():
    assert parse_axis("frac=0.1:0.9:9") == ("frac", (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))


def test_log_axis_is_geometric_and_rounded():
    assert parse_axis("wd=log:0.1:10:3") == ("wd", (0.1, 1.0, 10.0))


def test_list_axis_coerces_to_the_field_type_and_drops_duplicates():
    assert parse_axis("p=23, 29,23") == ("p", (23, 29))
    assert parse_axis("d-mlp=16:64:4") == ("d_mlp", (16, 32, 48, 64))
    assert axis_values("task", ["x+y", "x-y"], "grid.task") == ("x+y", "x-y")


@pytest.mark.parametrize("text, fragment", [
    ("frac", "FIELD="),
    ("nope=1,2", "unknown config field 'nope'"),
    ("frac=", "empty axis"),
    ("frac=0.1:0.9", "a:b:n"),
    ("wd=log:0:1:3", "log range"),
    ("frac=0.1:0.9:0", "between 1 and 10000"),
    ("p=big", "p: got 'big'; allowed an integer"),
])
def test_bad_axes_name_the_problem(text, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        parse_axis(text)


# ---------------------------------------------------------------------------------------------- plans
def test_plan_is_the_cartesian_product_times_seeds_and_validates_every_point():
    plan = make_plan("g", preset="gromov2023", base={"p": 23}, seeds=[0, 1], budget=50,
                     grid={"frac": (0.3, 0.6), "wd": (0.0, 1.0, 5.0)})
    assert len(plan.configs) == 12 and plan.kind == "grid"
    assert {(c["frac"], c["wd"], c["seed"]) for c in plan.configs} == \
        {(f, w, s) for f in (0.3, 0.6) for w in (0.0, 1.0, 5.0) for s in (0, 1)}
    assert all(c["steps"] == 50 and c["p"] == 23 and c["model"] == "mlp" for c in plan.configs)
    with pytest.raises(ConfigError, match=r"frac=1.5.*frac: got 1.5; allowed a number in \(0, 1\)"):
        make_plan("g", preset="gromov2023", grid={"frac": (0.5, 1.5)})


def test_random_axes_are_reproducible_and_within_bounds(tmp_path):
    f = write(tmp_path, 'seeds = [0]\n[grid]\nfrac = [0.3, 0.5]\n[random]\nn = 5\nseed = 3\n'
                        'lr = { log_uniform = [1e-3, 1e-2] }\nact = { choice = ["relu", "quadratic"] }\n')
    a, b = load_sweep_file(f), load_sweep_file(f)
    assert a.configs == b.configs and a.kind == "random" and len(a.configs) == 10
    assert all(1e-3 <= c["lr"] <= 1e-2 and c["act"] in ("relu", "quadratic") for c in a.configs)
    assert len({c["lr"] for c in a.configs}) == 5


@pytest.mark.parametrize("text, fragment", [
    ('nme = "x"\n[grid]\nfrac = [0.5]\n', "unknown key 'nme'"),
    ('[base]\nwdd = 1\n[grid]\nfrac = [0.5]\n', "base.wdd: unknown config field"),
    ('[grid]\nfrac = []\n', "grid.frac: empty axis"),
    ('[grid]\nfrac = ""\n', "grid.frac: empty axis"),
    ('[grid]\nfrack = [0.5]\n', "unknown config field 'frack'"),
    ('[random]\nn = 2\nlr = { normal = [0, 1] }\n', "unknown distribution 'normal'"),
    ('[random]\nn = 2\nlr = { uniform = [] }\n', "empty axis"),
    ('seeds = []\n[grid]\nfrac = [0.5]\n', "seeds: empty axis"),
    ('budget = -3\n', "budget: expected a positive number"),
    ('[grid]\nfrac = [0.5, 2.0]\n', "frac: got 2.0; allowed a number in (0, 1)"),
])
def test_bad_sweep_file_exits_2_naming_the_key_and_writes_nothing(tmp_path, capsys, text, fragment):
    store = tmp_path / "store"
    Store(store)     # an existing, empty store must stay without a sweep
    f = write(tmp_path, 'preset = "gromov2023"\n' + text)
    assert main(["sweep", str(f), "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1
    assert n_sweeps(store) == 0


def test_a_second_sweep_of_the_same_name_needs_resume(tmp_path):
    store = Store(tmp_path / "store")
    f = write(tmp_path, 'name = "same"\npreset = "gromov2023"\n[grid]\nfrac = [0.3, 0.5]\n')
    sid, resumed = start(store, load_sweep_file(f))
    assert not resumed
    with pytest.raises(ConfigError, match="use --resume"):
        start(store, load_sweep_file(f))
    assert start(store, load_sweep_file(f), resume=True) == (sid, True)
    f.write_text('name = "same"\npreset = "gromov2023"\n[grid]\nfrac = [0.3, 0.6]\n')
    with pytest.raises(ConfigError, match="different spec"):
        start(store, load_sweep_file(f), resume=True)


# ---------------------------------------------------------------------------------------------- packing
def test_packing_groups_by_shape_key_and_balances_chunks():
    pts = [(i, tiny(seed=i, wd=float(i % 3)).to_dict()) for i in range(10)]
    pts += [(10 + i, tiny(seed=i, d_mlp=32).to_dict()) for i in range(3)]
    tasks = pack(pts, max_members=4)
    assert [len(t.points) for t in tasks] == [4, 3, 3, 3]
    assert sorted(p for t in tasks[:3] for p in t.points) == list(range(10))
    assert tasks[3].points == [10, 11, 12] and {c["d_mlp"] for c in tasks[3].configs} == {32}


def test_atlases_on_different_pools_are_separate_packs():
    from groklab.train.subsets import expand_subsets

    atlas = lambda s: expand_subsets([tiny(subsets=4, canaries=2, seed=100 * s, data_seed=s)])  # noqa: E731
    pts = list(enumerate(c.to_dict() for c in [*atlas(0), *atlas(1)]))
    packs = pack(pts, max_members=64)
    assert [p.points for p in packs] == [[0, 1, 2, 3], [4, 5, 6, 7]]      # one ensemble per pool
    plain = list(enumerate(tiny(seed=s, data_seed=s).to_dict() for s in range(4)))
    assert len(pack(plain, max_members=64)) == 1                         # data seeds alone still batch


def _cost(alone_s: float) -> dict:
    return {"members": 10, "clock": "cpu", "alone_s": alone_s, "startup_s": 0.0,
            "ensemble": {"setup_s": 1.0, "step_s": 0.01, "eval_s": 0.01}}


def test_cost_model_batches_only_when_the_ensemble_is_cheaper_per_point(tmp_path):
    cfg = tiny(steps=100)          # ensemble: (1 + 100 * 0.01 + 11 * 0.01) / 10 = 0.211 s per point
    assert point_seconds(_cost(0.5), cfg, 10) == pytest.approx((0.211, 0.5))
    workers = min(10, os.cpu_count())      # each worker's start is shared by the points
    assert point_seconds({**_cost(0.5), "startup_s": 4.0}, cfg, 10)[1] == pytest.approx(0.5 + 0.4 * workers)
    store = Store(tmp_path)
    calls = []

    def measure(store, sweep_id, task, alone_s):
        calls.append(task.points)
        return _cost(alone_s)

    task = Pack([0, 1, 2], [tiny(steps=100, seed=s).to_dict() for s in range(3)])
    out = schedule(store, None, [task], measure=lambda s, i, t: measure(s, i, t, 0.1))
    assert [(t.points, m) for t, m in out] == [([1], "separate"), ([2], "separate")]   # point 0 was measured
    assert json.loads((tmp_path / COST_FILE).read_text())
    out = schedule(store, None, [task], measure=lambda s, i, t: measure(s, i, t, 9.0))
    assert [(t.points, m) for t, m in out] == [([0], "separate"), ([1], "separate"), ([2], "separate")]
    assert calls == [[0, 1, 2]]        # the second time the cached measurement decides
    (tmp_path / COST_FILE).unlink()
    out = schedule(store, None, [task], measure=lambda s, i, t: measure(s, i, t, 9.0))
    assert [(t.points, m) for t, m in out] == [([1, 2], "ensemble")]


def test_a_run_too_long_to_lose_trains_in_process_where_it_checkpoints(tmp_path):
    from groklab.sweep.cost import RESUMABLE_S

    slow_ensemble = {"setup_s": 1.0, "step_s": 300.0, "eval_s": 0.0}    # 3,000 s per point batched
    task = Pack([0, 1, 2], [tiny(steps=100, seed=s).to_dict() for s in range(3)])
    for alone_s, mode in ((RESUMABLE_S / 2, "separate"), (2 * RESUMABLE_S, "ensemble")):
        store = Store(tmp_path / str(alone_s))
        cost = {**_cost(alone_s), "ensemble": slow_ensemble}
        out = schedule(store, None, [task], measure=lambda s, i, t, c=cost: c)
        assert {m for _, m in out} == {mode}     # separate is faster in both; only the long one stays resumable


def test_a_pack_too_long_to_measure_in_a_worker_trains_in_process_untouched(tmp_path, monkeypatch):
    from groklab.sweep import cost as cost_mod

    task = Pack([0, 1, 2], [tiny(steps=100, seed=s).to_dict() for s in range(3)])
    store = Store(tmp_path / "s")
    monkeypatch.setattr(cost_mod, "RESUMABLE_S", 0.0)       # every pack is "long"
    measured = cost_mod.measure_cost(store, None, task)
    assert measured["long"] and "alone_s" not in measured and store.list_runs() == []   # nothing trained
    out = schedule(store, None, [task], measure=lambda s, i, t: measured)
    assert [(t.points, m) for t, m in out] == [([0, 1, 2], "ensemble")]               # no point dropped
    out = schedule(store, None, [task], measure=lambda s, i, t: pytest.fail("the cache decides"))
    assert [(t.points, m) for t, m in out] == [([0, 1, 2], "ensemble")]


# ---------------------------------------------------------------------------------------------- recording
def test_a_group_trained_away_from_the_store_records_like_a_local_run(tmp_path):
    from groklab import api

    cfgs = [tiny(seed=s, frac=f) for s, f in ((0, 0.3), (1, 0.7))]
    local = api.train(cfgs, store=tmp_path / "a")
    st = Store(tmp_path / "b")
    remote = record_result(st, None, [], train_group([c.to_dict() for c in cfgs]))
    skip = {"run_id", "wall_s", "compile_s"}
    for a, b in zip(local.summaries, remote):
        assert {k: v for k, v in a.items() if k not in skip} == {k: v for k, v in b.items() if k not in skip}
    for a, b in zip(local.run_ids, (s["run_id"] for s in remote)):
        assert [c["step"] for c in Store(tmp_path / "a").checkpoints(a)] == [c["step"] for c in st.checkpoints(b)]
        assert st.state_steps(b) == [40]       # the last optimizer state is kept, as api.train keeps it


def test_phase_diagram_takes_the_majority_phase_and_median_delay(tmp_path):
    st = Store(tmp_path)
    plan = make_plan("pd", preset="gromov2023", grid={"frac": (0.3, 0.6), "wd": (1.0,)}, seeds=[0, 1, 2])
    sid = st.create_sweep(plan.name, plan.kind, plan.spec, plan.configs)
    phases = ["memorization", "grokking", "memorization", "grokking", "grokking", "comprehension"]
    delays = [None, 3000, None, 2000, 4000, 10]
    ids = st.create_runs(plan.configs, code_version="t", machine="t", sweep_id=sid)
    for rid, ph, d in zip(ids, phases, delays):
        st.finish(rid, "completed", {"phase": ph, "delay": d, "t_mem": 10, "t_gen": None if d is None else 10 + d,
                                     "final": {"test_acc": 0.5}}, 1.0)
    st.complete_points(sid, list(range(5)), ids[:5])      # the last point is not done
    view = phase_diagram(st, sid)
    assert (view["x_name"], view["y_name"], view["x_values"], view["y_values"]) == ("frac", "wd", [0.3, 0.6], [1.0])
    cells = {p["x"]: p for p in view["points"]}
    assert cells[0.3]["phase"] == "memorization" and cells[0.3]["delay"] == 3000 and cells[0.3]["n"] == 3
    assert cells[0.6]["phase"] == "grokking" and cells[0.6]["delay"] == 3000 and cells[0.6]["n"] == 2
    assert cells[0.6]["href"] == f"../../runs/{cells[0.6]['run_id']}/report.html"
    assert view["sweep"]["n_done"] == 5 and view["sweep"]["n_points"] == 6


# ---------------------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_a_6x6_grid_of_tiny_mlps_completes_with_several_phases(tmp_path, capsys):
    store = tmp_path / "store"
    rc = main(["grid", *TINY, "--steps", "80", "--x", "frac=0.2:0.8:6", "--y", "wd=0,1,2,5,10,20",
               "--pack", "ensemble", "--quiet", "--json", "--store", str(store)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["points"]) == 36 and all(p["status"] == "done" for p in out["points"])
    assert len({p["phase"] for p in out["points"]}) >= 2
    view = phase_diagram(Store(store), out["sweep_id"])
    assert len(view["x_values"]) == len(view["y_values"]) == 6 and len(view["points"]) == 36
    assert main(["sweeps", "--store", str(store), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["sweeps"]
    assert (row["n_done"], row["n_points"], row["status"], row["kind"]) == (36, 36, "completed", "grid")


@pytest.mark.slow
def test_separate_runs_train_in_worker_processes(tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["grid", *TINY, "--steps", "30", "--x", "frac=0.3,0.6", "--pack", "separate", "--quiet",
                 "--json", "--store", str(store)]) == 0
    out = json.loads(capsys.readouterr().out)
    runs = {r["run_id"]: r for r in Store(store).list_runs()}
    assert [p["status"] for p in out["points"]] == ["done", "done"]
    assert {runs[p["run_id"]]["group_id"] for p in out["points"]}.__len__() == 2     # one run per group
    assert all(runs[p["run_id"]]["pid"] is None and runs[p["run_id"]]["status"] == "completed"
               for p in out["points"])


@pytest.mark.slow
def test_measuring_costs_trains_one_point_alone_and_keeps_it(tmp_path):
    st = Store(tmp_path)
    plan = make_plan("m", preset="gromov2023", base=TINY_BASE, budget=20, grid={"seed": (0, 1, 2)})
    sid = st.create_sweep(plan.name, plan.kind, plan.spec, plan.configs)
    out = schedule(st, sid, pack(list(enumerate(plan.configs))))
    cost = next(iter(json.loads((tmp_path / COST_FILE).read_text()).values()))
    assert cost["alone_s"] > 0 and cost["startup_s"] > 0 and cost["members"] == 2 and cost["ensemble"]["step_s"] > 0
    assert sorted(p for t, _ in out for p in t.points) == [1, 2]
    assert [p["status"] for p in st.sweep_points(sid)] == ["done", "pending", "pending"]


@pytest.mark.slow
def test_a_killed_sweep_resumes_and_completes_every_point_exactly_once(tmp_path):
    store = tmp_path / "store"
    f = write(tmp_path, 'name = "kill"\npreset = "gromov2023"\nbudget = 150\n'
                        '[base]\np = 23\nd_mlp = 48\ninit_std = "none"\neval_every = 10\n'
                        '[grid]\nfrac = [0.3, 0.5, 0.7]\nwd = [1.0, 5.0]\n')
    exe = Path(sys.executable).with_name("groklab")
    cmd = [str(exe), "sweep", str(f), "--store", str(store), "--pack", "ensemble", "--max-members", "2", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        done = 0
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
            try:
                with sqlite3.connect(f"file:{store / 'groklab.db'}?mode=ro", uri=True, timeout=30) as c:
                    done = c.execute("SELECT COUNT(*) FROM sweep_points WHERE status = 'done'").fetchone()[0]
            except sqlite3.OperationalError:     # not created yet
                continue
            if done >= 2:
                break
        assert proc.poll() is None and 2 <= done < 6, "the sweep must be killed in the middle"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert main(["sweep", str(f), "--store", str(store), "--resume", "--pack", "ensemble", "--quiet"]) == 0
    st = Store(store)
    (sw,) = st.list_sweeps()
    points = st.sweep_points(sw["sweep_id"])
    ids = [p["run_id"] for p in points]
    assert all(p["status"] == "done" for p in points) and len(set(ids)) == 6
    runs = {r["run_id"]: r for r in st.list_runs(sweep_id=sw["sweep_id"])}
    assert all(runs[i]["status"] == "completed" for i in ids)
    completed = [r for r in runs.values() if r["status"] == "completed"]
    assert len(completed) == 6            # no point trained to completion twice
    assert sw["status"] == "completed" and sw["n_done"] == 6


def test_worker_messages_round_trip_without_pickle():
    import io

    from groklab.sweep.backends.local import recv, send

    msg = [True, {"events": [["eval", 5, {"acc": np.arange(3, dtype=np.float32)}, np.array([True, False]),
                              np.array([False, True])]],
                  "params": {"W": np.ones((2, 3), np.float64)}, "wall_s": np.float64(2.5), "none": None}]
    buf = io.BytesIO()
    send(buf, msg)
    assert b"pickle" not in buf.getvalue() and b"\x80\x04" not in buf.getvalue()[:2]
    buf.seek(0)
    ok, value = recv(buf)
    assert ok is True and value["wall_s"] == 2.5 and value["none"] is None
    acc = value["events"][0][2]["acc"]
    assert acc.dtype == np.float32 and acc.tolist() == [0.0, 1.0, 2.0]
    assert value["events"][0][3].tolist() == [True, False] and value["events"][0][4].dtype == bool
    np.testing.assert_array_equal(value["params"]["W"], np.ones((2, 3)))
    with pytest.raises(EOFError):
        recv(io.BytesIO(buf.getvalue()[:-4]))       # a worker that died mid-message


def test_a_resumed_sweep_continues_its_interrupted_ensemble_from_its_checkpoint(tmp_path):
    """A sweep stopped mid-ensemble (Ctrl-C, SIGTERM) and resumed continues that ensemble's runs from their
    newest checkpoint, not from step 0 under new run ids; the result equals an uninterrupted sweep's."""
    from groklab import api

    def sweep(root):
        st = Store(root)
        plan = make_plan("r", preset="gromov2023", base={**TINY_BASE, "ckpt_per_decade": 10}, budget=120,
                         grid={"seed": (0, 1)})
        return st, st.create_sweep(plan.name, plan.kind, plan.spec, plan.configs), plan

    st, sid, plan = sweep(tmp_path / "a")

    def stop_at_70(ev):
        if ev["step"] >= 70:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.train(plan.configs, store=st, sweep_id=sid, progress=stop_at_70)
    first = {r["run_id"]: r for r in st.list_runs(sweep_id=sid)}
    assert {r["status"] for r in first.values()} == {"interrupted"}
    assert all(max(c["step"] for c in st.checkpoints(i) if c["has_state"]) >= 50 for i in first)
    run_sweep(st, sid, pack_mode="ensemble")
    points = st.sweep_points(sid)
    assert {p["run_id"] for p in points} == set(first)                 # the same runs, continued
    assert len(st.list_runs(sweep_id=sid)) == 2 and all(p["status"] == "done" for p in points)
    ref_st, ref_sid, _ = sweep(tmp_path / "b")
    run_sweep(ref_st, ref_sid, pack_mode="ensemble")
    for p, q in zip(points, ref_st.sweep_points(ref_sid)):
        a, b = st.metrics(p["run_id"]), ref_st.metrics(q["run_id"])
        assert np.array_equal(a["step"], b["step"]) and np.array_equal(a["test_acc"], b["test_acc"])
        assert np.array_equal(a["train_loss"], b["train_loss"])
