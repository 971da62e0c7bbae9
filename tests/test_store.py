"""The run store on its own (no training): atomic files, safe loading, path safety, crash states,
locking between processes, and `groklab check`."""

from __future__ import annotations

import ast
import errno
import functools
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

import groklab
from groklab.cli import main
from groklab.errors import StoreError
from groklab.store import Store, catalog, files
from groklab.store.check import check_store

CFG = {"task": "x+y", "p": 5, "model": "mlp", "d_mlp": 4, "steps": 10, "seed": 0}
PARAMS = {"W_in": np.arange(12, dtype=np.float32).reshape(3, 4), "W_out": np.ones((4, 2), np.float32)}
STATE = {"opt.0000": np.asarray(np.int32(7)), "opt.0001": np.zeros((3, 4), np.float32)}


@functools.lru_cache(maxsize=1)
def fit_params() -> dict:
    """Parameters of the shapes CFG implies (`groklab check` compares checkpoints with those)."""
    from groklab.api import param_shapes
    from groklab.config import from_dict

    return {k: np.arange(int(np.prod(s)), dtype=np.float32).reshape(s) for k, s in param_shapes(from_dict(CFG)).items()}


def make_store(tmp_path: Path, n_ckpt: int = 3, pid: int | None = None) -> tuple[Store, str]:
    st = Store(tmp_path / "s")
    rid = st.create_runs([CFG], code_version="test", machine="test")[0]
    for step in range(n_ckpt):
        st.save_checkpoint(rid, step, fit_params(), state=STATE)
        st.log_metrics([rid], step, [{"train_loss": 1.0 / (step + 1)}])
    st.finish(rid, "completed", {"run_id": rid}, 1.0)
    if pid is not None:
        st.conn.execute("UPDATE runs SET status = 'running', pid = ? WHERE run_id = ?", (pid, rid))
    return st, rid


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ---------------------------------------------------------------------------------------------- files
def test_checkpoint_is_written_atomically_with_its_checksum(tmp_path):
    st, rid = make_store(tmp_path)
    path = st.ckpt_path(rid, 2)
    ck = st.checkpoints(rid)[-1]
    assert ck["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ck["state_sha256"] == hashlib.sha256(st.state_path(rid, 2).read_bytes()).hexdigest()
    assert not [f for f in path.parent.iterdir() if f.name.endswith(".tmp")]
    step, got = st.load_checkpoint(rid)
    assert step == 2 and np.array_equal(got["W_in"], fit_params()["W_in"])
    assert st.load_state(rid, 2)["opt.0000"].shape == ()      # 0-d leaves keep their shape


def test_a_half_written_temp_file_is_never_listed_as_a_checkpoint(tmp_path):
    st, rid = make_store(tmp_path)
    for kind in ("ckpt", "state"):
        (st.run_dir(rid) / kind / ".000000009.safetensors.k2j3.tmp").write_bytes(save(PARAMS)[:40])
    assert [c["step"] for c in st.checkpoints(rid)] == [0, 1, 2] and st.state_steps(rid) == [0, 1, 2]
    assert st.load_checkpoint(rid)[0] == 2


def test_failed_write_leaves_no_temp_file_and_no_checkpoint(tmp_path, monkeypatch):
    st, rid = make_store(tmp_path)

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(OSError):
        st.save_checkpoint(rid, 5, PARAMS, state=STATE)
    monkeypatch.undo()
    d = st.run_dir(rid)
    assert not list(d.rglob("*.tmp"))
    assert not st.ckpt_path(rid, 5).exists() and 5 not in [c["step"] for c in st.checkpoints(rid)]


def test_state_write_failure_removes_the_params_file_it_followed(tmp_path, monkeypatch):
    st, rid = make_store(tmp_path)
    real = files.write_tensors
    calls = []

    def second_fails(path, tensors, meta):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, tensors, meta)
    monkeypatch.setattr(catalog, "write_tensors", second_fails)
    with pytest.raises(OSError):
        st.save_checkpoint(rid, 7, PARAMS, state=STATE)
    assert not st.ckpt_path(rid, 7).exists()
    assert check_store(st)[0] == []


@pytest.mark.parametrize("mangle, why", [
    (lambda b: b[: len(b) // 2], "not a valid safetensors"),
    (lambda b: b"\x00" * 3, "not a valid safetensors"),
    (lambda b: (10**12).to_bytes(8, "little") + b[8:], "not a valid safetensors"),
    (lambda b: b[:8] + b"[" + b[9:], "not a valid safetensors"),
    (lambda b: b"garbage" * 50, "not a valid safetensors"),
])
def test_corrupt_safetensors_is_a_store_error(tmp_path, mangle, why):
    p = tmp_path / "x.safetensors"
    p.write_bytes(mangle(save(PARAMS)))
    with pytest.raises(StoreError, match=why):
        files.read_tensors(p)


def test_lying_header_offsets_are_rejected(tmp_path):
    blob = save({"a": np.zeros(4, np.float32)})
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    header["a"]["shape"] = [400]
    h = json.dumps(header).encode()
    p = tmp_path / "x.safetensors"
    p.write_bytes(len(h).to_bytes(8, "little") + h + blob[8 + n:])
    with pytest.raises(StoreError, match="wrong size|outside"):
        files.read_tensors(p)


def test_checksum_mismatch_and_missing_file_are_clear(tmp_path):
    st, rid = make_store(tmp_path)
    path = st.ckpt_path(rid, 2)
    path.write_bytes(path.read_bytes()[:-1] + b"\x01")
    with pytest.raises(StoreError, match="checksum"):
        st.load_checkpoint(rid, 2)
    path.unlink()
    with pytest.raises(StoreError, match="file missing"):
        st.load_checkpoint(rid, 2)
    with pytest.raises(StoreError, match="no checkpoint at step 99"):
        st.load_checkpoint(rid, 99)


@pytest.mark.parametrize("tensors, msg", [
    ({"W_in": np.zeros((3, 5), np.float32), "W_out": np.zeros((4, 2), np.float32)}, r"W_in has shape \(3, 5\)"),
    ({"W_in": np.zeros((3, 4), np.float32)}, "lacks W_out"),
    ({**PARAMS, "evil": np.zeros(1, np.float32)}, "not in its config: evil"),
    ({"W_in": np.zeros((3, 4), np.int32), "W_out": np.zeros((4, 2), np.float32)}, "dtype int32"),
])
def test_tensors_that_do_not_fit_the_config_are_rejected(tensors, msg):
    with pytest.raises(StoreError, match=msg):
        files.check_shapes(tensors, {"W_in": (3, 4), "W_out": (4, 2)}, "run r1")


def _unsafe_calls(tree: ast.AST) -> list[str]:
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            bad += [n for n in names if n and n.split(".")[0] in ("pickle", "cPickle", "dill", "cloudpickle",
                                                                  "joblib", "shelve", "marshal")]
        if isinstance(node, ast.Call):
            kw = {k.arg: k.value for k in node.keywords}
            fn = ast.unparse(node.func)
            if "allow_pickle" in kw and not (isinstance(kw["allow_pickle"], ast.Constant)
                                             and kw["allow_pickle"].value is False):
                bad.append(f"{fn}(allow_pickle=...)")
            if fn.endswith("torch.load") or fn == "load" and "map_location" in kw:
                w = kw.get("weights_only")
                if not (isinstance(w, ast.Constant) and w.value is True):
                    bad.append(f"{fn} without weights_only=True")
    return bad


# sweep.py hands (function, arguments) to its own worker children over a pipe with pickle; nothing
# it unpickles comes from a file or from the store. Every other use anywhere in the package fails.
PICKLE_OVER_OWN_PIPES = {"sweep.py": ["pickle", "pickle"]}


def test_nothing_in_the_package_can_unpickle():
    pkg = Path(groklab.__file__).parent
    found = {}
    for f in pkg.rglob("*.py"):
        bad = _unsafe_calls(ast.parse(f.read_text(), str(f)))
        if bad:
            found[str(f.relative_to(pkg))] = bad
    assert {k: v for k, v in found.items() if PICKLE_OVER_OWN_PIPES.get(k) != v} == {}
    assert _unsafe_calls(ast.parse("import pickle\nnp.load(f, allow_pickle=True)\ntorch.load(p)")) == \
        ["pickle", "np.load(allow_pickle=...)", "torch.load without weights_only=True"]


# ---------------------------------------------------------------------------------------------- paths
@pytest.mark.parametrize("bad", ["../x", "..", "/etc/passwd", "a/b", "a\x00b", "", "A1", "x" * 80, "-x", ".x"])
def test_run_ids_cannot_escape_the_store(tmp_path, bad):
    st = Store(tmp_path / "s")
    with pytest.raises(StoreError, match="invalid run id|escapes"):
        st.run_dir(bad)
    with pytest.raises(StoreError):
        st.ckpt_path(bad, 1)
    with pytest.raises(StoreError):
        st.resolve(bad)


def test_store_paths_with_nul_or_pointing_at_a_file_are_refused(tmp_path):
    with pytest.raises(StoreError, match="NUL"):
        Store(str(tmp_path / "a\x00b"))
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        Store(tmp_path / "f")
    with pytest.raises(StoreError, match="no store"):
        Store(tmp_path / "nope", create=False)
    assert not (tmp_path / "nope").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no store"):
        Store(tmp_path / "empty", create=False)
    assert list((tmp_path / "empty").iterdir()) == []


def test_a_catalog_that_is_not_sqlite_is_a_store_error(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "groklab.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable groklab catalog"):
        Store(tmp_path / "s")


def test_old_catalog_gains_the_state_checksum_column(tmp_path):
    (tmp_path / "s").mkdir()
    con = sqlite3.connect(tmp_path / "s" / "groklab.db")
    con.executescript(catalog.SCHEMA.replace("state_sha256 TEXT, ", ""))
    con.close()
    st = Store(tmp_path / "s")
    assert "state_sha256" in {r[1] for r in st.conn.execute("PRAGMA table_info(checkpoints)")}


# ---------------------------------------------------------------------------------------------- crash states
def test_a_running_row_whose_process_is_gone_reads_interrupted(tmp_path):
    st, rid = make_store(tmp_path, pid=dead_pid())
    assert st.get_run(rid)["status"] == "interrupted"
    st.conn.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (os.getpid(), rid))
    assert st.get_run(rid)["status"] == "running"


def test_a_zombie_process_counts_as_gone():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):
            if catalog._alive(p.pid) is False:
                break
            import time
            time.sleep(0.02)
        assert catalog._alive(p.pid) is False      # exited, not yet reaped
    finally:
        p.wait()


def test_drop_state_and_truncate_keep_rows_and_files_in_step(tmp_path):
    st, rid = make_store(tmp_path, n_ckpt=4)
    st.drop_state([rid], keep=2)
    assert st.state_steps(rid) == [2, 3]
    assert sorted(int(f.stem) for f in (st.run_dir(rid) / "state").iterdir()) == [2, 3]
    st.truncate_after(rid, 2)
    assert [c["step"] for c in st.checkpoints(rid)] == [0, 1, 2]
    assert not st.ckpt_path(rid, 3).exists() and not st.state_path(rid, 3).exists()
    assert list(st.metrics(rid)["step"]) == [0, 1, 2]
    assert check_store(st)[0] == []


def test_claim_refuses_a_run_another_live_process_holds(tmp_path):
    st, rid = make_store(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        st.conn.execute("UPDATE runs SET status = 'running', pid = ? WHERE run_id = ?", (holder.pid, rid))
        with pytest.raises(StoreError, match="still running"):
            st.claim([rid], "resumed")
    finally:
        holder.kill()
        holder.wait()
    st.claim([rid], "resumed")
    assert st.get_run(rid)["status"] == "running" and st.get_run(rid)["pid"] == os.getpid()


_WRITER = textwrap.dedent("""
    import sys
    from groklab.store import Store
    st = Store(sys.argv[1])
    cfg = {"task": "x+y", "p": 5, "model": "mlp", "d_mlp": 4, "steps": 10, "seed": int(sys.argv[2])}
    rid = st.create_runs([cfg], code_version="t", machine="t")[0]
    for step in range(60):
        st.log_metrics([rid], step, [{"train_loss": float(step)}])
        if step % 10 == 0:
            st.save_checkpoint(rid, step, {"w": __import__("numpy").ones(3, "float32")})
    st.finish(rid, "completed", {"ok": True}, 1.0)
""")


def test_four_writer_processes_share_one_new_store(tmp_path):
    root = tmp_path / "shared"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(i)], stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errs
    st = Store(root, create=False)
    runs = st.list_runs()
    assert len(runs) == 4 and {r["status"] for r in runs} == {"completed"}
    assert all(len(st.metrics(r["run_id"])["step"]) == 60 and len(st.checkpoints(r["run_id"])) == 6 for r in runs)
    assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------------------------------------- check
def _break_store(st: Store, rid: str) -> None:
    d = st.run_dir(rid)
    st.ckpt_path(rid, 0).unlink()                                    # missing file -> row dropped
    (d / "ckpt" / ".000000001.safetensors.abc.tmp").write_bytes(b"half")   # temp file -> deleted
    (d / "ckpt" / "000000009.safetensors").write_bytes(save(PARAMS))       # file without a row -> deleted
    other = st.root / "runs" / "r000000-orphan" / "ckpt"
    other.mkdir(parents=True)
    (other / "000000001.safetensors").write_bytes(save(PARAMS))           # run not in catalog -> deleted
    st.conn.execute("INSERT INTO metrics VALUES ('rgone', 1, '{}')")       # orphan row -> deleted
    st.conn.execute("INSERT INTO runs (run_id, group_id, member, status, task, seed, config_json, config_hash,"
                    " created, updated, pid) VALUES ('rdead', 'g', 0, 'running', 'x+y', 0, '{}', 'h', 't', 't', ?)",
                    (dead_pid(),))


def test_check_reports_one_line_per_problem_and_repairs_what_is_safe(tmp_path, capsys):
    st, rid = make_store(tmp_path)
    assert main(["check", "--store", str(st.root)]) == 0
    assert "clean" in capsys.readouterr().out
    _break_store(st, rid)
    corrupt = st.ckpt_path(rid, 1)
    corrupt.write_bytes(corrupt.read_bytes() + b"x")                          # sha mismatch -> reported only

    assert main(["check", "--store", str(st.root)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    kinds = {p.kind for p in check_store(st)[0]}
    assert kinds == {"dead_run", "orphan_rows", "missing_checkpoint", "corrupt_checkpoint", "temp_file", "orphan_file"}
    assert len(out) == 8 and "7 problem(s)" in out[-1]         # 7 problems, one line each, and a summary
    assert any("rdead" in line and "process" in line and "gone" in line for line in out)
    assert any("step 1 does not match its recorded sha256" in line for line in out)
    assert corrupt.exists() and st.ckpt_path(rid, 0).exists() is False

    assert main(["check", "--store", str(st.root), "--repair"]) == 1           # the corrupt file remains
    out = capsys.readouterr().out
    assert out.count("repaired:") == 7       # dropping the missing file's row orphans its state file too
    assert st.conn.execute("SELECT status FROM runs WHERE run_id = 'rdead'").fetchone()[0] == "interrupted"
    assert not (st.root / "runs" / "r000000-orphan").exists()
    assert corrupt.exists()

    assert main(["check", "--store", str(st.root), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert not doc["clean"] and [p["kind"] for p in doc["problems"]] == ["corrupt_checkpoint"]
    corrupt.unlink()
    assert main(["check", "--store", str(st.root), "--repair", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clean"]
    assert main(["check", "--store", str(st.root)]) == 0


def test_check_leaves_files_of_a_live_run_alone(tmp_path):
    st, rid = make_store(tmp_path, pid=os.getpid())
    tmp = st.run_dir(rid) / "ckpt" / ".000000005.safetensors.x.tmp"
    tmp.write_bytes(b"in flight")
    problems, counts = check_store(st, repair=True)
    assert problems == [] and counts["running"] == 1 and tmp.exists()


def test_check_of_a_missing_store_is_a_user_error_and_creates_nothing(tmp_path, capsys):
    assert main(["check", "--store", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("groklab: error: store: no store") and err.count("\n") == 1
    assert not (tmp_path / "none").exists()


def test_runs_are_stored_with_their_config_hash(tmp_path):
    """The catalog keeps Config.hash(), which leaves fields added later out while at their default."""
    from groklab.config import resolve

    cfg = resolve("gromov2023", steps=5)
    res = groklab.train(cfg, store=tmp_path)
    assert Store(tmp_path).get_run(res.run_ids[0])["config_hash"] == cfg.hash()
    assert cfg.replace(ckpt_dense=0.5).hash() != cfg.hash()
    assert "ckpt_dense" in cfg.to_dict()
