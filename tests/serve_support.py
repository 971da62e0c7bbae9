"""Shared by the `groklab serve` tests: synthetic stores written through the Store API (no training),
a server in a thread of this process or as a `groklab serve` process, and raw HTTP requests."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from groklab.config import from_dict
from groklab.store import Store

EVIL = '<img src=x onerror="window.__pwned=1;alert(1)"><script>window.__pwned=2</script>'
BASE = {"task": "x+y", "p": 11, "model": "mlp", "steps": 400, "eval_every": 20, "frac": 0.5}


def curve_rows(n: int, shift: float = 0.0, mem: int = 60, gen: int | None = 200) -> list[tuple[int, dict]]:
    """n evaluations of a run that memorizes near ``mem`` and generalizes near ``gen`` (None: never)."""
    rows = []
    for i in range(n):
        step = 20 * i
        train = min(1.0, step / mem) if mem else 0.0
        test = 0.0 if gen is None else 1 / (1 + math.exp(-(step - gen) / 15.0))
        rows.append((step, {"train_acc": min(1.0, train + shift), "test_acc": test, "train_loss": 2.0 * (1 - train)
                            + 1e-3, "test_loss": 2.5 * (1 - test) + 1e-3, "mia_auc": 0.5 + 0.4 * train - 0.3 * test,
                            "mia_tpr1": 0.1 * train, "weight_norm": 50.0 - 10 * test}))
    return rows


def summary_of(rid: str, rows: list[tuple[int, dict]], mem: int | None, gen: int | None, phase: str) -> dict:
    last = rows[-1][1]
    return {"run_id": rid, "steps": rows[-1][0], "t_mem": mem, "t_gen": gen,
            "delay": gen - mem if mem is not None and gen is not None else None, "phase": phase,
            "final": {k: last[k] for k in ("train_acc", "test_acc", "train_loss", "test_loss")},
            "leakage": {"final_auc": last["mia_auc"], "max_auc": 0.9, "step_max_auc": mem, "final_tpr1": 0.1}}


def add_run(st: Store, cfg: dict, n: int = 21, *, finish: bool = True, sweep_id: str | None = None,
            group_id: str | None = None, shift: float = 0.0, gen: int | None = 200, phase: str = "grokking") -> str:
    """A run written through the Store API: its config, ``n`` evaluations and (``finish``) its summary."""
    (rid,) = st.create_runs([from_dict({**BASE, **cfg}).to_dict()], code_version="test", machine="test",
                            sweep_id=sweep_id, group_id=group_id)
    rows = curve_rows(n, shift, gen=gen)
    for step, m in rows:
        st.log_metrics([rid], step, [m], wall_s=0.01 * step)
    if finish:
        st.finish(rid, "completed", summary_of(rid, rows, 60, gen, phase), 0.01 * rows[-1][0])
    return rid


def make_store(root: Path) -> dict:
    """A store with three seeds of one config (one ensemble), a run named EVIL, one with an EVIL preset
    string, a run still 'running' (this process's pid) with no summary, and a 2 x 2 grid half done."""
    st = Store(root)
    group = "g-seeds"
    seeds = [add_run(st, {"seed": s, "name": f"seed{s}"}, group_id=group, shift=0.05 * s, gen=200 + 40 * s)
             for s in range(3)]
    evil = add_run(st, {"name": EVIL, "wd": 0.3})
    evil_cfg = add_run(st, {"preset": EVIL, "wd": 0.1, "seed": 7})
    live = add_run(st, {"wd": 2.0, "seed": 9, "name": "live one"}, n=8, finish=False)
    pts = [from_dict({**BASE, "frac": f, "wd": w}).to_dict() for f in (0.3, 0.6) for w in (0.0, 1.0)]
    sid = st.create_sweep("grid", "grid", {"axes": [{"field": "frac", "values": [0.3, 0.6]},
                                                    {"field": "wd", "values": [0.0, 1.0]}]}, pts)
    done = [add_run(st, p, sweep_id=sid, gen=g, phase=ph) for p, g, ph in ((pts[0], None, "memorization"),
                                                                          (pts[1], 200, "grokking"))]
    st.complete_points(sid, [0, 1], done)
    st.close()
    return {"root": root, "seeds": seeds, "evil": evil, "evil_cfg": evil_cfg, "live": live, "sweep": sid,
            "points": pts, "group": group}


# ---------------------------------------------------------------------------------------------- servers
@contextlib.contextmanager
def thread_server(root: Path):
    """``groklab.serve`` on a free 127.0.0.1 port in a thread of this process; yields its base URL."""
    import uvicorn

    from groklab.serve.app import make_app
    from groklab.serve.server import bind, url_of

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(make_app(root), http="h11", ws="none", lifespan="off",
                                           log_level="critical", access_log=False))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield url_of(sock).rstrip("/")
    finally:
        server.should_exit = True
        t.join(10)
        sock.close()


SERVE = ("import sys; from groklab.serve import serve; "
         "serve(sys.argv[1], port=0, on_ready=lambda u: print(u, flush=True))")


@contextlib.contextmanager
def process_server(root: Path, cli: bool = False):
    """The server as a process of its own, on a free port: `groklab serve --store ROOT --port 0` (``cli``) or
    ``groklab.serve.serve`` itself; yields (base URL, Popen)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = ["-m", "groklab.cli", "serve", "--store", str(root), "--port", "0"] if cli else ["-c", SERVE, str(root)]
    p = subprocess.Popen([sys.executable, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = p.stdout.readline()
        m = re.search(r"(http://\S+?)/?\s", line + " ")
        if not m:
            p.wait(10)
        assert m, (line, p.stderr.read())
        yield m.group(1).rstrip("/"), p
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()


def raw(base: str, request: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send ``request`` as is (no client normalizes its path) and return (status, whole response)."""
    host, port = base.removeprefix("http://").split(":")
    data = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):   # the server stopped reading (a request too large)
            pass
        while True:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return (int(m.group(1)) if m else 0), data


def get(base: str, path: str, method: str = "GET", host: str | None = None) -> tuple[int, bytes]:
    h = host or base.removeprefix("http://")
    return raw(base, f"{method} {path} HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n".encode("latin-1"))


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under root: (kind, size, mtime_ns, sha256) — compared before and after."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = Path(dirpath) / d
            out[str(p.relative_to(root))] = ("dir", p.stat().st_mtime_ns)
        for f in filenames:
            p = Path(dirpath) / f
            st = p.lstat()
            out[str(p.relative_to(root))] = ("file", st.st_size, st.st_mtime_ns,
                                             hashlib.sha256(p.read_bytes()).hexdigest())
    return out
