"""The Ray backend: a sweep run on a real local Ray head gives the local backend's results."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from groklab.cli import main

# not imported here: Ray reads its authentication mode when first imported, by the code under test
pytestmark = [pytest.mark.ray,
              pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs groklab[ray]")]

SWEEP = """name = "ray-vs-local"
preset = "gromov2023"
budget = 60
seeds = [0, 1]
[base]
p = 23
d_mlp = 48
init_std = "none"
eval_every = 10
[grid]
frac = [0.3, 0.55, 0.8]
wd = [0.0, 5.0]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A Ray head on loopback with 2 CPUs, stopped (forcefully) after the module's tests."""
    ray_bin = Path(sys.executable).with_name("ray")
    ray = str(ray_bin) if ray_bin.exists() else shutil.which("ray")
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    tmp = tmp_path_factory.mktemp("ray")
    subprocess.run([ray, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                    "--include-dashboard=false", "--object-store-memory=100000000", "--disable-usage-stats",
                    f"--temp-dir={tmp}"], check=True, env=env, capture_output=True, timeout=180)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)


def _run(args: list[str], capsys) -> dict:
    had = "RAY_AUTH_MODE" in os.environ
    try:
        assert main(args) == 0
    finally:
        if not had:       # joining a cluster may turn on token authentication for this process
            os.environ.pop("RAY_AUTH_MODE", None)
    return json.loads(capsys.readouterr().out)


def test_a_sweep_on_a_ray_cluster_matches_the_local_backend(ray_head, tmp_path, capsys):
    f = tmp_path / "sweep.toml"
    f.write_text(SWEEP)
    # 12 points in 3 tasks of 4: the driver alone writes the store as each task's result arrives
    common = ["sweep", str(f), "--pack", "ensemble", "--max-members", "4", "--quiet", "--json"]
    remote = _run([*common, "--backend", "ray", "--address", ray_head, "--store", str(tmp_path / "ray")], capsys)
    local = _run([*common, "--store", str(tmp_path / "local")], capsys)
    assert len(remote["points"]) == len(local["points"]) == 12
    for r, lo in zip(remote["points"], local["points"]):
        assert r["status"] == lo["status"] == "done" and r["coords"] == lo["coords"] and r["seed"] == lo["seed"]
        assert r["test_acc"] == pytest.approx(lo["test_acc"], abs=0.02)
        assert r["train_acc"] == pytest.approx(lo["train_acc"], abs=0.02)
        for k in ("t_mem", "t_gen"):
            assert (r[k] is None) == (lo[k] is None) and abs((r[k] or 0) - (lo[k] or 0)) <= 10
    from groklab.store import Store

    st = Store(tmp_path / "ray")
    runs = st.list_runs()
    assert len(runs) == 12 and all(r["status"] == "completed" for r in runs)
    assert all(st.checkpoints(r["run_id"]) and len(st.metrics(r["run_id"])["step"]) > 5 for r in runs)


def test_an_unreachable_cluster_is_a_one_line_error(tmp_path, capsys):
    f = tmp_path / "sweep.toml"
    f.write_text(SWEEP)
    port = _free_port()
    assert main(["sweep", str(f), "--backend", "ray", "--address", f"127.0.0.1:{port}",
                 "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no Ray cluster reachable" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s").exists()
