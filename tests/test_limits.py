"""Limits: allowed values that would exhaust memory or disk are refused (or warned about) before anything
is allocated or written, with the estimate and the largest setting that fits; input files are read only
up to a size; ensembles state their member limit; export paths are checked; names a terminal would act
on are refused at input and escaped on output; a Ray address is checked and joined with a deadline."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from groklab.cli import main
from groklab.config import check_input, check_name, from_dict, invalid_values, resolve
from groklab.errors import ConfigError
from groklab.store import Store
from groklab.train import budget

TINY = ["--preset", "gromov2023", "--p", "23", "--d-mlp", "8", "--steps", "20", "--quiet"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str, float]:
    t0 = time.perf_counter()
    rc = main(argv)
    seconds = time.perf_counter() - t0
    out = capsys.readouterr()
    return rc, out.out, out.err, seconds


def assert_one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert err.startswith("groklab: error: ") and err.count("\n") == 1, err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture(scope="module", autouse=True)
def _warm_jax():
    """Import JAX and the API and trace one model, outside the timed calls: the < 5 s bound is about the
    check, not the imports (a fresh `groklab train --p 2000` process measured 3.4 s on a quiet 2-core VM)."""
    import groklab.api  # noqa: F401

    budget.estimate(resolve(None))


# ---------------------------------------------------------------------------------------------- 1. memory
@pytest.mark.parametrize("flags, needles", [
    (["--p", "2000"], ["p: 2000 needs ≈", "evaluation (logits 4,000,000 rows × 2,000 classes)", "at most p = "]),
    (["--model", "transformer", "--d-model", "65536"],
     ["d_model: 65536 needs ≈", "parameters and optimizer state", "at most d_model = "]),
    (["--preset", "gromov2023", "--p", "1000"], ["p: 1000 needs ≈", "at most p = "]),
], ids=["p-2000", "d-model-65536", "gromov-p-1000"])
def test_allowed_values_that_exhaust_memory_are_refused_at_once_with_the_estimate(tmp_path, capsys, flags, needles):
    rc, _, err, seconds = run_cli(["train", "--store", str(tmp_path / "s"), *flags, "--max-memory", "4G"], capsys)
    assert_one_line_error(rc, err, *needles, "GiB of memory", "fits in the 4.0 GiB given by --max-memory")
    assert seconds < 5, seconds
    assert not (tmp_path / "s").exists()


def test_the_largest_value_suggested_fits_and_the_next_does_not(capsys, tmp_path):
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), "--p", "2000", "--max-memory", "6G"], capsys)
    best = int(re.search(r"at most p = (\d+)", err).group(1))
    cfg = resolve(None, p=2000)
    assert 2 < best < 2000
    assert budget.estimate(cfg.replace(p=best)).total <= 6 * 2**30 < budget.estimate(cfg.replace(p=best + 1)).total


def test_without_max_memory_the_machines_available_memory_is_the_limit(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(budget, "_meminfo_available", lambda: 2 * 2**30)
    monkeypatch.setattr(budget, "_cgroup_room", lambda: None)
    monkeypatch.delenv("GROKLAB_MAX_MEMORY", raising=False)
    assert budget.available_memory() == (int(2 * 2**30 * budget.SAFETY), "available")
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), "--preset", "gromov2023", "--p", "700"], capsys)
    assert_one_line_error(rc, err, "p: 700 needs", "GiB available; or pass --max-memory SIZE")
    assert budget.check_memory(resolve("gromov2023")).total < 2**30     # the recipe itself fits easily


def test_estimate_follows_the_measured_peak_of_a_real_run():
    """Measured peak RSS (2-core VM, /usr/bin/time): gromov2023 at p = 700 3.9 GB and at p = 1000 9.5 GB,
    the default transformer at p = 700 3.3 GB."""
    for cfg, measured in ((resolve("gromov2023", p=700), 3.9e9), (resolve("gromov2023", p=1000), 9.5e9),
                          (resolve(None, p=700), 3.3e9)):
        assert 0.75 * measured < budget.estimate(cfg).total < 1.5 * measured


def test_an_ensemble_too_large_for_memory_names_the_members_that_fit(capsys, tmp_path):
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), "--preset", "gromov2023", "--members", "4096",
                             "--max-memory", "4G"], capsys)
    assert_one_line_error(rc, err, "members: 4096 needs ≈", "× 4,096 members", "at most members = ")


def test_grid_over_memory_writes_no_sweep(capsys, tmp_path):
    rc, _, err, _ = run_cli(["grid", "--store", str(tmp_path / "s"), "--x", "p=23,2000", "--steps", "5", "--quiet",
                             "--max-memory", "8G"], capsys)
    assert_one_line_error(rc, err, "p: 2000 needs ≈")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("size", ["8X", "0", "-1G", "1e400G"])
def test_max_memory_must_be_a_size(capsys, tmp_path, size):
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), *TINY, f"--max-memory={size}"], capsys)
    assert_one_line_error(rc, err, "max-memory:", "such as 8G")
    assert budget.parse_size("8G") == 8 * 2**30 and budget.parse_size("512MiB") == 512 * 2**20


@pytest.mark.parametrize("command", [["train", "--config"], ["sweep"]])
def test_config_and_sweep_files_from_dev_zero_are_refused_at_once(capsys, tmp_path, command):
    rc, _, err, seconds = run_cli([*command, "/dev/zero", "--store", str(tmp_path / "s")], capsys)
    assert_one_line_error(rc, err, "/dev/zero is larger than 1 MiB")
    assert seconds < 5
    assert not (tmp_path / "s").exists()


def test_a_config_file_just_over_the_limit_is_refused_and_one_at_it_is_read(capsys, tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (2**20 - 8) + "\np = 23\n")
    assert big.stat().st_size > 2**20
    rc, _, err, _ = run_cli(["train", "--config", str(big), "--store", str(tmp_path / "s")], capsys)
    assert_one_line_error(rc, err, "larger than 1 MiB")
    ok = tmp_path / "ok.toml"
    ok.write_text("# " + "x" * (2**20 - 20) + "\np = 23\n")
    from groklab.config import load_toml

    assert load_toml(ok) == {"p": 23}


def test_days_of_evaluations_and_gigabytes_of_checkpoints_warn_but_run():
    cfg = resolve(None, steps=10_000_000, eval_every=1, ckpt_per_decade=1000)
    with pytest.warns(budget.BudgetWarning) as seen:
        budget.preflight([cfg])
    text = [str(w.message) for w in seen]
    assert any(m.startswith("eval_every: 1 over 10,000,000 steps") and "days of evaluation" in m for m in text), text
    assert any(m.startswith("ckpt_per_decade: 1,000") and "GiB on disk" in m for m in text), text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        budget.preflight([resolve("nanda2023")])                      # a published recipe: no warning


def test_cost_warnings_reach_the_terminal_as_one_line_each_once_training_starts(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(budget, "WARN_EVAL_S", -1)              # every run "costs hours" of evaluations
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), *TINY, "--lr", "1e300"], capsys)
    lines = err.splitlines()
    assert rc == 0, err
    assert any(ln.startswith("groklab: warning: eval_every: 5 over 20 steps is ") for ln in lines), err
    assert any(ln.startswith("groklab: warning: lr: 1e+300 is beyond float32") for ln in lines), err
    assert all(ln.startswith("groklab: ") for ln in lines), err
    # a user error found after the checks (here by the trainer: more training rows than the task has)
    # still prints its one line alone
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), *TINY, "--n-train", "600"], capsys)
    assert_one_line_error(rc, err, "600")


# ---------------------------------------------------------------------------------------------- 2. limits stated
@pytest.mark.parametrize("flags", [["--seeds", "0-4096"], ["--seeds", "0-5000"], ["--seeds", "0-4000,5000-5100"],
                                   ["--members", "4097"], ["--vary", "lr=" + ",".join(["0.001"] * 4097)]],
                         ids=["seeds-0-4096", "seeds-0-5000", "seeds-two-ranges", "members-4097", "vary-4097"])
def test_a_4097_member_ensemble_is_refused_with_the_limit_stated(capsys, tmp_path, flags):
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), *TINY, *flags], capsys)
    assert_one_line_error(rc, err, "4096")
    assert "0-31" not in err or "at most 4096" in err
    assert not (tmp_path / "s").exists()


def test_the_api_refuses_more_members_than_the_limit(tmp_path):
    from groklab import api

    cfgs = [resolve("gromov2023", p=5, seed=i) for i in range(budget.MEMBER_LIMIT + 1)]
    with pytest.raises(ConfigError, match="4097 members is more than the limit of 4096"):
        api.train(cfgs, store=tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_max_members_of_a_grid_is_bounded(capsys, tmp_path):
    rc, _, err, _ = run_cli(["grid", "--store", str(tmp_path / "s"), "--x", "frac=0.3,0.5", "--max-members", "5000"],
                            capsys)
    assert_one_line_error(rc, err, "max-members: got 5000; allowed an integer in [1, 4096]")


def test_init_scale_has_a_declared_upper_bound(capsys, tmp_path):
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), *TINY, "--init-scale", "1e308"], capsys)
    assert_one_line_error(rc, err, "init_scale: got 1e+308; allowed a number in (0, 1e+06]")
    assert 1e6 + 0.5 in invalid_values("init_scale") and from_dict({"init_scale": 1e6}).init_scale == 1e6


def test_huge_allowed_values_print_no_python_warning(capsys, tmp_path):
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), *TINY, "--lr", "1e300", "--wd", "1e300"],
                            capsys)
    assert rc == 0, err
    assert "Warning:" not in err and ".py:" not in err, err
    assert "groklab: warning: lr: 1e+300 is beyond float32" in err
    assert all(ln.startswith("groklab: ") for ln in err.splitlines()), err


# ---------------------------------------------------------------------------------------------- 3. export paths
@pytest.fixture
def exportable(tmp_path) -> tuple[Path, str]:
    pytest.importorskip("transformer_lens")
    import jax
    import numpy as np

    from groklab.models import build
    from groklab.tasks import build_dataset

    cfg = resolve(None, p=7, d_model=8, n_heads=2, d_mlp=8, steps=1)
    params = {k: np.asarray(v) for k, v in build(cfg, build_dataset(cfg)).init(jax.random.PRNGKey(0)).items()}
    st = Store(tmp_path / "s")
    rid = st.create_runs([cfg.to_dict()], code_version="t", machine="t")[0]
    st.save_checkpoint(rid, 1, params)
    st.close()
    return tmp_path / "s", rid


def _export(store: Path, rid: str, out, *extra: str) -> list[str]:
    return ["export", rid, "--format", "transformer-lens", "--store", str(store), "--out", str(out), *extra]


def test_export_to_a_directory_is_refused(exportable, capsys, tmp_path):
    store, rid = exportable
    for out in (tmp_path, f"{tmp_path}/new/"):
        rc, _, err, _ = run_cli(_export(store, rid, out), capsys)
        assert_one_line_error(rc, err, "out:", "is a directory")
    assert not (tmp_path / "new").exists()


def test_export_to_an_unwritable_path_is_refused(exportable, capsys, tmp_path):
    store, rid = exportable
    for out in ("/proc/x.pt", "/dev/null/x.pt"):
        rc, _, err, _ = run_cli(_export(store, rid, out), capsys)
        assert_one_line_error(rc, err, "out:")


def test_export_creates_no_folder_outside_cwd_or_store_unless_asked(exportable, capsys, tmp_path):
    store, rid = exportable
    far = tmp_path / "far" / "away" / "m.pt"                      # tmp_path: outside the working directory
    rc, _, err, _ = run_cli(_export(store, rid, far), capsys)
    assert_one_line_error(rc, err, "does not exist", "--parents")
    assert not (tmp_path / "far").exists()
    assert run_cli(_export(store, rid, far, "--parents"), capsys)[0] == 0 and far.exists()
    inside = store / "exports" / "m.pt"                           # inside the store: created
    assert run_cli(_export(store, rid, inside), capsys)[0] == 0 and inside.with_suffix(".json").exists()


def test_export_refuses_to_overwrite_without_force(exportable, capsys, tmp_path):
    store, rid = exportable
    out = tmp_path / "m.pt"
    out.write_text("mine")
    rc, _, err, _ = run_cli(_export(store, rid, out), capsys)
    assert_one_line_error(rc, err, f"out: {out} exists; pass --force")
    assert out.read_text() == "mine"
    other = tmp_path / "n.pt"
    other.with_suffix(".json").write_text("unrelated")
    rc, _, err, _ = run_cli(_export(store, rid, other), capsys)
    assert_one_line_error(rc, err, "n.json exists; pass --force")
    assert other.with_suffix(".json").read_text() == "unrelated" and not other.exists()
    assert run_cli(_export(store, rid, out, "--force"), capsys)[0] == 0
    assert out.read_bytes() != b"mine" and not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------------------------------------- 4. control characters
@pytest.mark.parametrize("name", ["a\x1b[31mred", "bell\x07", "back\rover", "nul\x00", "rtl\u202eevil", "new\nline"])
def test_names_with_control_characters_are_refused_at_input(capsys, tmp_path, name):
    rc, _, err, _ = run_cli(["train", "--store", str(tmp_path / "s"), *TINY, "--name", name], capsys)
    assert_one_line_error(rc, err, "name: got", "without ")          # NUL: the stored rule says it first
    assert "control characters" in err or "NUL" in err
    assert not any(c in err for c in "\x1b\x07\r\x00\u202e")
    assert not (tmp_path / "s").exists()
    with pytest.raises(ConfigError, match="control characters|NUL"):
        check_input(from_dict({"name": name}))      # the API's rule (api.train runs it)
    check_name("tab\tis fine")


def test_stored_names_with_control_characters_load_and_print_escaped(capsys, tmp_path):
    st = Store(tmp_path / "s")
    evil = "evil\x1b[2J\x07\r\u202e"
    rid = st.create_runs([{"task": "x+y", "p": 5, "model": "mlp", "seed": 0, "name": evil}], code_version="t",
                         machine="t")[0]
    st.create_sweep(evil, "grid", {"axes": []}, [])
    assert from_dict(st.get_run(rid)["config"]).name == evil      # an older run's config still loads
    st.close()
    for argv in (["runs"], ["show", rid], ["sweeps"]):
        rc, out, err, _ = run_cli([*argv, "--store", str(tmp_path / "s")], capsys)
        assert rc == 0, err
        assert not any(c in out + err for c in "\x1b\x07\r\u202e"), repr(out)
        assert "evil\\x1b[2J\\x07" in out, out


@pytest.mark.parametrize("name", ["a\\u0000b", "x\\u001b[2Jy", ""])
def test_sweep_file_names_with_control_characters_are_refused(capsys, tmp_path, name):
    f = tmp_path / "s.toml"
    f.write_text(f'name = "{name}"\n[grid]\nfrac = [0.3, 0.5]\n')
    rc, _, err, _ = run_cli(["sweep", str(f), "--store", str(tmp_path / "s")], capsys)
    assert_one_line_error(rc, err, "name: got", "without control characters")
    assert not (tmp_path / "s").exists()


def test_invalid_utf8_in_argv_is_one_line_exit_2(tmp_path):
    exe = Path(sys.executable).with_name("groklab")
    cmd = [str(exe), "train", "--store", str(tmp_path / "s"), "--name", b"a\xffb"]
    proc = subprocess.run(cmd, capture_output=True, timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1, err
    assert err.startswith("groklab: error: argument 5:") and "not valid UTF-8" in err and "\\udcff" in err
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------------------------------- 5. Ray address
@pytest.mark.parametrize("address, needle", [("127.0.0.1:99999", "port 99999"), ("127.0.0.1:0", "port 0"),
                                             (":6379", "HOST:PORT"), ("localhost", "HOST:PORT")])
def test_ray_address_must_be_host_and_port_in_range(capsys, tmp_path, address, needle):
    f = tmp_path / "s.toml"
    f.write_text('[grid]\nfrac = [0.3, 0.5]\n')
    rc, _, err, seconds = run_cli(["sweep", str(f), "--backend", "ray", "--address", address, "--store",
                                   str(tmp_path / "s")], capsys)
    assert_one_line_error(rc, err, "address:", needle)
    if "port" in needle:
        assert "1-65535" in err
    assert seconds < 5 and not (tmp_path / "s").exists()


class SilentServer:
    """A loopback TCP port that accepts connections and never says anything."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self.stop = True
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.ray
def test_a_port_that_is_not_a_ray_head_fails_within_30_seconds(capsys, tmp_path):
    server = SilentServer()
    f = tmp_path / "s.toml"
    f.write_text('[grid]\nfrac = [0.3, 0.5]\n[base]\np = 11\nsteps = 5\n')
    address = f"127.0.0.1:{server.port}"
    # in a child process: importing Ray fixes its authentication mode for the whole process, which
    # would leak into later tests that join a real head
    argv = [sys.executable, "-m", "groklab.cli", "sweep", str(f), "--backend", "ray", "--address", address,
            "--quiet", "--store", str(tmp_path / "s")]
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        seconds = time.perf_counter() - t0
    finally:
        server.close()
    rc, err = proc.returncode, proc.stderr
    assert_one_line_error(rc, err, "address:", address, "Ray")
    assert seconds < 30, seconds
    if (tmp_path / "s").exists():
        assert all(s["status"] != "running" for s in Store(tmp_path / "s", create=False).list_sweeps())


@pytest.mark.ray
def test_joining_a_head_that_never_answers_gives_up_and_records_the_sweep_interrupted(tmp_path):
    """The backstop behind the probe: ray.init is given CONNECT_S seconds (here 3) and the sweep,
    already in the store, is recorded 'interrupted', not left 'running'. In a child process: the
    abandoned ray.init thread must not outlive the test."""
    server = SilentServer()
    f = tmp_path / "s.toml"
    f.write_text('[grid]\nfrac = [0.3, 0.5]\n[base]\np = 11\nsteps = 5\n')
    code = ("import sys; from groklab.sweep.backends import ray as rb; rb._probe = lambda *a: None; rb.CONNECT_S = 3; "
            "from groklab.cli import main; sys.exit(main(sys.argv[1:]))")
    argv = ["sweep", str(f), "--backend", "ray", "--address", f"127.0.0.1:{server.port}", "--quiet",
            "--store", str(tmp_path / "s")]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    seconds = time.perf_counter() - t0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("groklab:")]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert f"address: cannot join the Ray cluster at 127.0.0.1:{server.port} (no answer within 3 s" in lines[0]
    assert seconds < 30, seconds
    (sweep,) = Store(tmp_path / "s", create=False).list_sweeps()
    assert sweep["status"] == "interrupted"


@pytest.mark.ray
def test_a_local_ray_head_that_groklab_starts_listens_on_loopback_only():
    """connect(None) starts a head whose GCS address is 127.0.0.1 and which the machine's outward address
    does not reach (in a child process, so the head stops with it)."""
    code = """
import socket
from groklab.sweep.backends.ray import connect
ray = connect(None)
host, port = ray.get_runtime_context().gcs_address.rsplit(":", 1)
from ray._private.services import node_ip_address_from_perspective
outward = node_ip_address_from_perspective()
reachable = None
if not outward.startswith("127."):
    try:
        socket.create_connection((outward, int(port)), timeout=3).close()
        reachable = True
    except OSError:
        reachable = False
print("RESULT", host, outward, reachable)
ray.shutdown()
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    _, host, outward, reachable = line.split()
    assert host == "127.0.0.1", line
    assert reachable in ("False", "None"), line
