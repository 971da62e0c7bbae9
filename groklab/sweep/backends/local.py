"""The local backend: ensembles train in this process through ``api.train`` (every core); separate
members train in a pool of single-threaded worker processes (``python -m groklab.sweep``) that talk
over their pipes in a JSON header plus raw array bytes (``send``/``recv``: nothing is ever unpickled)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from groklab.config import from_dict
from groklab.errors import ConfigError
from groklab.store import Store
from groklab.sweep.group import ONE_THREAD_XLA, train_group, warm_train
from groklab.sweep.packing import Pack
from groklab.sweep.progress import Clock
from groklab.sweep.record import record_result, resumable_group

# what a worker process may be asked to run, by name
WORKER_FUNCTIONS = {"train_group": train_group, "warm_train": warm_train}


class Workers:
    """Single-threaded worker processes (``python -m groklab.sweep``) that run ``WORKER_FUNCTIONS``
    by name: arguments and results travel over the worker's pipes as JSON plus raw array bytes
    (``send``/``recv``: nothing is ever unpickled). Unlike multiprocessing's spawn, nothing re-imports the caller's
    main script. ``call`` may be used from several threads: each call takes an idle worker."""

    def __init__(self, n: int):
        import queue
        import subprocess
        import sys

        env = {**os.environ, "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " " + ONE_THREAD_XLA).strip()}
        self.procs = [subprocess.Popen([sys.executable, "-m", "groklab.sweep"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, env=env) for _ in range(n)]
        self.idle: queue.Queue = queue.Queue()
        for p in self.procs:
            self.idle.put(p)

    def call(self, fn: str, *args: Any) -> Any:
        p = self.idle.get()
        try:
            send(p.stdin, [fn, list(args)])
            ok, value = recv(p.stdout)
        except (EOFError, BrokenPipeError, ValueError):
            raise RuntimeError(f"sweep worker process {p.pid} died (exit code {p.poll()})") from None
        self.idle.put(p)
        if not ok:
            raise ConfigError(value["message"]) if value["type"] == "ConfigError" else \
                RuntimeError(f"sweep worker: {value['type']}: {value['message']}")
        return value

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            try:
                p.stdin.close()
            except OSError:
                pass
            if exc[0] is not None:
                p.kill()
        for p in self.procs:
            p.wait()


def send(stream, obj: Any) -> None:
    """One message on a pipe, without pickle: a JSON header (the structure, each numpy array replaced
    by {"__nd__": i, dtype, shape}) followed by the arrays' raw bytes."""
    arrays: list[np.ndarray] = []

    def enc(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            a = np.ascontiguousarray(x)
            arrays.append(a)
            return {"__nd__": len(arrays) - 1, "dtype": a.dtype.str, "shape": list(a.shape)}
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, dict):
            return {str(k): enc(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [enc(v) for v in x]
        return x

    head = json.dumps(enc(obj)).encode()
    stream.write(len(head).to_bytes(8, "little") + head)
    for a in arrays:
        stream.write(a.tobytes())
    stream.flush()


def recv(stream) -> Any:
    """The message ``send`` wrote (EOFError at the end of the pipe)."""
    def read(n: int) -> bytes:
        b = stream.read(n)
        if len(b) < n:
            raise EOFError
        return b

    head = json.loads(read(int.from_bytes(read(8), "little")))
    arrays: list = []

    def walk(x: Any, visit) -> Any:
        if isinstance(x, dict) and "__nd__" in x:
            return visit(x)
        if isinstance(x, dict):
            return {k: walk(v, visit) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v, visit) for v in x]
        return x

    def load(d: dict) -> np.ndarray:
        dt, shape = np.dtype(d["dtype"]), tuple(d["shape"])
        a = np.frombuffer(read(dt.itemsize * int(np.prod(shape, dtype=np.int64))), dt).reshape(shape).copy()
        arrays.append(a)
        return a

    return walk(head, load)     # arrays are read in the order send wrote them (depth-first)


def serve() -> None:
    """The worker loop of ``Workers``: read [function name, args], answer [ok, result or the error's
    type and message]."""
    import sys

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr       # a stray print must not corrupt the answers
    while True:
        try:
            fn, args = recv(inp)
        except EOFError:
            return
        try:
            answer = [True, WORKER_FUNCTIONS[fn](*args)]
        except Exception as e:  # handed to the caller, who raises it
            answer = [False, {"type": type(e).__name__, "message": str(e)}]
        send(out, answer)


def run_local(store: Store, sweep_id: str, packs: list[tuple[Pack, str]], clock: Clock) -> None:
    from groklab import api

    separate = [t for t, m in packs if m == "separate"]
    if separate:   # one single-threaded worker process per core
        from concurrent.futures import ThreadPoolExecutor, as_completed

        n = min(len(separate), os.cpu_count() or 1)
        with ThreadPoolExecutor(n) as ex, Workers(n) as pool:   # workers close (or die) first
            futures = {ex.submit(pool.call, "train_group", t.configs): t for t in separate}
            try:
                for f in as_completed(futures):
                    t = futures[f]
                    record_result(store, sweep_id, t.points, f.result())
                    clock.finish(len(t.points))
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    for t in (t for t, m in packs if m == "ensemble"):
        n = len(t.points)

        def on_step(ev: dict, n: int = n) -> None:
            clock.partial = n * ev["step"] / max(ev["steps"], 1)
            clock.report(step=ev["step"], steps=ev["steps"], members=n)

        # an ensemble of this pack interrupted earlier continues from its newest checkpoint (bit for bit on CPU)
        rid = resumable_group(store, sweep_id, t.configs)
        res = api.resume(rid, store=store, progress=on_step) if rid else \
            api.train([from_dict(c) for c in t.configs], store=store, sweep_id=sweep_id, progress=on_step)
        store.complete_points(sweep_id, t.points, res.run_ids)
        clock.finish(n)
