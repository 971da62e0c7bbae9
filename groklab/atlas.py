"""Atlases larger than one ensemble: a subset ensemble's K members (``subsets = K``) split into
ceil(K / M) ensembles of at most M members, trained on the sweep backends (this process, or Ray)
and read back as one group.

    >>> import groklab, groklab.atlas
    >>> cfg = groklab.resolve("gromov2023", p=31, subsets=64)
    >>> res = groklab.atlas.train_atlas(cfg, ensemble_size=16, backend="local")
    >>> res.group_id          # the atlas id: `groklab memorization ID` reads all 64 members

The atlas is a sweep of kind ``atlas`` (``store.examples.ATLAS``) whose id, a group-like ``g…`` id,
is the atlas id: its K points are the member configs, written before anything trains; the sweep
packs them by pool into balanced chunks of at most M (``sweep.packing``) and records each ensemble
as a group of its own, with its own per-example arrays. Every member's run.json names the sweep, so
the atlas survives a catalog rebuilt from the run folders; ``analysis.memorization`` merges the
ensembles along the member axis in subset order. ``resume_atlas`` continues interrupted ensembles
from their checkpoints and trains the ones never started; finished ensembles are left alone. The
plan is kept in ``<store>/atlases/<atlas id>.json`` too: a resume after the catalog was rebuilt from
the run folders recreates the sweep from it.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from groklab.config import Config, from_dict
from groklab.errors import ConfigError, StoreError
from groklab.store import Store
from groklab.store.common import write_error
from groklab.store.examples import ATLAS, FINISHED
from groklab.store.files import atomic_write_bytes


def ensemble_sizes(k: int, m: int) -> list[int]:
    """The sizes of the ceil(k / m) ensembles that ``sweep.packing.pack`` cuts k members into."""
    n = math.ceil(k / m)
    return [len(c) for c in np.array_split(np.arange(k), n)]


def check_split(cfgs: list[Config], m: int | None, backend: str = "local", address: str | None = None) -> int:
    """The ensemble size M of a subset ensemble's members ``cfgs`` (None: all in one), validated: an
    integer in [1, K], within the member limit, and (on this machine) ensembles of that size fit the
    memory estimate of ``train.budget``; on a local Ray instance one ensemble trains per core at once."""
    from groklab.config import check_input
    from groklab.train.budget import check_members, check_memory
    from groklab.train.footprint import estimate_rows

    k = len(cfgs)
    if not cfgs or not cfgs[0].subsets:
        raise ConfigError("ensemble-size: only with --subsets K (the members of a subset ensemble, split into "
                          "ensembles of this size)")
    m = k if m is None else m
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= k:
        raise ConfigError(f"ensemble-size: got {m!r}; allowed an integer in [1, {k}] (subsets = {k} members, "
                          "trained in ceil(K / M) ensembles)")
    for c in cfgs:
        check_input(c)
    size = max(ensemble_sizes(k, m))
    check_members(size, "ensemble-size")
    at_once = min(len(ensemble_sizes(k, m)), os.cpu_count() or 1) if backend == "ray" and address is None else 1
    rows = max(estimate_rows(c) for c in cfgs)
    try:
        check_memory(cfgs[0], size * at_once, rows, members_flag="ensemble-size")
    except ConfigError as e:
        if at_once == 1:
            raise
        raise ConfigError(f"ensemble-size: {at_once} ensembles of {size} train at once on the local Ray instance "
                          f"(one per core) and together do not fit: {e}") from None
    return m


def train_atlas(config, *, ensemble_size: int | None = None, store: str | Path | Store | None = None,
                backend: str = "local", address: str | None = None, progress=None):
    """Train a subset ensemble in ensembles of at most ``ensemble_size`` members on ``backend``
    (``local``: one after another in this process; ``ray``: one Ray task each, at ``address`` or on a
    local instance). Returns an ``api.TrainResult`` whose ``group_id`` is the atlas id and whose
    members are in subset order 0..K-1. ``progress`` gets the sweep's progress events."""
    from groklab.api import _as_configs
    from groklab.store.common import new_id
    from groklab.sweep import check_backend, run_sweep
    from groklab.train.subsets import expand_subsets

    cfgs = expand_subsets(_as_configs(config))
    m = check_split(cfgs, ensemble_size, backend, address)
    check_backend(backend, address)
    st = store if isinstance(store, Store) else Store(store)
    atlas_id = new_id("g")
    spec = {"atlas": {"members": len(cfgs), "ensemble_size": m, "ensembles": len(ensemble_sizes(len(cfgs), m))},
            "spec_hash": cfgs[0].hash()}
    plan = {"atlas_id": atlas_id, "name": f"atlas: {len(cfgs)} members in ensembles of {m}", "spec": spec,
            "configs": [c.to_dict() for c in cfgs]}
    try:
        atomic_write_bytes(st.atlas_plan_path(atlas_id), json.dumps(plan).encode())
    except OSError as e:
        raise write_error(st.root, e) from None
    st.create_sweep(plan["name"], ATLAS, spec, plan["configs"], sweep_id=atlas_id)
    try:
        run_sweep(st, atlas_id, backend=backend, address=address, pack_mode="ensemble", max_members=m,
                  progress=progress)
    except KeyboardInterrupt:
        print(f"groklab: atlas {atlas_id} stopped; finish it with `groklab train --resume {atlas_id}`",
              file=sys.stderr)
        raise
    return atlas_result(st, atlas_id)


def resume_atlas(ref: str, *, store: str | Path | Store | None = None, backend: str = "local",
                 address: str | None = None, progress=None):
    """Finish an atlas (``ref``: its id, one of its ensembles' groups or any member run): ensembles
    stopped part-way continue from their newest checkpoint (``api.resume``), ensembles never started
    train on ``backend``; finished ones are not touched."""
    from groklab import api
    from groklab.sweep import check_backend, run_sweep

    check_backend(backend, address)
    st = store if isinstance(store, Store) else Store(store, create=False)
    atlas_id = st.atlas_of(ref)
    if atlas_id is None:
        raise StoreError(f"resume: {ref!r} is no atlas split into ensembles")
    if not st.is_sweep(atlas_id):
        _restore_plan(st, atlas_id)
    sw = st.get_sweep(atlas_id)
    with st.lease("sweep", atlas_id, what=f"atlas {atlas_id}"):
        points = st.sweep_points(atlas_id)
        pending = {from_dict(p["config"]).hash(): p["point"] for p in points if p["status"] != "done"}
        groups: dict[str, list[dict]] = {}
        for r in st.list_runs(sweep_id=atlas_id):
            if r["config_hash"] in pending:
                groups.setdefault(r["group_id"], []).append(r)
        for rs in sorted(groups.values(), key=lambda rs: min(r["created"] for r in rs)):
            if not all(r["status"] in FINISHED for r in rs):
                try:
                    api.resume(rs[0]["run_id"], store=st)
                except StoreError as e:
                    if "no complete checkpoint" not in str(e):
                        raise
                    continue              # stopped before its first checkpoint: trained again below
            rs = st.group_runs(rs[0]["group_id"])
            mine = [(pending.pop(r["config_hash"]), r["run_id"]) for r in rs if r["config_hash"] in pending]
            if mine:
                st.complete_points(atlas_id, [p for p, _ in mine], [r for _, r in mine])
        run_sweep(st, atlas_id, backend=backend, address=address, pack_mode="ensemble",
                  max_members=int(sw["spec"]["atlas"]["ensemble_size"]), progress=progress)
    return atlas_result(st, atlas_id)


def _restore_plan(st: Store, atlas_id: str) -> None:
    """Recreate an atlas's sweep (every point pending) from its plan file, after the catalog lost it;
    the resume then adopts the ensembles its runs hold."""
    try:
        plan = json.loads(st.atlas_plan_path(atlas_id).read_text())
    except (OSError, ValueError):
        raise StoreError(f"resume: the catalog has lost atlas {atlas_id} and its plan file "
                         f"{st.atlas_plan_path(atlas_id)} cannot be read; its finished ensembles can still be "
                         "read") from None
    st.create_sweep(plan["name"], ATLAS, plan["spec"], plan["configs"], sweep_id=atlas_id)


def atlas_result(st: Store, atlas_id: str):
    """The ``api.TrainResult`` of a finished atlas: its members in subset order, their summaries and
    final parameters (each run's newest checkpoint)."""
    from groklab.api import TrainResult
    from groklab.train.ensemble import Stacked

    points = st.sweep_points(atlas_id)
    missing = [p["point"] for p in points if p["status"] != "done"]
    if missing:
        raise StoreError(f"atlas {atlas_id}: {len(missing)} of {len(points)} members not trained; "
                         f"finish it with `groklab train --resume {atlas_id}`")
    rows = sorted((st.get_run(p["run_id"]) for p in points), key=lambda r: int(r["config"].get("subset", 0)))
    params = [st.load_checkpoint(r["run_id"])[1] for r in rows]
    stacked = Stacked({k: np.stack([p[k] for p in params]) for k in params[0]})
    return TrainResult(group_id=atlas_id, run_ids=[r["run_id"] for r in rows], summaries=[r["summary"] for r in rows],
                       stacked=stacked, ensembles=list(dict.fromkeys(r["group_id"] for r in rows)))
