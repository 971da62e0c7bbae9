"""The Ray backend: each pack (an ensemble or a single member) is a Ray task running ``train_group``,
which never touches the store; the driver alone records the results as they arrive."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from groklab.errors import ConfigError
from groklab.store import Store
from groklab.sweep.group import ONE_THREAD_XLA, train_group
from groklab.sweep.packing import Pack
from groklab.sweep.progress import Clock
from groklab.sweep.record import record_result


def check_backend(backend: str, address: str | None = None) -> None:
    """Fail fast, before the store is written: a known backend, Ray installed if asked for, and a
    Ray head answering at ``address`` (HOST:PORT, port 1-65535; ``_probe``: a TCP connect and a gRPC
    answer, 5 s each, not Ray's minutes of retries)."""
    if backend not in ("local", "ray"):
        raise ConfigError(f"backend: must be local or ray, got {backend!r}")
    if address is not None and backend != "ray":
        raise ConfigError("address: only used with --backend ray")
    if backend != "ray":
        return
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise ConfigError("backend: ray needs the optional extra groklab[ray] (pip install 'groklab[ray]')")
    if address is None or address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host.strip("[]") or not port.isdigit():
        raise ConfigError(f"address: expected HOST:PORT of a Ray head (or auto), got {address!r}")
    if not 1 <= int(port) <= 65535:
        raise ConfigError(f"address: port {port} is out of range; allowed HOST:PORT with a port in 1-65535 (or auto)")
    _probe(address, host.strip("[]"), int(port))


# A Ray head (its GCS, or a Ray Client server) speaks gRPC: to HTTP/2's client preface and an empty
# SETTINGS frame it answers with a SETTINGS frame at once. A port that accepts and stays silent (or
# answers otherwise) is not a Ray head: ray.init would wait there for minutes.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
PROBE_S = 5.0               # the TCP connect and the gRPC answer, each
CONNECT_S = 20.0            # ray.init(address=...) after a good probe


def _probe(address: str, host: str, port: int) -> None:
    """ConfigError unless something at host:port accepts a TCP connection and answers as gRPC does."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_S) as s:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
                return                      # TLS first: a plaintext preface would not be answered
            s.settimeout(PROBE_S)
            s.sendall(_H2_PREFACE)
            head = s.recv(9)
    except TimeoutError:
        raise ConfigError(f"address: {address} accepts connections but gives no answer within {PROBE_S:g} s; "
                          "it is not a Ray head (start one with `ray start --head` or drop --address)") from None
    except OSError as e:
        raise ConfigError(f"address: no Ray cluster reachable at {address} ({e.strerror or e}); "
                          "start one with `ray start --head` or drop --address") from None
    if len(head) < 9 or head[3] != 0x04:
        raise ConfigError(f"address: {address} answers but not as a Ray head (no gRPC); start one with "
                          "`ray start --head` or drop --address")


def _init_within(ray, seconds: float, **kwargs) -> None:
    """``ray.init(**kwargs)`` on a daemon thread, given up after ``seconds`` (Ray retries for minutes)."""
    import threading

    failed: list[BaseException] = []

    def run() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as e:  # handed to the caller's thread
            failed.append(e)

    t = threading.Thread(target=run, name="groklab-ray-init", daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if failed:
        raise failed[0]


def connect(address: str | None):
    """Join the Ray cluster at ``address``, or start a local instance with one CPU per core."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is None:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # see the local head below
    token = os.environ.get("RAY_AUTH_TOKEN") or Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or
                                                    Path.home() / ".ray" / "auth_token").is_file()
    if address is not None and token and "RAY_AUTH_MODE" not in os.environ:
        # `ray start` turns token authentication on when a token exists, ray.init(address=) does not;
        # Ray reads this when it is imported
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    quiet = {"logging_level": "ERROR", "log_to_driver": False}
    if address is None:
        # a head of our own serves this process alone: its node address is loopback, so every server it
        # starts listens on 127.0.0.1 (Ray reads the variable when it is imported; on Linux it would
        # otherwise take the machine's outward address)
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, _node_ip_address="127.0.0.1", **quiet)
        return ray
    try:
        _init_within(ray, CONNECT_S, address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
        raise ConfigError(f"address: cannot join the Ray cluster at {address} ({str(e).splitlines()[0]}; "
                          f"authentication mode {os.environ.get('RAY_AUTH_MODE', 'disabled')})") from None
    return ray


def run_ray(ray, store: Store, sweep_id: str, packs: list[Pack], clock: Clock) -> None:
    """One Ray task per pack (1 CPU, single-threaded XLA); results recorded as they arrive."""
    remote = ray.remote(num_cpus=1)(train_group).options(runtime_env={"env_vars": {"XLA_FLAGS": ONE_THREAD_XLA}})
    pending = {remote.remote(t.configs): t for t in packs}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                t = pending.pop(ref)
                record_result(store, sweep_id, t.points, ray.get(ref))
                clock.finish(len(t.points))
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
