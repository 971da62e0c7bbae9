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
    Ray head listening at ``address`` (a 3-second TCP connect, not Ray's minute of retries)."""
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
    if not host or not port.isdigit():
        raise ConfigError(f"address: expected HOST:PORT of a Ray head (or auto), got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=3).close()
    except OSError as e:
        raise ConfigError(f"address: no Ray cluster reachable at {address} ({e.strerror or e}); "
                          "start one with `ray start --head` or drop --address") from None


def connect(address: str | None):
    """Join the Ray cluster at ``address``, or start a local instance with one CPU per core."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    token = os.environ.get("RAY_AUTH_TOKEN") or Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or
                                                    Path.home() / ".ray" / "auth_token").is_file()
    if address is not None and token and "RAY_AUTH_MODE" not in os.environ:
        # `ray start` turns token authentication on when a token exists, ray.init(address=) does not;
        # Ray reads this when it is imported
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    quiet = {"logging_level": "ERROR", "log_to_driver": False}
    if address is None:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
        return ray
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:
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
