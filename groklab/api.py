"""The Python API: train configs into the store, resume, read runs back.

    >>> import groklab
    >>> result = groklab.train(groklab.resolve("gromov2023"))
    >>> result.summaries[0]["t_gen"], result.params[0]["W_in"].shape

``train`` accepts one config or a list (an ensemble: members that share shapes train as one
batched program; each member is a run of its own in the store).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from groklab import transfer
from groklab.config import Config, from_dict
from groklab.errors import ConfigError, StoreError
from groklab.measure import summarize
from groklab.measure.summary import generalization_cost
from groklab.store import Store
from groklab.store.catalog import new_id, write_error
from groklab.store.files import read_tensors
from groklab.store.records import read_metrics
from groklab.train.budget import preflight
from groklab.train.ensemble import Evaluation, Stacked
from groklab.train.subsets import expand_subsets
from groklab.train.until import stop_rule

ProgressFn = Callable[[dict], None]
FINISHED = ("completed", "diverged")    # run statuses that resume leaves alone


@dataclass
class TrainResult:
    """A trained ensemble: one group of runs in the store, member e being run ``run_ids[e]``."""

    group_id: str
    run_ids: list[str]
    summaries: list[dict]          # each member's summary (its status: completed or diverged)
    stacked: Stacked               # final parameters, leading member axis
    ensembles: list[str] | None = None   # an atlas split into ensembles (``groklab.atlas``): their group ids

    @property
    def alive(self) -> np.ndarray:
        """[E] bool: members that finished with finite losses."""
        return np.array([s["status"] != "diverged" for s in self.summaries])

    @property
    def params(self) -> list[dict[str, np.ndarray]]:
        """Each member's final parameters (``stacked.member(e)`` for every e)."""
        return [self.stacked.member(e) for e in range(self.stacked.n_members)]

    def member(self, e: int) -> dict:
        """Member ``e``: its run id, summary and final parameters."""
        return {"run_id": self.run_ids[e], "summary": self.summaries[e], "params": self.stacked.member(e)}


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


def _as_configs(config) -> list[Config]:
    if isinstance(config, Config):
        return [config]
    if isinstance(config, dict):
        return [from_dict(config)]
    if isinstance(config, (list, tuple)) and config and all(isinstance(c, (Config, dict)) for c in config):
        return [c if isinstance(c, Config) else from_dict(c) for c in config]
    raise ConfigError("config: give a Config, a dict of fields, or a list of them")


def _mark(store: Store, run_ids: list[str], status: str, message: str) -> None:
    """Record why a run stopped, best effort (the store itself may be what failed)."""
    if not run_ids:
        return
    try:
        store.set_status(run_ids, status, message)
    except Exception:
        pass


def fit(trainer, store: Store, run_ids: list[str], progress: ProgressFn | None,
         state=None, wall_before: float = 0.0, diverged: dict[int, str] | None = None) -> TrainResult:
    """Run a trainer whose runs already exist in the store, writing metrics and checkpoints.

    ``diverged`` maps members that diverged before a resume to their message: they are carried
    through the batch untouched and never written to again. A member whose loss turns non-finite
    is recorded 'diverged' at once (so a later kill keeps it), and the rest go on.
    """
    cfgs = trainer.cfgs
    t0 = time.perf_counter()
    diverged = dict(diverged or {})
    last_state_step: list[int | None] = [state[0] if state else None]
    at = [state[0] if state else 0]     # the step reached, for messages
    record = _example_recorder(trainer, store, run_ids, state)   # per-example measures (subsets, canaries)
    # `until`: a resumed run counts on from its stored test accuracies
    until = stop_rule(trainer.cfg, len(run_ids),
                      [store.metrics(r).get("test_acc", []) for r in run_ids] if state else None)

    def live() -> list[int]:
        return [e for e in range(len(run_ids)) if e not in diverged]

    def on_eval(ev: Evaluation) -> None:
        step = at[0] = ev.step
        new = [int(e) for e in np.nonzero(ev.diverged)[0] if int(e) not in diverged]
        for e in new:
            diverged[e] = f"non-finite loss at step {step}; metrics up to that step are kept"
        ev = ev.without(list(diverged))
        if until is not None:
            until.update(ev)
        members = [e for e in live() if ev.alive[e]]
        try:
            if members:
                store.log_metrics([run_ids[e] for e in members], step, [ev.member(e) for e in members],
                                  wall_s=wall_before + time.perf_counter() - t0)
            for e in new:
                store.set_status([run_ids[e]], "diverged", diverged[e])
        except OSError as err:
            raise write_error(store.root, err) from None
        if progress is not None:
            progress({"step": step, "steps": cfgs[0].steps, "elapsed": time.perf_counter() - t0,
                      "eval": ev, "n": len(run_ids)})

    def on_checkpoint(step: int, params: dict[str, np.ndarray], opt: dict[str, np.ndarray]) -> None:
        members = live()
        try:
            for e in members:
                store.save_checkpoint(run_ids[e], step, {k: v[e] for k, v in params.items()},
                                      state={k: v[e] for k, v in opt.items()} if opt else None)
            if record is not None:
                record(step, params, members)
            if not opt:            # a replayed group carries the optimizer state of its last checkpoint only
                return
            prev, last_state_step[0] = last_state_step[0], step
            if prev is not None:   # the two newest optimizer states are kept: resume falls back to the older
                store.drop_state([run_ids[e] for e in members], keep=prev)
        except OSError as err:
            raise write_error(store.root, err) from None

    try:
        out = trainer.fit(on_eval, on_checkpoint, state=state,
                          stop=lambda: not live() or (until is not None and until()))
    except KeyboardInterrupt:
        _mark(store, [run_ids[e] for e in live()], "interrupted", f"stopped by the user at step {at[0]}")
        raise
    except StoreError as err:
        msg = (f"{err}; run {run_ids[0]} stopped at step {at[0]}"
               f" (resume it with `groklab train --resume {run_ids[0]}`)")
        _mark(store, [run_ids[e] for e in live()], "failed", msg)
        raise StoreError(msg) from None
    except Exception as err:
        _mark(store, [run_ids[e] for e in live()], "failed",
              f"internal error at step {at[0]}: {type(err).__name__}: {str(err)[:200]}")
        raise
    wall = wall_before + time.perf_counter() - t0
    return _finish(trainer, store, run_ids, diverged, wall, last_state_step[0], Stacked(out["params"]))


def _finish(trainer, store: Store, run_ids: list[str], diverged: dict[int, str], wall: float,
            last_state: int | None, stacked: Stacked) -> TrainResult:
    """Summarize and record every member of a trained group; only the newest optimizer state stays."""
    summaries = []
    flops = getattr(trainer, "flops", None) or step_flops(trainer)     # a sweep's Replay brings its own
    weak = getattr(trainer, "weak_runs", None) or [None] * len(run_ids)
    try:
        if last_state is not None:
            store.drop_state([r for e, r in enumerate(run_ids) if e not in diverged], keep=last_state)
        for e, (rid, cfg) in enumerate(zip(run_ids, trainer.cfgs)):
            st, msg = ("diverged", diverged[e]) if e in diverged else ("completed", None)
            m = store.metrics(rid)
            s = summarize(cfg, rid, m, st, wall,
                          extra={"compile_s": round(trainer.compile_s, 3), "members": len(run_ids), "member": e,
                                 "message": msg, **({"until": cfg.until} if cfg.until else {}),
                                 **({"embed_from_run": w} if (w := weak[e]) else {})})
            walls = getattr(trainer, "walls", None) or {step: w for step, w, _ in read_metrics(store.run_dir(rid))}
            s["to_gen"] = generalization_cost(s.get("t_gen"), m["step"], walls, *flops)
            store.finish(rid, st, s, wall, msg)
            summaries.append(s)
        group_id = store.get_run(run_ids[0])["group_id"]
    except OSError as err:
        raise write_error(store.root, err) from None
    return TrainResult(group_id=group_id, run_ids=run_ids, summaries=summaries, stacked=stacked)


def step_flops(trainer) -> tuple[float, float]:
    """(FLOPs of one member's training step, of one member's evaluation) as the compiled programs compute
    them: forward and backward (3 × forward) over the step's batch (padding included), a forward over every
    row of the table."""
    d, cfg = trainer.data, trainer.cfg
    batch = d.train_idx.shape[1] if trainer.full_batch else int(cfg.batch_size)
    fpe = float(trainer.model.flops_per_example)
    return 3.0 * fpe * batch, fpe * d.x.shape[1]


def _example_recorder(trainer, store: Store, run_ids: list[str], state):
    """The per-example recorder of a subset ensemble or a run with canaries (None otherwise), writing
    into the group's first run folder; a resumed group first drops the steps after its checkpoint."""
    from groklab.store.examples import group_meta
    from groklab.train.examples import Recorder
    from groklab.train.subsets import records_examples

    if not records_examples(trainer.cfg):
        return None
    if state is not None:
        store._unlink_steps(run_ids[0], ("examples",), lambda s: s > state[0])
    meta = group_meta(run_ids, store.get_run(run_ids[0])["group_id"])

    def save(step, t, m):
        store.save_examples(run_ids[0], step, t, {**meta, **m})

    shipped = getattr(trainer, "result", {}).get("examples")      # a sweep's Replay: what its worker recorded
    if hasattr(trainer, "result"):
        if shipped is None:
            raise StoreError("memorization: this sweep result carries no per-example measures (trained by an older "
                             "groklab); train the subset ensemble again")
        at = {s: (t, m) for s, t, m in shipped}
        save(None, *at[None])
        return lambda step, params, members: save(step, *at[int(step)])
    return Recorder(trainer, save)


def _open_existing(store: str | Path | None) -> Store:
    """The store a GrokTransfer config reads its weak run from: it must exist (ConfigError naming embed_from)."""
    try:
        return Store(store, create=False)
    except StoreError as e:
        raise ConfigError(f"embed_from: the weak run's store cannot be opened ({e})") from None


def train(config: Config | dict | list, *, store: str | Path | Store | None = None,
          progress: ProgressFn | None = None, sweep_id: str | None = None) -> TrainResult:
    """Train one config or an ensemble of configs; every member is recorded as a run in the store.

    Returns the run ids, each run's summary and its final parameters. Nothing is written to the
    store until every config and its dataset have been validated.
    """
    from groklab.train.loop import Trainer

    cfgs = expand_subsets(_as_configs(config))   # `subsets = K` in one config: its K members
    preflight(cfgs, warn=sweep_id is None)   # member limit, names, memory estimate: before anything is allocated
    st = store if isinstance(store, Store) else None
    if cfgs[0].embed_from is not None and st is None:    # the weak run must be in it already
        st = _open_existing(store)
    # builds datasets and the model (and reads GrokTransfer's weak embeddings): raises ConfigError before any write
    A, weak = transfer.embeddings(st, cfgs)
    trainer = Trainer(cfgs, A)
    trainer.weak_runs = weak       # recorded in each summary (embed_from_run): the run a ref resolved to
    st = st if st is not None else Store(store)
    group_id = new_id("g")
    with st.lease("group", group_id):      # held while it trains: a concurrent resume of the group is refused
        run_ids = st.create_runs([c.to_dict() for c in cfgs], hashes=[c.hash() for c in cfgs],
                                 code_version=code_version(), machine=machine(),
                                 sweep_id=sweep_id, group_id=group_id)
        return fit(trainer, st, run_ids, progress)


def resume(run: str, *, store: str | Path | Store | None = None, progress: ProgressFn | None = None) -> TrainResult:
    """Continue a stopped run (and the ensemble it was trained in) from its newest checkpoint.

    Optimizer, filter and RNG state come back with it; on CPU the final metrics equal those of an
    uninterrupted run bit for bit. Everything is loaded and checked before the store is touched.
    If a file of the newest checkpoint is missing or not a readable safetensors file, it resumes
    from the older one whose optimizer state is kept too, with a warning on stderr. The group is
    leased while it trains: a second resume of it is refused, naming the holder's pid.
    """
    st = store if isinstance(store, Store) else Store(store, create=False)
    row = st.get_run(run)
    with st.lease("group", row["group_id"], what=f"run {row['run_id']}"):
        return _resume_group(st, row, progress)


def _resume_group(st: Store, row: dict, progress: ProgressFn | None) -> TrainResult:
    import jax

    from groklab.train.loop import Trainer

    rows = st.group_runs(row["group_id"])
    if all(r["status"] in FINISHED for r in rows):
        raise StoreError(f"run: {row['run_id']} is already finished ({row['status']}); nothing to resume")
    live = [r for r in rows if r["status"] == "running"]
    if live:
        raise StoreError(f"run: {live[0]['run_id']} is still running (pid {live[0]['pid']})")
    cfgs = [from_dict(r["config"]) for r in rows]
    A, weak = transfer.embeddings(st, cfgs)     # A itself comes back from the checkpoint; the ids are recorded
    trainer = Trainer(cfgs, A)
    trainer.weak_runs = weak
    diverged = {e: r["message"] or "non-finite loss" for e, r in enumerate(rows) if r["status"] == "diverged"}
    active = [e for e in range(len(rows)) if e not in diverged]
    steps = [{c["step"] for c in st.checkpoints(rows[e]["run_id"]) if c["has_state"]} for e in active]
    common = sorted(set.intersection(*steps), reverse=True)
    if not common:
        raise StoreError(f"run: {row['run_id']} has no complete checkpoint to resume from; start it again")
    _, template, pshapes = trainer.opt_template()
    step, loaded = _load_members(st, [rows[e]["run_id"] for e in active], common, pshapes, template)
    # members that diverged earlier keep their slot in the batch with fresh values; nothing reads them
    init_params, init_state = trainer.init_state() if diverged else ({}, None)
    init_leaves = [np.asarray(v) for v in jax.tree.leaves(init_state)] if diverged else []
    params: dict[str, list] = {k: [] for k in pshapes}
    leaves: list[list] = [[] for _ in jax.tree.leaves(template)]
    for e in range(len(rows)):
        if e in diverged:
            p = {k: np.asarray(v[e]) for k, v in init_params.items()}
            s = [v[e] for v in init_leaves]
        else:
            p, s = loaded[active.index(e)]
        for k in pshapes:
            params[k].append(p[k])
        for i, v in enumerate(s):
            leaves[i].append(v)
    ids = [r["run_id"] for r in rows]
    st.claim([ids[e] for e in active], f"resumed from step {step}")
    for e in active:
        st.truncate_after(ids[e], step)
    return fit(trainer, st, ids, progress, state=(step, {k: np.stack(v) for k, v in params.items()},
                                                     [np.stack(v) for v in leaves]),
                wall_before=max(rows[e]["wall_s"] or 0.0 for e in active), diverged=diverged)


def _unreadable(st: Store, run_id: str, step: int) -> str | None:
    """Why a checkpoint's files cannot be read at all (missing, or not a safetensors file), or None.
    A readable file whose checksum or tensors do not match is not this: loading refuses it."""
    from groklab.store.files import read_header

    for what, path in (("checkpoint", st.ckpt_path(run_id, step)), ("optimizer state", st.state_path(run_id, step))):
        if not path.is_file():
            return f"its {what} file is missing"
        try:
            read_header(path)
        except (OSError, ValueError) as e:
            return f"its {what} file is not a readable safetensors file ({e})"
    return None


def _load_members(st: Store, run_ids: list[str], steps: list[int], pshapes: dict, template) -> tuple[int, list]:
    """(step, [(params, optimizer leaves) per run]) at the newest of ``steps`` whose files are readable."""
    from groklab.train import state as opt_names

    i = 0
    while i + 1 < len(steps):
        bad = next(((rid, why) for rid in run_ids if (why := _unreadable(st, rid, steps[i]))), None)
        if bad is None:
            break
        print(f"groklab: warning: run {bad[0]}: the checkpoint at step {steps[i]} is unusable: {bad[1]}; "
              f"resuming from the one at step {steps[i + 1]}", file=sys.stderr)
        i += 1
    step, out = steps[i], []
    for rid in run_ids:
        _, p = st.load_checkpoint(rid, step)
        st.check_params(rid, p, {k: v.shape[1:] for k, v in pshapes.items()})
        out.append((p, opt_names.order(st.load_state(rid, step), template, f"{rid} at step {step}")))
    return step, out


def load_params(run: str, step: int | None = None, *, store: str | Path | Store | None = None
                ) -> tuple[int, dict[str, np.ndarray]]:
    """A run's parameters at a checkpoint (the newest by default), checked against its config.

    Raises StoreError if the file is missing, corrupt (checksum), not safetensors, or holds
    tensors whose names or shapes differ from those the run's config implies.
    """
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
