"""Faults found by injecting them: a lost catalog, two processes on one sweep, colliding ids, a lost
newest checkpoint, a bogus checkpoint whose checksum was updated. Each test failed on the code
before the fix."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from run_support import stop_at, tiny
from safetensors.numpy import save

from groklab import api
from groklab.cli import main
from groklab.errors import StoreError
from groklab.store import Store, records
from groklab.store.catalog import new_id
from groklab.store.check import check_store

EXE = [sys.executable, "-m", "groklab.cli"]




def run_files(root: Path) -> dict[str, str]:
    """sha256 of every checkpoint and optimizer-state file under runs/, by path."""
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted((root / "runs").glob("*/*/*.safetensors"))}


def same_metrics(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


# ---------------------------------------------------------------------------------------------- 1. lost catalog
# one completed run and an identical one interrupted at step 23, trained in a process of their own
# (so that no connection of this process still holds the catalog when it is destroyed)
_TWO_RUNS = textwrap.dedent("""
    import json, sys
    from groklab import api
    from groklab.config import resolve
    cfg = resolve("gromov2023", p=23, d_mlp=16, steps=80, eval_every=5, ckpt_per_decade=20)
    done = api.train(cfg, store=sys.argv[1])
    def stop(ev):
        if ev["step"] >= 23:
            raise KeyboardInterrupt
    try:
        api.train(cfg, store=sys.argv[1], progress=stop)
    except KeyboardInterrupt:
        pass
    print(json.dumps({"done": done.run_ids[0], "summary": done.summaries[0]}))
""")


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["truncated", "deleted"])
def test_a_lost_catalog_is_refused_then_rebuilt_from_the_run_folders_keeping_every_checkpoint(tmp_path, capsys, loss):
    s = tmp_path / "s"
    p = subprocess.run([sys.executable, "-c", _TWO_RUNS, str(s)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    done = out["done"]
    st = Store(s, create=False)
    (stopped,) = [r["run_id"] for r in st.list_runs() if r["run_id"] != done]
    assert st.get_run(stopped)["status"] == "interrupted"
    want_metrics = st.metrics(done)
    st.close()
    files = run_files(s)
    assert len(files) > 10

    db = s / "groklab.db"
    db.write_bytes(b"") if loss == "truncated" else db.unlink()
    for args in (["runs"], ["show", done], ["train", "--preset", "gromov2023", "--steps", "5", "--quiet"]):
        assert main([*args, "--store", str(s)]) == 2, args      # refused: nothing rebuilt silently
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"groklab check --repair --store {s}" in err, err
    assert (db.stat().st_size == 0) if loss == "truncated" else not db.exists()

    assert main(["check", "--store", str(s)]) == 1
    report = capsys.readouterr().out
    assert f"run {done}: in its folder" in report and f"run {stopped}: in its folder" in report
    assert main(["check", "--repair", "--store", str(s)]) == 0
    assert "re-register it" in capsys.readouterr().out
    assert run_files(s) == files                                 # every checkpoint and state, byte for byte

    st = Store(s, create=False)
    assert st.get_run(done)["status"] == "completed" and same_metrics(st.metrics(done), want_metrics)
    assert main(["show", done, "--store", str(s), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["t_mem"] == out["summary"]["t_mem"]
    assert main(["show", stopped, "--store", str(s)]) == 0
    assert "interrupted" in capsys.readouterr().out
    assert main(["train", "--resume", stopped, "--store", str(s), "--quiet"]) == 0
    capsys.readouterr()
    assert st.get_run(stopped)["status"] == "completed"
    assert same_metrics(st.metrics(stopped), want_metrics)       # resumed bit for bit
    assert check_store(st)[0] == []


def test_repair_moves_files_it_cannot_attribute_to_lost_and_found_and_deletes_none(tmp_path):
    st = Store(tmp_path / "s")
    (rid,) = st.create_runs([tiny().to_dict()], code_version="t", machine="t")
    st.save_checkpoint(rid, 5, {"w": np.ones(3, np.float32)}, state={"s": np.zeros(2, np.float32)})
    st.finish(rid, "completed", None, 1.0)
    wrong = st.ckpt_path(rid, 9)                       # a checkpoint written for another step
    wrong.write_bytes(save({"w": np.ones(3, np.float32)}, metadata={"run_id": rid, "step": "7"}))
    legacy = st.root / "runs" / "r240101-abc123" / "ckpt" / "000000001.safetensors"   # an older groklab's folder
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(save({"w": np.zeros(3, np.float32)}))
    blobs = {wrong: wrong.read_bytes(), legacy: legacy.read_bytes()}
    st.close()
    (st.root / "groklab.db").unlink()

    st = Store(tmp_path / "s", create=False, repairing=True)
    problems, _ = check_store(st, repair=True)
    assert {p.kind for p in problems} == {"unregistered_run", "unattributed_file", "orphan_file"}
    assert all(p.repaired for p in problems)
    assert [c["step"] for c in st.checkpoints(rid)] == [5] and st.state_steps(rid) == [5]
    for f, blob in blobs.items():
        assert not f.exists()
        assert (st.root / "lost+found" / f.relative_to(st.root)).read_bytes() == blob
    assert check_store(st)[0] == []


def test_metrics_file_ignores_a_torn_last_line_and_the_next_append_starts_a_new_one(tmp_path):
    d = tmp_path / "r1"
    records.append_metrics([d], 0, ['{"train_loss":1.5}'], 0.1)
    with open(d / records.METRICS_FILE, "a") as f:
        f.write('{"step":5,"wall_s":0.2,"metrics":{"train_lo')        # a kill mid-line
    assert [s for s, _, _ in records.read_metrics(d)] == [0]
    records.append_metrics([d], 10, ['{"train_loss":0.5}'], 0.3)
    assert [(s, m["train_loss"]) for s, _, m in records.read_metrics(d)] == [(0, 1.5), (10, 0.5)]


# ---------------------------------------------------------------------------------------------- 2. exclusive work
_HOLD = textwrap.dedent("""
    import sys, time
    from groklab.store import Store
    lease = Store(sys.argv[1]).lease(sys.argv[2], sys.argv[3])
    lease.__enter__()
    print("held", flush=True)
    time.sleep(120)
""")


def hold(root: Path, kind: str, key: str) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", _HOLD, str(root), kind, key], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_lease_held_by_a_live_process_refuses_a_second_claim_and_is_free_once_it_dies(tmp_path, capsys):
    st = Store(tmp_path / "s")
    (rid,) = st.create_runs([tiny().to_dict()], code_version="t", machine="t")
    st.set_status([rid], "interrupted")
    group = st.get_run(rid)["group_id"]
    sid = st.create_sweep("race", "grid", {}, [tiny().to_dict()])
    holders = [hold(st.root, "group", group), hold(st.root, "sweep", sid)]
    try:
        for p, kind, key in zip(holders, ("group", "sweep"), (group, sid)):
            assert st.lease_holder(kind, key) == p.pid
            with pytest.raises(StoreError, match=f"pid {p.pid}"):
                with st.lease(kind, key):
                    pass
        assert main(["train", "--resume", rid, "--store", str(st.root)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"pid {holders[0].pid}" in err
        assert main(["grid", "--resume", sid, "--store", str(st.root), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"pid {holders[1].pid}" in err
        assert "dead_sweep" not in {p.kind for p in check_store(st)[0]}     # its holder is alive
        assert {d["sweep_id"]: d["status"] for d in st.list_sweeps()}[sid] == "running"
    finally:
        for p in holders:
            p.send_signal(signal.SIGKILL)
            p.wait()
    assert st.lease_holder("sweep", sid) is None and st.lease_holder("group", group) is None
    assert {d["sweep_id"]: d["status"] for d in st.list_sweeps()}[sid] == "interrupted"   # its process is gone
    with st.lease("sweep", sid):
        assert st.lease_holder("sweep", sid) == os.getpid()
    (dead,) = [p for p in check_store(st, repair=True)[0] if p.kind == "dead_sweep"]   # 'running', no holder
    assert dead.repaired and st.get_sweep(sid)["status"] == "interrupted"


@pytest.mark.slow
def test_two_concurrent_resumes_of_a_sweep_train_each_point_once(tmp_path, capsys):
    from groklab.sweep import make_plan

    s = tmp_path / "s"
    st = Store(s)
    plan = make_plan("race", preset="gromov2023", base={"p": 23, "d_mlp": 48, "eval_every": 50}, budget=3000,
                     grid={"frac": (0.3, 0.4, 0.5, 0.6)})
    sid = st.create_sweep(plan.name, plan.kind, plan.spec, plan.configs)
    args = ["grid", "--resume", sid, "--store", str(s), "--pack", "ensemble", "--quiet"]
    first = subprocess.Popen([*EXE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while st.lease_holder("sweep", sid) is None:          # the first one runs it: now the second starts
        assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
        time.sleep(0.05)
    assert main(args) == 2                                 # this process: JAX is loaded, so it is there at once
    err = capsys.readouterr().err
    assert first.poll() is None, "the first resume must still be training when the second starts"
    assert err.count("\n") == 1 and f"pid {first.pid}" in err, err
    assert first.wait(timeout=600) == 0, first.stderr.read()
    assert len(st.list_runs(sweep_id=sid)) == len(plan.configs) == 4
    assert all(p["status"] == "done" for p in st.sweep_points(sid))


# ---------------------------------------------------------------------------------------------- 3. run ids
def test_4097_members_get_distinct_ids_and_old_short_ids_still_resolve(tmp_path):
    st = Store(tmp_path / "s")
    cfg = tiny().to_dict()
    ids = st.create_runs([dict(cfg, seed=i) for i in range(4097)], code_version="t", machine="t")
    assert len(set(ids)) == 4097
    assert len({new_id("r") for _ in range(200_000)}) == 200_000     # 24 random bits collide here for certain
    assert all(len(i.rsplit("-", 1)[1]) >= 16 for i in ids)          # >= 64 random bits
    st.conn.execute("INSERT INTO runs (run_id, group_id, member, status, task, seed, config_json, config_hash,"
                    " created, updated) VALUES ('r240101-078fd6', 'g240101-0a1b2c', 0, 'completed', 'x+y', 0, '{}',"
                    " 'h', 't', 't')")
    assert st.resolve("r240101-078f") == "r240101-078fd6" == st.get_run("r240101-078fd6")["run_id"]


# ------------------------------------------------------------------------------------- 4. lost newest checkpoint
@pytest.mark.slow
@pytest.mark.parametrize("loss", ["deleted", "truncated"])
def test_resume_falls_back_to_the_older_checkpoint_when_the_newest_is_lost(tmp_path, capsys, loss):
    base = api.train(tiny(), store=tmp_path / "a")
    st = Store(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        api.train(tiny(), store=st, progress=stop_at(23))
    (rid,) = [r["run_id"] for r in st.list_runs()]
    older, newest = st.state_steps(rid)[-2:]                 # the two newest optimizer states are kept
    path = st.ckpt_path(rid, newest)
    path.unlink() if loss == "deleted" else path.write_bytes(path.read_bytes()[:100])
    capsys.readouterr()
    res = api.resume(rid, store=st)
    err = capsys.readouterr().err
    assert f"checkpoint at step {newest} is unusable" in err and f"resuming from the one at step {older}" in err
    assert res.summaries[0]["status"] == "completed"
    assert same_metrics(Store(tmp_path / "a").metrics(base.run_ids[0]), st.metrics(rid))
    assert st.state_steps(rid) == [80]                       # a finished run keeps the newest state only


# ---------------------------------------------------------------------------------------------- 5. check validates
def test_check_flags_a_checkpoint_that_is_not_what_its_config_implies_even_with_its_sha256_updated(tmp_path,
                                                                                                 capsys):
    st = Store(tmp_path / "s")
    cfg = tiny()
    (rid,) = st.create_runs([cfg.to_dict()], code_version="t", machine="t")
    good = {k: np.zeros(s, np.float32) for k, s in api.param_shapes(cfg).items()}
    for step in (1, 2, 3):
        st.save_checkpoint(rid, step, good, state={"s": np.zeros(2, np.float32)})
    st.finish(rid, "completed", None, 1.0)
    assert main(["check", "--store", str(st.root)]) == 0
    capsys.readouterr()
    bogus = {1: b"not a safetensors file at all" * 10,
             2: save({k: np.zeros((2, 2), np.float32) for k in good}),
             3: save({**good, "evil": np.zeros(1, np.float32)})}
    for step, blob in bogus.items():
        st.ckpt_path(rid, step).write_bytes(blob)
        st.conn.execute("UPDATE checkpoints SET sha256 = ? WHERE run_id = ? AND step = ?",
                        (hashlib.sha256(blob).hexdigest(), rid, step))
    assert main(["check", "--store", str(st.root)]) == 1
    out = capsys.readouterr().out
    assert "checkpoint at step 1 is not a valid safetensors file" in out
    assert "checkpoint at step 2 does not match its config: tensor" in out
    assert "checkpoint at step 3 does not match its config: has tensors not in its config: evil" in out
    assert [p.kind for p in check_store(st)[0]] == ["invalid_checkpoint"]     # without a config: the header only


def test_check_finds_a_sweep_left_running_by_a_killed_process(tmp_path):
    st = Store(tmp_path / "s")
    sid = st.create_sweep("killed", "grid", {}, [tiny().to_dict()])       # 'running', and no process holds it
    with sqlite3.connect(st.db_path) as c:
        assert c.execute("SELECT status FROM sweeps").fetchone()[0] == "running"
    (p,) = check_store(st)[0]
    assert p.kind == "dead_sweep" and not p.repaired
    check_store(st, repair=True)
    assert st.get_sweep(sid)["status"] == "interrupted" and check_store(st)[0] == []
