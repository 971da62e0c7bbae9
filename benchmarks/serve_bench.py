"""`groklab serve` benchmark: endpoint times on a large store, and what serving costs a training run.

    .venv/bin/python benchmarks/serve_bench.py [--runs 200] [--evals 10000] [--quick]

(1) endpoints  200 runs of 10,000 evaluations each (2 million metric rows; 10 of the runs 'running',
               so the table reads their latest evaluation and t_mem / t_gen so far) are written into a
               temporary store with executemany; then, against a `groklab.serve` process, the runs
               table (/api/runs), one run's curve (/api/runs/ID/curve) and the poll (/api/state) are
               timed: the median of repeats. Targets: table < 2 s, curve < 1 s.
(2) training   the same 4-member ensemble trains several times in this process, alternately with and
    slowdown   without a server on its store and a client polling it as the page does (/api/state every
               1.5 s; on a change the runs table and each running run's new evaluations). Its step rate is
               steps / the training wall time the run records (compilation excluded); the median rate with
               over the median without is printed. Target: slowed by < 5 %.

Every timing is printed beside the load average (1, 5, 15 min) at that moment: on a shared machine
another process's load moves both.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVE = ("import sys; from groklab.serve import serve; "
         "serve(sys.argv[1], port=0, on_ready=lambda u: print(u, flush=True))")
POLL_S = 1.5


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


# ---------------------------------------------------------------------------------------------- (1) endpoints
def _metrics_json(i: int, n: int) -> str:
    f = i / n
    return (f'{{"train_acc":{min(1.0, 4 * f):.6f},"test_acc":{f * f:.6f},"train_loss":{2 * (1 - f) + 1e-3:.6f},'
            f'"test_loss":{2.5 * (1 - f * f) + 1e-3:.6f},"mia_auc":{0.5 + 0.3 * f:.6f},"mia_tpr1":{0.1 * f:.6f},'
            f'"weight_norm":{50 - 10 * f:.6f},"collapse_frac":0.0}}')


def write_store(root: Path, n_runs: int, n_evals: int, n_running: int = 10) -> list[str]:
    """A store of n_runs runs with n_evals evaluations each, written fast (executemany, one transaction)."""
    from groklab.config import from_dict
    from groklab.store import Store
    from groklab.store.catalog import dumps

    st = Store(root)
    base = from_dict({"task": "x+y", "p": 97, "model": "mlp", "steps": 10 * n_evals, "eval_every": 10}).to_dict()
    runs, ids = [], []
    t = "2026-12-01T00:00:00+00:00"
    for i in range(n_runs):
        rid = f"r261201-{i:016x}"
        cfg = {**base, "seed": i % 8, "wd": [0.0, 0.3, 1.0, 3.0, 10.0][i % 5], "frac": 0.2 + 0.1 * (i % 7)}
        running = i < n_running
        summary = None if running else {"run_id": rid, "t_mem": 400, "t_gen": 2500 + i, "delay": 2100 + i,
                                        "phase": "grokking", "final": {"train_acc": 1.0, "test_acc": 0.99},
                                        "leakage": {"final_auc": 0.55, "max_auc": 0.8}}
        runs.append((rid, f"g{i // 4}", i % 4, None, f"run {i}", "running" if running else "completed", "x+y",
                     cfg["seed"], dumps(cfg), "h", "bench", "bench", t, t, 10 * (n_evals - 1), 100.0,
                     os.getpid() if running else None, dumps(summary) if summary else None, None))
        ids.append(rid)
    with st._tx() as c:
        c.executemany("INSERT INTO runs (run_id, group_id, member, sweep_id, name, status, task, seed, config_json,"
                      " config_hash, code_version, machine, created, updated, step, wall_s, pid, summary_json,"
                      " message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
        blobs = [_metrics_json(j, n_evals) for j in range(n_evals)]
        for rid in ids:
            c.executemany("INSERT INTO metrics (run_id, step, data_json) VALUES (?,?,?)",
                          ((rid, 10 * j, b) for j, b in enumerate(blobs)))
    st.close()
    return ids


class Server:
    """A `groklab.serve` process on a free port of 127.0.0.1."""

    def __init__(self, root: Path):
        self.p = subprocess.Popen([sys.executable, "-c", SERVE, str(root)], stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        m = re.match(r"http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            self.p.kill()
            raise SystemExit(f"the server did not start: {line!r}")
        self.port = int(m.group(1))

    def stop(self) -> None:
        self.p.terminate()
        self.p.wait(10)


def fetch(conn: http.client.HTTPConnection, path: str) -> tuple[float, bytes]:
    t = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    r = conn.getresponse()
    body = r.read()
    if r.getheader("Content-Encoding") == "gzip":         # as a browser asks for it, and then unpacks it
        body = gzip.decompress(body)
    if r.status != 200:
        raise SystemExit(f"{path}: HTTP {r.status} {body[:200]!r}")
    return time.perf_counter() - t, body


def time_endpoints(port: int, ids: list[str], repeats: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    out = {}
    for name, path in (("state", "/api/state"), ("table", "/api/runs"), ("curve", f"/api/runs/{ids[-1]}/curve"),
                       ("live curve", f"/api/runs/{ids[0]}/curve")):
        fetch(conn, path)                                      # warm: imports, page cache
        out[name] = statistics.median(fetch(conn, path)[0] for _ in range(repeats))
    conn.close()
    return out


def bench_endpoints(n_runs: int, n_evals: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as d:
        root = Path(d) / "store"
        t = time.perf_counter()
        ids = write_store(root, n_runs, n_evals)
        size = (root / "groklab.db").stat().st_size / 2**20
        print(f"(1) wrote {n_runs} runs x {n_evals:,} evaluations ({n_runs * n_evals:,} metric rows, {size:.0f} MiB)"
              f" in {time.perf_counter() - t:.1f} s  [{load()}]")
        server = Server(root)
        try:
            times = time_endpoints(server.port, ids, repeats)
        finally:
            server.stop()
        targets = {"table": 2.0, "curve": 1.0}
        for name, s in times.items():
            goal = targets.get(name)
            mark = "" if goal is None else f"  target < {goal:.0f} s {'✓' if s < goal else '✗'}"
            print(f"    {name:<10} median of {repeats}: {s * 1000:8.1f} ms{mark}   [{load()}]")


# ---------------------------------------------------------------------------------------------- (2) slowdown
def poll(port: int, seconds: float, count: list[int]) -> None:
    """Poll like the page: /api/state every 1.5 s; on a change the runs table and new evaluations
    (``count[0]``: the requests made so far)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    last, since = None, {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        state = json.loads(fetch(conn, "/api/state")[1])
        count[0] += 1
        if state["runs"] != last:
            last = state["runs"]
            rows = json.loads(fetch(conn, "/api/runs")[1])["runs"]
            count[0] += 1
            for r in rows:
                rid, at = r["run_id"], since.get(r["run_id"], -1)
                if r["status"] == "running" and r["step"] > at:
                    c = json.loads(fetch(conn, f"/api/runs/{rid}/curve?since={at}")[1])
                    count[0] += 1
                    if c["curve"]["step"]:
                        since[rid] = c["curve"]["step"][-1]
        time.sleep(POLL_S)
    conn.close()


def _stop(*_):
    raise KeyboardInterrupt


def train_once(root: Path, steps: int, served: bool) -> tuple[float, int]:
    """(steps/s of a 4-member ensemble, requests the poller made) with or without a polling server."""
    from groklab import api
    from groklab.config import from_dict

    cfgs = [from_dict({"task": "x+y", "p": 41, "model": "mlp", "d_mlp": 256, "steps": steps, "eval_every": 10,
                       "frac": 0.5, "seed": s}) for s in range(4)]
    server = poller = None
    if served:
        server = Server(root)
        poller = subprocess.Popen([sys.executable, __file__, "--poll", str(server.port)], stdout=subprocess.PIPE,
                                  text=True)
    try:
        res = api.train(cfgs, store=root)
    finally:
        n = 0
        if poller is not None:
            poller.terminate()
            out, _ = poller.communicate(timeout=30)
            n = int(out.strip() or 0)
        if server is not None:
            server.stop()
    return steps / res.summaries[0]["wall_s"], n


def bench_slowdown(steps: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="serve-bench-train-") as d:
        root = Path(d) / "store"
        train_once(root, 50, served=False)                    # compile cache and store warm
        rates = {False: [], True: []}
        order = [x for r in range(rounds) for x in ((False, True) if r % 2 == 0 else (True, False))]   # ABBA
        for served in order:
            rate, n = train_once(root, steps, served)
            rates[served].append(rate)
            what = f"with the server polled ({n} requests)" if served else "without a server"
            print(f"    4-member ensemble, {steps} steps {what:<38}: {rate:7.1f} steps/s   [{load()}]")
        ratio = statistics.median(rates[True]) / statistics.median(rates[False])
        print(f"(2) step rate with / without the polling server: {ratio:.3f} (slowdown {100 * (1 - ratio):+.1f} %;"
              f" target < 5 % {'✓' if 1 - ratio < 0.05 else '✗'})   [{load()}]")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--evals", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--train-steps", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=2, help="with/without pairs of trainings (ABBA order; 0: none)")
    ap.add_argument("--quick", action="store_true", help="20 runs x 1,000 evaluations, 600 steps, one round")
    ap.add_argument("--poll", type=int, help=argparse.SUPPRESS)      # internal: be the polling client
    args = ap.parse_args(argv)
    if args.poll:
        count = [0]
        signal.signal(signal.SIGTERM, _stop)
        try:
            poll(args.poll, 3600, count)
        except (KeyboardInterrupt, OSError, SystemExit):
            pass
        print(count[0], flush=True)
        return 0
    if args.quick:
        args.runs, args.evals, args.train_steps, args.rounds, args.repeats = 20, 1000, 600, 1, 3
    print(f"groklab serve benchmark on {os.cpu_count()} cores  [{load()}]")
    bench_endpoints(args.runs, args.evals, args.repeats)
    if args.rounds > 0:
        bench_slowdown(args.train_steps, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
