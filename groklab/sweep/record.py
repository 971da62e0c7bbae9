"""A sweep in the store: start or resume it, record a pack's results, adopt runs that finished unrecorded,
find an interrupted ensemble of a pack to resume from its checkpoint."""

from __future__ import annotations

import numpy as np

from groklab.config import from_dict
from groklab.errors import ConfigError
from groklab.store import Store
from groklab.sweep.spec import Plan
from groklab.train.ensemble import Evaluation


def start(store: Store, plan: Plan, resume: bool = False) -> tuple[str, bool]:
    """Create the sweep (every point, pending) or, with ``resume``, find the one of the same name and
    spec. Returns (sweep_id, resumed). A name clash without ``resume`` is a ConfigError."""
    same = [s for s in store.list_sweeps() if s["name"] == plan.name]
    if same:
        match = next((s for s in same if s["spec"].get("spec_hash") == plan.spec["spec_hash"]), None)
        if not resume:
            s = match or same[0]
            raise ConfigError(f"name: a sweep named {plan.name!r} exists ({s['sweep_id']}, {s['n_done']}/"
                              f"{s['n_points']} points done); use --resume to continue it, or rename the sweep")
        if match is None:
            raise ConfigError(f"name: the sweep named {plan.name!r} ({same[0]['sweep_id']}) was made from a "
                              "different spec; rename the sweep to start a new one")
        return match["sweep_id"], True
    return store.create_sweep(plan.name, plan.kind, plan.spec, plan.configs), False


class Replay:
    """A finished ``train_group`` result in the shape ``api.fit`` expects of a trainer, so a remote
    group lands in the store through the same code as a local one."""

    def __init__(self, result: dict):
        self.cfgs = [from_dict(c) for c in result["configs"]]
        self.cfg = self.cfgs[0]
        self.compile_s = float(result["compile_s"])
        self.flops = tuple(result["flops"]) if "flops" in result else (float("nan"), float("nan"))
        self.result = result
        # the worker's wall time at each evaluation (the time to t_gen in its summary); older results have none
        self.walls = {ev[1]: ev[5] for ev in result["events"] if ev[0] == "eval" and len(ev) > 5}

    def fit(self, on_eval, on_checkpoint, state=None, stop=None) -> dict:
        for ev in self.result["events"]:
            if ev[0] == "eval":
                on_eval(Evaluation(ev[1], ev[2], np.asarray(ev[3], bool), np.asarray(ev[4], bool)))
            else:
                on_checkpoint(ev[1], ev[2], ev[3])
            if stop is not None and stop():
                break
        return {"params": self.result["params"]}


def record_result(store: Store, sweep_id: str | None, points: list[int], result: dict) -> list[dict]:
    """Write a ``train_group`` result into the store: runs, metrics, checkpoints, summaries, then mark
    the sweep's points done. Returns the members' summaries."""
    from groklab import api

    run_ids = store.create_runs(result["configs"], hashes=[from_dict(c).hash() for c in result["configs"]],
                                code_version=result["code_version"], machine=result["machine"],
                                sweep_id=sweep_id)
    res = api.fit(Replay(result), store, run_ids, None, wall_before=float(result["wall_s"]))
    if sweep_id is not None:
        store.complete_points(sweep_id, points, run_ids)
    return res.summaries


def adopt_finished(store: Store, sweep_id: str) -> int:
    """Mark pending points done whose run completed but was not recorded (killed between the two
    writes); returns how many. Each run is adopted by at most one point."""
    points = store.sweep_points(sweep_id)
    used = {p["run_id"] for p in points if p["run_id"]}
    free: dict[str, list[str]] = {}
    for r in sorted(store.list_runs(sweep_id=sweep_id), key=lambda r: r["created"]):
        if r["status"] == "completed" and r["run_id"] not in used:
            free.setdefault(r["config_hash"], []).append(r["run_id"])
    pts, ids = [], []
    for p in points:
        if p["status"] != "done":
            rid = (free.get(from_dict(p["config"]).hash()) or [None]).pop(0) if free else None
            if rid:
                pts.append(p["point"])
                ids.append(rid)
    if pts:
        store.complete_points(sweep_id, pts, ids)
    return len(pts)


def resumable_group(store: Store, sweep_id: str, configs: list[dict]) -> str | None:
    """A run of this sweep's interrupted ensemble that trained exactly ``configs`` (the same config hashes in
    member order), no member finished or still running, with a checkpoint every member kept with its optimizer
    state: the group a resumed sweep continues instead of training the pack again from step 0. Of several
    (a sweep interrupted twice before this fix, or resumed by hand), the one with the newest such checkpoint."""
    want = [from_dict(c).hash() for c in configs]
    groups: dict[str, list[dict]] = {}
    for r in store.list_runs(sweep_id=sweep_id):
        groups.setdefault(r["group_id"], []).append(r)
    best, best_step = None, -1
    for gid in groups:
        rows = store.group_runs(gid)
        if [r["config_hash"] for r in rows] != want:
            continue
        if any(r["status"] in ("completed", "diverged", "running") for r in rows):   # a dead pid reads interrupted
            continue
        steps = set.intersection(*({c["step"] for c in store.checkpoints(r["run_id"]) if c["has_state"]}
                                   for r in rows))
        if steps and max(steps) > best_step:
            best, best_step = rows[0]["run_id"], max(steps)
    return best
