"""Running a sweep: train every point not done yet, on the local or the Ray backend."""

from __future__ import annotations

from groklab.errors import ConfigError
from groklab.store import Store
from groklab.store.lease import leased
from groklab.sweep.backends.local import run_local
from groklab.sweep.backends.ray import check_backend, connect, run_ray
from groklab.sweep.cost import schedule
from groklab.sweep.packing import MAX_MEMBERS, pack
from groklab.sweep.progress import Clock, SweepProgressFn
from groklab.sweep.record import adopt_finished


@leased("sweep")     # held while it runs: a second `--resume` of the sweep meanwhile is refused, naming this pid
def run_sweep(store: Store, sweep_id: str, *, backend: str = "local", address: str | None = None,
              pack_mode: str = "auto", max_members: int = MAX_MEMBERS,
              progress: SweepProgressFn | None = None) -> dict:
    """Train every point of a sweep that is not done yet; points are recorded as their group finishes.

    Returns {"trained": points trained now, "tasks": [(n members, mode)...]}. The sweep's status ends
    'completed', or 'interrupted' / 'failed' if training stopped (its done points stay done).
    """
    check_backend(backend, address)
    adopt_finished(store, sweep_id)
    points = store.sweep_points(sweep_id)
    todo = [(p["point"], p["config"]) for p in points if p["status"] != "done"]
    clock = Clock(len(points) - len(todo), len(points), progress)
    if not todo:
        store.set_sweep_status(sweep_id, "completed")
        return {"trained": 0, "tasks": []}
    try:
        ray = connect(address) if backend == "ray" else None   # fail fast, before measuring or training
    except ConfigError:
        store.set_sweep_status(sweep_id, "interrupted")         # not left 'running' by a head that never answered
        raise
    store.set_sweep_status(sweep_id, "running")
    try:
        packs = schedule(store, sweep_id, pack(todo, max_members), pack_mode)
        clock.finish(len(todo) - sum(len(t.points) for t, _ in packs))     # points trained to measure costs
        if ray is not None:
            run_ray(ray, store, sweep_id, [t for t, _ in packs], clock)
        else:
            run_local(store, sweep_id, packs, clock)
    except KeyboardInterrupt:
        store.set_sweep_status(sweep_id, "interrupted")
        raise
    except BaseException:
        store.set_sweep_status(sweep_id, "failed")
        raise
    finally:
        if ray is not None:
            ray.shutdown()
    store.set_sweep_status(sweep_id, "completed")
    return {"trained": len(todo), "tasks": [(len(t.points), m) for t, m in packs]}
