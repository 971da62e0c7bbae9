"""The Python API: train configs into the store, resume, read runs back.

    >>> import groklab
    >>> result = groklab.train(groklab.resolve("gromov2023"))
    >>> result.summaries[0]["t_gen"], result.params[0]["W_in"].shape

``train`` accepts one config or a list (an ensemble: members that share shapes train as one
batched program; each member is a run of its own in the store).
"""

from __future__ import annotations

import errno
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from groklab.config import Config, from_dict
from groklab.errors import ConfigError, StoreError
from groklab.measure import doshi_phase, summarize_curves
from groklab.store import Store
from groklab.store.files import read_tensors

ProgressFn = Callable[[dict], None]


@dataclass
class TrainResult:
    run_ids: list[str]
    summaries: list[dict]
    params: list[dict[str, np.ndarray]]   # final parameters of each member (host arrays)


@lru_cache(maxsize=1)
def code_version() -> str:
    from groklab import __version__

    here = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if rev.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return f"{__version__}+g{rev.stdout.strip()}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        pass
    return __version__


def machine() -> str:
    import jax

    dev = jax.devices()[0]
    return f"{platform.machine()} {os.cpu_count()} cpus, {platform.system()}, jax {jax.__version__} on {dev.platform}"


def summarize(cfg: Config, run_id: str, m: dict[str, np.ndarray], status: str, wall_s: float,
              extra: dict | None = None) -> dict:
    """The summary of one run from its metric curves (every field JSON-able)."""
    steps = m["step"]
    s: dict = {"run_id": run_id, "name": cfg.name, "task": cfg.task, "p": cfg.p, "seed": cfg.seed,
               "model": cfg.model, "status": status, "steps": int(steps[-1]) if len(steps) else 0,
               "wall_s": round(float(wall_s), 3)}
    if len(steps) == 0:
        s.update({"final": None, "t_mem": None, "t_gen": None, "delay": None, "phase": None})
        return s
    s["final"] = {k: float(m[k][-1]) for k in ("train_acc", "test_acc", "train_loss", "test_loss")}
    s.update(summarize_curves(steps, m["train_acc"], m["test_acc"], m["train_loss"], m["test_loss"],
                              acc_threshold=cfg.acc_threshold, phase_threshold=cfg.phase_threshold,
                              phase_gap=cfg.phase_gap))
    if "mia_auc" in m:
        auc = m["mia_auc"]
        s["leakage"] = {"final_auc": float(auc[-1]), "max_auc": float(np.nanmax(auc)),
                        "step_max_auc": int(steps[int(np.nanargmax(auc))]), "final_tpr1": float(m["mia_tpr1"][-1])}
    if "memorized_acc" in m:
        fin = {k: float(m[k][-1]) for k in ("clean_acc", "memorized_acc", "inverted_acc")}
        s["noise"] = {"fraction": cfg.noise, **fin,
                      "phase": doshi_phase(float(m["test_acc"][-1]), fin["memorized_acc"], fin["inverted_acc"])}
    if "collapse_frac" in m:
        s["final"]["collapse_frac"] = float(m["collapse_frac"][-1])
    s.update(extra or {})
    return s


def _as_configs(config) -> list[Config]:
    if isinstance(config, Config):
        return [config]
    if isinstance(config, dict):
        return [from_dict(config)]
    if isinstance(config, (list, tuple)) and config and all(isinstance(c, (Config, dict)) for c in config):
        return [c if isinstance(c, Config) else from_dict(c) for c in config]
    raise ConfigError("config: give a Config, a dict of fields, or a list of them")


def _state_tensors(leaves: list[np.ndarray], e: int) -> dict[str, np.ndarray]:
    return {f"opt.{i:04d}": np.asarray(v[e]) for i, v in enumerate(leaves)}


def _disk_error(e: OSError, store: Store) -> StoreError:
    why = "the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else (e.strerror or str(e))
    return StoreError(f"store: cannot write to {store.root}: {why}; the run was stopped, "
                      "earlier checkpoints and metrics are intact")


def _fit(trainer, store: Store, run_ids: list[str], progress: ProgressFn | None,
         state=None, wall_before: float = 0.0) -> TrainResult:
    """Run a trainer whose runs already exist in the store, writing metrics and checkpoints."""
    cfgs = trainer.cfgs
    t0 = time.perf_counter()
    diverged: dict[int, int] = {}
    last_state_step: list[int | None] = [state[0] if state else None]

    def on_eval(step: int, metrics: dict[str, np.ndarray]) -> None:
        alive = metrics["_alive"]
        for e in np.nonzero(metrics["_diverged"])[0]:
            diverged[int(e)] = step
        keys = [k for k in metrics if not k.startswith("_")]
        ids = [run_ids[e] for e in range(len(run_ids)) if alive[e]]
        rows = [{k: float(metrics[k][e]) for k in keys} for e in range(len(run_ids)) if alive[e]]
        try:
            if ids:
                store.log_metrics(ids, step, rows)
        except OSError as err:
            raise _disk_error(err, store) from None
        if progress is not None:
            progress({"step": step, "steps": cfgs[0].steps, "elapsed": time.perf_counter() - t0,
                      "metrics": metrics, "n": len(run_ids)})

    def on_checkpoint(step: int, params: dict[str, np.ndarray], leaves: list[np.ndarray]) -> None:
        try:
            for e, rid in enumerate(run_ids):
                if e in diverged:
                    continue
                store.save_checkpoint(rid, step, {k: v[e] for k, v in params.items()},
                                      state=_state_tensors(leaves, e))
            prev = last_state_step[0]
            last_state_step[0] = step
            if prev is not None:   # only the newest complete optimizer state is kept for resume
                for rid in run_ids:
                    store.drop_state(rid, keep=step)
        except OSError as err:
            raise _disk_error(err, store) from None

    status = "completed"
    message = None
    try:
        out = trainer.fit(on_eval, on_checkpoint, state=state)
    except KeyboardInterrupt:
        store.set_status(run_ids, "interrupted", "stopped by the user")
        raise
    except StoreError as err:
        try:
            store.set_status(run_ids, "failed", str(err))
        except Exception:
            pass
        raise
    wall = wall_before + time.perf_counter() - t0
    summaries, params = [], []
    for e, (rid, cfg) in enumerate(zip(run_ids, cfgs)):
        st, msg = status, message
        if e in diverged:
            st, msg = "diverged", f"non-finite loss at step {diverged[e]}; metrics up to that step are kept"
        s = summarize(cfg, rid, store.metrics(rid), st, wall,
                      extra={"compile_s": round(trainer.compile_s, 3), "members": len(run_ids), "member": e,
                             "message": msg})
        store.finish(rid, st, s, wall, msg)
        summaries.append(s)
        params.append({k: v[e] for k, v in out["params"].items()})
    return TrainResult(run_ids=run_ids, summaries=summaries, params=params)


def train(config: Config | dict | list, *, store: str | Path | Store | None = None,
          progress: ProgressFn | None = None, sweep_id: str | None = None) -> TrainResult:
    """Train one config or an ensemble of configs; every member is recorded as a run in the store.

    Returns the run ids, each run's summary and its final parameters. Nothing is written to the
    store until every config and its dataset have been validated.
    """
    from groklab.train.loop import Trainer

    cfgs = _as_configs(config)
    trainer = Trainer(cfgs)           # builds datasets and the model: raises ConfigError before any write
    st = store if isinstance(store, Store) else Store(store)
    run_ids = st.create_runs([c.to_dict() for c in cfgs], code_version=code_version(), machine=machine(),
                             sweep_id=sweep_id)
    return _fit(trainer, st, run_ids, progress)


def resume(run: str, *, store: str | Path | Store | None = None, progress: ProgressFn | None = None) -> TrainResult:
    """Continue a stopped run (and the ensemble it was trained in) from its newest checkpoint.

    Optimizer, filter and RNG state come back with it; on CPU the final metrics equal those of an
    uninterrupted run bit for bit.
    """
    from groklab.train.loop import Trainer

    st = store if isinstance(store, Store) else Store(store, create=False)
    row = st.get_run(run)
    rows = st.group_runs(row["group_id"])
    if all(r["status"] == "completed" for r in rows):
        raise StoreError(f"run: {row['run_id']} is already completed; nothing to resume")
    live = [r for r in rows if r["status"] == "running"]
    if live:
        raise StoreError(f"run: {live[0]['run_id']} is still running (pid {live[0]['pid']})")
    cfgs = [from_dict(r["config"]) for r in rows]
    trainer = Trainer(cfgs)
    steps = [st.state_steps(r["run_id"]) for r in rows]
    common = set(steps[0]).intersection(*map(set, steps[1:])) if steps else set()
    if not common:
        raise StoreError(f"run: {row['run_id']} has no complete checkpoint to resume from; start it again")
    step = max(common)
    treedef, shapes, pshapes = trainer.opt_treedef()
    params, leaves = {}, []
    for e, r in enumerate(rows):
        _, p = st.load_checkpoint(r["run_id"], step)
        st.check_params(r["run_id"], p, {k: v.shape[1:] for k, v in pshapes.items()})
        s = st.load_state(r["run_id"], step)
        exp = [f"opt.{i:04d}" for i in range(len(shapes))]
        if sorted(s) != exp or any(tuple(s[k].shape) != tuple(sh.shape[1:]) for k, sh in zip(exp, shapes)):
            raise StoreError(f"checkpoint: optimizer state of {r['run_id']} at step {step} does not match its config")
        for k, v in p.items():
            params.setdefault(k, []).append(v)
        for i, k in enumerate(exp):
            if e == 0:
                leaves.append([])
            leaves[i].append(s[k])
    params = {k: np.stack(v) for k, v in params.items()}
    leaves = [np.stack(v) for v in leaves]
    ids = [r["run_id"] for r in rows]
    for rid in ids:
        st.truncate_after(rid, step)
    st.set_status(ids, "running", "resumed")
    return _fit(trainer, st, ids, progress, state=(step, params, leaves),
                wall_before=max(r["wall_s"] or 0.0 for r in rows))


def load_params(run: str, step: int | None = None, *, store: str | Path | Store | None = None
                ) -> tuple[int, dict[str, np.ndarray]]:
    """A run's parameters at a checkpoint (the newest by default), checked against its config."""
    st = store if isinstance(store, Store) else Store(store, create=False)
    rid = st.resolve(run)
    step, params = st.load_checkpoint(rid, step)
    cfg = from_dict(st.get_run(rid)["config"])
    st.check_params(rid, params, param_shapes(cfg))
    return step, params


def param_shapes(cfg: Config) -> dict[str, tuple]:
    """The parameter shapes a config implies (no computation: jax.eval_shape)."""
    import jax

    from groklab.models import build
    from groklab.tasks import build_dataset

    model = build(cfg, build_dataset(cfg))
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0))
    return {k: tuple(v.shape) for k, v in shapes.items()}


__all__ = ["TrainResult", "train", "resume", "load_params", "param_shapes", "summarize", "read_tensors"]
