"""The measured cost model: whether a pack trains as one ensemble or as separate one-member runs.

The pack's first point trains alone in a single-threaded worker (and is kept), and the other members'
ensemble is timed for its setup, a few steps and an evaluation, both in CPU seconds, which a shared
machine does not inflate as it does wall time. Batch when the ensemble's CPU seconds per point are at
most the lone run's. Measurements are cached per (shape, cpu count) in ``<store>/sweep-costs.json``."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable

from groklab.config import Config, from_dict
from groklab.errors import ConfigError
from groklab.store import Store
from groklab.store.files import atomic_write_bytes
from groklab.sweep.backends.local import Workers
from groklab.sweep.packing import Pack
from groklab.sweep.record import record_result
from groklab.sweep.timing import time_trainer

COST_FILE = "sweep-costs.json"
# seconds: a separate run (a worker process, recorded when it returns) expected to take longer than this
# trains in process instead, where a kill loses only the steps since its last checkpoint
RESUMABLE_S = 900.0


def measure_cost(store: Store, sweep_id: str | None, pack: Pack, min_time: float = 0.2) -> dict:
    """Time the two ways a chunk can train, as they would run, in CPU seconds.

    Alone: the chunk's first point really trains, by itself, in a single-threaded worker process, and
    is recorded in the store (done, not wasted); its whole run counts (setup, steps, evaluations),
    and separately what starting the worker cost (interpreter, imports, first compile). Ensemble:
    the other members as one ensemble in this process: setup, a few steps and evaluations
    (``time_trainer``). Returns {"members", "clock": "cpu", "ensemble": {...}, "alone_s",
    "startup_s"}.
    """
    from groklab.train.loop import Trainer

    rest = [from_dict(c) for c in pack.configs[1:]]
    ensemble = time_trainer(lambda: Trainer(rest), min_time)
    cfg = rest[0]
    evals = len(range(0, cfg.steps + 1, cfg.eval_every))
    if ensemble["setup_s"] + cfg.steps * ensemble["step_s"] + evals * ensemble["eval_s"] > RESUMABLE_S:
        # too long to train its first point in a worker, whose run is lost if killed: nothing trained
        return {"members": len(rest), "clock": "cpu", "ensemble": ensemble, "long": True}
    before = children_cpu()
    with Workers(1) as pool:
        result = pool.call("warm_train", pack.configs[0])
    worker_s = children_cpu() - before
    record_result(store, sweep_id, pack.points[:1], result)
    return {"members": len(rest), "clock": "cpu", "ensemble": ensemble,
            "alone_s": result["cpu_s"], "startup_s": max(worker_s - result["cpu_s"], 0.0)}


def children_cpu() -> float:
    """CPU seconds of this process's finished (waited-for) children."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def point_seconds(m: dict, cfg: Config, points: int) -> tuple[float, float]:
    """CPU seconds per point of a chunk of ``points`` trained as one ensemble and as separate runs,
    from a measurement: the ensemble's setup, ``steps`` steps and one evaluation every ``eval_every``
    steps, shared by its members; a separate run's measured total, plus the start of one worker per
    core shared by the points. With every core busy either way (the ensemble's threads, or one
    separate run per core), fewer CPU seconds per point is faster."""
    e = m["ensemble"]
    evals = len(range(0, cfg.steps + 1, cfg.eval_every))
    workers = min(points, os.cpu_count() or 1)
    return ((e["setup_s"] + cfg.steps * e["step_s"] + evals * e["eval_s"]) / m["members"],
            m["alone_s"] + m["startup_s"] * workers / points)


def _faster(cost: dict, cfg: Config, points: int) -> str:
    batched, alone = point_seconds(cost, cfg, points)
    return "ensemble" if batched <= alone or alone > RESUMABLE_S else "separate"


def cost_key(cfg: Config) -> str:
    return hashlib.sha256(f"{cfg.shape_key()}|{os.cpu_count()}".encode()).hexdigest()[:16]


def schedule(store: Store, sweep_id: str | None, packs: list[Pack], mode: str = "auto",
             measure: Callable[[Store, str | None, Pack], dict] = measure_cost) -> list[tuple[Pack, str]]:
    """Decide per pack: one ensemble, or one single-member pack per point ('separate').

    ``mode``: ensemble, separate, or auto: batch when the ensemble's ``point_seconds`` is at most a
    separate run's. A chunk of one point is an ensemble of one (nothing to choose). Measurements
    are cached in <store>/sweep-costs.json per (shape key, cpu count); a chunk that had to be
    measured has its first point trained and recorded already, and is returned without it. Subset
    ensembles and GrokTransfer packs (``embed_from``: their weak runs are read from the store, which only
    the in-process trainer has, after the sweep's earlier packs trained them) are always one ensemble.
    """
    if mode not in ("auto", "ensemble", "separate"):
        raise ConfigError(f"pack: must be one of auto, ensemble, separate, got {mode!r}")
    path = store.root / COST_FILE
    out: list[tuple[Pack, str]] = []
    for t in packs:
        m = mode
        if t.configs and (t.configs[0].get("subsets") or t.configs[0].get("canaries")):
            out.append((t, "ensemble"))      # a subset ensemble's members are one group (groklab.tasks.subsets)
            continue
        if t.configs and t.configs[0].get("embed_from"):
            out.append((t, "ensemble"))      # GrokTransfer reads its weak runs from the store: in process, after them
            continue
        if mode == "auto" and len(t.points) > 1:
            cfg = from_dict(t.configs[0])
            try:
                cache = json.loads(path.read_text())
            except (OSError, ValueError):
                cache = {}
            cost = cache.get(cost_key(cfg))
            if not isinstance(cost, dict) or cost.get("clock") != "cpu" or not ("startup_s" in cost or
                                                                                  cost.get("long")):
                cost = measure(store, sweep_id, t)
                cache[cost_key(cfg)] = cost
                atomic_write_bytes(path, json.dumps(cache, indent=1, sort_keys=True).encode())
                if not cost.get("long"):          # a long pack's measurement trained nothing
                    t = Pack(t.points[1:], t.configs[1:])
            # a worker returns its run only when it ends: a long one trains in process, checkpointed as it goes
            m = "ensemble" if cost.get("long") else _faster(cost, cfg, len(t.points))
        if m == "separate" and len(t.points) > 1:
            out += [(Pack([p], [c]), "separate") for p, c in zip(t.points, t.configs)]
        elif t.points:
            out.append((t, "ensemble"))
    return out
