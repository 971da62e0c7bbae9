"""Nothing lost, nothing unsafe loaded: resume is bit-exact, kills leave a consistent store,
divergence is recorded, writers share a store, bad checkpoints and full disks fail cleanly."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from run_support import stop_at, tiny
from safetensors.numpy import save

from groklab import api
from groklab.cli import main
from groklab.errors import StoreError
from groklab.store import Store, catalog, files
from groklab.store.check import check_store
from groklab.store.files import read_tensors

pytestmark = pytest.mark.slow

TINY_FLAGS = ["--preset", "gromov2023", "--p", "23", "--d-mlp", "16", "--steps", "80", "--eval-every", "5",
              "--ckpt-per-decade", "20", "--quiet"]




def train_interrupted(cfgs, store: Store, step: int) -> list[str]:
    n = len(store.list_runs())
    with pytest.raises(KeyboardInterrupt):
        api.train(cfgs, store=store, progress=stop_at(step))
    return [r["run_id"] for r in sorted(store.list_runs()[: len(store.list_runs()) - n], key=lambda r: r["member"])]


def assert_same_metrics(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    assert list(a["step"]) == list(b["step"])
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=True), k       # bit for bit, every row


def raw_status(store: Store, rid: str) -> tuple[str, str | None]:
    return store.conn.execute("SELECT status, message FROM runs WHERE run_id = ?", (rid,)).fetchone()


# ---------------------------------------------------------------------------------------------- resume
@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The metrics and final parameters of an uninterrupted run of ``tiny()``."""
    root = tmp_path_factory.mktemp("baseline")
    res = api.train(tiny(), store=root)
    return Store(root).metrics(res.run_ids[0]), res.params[0]


def test_resume_twice_equals_an_uninterrupted_run_bit_for_bit(tmp_path, baseline):
    st = Store(tmp_path / "b")
    (rid,) = train_interrupted(tiny(), st, 23)
    assert st.get_run(rid)["status"] == "interrupted"
    assert "stopped by the user" in st.get_run(rid)["message"]
    with pytest.raises(KeyboardInterrupt):
        api.resume(rid, store=st, progress=stop_at(57))
    res = api.resume(rid, store=st)
    assert res.summaries[0]["status"] == "completed" and st.get_run(rid)["status"] == "completed"
    assert_same_metrics(baseline[0], st.metrics(rid))
    for k, v in baseline[1].items():
        assert np.array_equal(v, res.params[0][k]), k
    assert check_store(st)[0] == []


RESUME_CASES = {     # each state the optimizer chain carries: Grokfast EMA / MA buffers, minibatch RNG, momentum
    "grokfast-ema-minibatch": dict(grokfast="ema", batch_size=64, steps=40),
    "grokfast-ma-minibatch-orthograd": dict(grokfast="ma", grokfast_window=7, batch_size=100, orthograd=True, steps=40),
    "sgd-momentum": dict(optimizer="sgd", momentum=0.9, lr=0.05, steps=40),
}


def test_a_float32_run_after_a_float64_one_in_the_same_process_is_unchanged(tmp_path, baseline):
    """A float64 run turns JAX's 64-bit mode on; the next float32 run in the process must not inherit it
    (a sweep, a reproduction or the test suite trains both kinds in one process)."""
    api.train(tiny(loss_dtype="float64", steps=10), store=tmp_path / "f64")
    res = api.train(tiny(), store=tmp_path / "f32")
    assert_same_metrics(Store(tmp_path / "f32").metrics(res.run_ids[0]), baseline[0])
    for k, v in res.params[0].items():
        assert v.dtype == baseline[1][k].dtype and np.array_equal(v, baseline[1][k]), k


@pytest.mark.parametrize("extra", RESUME_CASES.values(), ids=RESUME_CASES.keys())
def test_resume_restores_filter_optimizer_and_minibatch_state(tmp_path, extra):
    cfg = tiny(**extra)
    base = api.train(cfg, store=tmp_path / "a")
    st = Store(tmp_path / "b")
    (rid,) = train_interrupted(cfg, st, 23)
    res = api.resume(rid, store=st)
    assert_same_metrics(Store(tmp_path / "a").metrics(base.run_ids[0]), st.metrics(rid))
    for k, v in base.params[0].items():
        assert np.array_equal(v, res.params[0][k]), k
    a = Store(tmp_path / "a")
    assert [c["step"] for c in a.checkpoints(base.run_ids[0])] == [c["step"] for c in st.checkpoints(rid)]
    for c in st.checkpoints(rid):            # the checkpoints written after the resume are the same too
        pa, pb = a.load_checkpoint(base.run_ids[0], c["step"])[1], st.load_checkpoint(rid, c["step"])[1]
        assert all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_resume_of_an_ensemble_keeps_its_diverged_member_diverged(tmp_path):
    cfgs = [tiny(lr=1e-2, steps=60), tiny(lr=1e6, steps=60)]
    base = api.train(cfgs, store=tmp_path / "a")
    assert [s["status"] for s in base.summaries] == ["completed", "diverged"]
    st = Store(tmp_path / "b")
    ids = train_interrupted(cfgs, st, 40)
    assert raw_status(st, ids[0])[0] == "interrupted"
    status, message = raw_status(st, ids[1])           # recorded the moment it diverged
    assert status == "diverged" and message == base.summaries[1]["message"]
    res = api.resume(ids[0], store=st)
    assert [s["status"] for s in res.summaries] == ["completed", "diverged"]
    assert res.summaries[1]["message"] == base.summaries[1]["message"]
    a = Store(tmp_path / "a")
    for e in range(2):
        assert_same_metrics(a.metrics(base.run_ids[e]), st.metrics(ids[e]))


# ---------------------------------------------------------------------------------------------- divergence
def test_non_finite_loss_stops_the_run_as_diverged_keeping_earlier_metrics(tmp_path, capsys):
    seen = []
    res = api.train(tiny(lr=1e6), store=tmp_path / "s",
                    progress=lambda ev: seen.append(ev["eval"].metrics["train_loss"]))
    last = seen[-1]
    assert not np.isfinite(last).all()                    # the loss really did blow up
    s = res.summaries[0]
    st = Store(tmp_path / "s")
    m = st.metrics(res.run_ids[0])
    bad_step = int(s["message"].split("step ")[1].split(";")[0])
    assert s["status"] == "diverged" and st.get_run(res.run_ids[0])["status"] == "diverged"
    assert len(m["step"]) >= 1 and m["step"].max() < bad_step < 80
    assert np.isfinite(m["train_loss"]).all()
    assert max(c["step"] for c in st.checkpoints(res.run_ids[0])) < bad_step

    rc = main(["train", *TINY_FLAGS, "--init-std", "1e10", "--store", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 0 and "diverged: non-finite loss at step 0" in err and "Traceback" not in err
    newest = st.list_runs()[0]
    assert newest["status"] == "diverged" and len(st.metrics(newest["run_id"])["step"]) == 0


# ---------------------------------------------------------------------------------------------- safe loading
def test_checkpoint_of_the_wrong_shape_or_corrupt_is_rejected_with_a_clear_message(tmp_path, capsys):
    st = Store(tmp_path / "s")
    (rid,) = train_interrupted(tiny(), st, 40)
    step = st.state_steps(rid)[-1]
    path = st.ckpt_path(rid, step)
    good = path.read_bytes()
    n_metrics = len(st.metrics(rid)["step"])

    wrong = save({"W_in": np.zeros((46, 17), np.float32), "W_out": np.zeros((17, 23), np.float32)})
    path.write_bytes(wrong)
    with pytest.raises(StoreError, match="checksum"):
        api.load_params(rid, store=st)
    import hashlib
    st.conn.execute("UPDATE checkpoints SET sha256 = ? WHERE run_id = ? AND step = ?",
                    (hashlib.sha256(wrong).hexdigest(), rid, step))
    for load in (lambda: api.load_params(rid, store=st), lambda: api.resume(rid, store=st)):
        with pytest.raises(StoreError, match=r"tensor W_in has shape \(46, 17\), its config implies \(46, 16\)"):
            load()
    assert main(["train", "--resume", rid, "--store", str(st.root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "W_in has shape" in err
    assert st.get_run(rid)["status"] == "interrupted" and len(st.metrics(rid)["step"]) == n_metrics

    junk = b"\x00" * 64
    path.write_bytes(junk)
    st.conn.execute("UPDATE checkpoints SET sha256 = ? WHERE run_id = ? AND step = ?",
                    (hashlib.sha256(junk).hexdigest(), rid, step))
    with pytest.raises(StoreError, match="not a valid safetensors file"):
        api.load_params(rid, store=st)

    path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    st.conn.execute("UPDATE checkpoints SET sha256 = ? WHERE run_id = ? AND step = ?",
                    (hashlib.sha256(good).hexdigest(), rid, step))
    with pytest.raises(StoreError, match="does not match its recorded checksum"):
        api.resume(rid, store=st)
    assert st.get_run(rid)["status"] == "interrupted"


# ---------------------------------------------------------------------------------------------- full disk
def test_full_disk_fails_with_one_line_and_the_run_resumes_once_there_is_space(tmp_path, monkeypatch, capsys,
                                                                            baseline):
    real, calls = files.atomic_write_bytes, []

    def fills_up(path, data):
        calls.append(path)
        if len(calls) > 9:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)
    monkeypatch.setattr(files, "atomic_write_bytes", fills_up)
    s = str(tmp_path / "s")
    assert main(["train", *TINY_FLAGS, "--store", s]) == 2
    err = capsys.readouterr().err
    assert err.startswith("groklab: error: store: cannot write to") and err.count("\n") == 1
    assert "the disk is full" in err and "--resume" in err and "Traceback" not in err
    monkeypatch.undo()

    st = Store(s, create=False)
    (run,) = st.list_runs()
    assert run["status"] == "failed" and "disk is full" in run["message"]
    assert main(["runs", "--store", s]) == 0 and main(["check", "--store", s]) == 0
    capsys.readouterr()
    for c in st.checkpoints(run["run_id"]):            # every recorded checkpoint is whole
        read_tensors(st.ckpt_path(run["run_id"], c["step"]), c["sha256"])
    assert main(["train", "--resume", run["run_id"], "--store", s]) == 0    # nothing was lost
    assert_same_metrics(baseline[0], st.metrics(run["run_id"]))


def test_full_disk_in_the_catalog_is_a_store_error_and_rolls_back(tmp_path, monkeypatch, capsys):
    real, calls = catalog.dumps, []

    def full(obj):
        calls.append(1)
        if len(calls) > 12:
            raise sqlite3.OperationalError("database or disk is full")
        return real(obj)
    monkeypatch.setattr(catalog, "dumps", full)
    s = str(tmp_path / "s")
    assert main(["train", *TINY_FLAGS, "--store", s]) == 2
    err = capsys.readouterr().err
    assert "cannot write to" in err and "the disk is full" in err and err.count("\n") == 1
    monkeypatch.undo()
    st = Store(s, create=False)
    assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert main(["check", "--store", s]) == 0


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    try:
        return subprocess.run([*sudo, "mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def groklab_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "groklab.cli", *args]


# Without the right to mount a small tmpfs, the same subprocess runs with a writer that refuses
# every byte past a budget with ENOSPC, as a full disk does.
_FILLING_DISK = """
import errno, sys
from groklab.store import files
real, used = files.atomic_write_bytes, [0]
def write(path, data):
    used[0] += len(data)
    if used[0] > 160_000:
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(path, data)
files.atomic_write_bytes = write
from groklab.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_really_full_disk_fails_cleanly_and_the_store_stays_readable(tmp_path):
    mnt = tmp_path / "mnt"
    mounted = _mount_tmpfs(mnt, "192k")     # the catalog, run.json, metrics.jsonl, lease and a checkpoint fit
    train = [sys.executable, "-m", "groklab.cli"] if mounted else [sys.executable, "-c", _FILLING_DISK]
    try:
        s = str(mnt / "s")
        p = subprocess.run([*train, "train", *TINY_FLAGS, "--steps", "2000", "--ckpt-per-decade", "60",
                            "--store", s], capture_output=True, text=True, timeout=300)
        assert p.returncode == 2, p.stderr
        assert p.stderr.startswith("groklab: error: store: cannot write to") and p.stderr.count("\n") == 1
        assert "disk is full" in p.stderr
        for args in (["runs"], ["check", "--json"]):
            q = subprocess.run(groklab_cmd(*args, "--store", s), capture_output=True, text=True, timeout=120)
            assert q.returncode in (0, 1) and q.stderr == "", q.stderr
        st = Store(s, create=False)
        (run,) = st.list_runs()
        assert run["status"] in ("failed", "interrupted")
        assert st.checkpoints(run["run_id"])
        for c in st.checkpoints(run["run_id"]):          # earlier checkpoints are intact
            read_tensors(st.ckpt_path(run["run_id"], c["step"]), c["sha256"])
        st.close()
    finally:
        if mounted:
            subprocess.run((["sudo", "-n"] if os.geteuid() else []) + ["umount", "-l", str(mnt)], capture_output=True)


# ---------------------------------------------------------------------------------------------- processes
KILL_FLAGS = ["--preset", "gromov2023", "--p", "23", "--d-mlp", "16", "--steps", "1500", "--eval-every", "5",
              "--ckpt-per-decade", "60", "--quiet", "--json"]


def _max_step(db: Path) -> int:
    if not db.exists():
        return -1
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute("SELECT COALESCE(MAX(step), -1) FROM metrics").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return -1


def _stop_after_progress(p: subprocess.Popen, db: Path, past: int, sig: int, delay: float) -> bool:
    """Wait until the process has written a metric row past ``past``, then send ``sig`` after ``delay``.
    Returns whether the signal reached a live process."""
    deadline = time.monotonic() + 240
    while _max_step(db) <= past:
        if p.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    time.sleep(delay)
    if p.poll() is not None:
        return False
    p.send_signal(sig)
    p.wait(timeout=120)
    return True


def test_sigterm_and_three_sigkills_then_resume_match_an_uninterrupted_run(tmp_path):
    base = subprocess.run(groklab_cmd("train", *KILL_FLAGS, "--store", str(tmp_path / "a")),
                          capture_output=True, text=True, timeout=300)
    assert base.returncode == 0, base.stderr
    base_id = json.loads(base.stdout)["runs"][0]["run_id"]
    s = tmp_path / "s"
    db = s / "groklab.db"
    rng = random.Random()
    delays = [rng.uniform(0.0, 0.6) for _ in range(4)]

    p = subprocess.Popen(groklab_cmd("train", *KILL_FLAGS, "--store", str(s)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert _stop_after_progress(p, db, -1, signal.SIGTERM, delays[0]), f"finished before SIGTERM; delays {delays}"
    assert p.returncode == 130, p.stderr.read()
    st = Store(s, create=False)
    (rid,) = [r["run_id"] for r in st.list_runs()]
    status, message = raw_status(st, rid)
    assert status == "interrupted" and "stopped by the user" in message

    kills = 0
    for delay in delays[1:]:
        past = _max_step(db)
        p = subprocess.Popen(groklab_cmd("train", "--resume", rid, "--store", str(s), "--quiet"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not _stop_after_progress(p, db, past, signal.SIGKILL, delay):
            assert p.wait(timeout=120) == 0, p.stderr.read()
            break
        assert p.returncode == -signal.SIGKILL
        if st.get_run(rid)["status"] == "completed":           # the kill landed as the run was exiting
            break
        kills += 1
        assert st.get_run(rid)["status"] == "interrupted"      # its process is gone
        problems, _ = check_store(st)
        assert {x.kind for x in problems} <= {"dead_run", "temp_file", "orphan_file"}, [x.line() for x in problems]
        assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for c in st.checkpoints(rid):                          # every visible checkpoint is complete
            read_tensors(st.ckpt_path(rid, c["step"]), c["sha256"])
    print(f"SIGKILLs that landed mid-run: {kills}; delays {delays}")
    assert kills >= 1, f"no SIGKILL landed during training; delays {delays}"

    if st.get_run(rid)["status"] != "completed":
        p = subprocess.run(groklab_cmd("train", "--resume", rid, "--store", str(s), "--quiet"),
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
    assert st.get_run(rid)["status"] == "completed"
    assert_same_metrics(Store(tmp_path / "a", create=False).metrics(base_id), st.metrics(rid))
    assert main(["check", "--store", str(s), "--repair"]) in (0, 1)
    assert check_store(st)[0] == []


def test_four_train_processes_writing_one_store_all_land(tmp_path):
    s = str(tmp_path / "s")
    procs = [subprocess.Popen(groklab_cmd("train", *TINY_FLAGS, "--steps", "40", "--seed", str(i), "--json",
                                          "--store", s), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e for _, e in outs]
    assert not any("locked" in e for _, e in outs)
    ids = {json.loads(o)["runs"][0]["run_id"] for o, _ in outs}
    st = Store(s, create=False)
    runs = st.list_runs()
    assert {r["run_id"] for r in runs} == ids and len(ids) == 4
    assert {r["status"] for r in runs} == {"completed"} and {r["seed"] for r in runs} == {0, 1, 2, 3}
    expected_steps = len(st.metrics(runs[0]["run_id"])["step"])
    for r in runs:
        assert len(st.metrics(r["run_id"])["step"]) == expected_steps
        assert st.checkpoints(r["run_id"]) and st.state_steps(r["run_id"]) == [40]
    assert check_store(st)[0] == []
