"""The training loop: E ensemble members trained as one batched program.

Every member's weights carry a leading member axis; ``jax.vmap`` maps the single-model step over
it, and the steps between two evaluations run as one jitted loop (``lax.fori_loop`` with a traced
trip count, so evaluations on any grid reuse one compiled program). Members may differ in the
fields of ``config.MEMBER_FIELDS`` (seed, lr, wd, init scale, training fraction, noise...);
everything else must match so the shapes do.

The loop knows nothing about the store: it reports evaluations and checkpoints to callbacks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from groklab.config import Config, member_fields
from groklab.errors import ConfigError
from groklab.measure import registry
from groklab.measure.metrics import splits as split_metrics
from groklab.models import Model, build
from groklab.tasks import Dataset, build_dataset
from groklab.train import ensemble, losses, optim
from groklab.train import state as opt_names
from groklab.train.ensemble import Evaluation
from groklab.train.subsets import padded_rows

_CACHE = os.environ.get("GROKLAB_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "groklab", "jax"))
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def log_grid(steps: int, per_decade: int) -> list[int]:
    """Step 0, about ``per_decade`` log-spaced steps per decade from 1 to ``steps``, and ``steps``."""
    if steps <= 0:
        return [0]
    n = max(2, int(np.ceil(np.log10(max(steps, 10)) * per_decade)) + 1)
    grid = np.unique(np.round(np.logspace(0, np.log10(steps), n)).astype(int))
    return sorted({0, steps, *map(int, grid)})


def eval_schedule(steps: int, every: int, per_decade: int = 20, also: set[int] | frozenset = frozenset()) -> list[int]:
    """Evaluation steps: every ``every``, a log grid of ``per_decade`` (0: none), the last, and ``also``
    (the checkpoint steps: a checkpoint is written at an evaluation)."""
    grid = set(log_grid(steps, per_decade)) if per_decade > 0 else {0}
    return sorted(set(range(0, steps + 1, every)) | grid | {steps} | set(also))


def pick_device(name: str):
    if name == "cpu":
        return jax.devices("cpu")[0]
    if name == "cuda":
        try:
            return jax.devices("gpu")[0]
        except RuntimeError:
            raise ConfigError("device: cuda was asked for but JAX sees no CUDA GPU; allowed here: auto, cpu") from None
    return jax.devices()[0]


@dataclass
class MemberData:
    """Every member's data, stacked along a leading member axis (host numpy arrays)."""

    x: np.ndarray          # [E, N, T'] model inputs (prepared), all rows
    y_obs: np.ndarray      # [E, N] label each row is scored against (noisy for train rows); [E, N, T] targets
    #                        of a sequence task (-1: a position not scored)
    y_true: np.ndarray     # [E, N] (or [E, N, T])
    is_train: np.ndarray   # [E, N] bool
    is_test: np.ndarray    # [E, N] bool
    is_corrupt: np.ndarray  # [E, N] bool
    train_idx: np.ndarray  # [E, M] int32, padded
    train_w: np.ndarray    # [E, M] float32, 0 on padding
    y_train: np.ndarray    # [E, M] int32 (or [E, M, T])
    key: np.ndarray        # [E, 2] uint32 PRNG keys
    hp: dict               # name -> [E] float32
    init_scale: np.ndarray  # [E]
    splits: dict           # split name -> [E, N] bool (the task's meta["splits"]; rows of any split may be
    #                        neither train nor test: evaluated, never trained on)


def _stack_members(cfgs: list[Config], datasets: list[Dataset], model: Model) -> MemberData:
    E = len(cfgs)
    M = padded_rows(cfgs[0], [d.n_train for d in datasets])   # a subset ensemble's: all K members' largest
    xs, y_obs, y_true, is_tr, is_te, is_co = [], [], [], [], [], []
    tidx = np.zeros((E, M), np.int32)
    tw = np.zeros((E, M), np.float32)
    ytr = np.zeros((E, M, *datasets[0].y.shape[1:]), np.int32)
    for e, d in enumerate(datasets):
        xs.append(np.asarray(model.prepare(jnp.asarray(d.x))))
        yo = d.y.copy()
        yo[d.train_idx] = d.y_train
        y_obs.append(yo)
        y_true.append(d.y)
        m_tr = np.zeros(d.y.shape[0], bool)
        m_tr[d.train_idx] = True
        m_te = np.zeros(d.y.shape[0], bool)
        m_te[d.test_idx] = True
        m_co = np.zeros(d.y.shape[0], bool)
        m_co[d.train_idx[d.corrupted]] = True
        is_tr.append(m_tr)
        is_te.append(m_te)
        is_co.append(m_co)
        n = d.n_train
        tidx[e, :n] = d.train_idx
        tw[e, :n] = 1.0
        ytr[e, :n] = d.y_train
    shapes = {x.shape for x in xs}
    if len(shapes) != 1:
        raise ConfigError("members: ensemble members must share the task's table shape; "
                          f"got {sorted(shapes)}")
    keys = np.stack([np.asarray(jax.random.key_data(jax.random.PRNGKey(c.seed))) for c in cfgs])
    hp = {k: np.array([getattr(c, k) for c in cfgs], np.float32) for k in optim.HP_FIELDS}
    splits = {k: np.stack([np.asarray(d.meta["splits"][k], bool) for d in datasets])
              for k in datasets[0].meta.get("splits", {})}
    return MemberData(x=np.stack(xs), y_obs=np.stack(y_obs), y_true=np.stack(y_true), is_train=np.stack(is_tr),
                      is_test=np.stack(is_te), is_corrupt=np.stack(is_co), train_idx=tidx, train_w=tw,
                      y_train=ytr, key=keys.astype(np.uint32), hp=hp,
                      init_scale=np.array([c.init_scale for c in cfgs], np.float32), splits=splits)


def _declare_splits(data: MemberData) -> tuple[str, ...]:
    """The task's split names, each declared as a metric (``measure.metrics.splits``); a name groklab does
    not know gets the role its rows have (all training rows: train; all held out: test; else mixed)."""
    for name, mask in data.splits.items():
        tr, te = bool(data.is_train[mask].all()), bool(data.is_test[mask].all())
        split_metrics.declare(name, name.replace("_", " "), "train" if tr else "test" if te else "mixed")
    return tuple(data.splits)


def _check_embeds(cfg: Config, model: Model, E: int, embeds: np.ndarray | None) -> np.ndarray | None:
    """The members' GrokTransfer embeddings as float32 [E, d_vocab, embed_rank], checked against the model's
    W_E_A (None without ``embed_from``)."""
    if cfg.embed_from is None:
        return None
    if embeds is None:
        raise ConfigError("embed_from: the weak run's embedding comes from the store; train through groklab.api "
                          "(`groklab train`, a local sweep), which reads it, not a store-less worker")
    want = (E, *jax.eval_shape(model.init, jax.random.PRNGKey(0))["W_E_A"].shape)
    embeds = np.asarray(embeds, np.float32)
    if embeds.shape != want:
        raise ConfigError(f"embed_from: the weak embeddings have shape {embeds.shape}; allowed {want} (members, "
                          "vocabulary, embed_rank)")
    return embeds


class DenseCheckpoints:
    """Checkpoints where the story happens: beside the log grid, a checkpoint at every evaluation
    where some live member's train loss, test loss or weight norm has moved by more than ``tol``
    (natural log) since the last checkpoint. Nanda et al.'s progress measures change fastest exactly
    there, and a log grid alone can jump over the whole of it. Decided from metrics only, so a
    resumed run (which re-evaluates its checkpoint step first) makes the same decisions."""

    KEYS = ("train_loss", "test_loss", "weight_norm")

    def __init__(self, tol: float):
        self.tol = tol
        self.ref: dict[str, np.ndarray] | None = None

    def moved(self, metrics: dict[str, np.ndarray], alive: np.ndarray) -> bool:
        """Whether this evaluation gets a dense checkpoint; the first one only sets the reference."""
        logs = {k: np.log(np.maximum(np.abs(metrics[k]), 1e-30)) for k in self.KEYS if k in metrics}
        if self.ref is None or self.tol <= 0:
            self.ref = logs
            return False
        far = any(bool((np.abs(v - self.ref[k]) > self.tol)[alive].any()) for k, v in logs.items())
        if far:
            self.ref = logs
        return far

    def checkpointed(self, metrics: dict[str, np.ndarray]) -> None:
        """A grid checkpoint was written here: it is the new reference."""
        self.ref = {k: np.log(np.maximum(np.abs(metrics[k]), 1e-30)) for k in self.KEYS if k in metrics}


EvalFn = Callable[[Evaluation], None]
# (step, stacked params, stacked optimizer state by name: see groklab.train.state)
CkptFn = Callable[[int, dict[str, np.ndarray], dict[str, np.ndarray]], None]


class Trainer:
    """Train an ensemble of configs that share shapes. ``configs[i]`` is member i.

    ``embeds`` (GrokTransfer, ``embed_from``): each member's weak embedding A [d_vocab, embed_rank], stacked
    [E, d_vocab, embed_rank] (``groklab.transfer.embeddings`` reads them from the store); it is written into
    the initial W_E_A unscaled (the init scale multiplies B and the rest)."""

    def __init__(self, configs: list[Config], embeds: np.ndarray | None = None):
        if not configs:
            raise ConfigError("members: need at least one config")
        keys = {c.shape_key() for c in configs}
        if len(keys) != 1:
            raise ConfigError(f"members: ensemble members may differ only in {', '.join(member_fields())}")
        self.cfgs = configs
        self.cfg = cfg = configs[0]
        # JAX's 64-bit mode is process-wide: set it for this trainer either way, so that a float32 run after a
        # float64 one in the same process (a sweep, a reproduction) computes exactly what it would alone
        jax.config.update("jax_enable_x64", "float64" in (cfg.loss_dtype, cfg.opt_dtype))
        self.loss_dtype = jnp.float64 if cfg.loss_dtype == "float64" else jnp.float32
        self.device = pick_device(cfg.device)
        self.datasets = [build_dataset(c) for c in configs]
        self.model = build(cfg, self.datasets[0])
        self.data = _stack_members(configs, self.datasets, self.model)
        self.E = len(configs)
        self.embeds = _check_embeds(cfg, self.model, self.E, embeds)
        self.full_batch = cfg.batch_size is None or cfg.batch_size >= self.data.train_idx.shape[1]
        self.ckpt_steps = set(log_grid(cfg.steps, cfg.ckpt_per_decade))
        self.schedule = eval_schedule(cfg.steps, cfg.eval_every, cfg.eval_per_decade, self.ckpt_steps)
        self.compile_s = 0.0
        self._build_fns()

    # ------------------------------------------------------------------ compiled pieces
    def _build_fns(self) -> None:
        cfg, model, dtype = self.cfg, self.model, self.loss_dtype
        M = self.data.train_idx.shape[1]
        B = M if self.full_batch else int(cfg.batch_size)
        full = self.full_batch

        def init_member(key, scale, hp, *embed):
            params = model.init(jax.random.fold_in(key, 0))
            params = {k: (v if ".ln" in k or k.startswith("ln") else v * scale) for k, v in params.items()}
            if embed:                                    # GrokTransfer: the weak model's embedding, as it is
                params["W_E_A"] = embed[0]
            return params, optim.make(cfg, hp).init(params)

        def member_step(params, opt_state, d, step):
            if full:
                xb, yb, w = d["x_train"], d["y_train"], d["train_w"]
            else:
                key = jax.random.fold_in(jax.random.fold_in(d["key"], 1), step)
                u = jax.random.uniform(key, (M,)) + (1.0 - d["train_w"]) * 2.0
                pos = jnp.argsort(u)[:B]
                xb, yb, w = d["x_train"][pos], d["y_train"][pos], d["train_w"][pos]

            def loss_fn(p):
                per = losses.per_example(cfg.loss, model.apply(p, xb), yb, dtype)
                return (per * w).sum() / w.sum()

            def loss_acc(p):     # the delayed Frobenius penalty needs this minibatch's train accuracy
                logits = model.apply(p, xb)
                per = losses.per_example(cfg.loss, logits, yb, dtype)
                return (per * w).sum() / w.sum(), (losses.correct(logits, yb) * w).sum() / w.sum()

            if cfg.frob_lamb > 0:
                grads, acc = jax.grad(loss_acc, has_aux=True)(params)
                extra = {"train_acc": acc}
            else:
                grads, extra = jax.grad(loss_fn)(params), {}
            updates, opt_state = optim.make(cfg, d["hp"]).update(grads, opt_state, params, **extra)
            return optax.apply_updates(params, optim.frozen(cfg, updates)), opt_state

        vstep = jax.vmap(member_step, in_axes=(0, 0, 0, None))
        width = 4 * model.activation_width               # bytes per example of the widest activation
        # auto groups for the CPU's caches; an accelerator wants the one big batch
        layout = "vmap" if cfg.layout == "auto" and self.device.platform != "cpu" else cfg.layout
        self.group = ensemble.group_size(layout, self.E, B * width)
        self.eval_group = ensemble.group_size(layout, self.E, self.data.x.shape[1] * width)

        def interval(state, d, start, n):                # one group's (or all members') steps
            def body(i, carry):
                return vstep(*carry, d, start + i)
            return jax.lax.fori_loop(0, n, body, state)

        grouped = ensemble.in_groups(lambda t, a, b: interval(t[:2], t[2], a, b), self.group)   # c >= E: one call

        def run(params, opt_state, d, start, n):
            return grouped((params, opt_state, d), start, n)

        self.has_noise = bool(self.data.is_corrupt.any())
        self.metrics = registry.active(registry.EvalSetup(cfg, self.has_noise, _declare_splits(self.data)))
        chosen = self.metrics

        def member_eval(params, d):
            logits = model.apply(params, d["x"])
            ctx = registry.EvalContext(
                params=params, logits=logits,
                loss=losses.per_example(cfg.loss, logits, d["y_obs"], dtype).astype(jnp.float32),
                pred=logits.argmax(-1), correct=losses.correct(logits, d["y_obs"]), y_obs=d["y_obs"],
                y_true=d["y_true"], is_train=d["is_train"], is_test=d["is_test"], is_corrupt=d["is_corrupt"],
                splits=d["splits"])
            return registry.evaluate_all(chosen, ctx)

        self._init = jax.jit(jax.vmap(init_member))
        self.run_steps = jax.jit(run, donate_argnums=(0, 1))
        grouped_eval = ensemble.in_groups(lambda t: jax.vmap(member_eval)(*t), self.eval_group)
        self.evaluate = jax.jit(lambda params, d: grouped_eval((params, d)))

    def device_data(self) -> dict:
        """Every member's data on the trainer's device (the ``d`` that ``run_steps`` and ``evaluate`` take)."""
        d = self.data
        x_train = np.take_along_axis(d.x, d.train_idx[:, :, None], axis=1) if d.x.ndim == 3 else \
            np.take_along_axis(d.x, d.train_idx, axis=1)
        host = {"x": d.x, "y_obs": d.y_obs, "y_true": d.y_true, "is_train": d.is_train, "is_test": d.is_test,
                "is_corrupt": d.is_corrupt, "x_train": x_train, "y_train": d.y_train, "train_w": d.train_w,
                "key": d.key, "hp": d.hp, "splits": d.splits}
        return jax.device_put(host, self.device)

    def _init_args(self) -> tuple:
        """What the vmapped ``init_member`` takes: keys, init scales, hyper-parameters (and the embeddings)."""
        return (self.data.key, self.data.init_scale, self.data.hp) + (() if self.embeds is None else (self.embeds,))

    def init_state(self) -> tuple[dict, optax.OptState]:
        with jax.default_device(self.device):
            state = self._init(*jax.device_put(self._init_args(), self.device))
        # Committed to the device like every later state `run_steps` returns: otherwise the first real
        # interval sees a new input sharding and compiles `run_steps` a second time, inside training.
        return jax.device_put(state, self.device)

    def opt_template(self) -> tuple[Any, Any, dict]:
        """(treedef of the stacked optimizer state, one member's state as shapes, stacked param shapes)."""
        params, opt_state = jax.eval_shape(self._init, *self._init_args())
        member = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), opt_state)
        return jax.tree.structure(opt_state), member, params

    # ------------------------------------------------------------------ the loop
    def fit(self, on_eval: EvalFn | None = None, on_checkpoint: CkptFn | None = None,
            state: tuple[int, dict, list] | None = None, stop: Callable[[], bool] | None = None) -> dict:
        """Train to ``cfg.steps``; returns {"params": host params [E, ...], "step", "compile_s", "train_s"}.

        ``state`` = (step, params, opt leaves) resumes from a checkpoint saved by ``on_checkpoint``.
        """
        data = self.device_data()
        t0 = time.perf_counter()
        if state is None:
            start = 0
            params, opt_state = self.init_state()
        else:
            start, host_params, leaves = state
            treedef, _, _ = self.opt_template()
            params = jax.device_put({k: jnp.asarray(v) for k, v in host_params.items()}, self.device)
            opt_state = jax.tree.unflatten(treedef, [jax.device_put(jnp.asarray(v), self.device) for v in leaves])
        # compile both programs up front so the first interval's timing is training only
        params, opt_state = self.run_steps(params, opt_state, data, jnp.int32(start), jnp.int32(0))
        jax.block_until_ready(self.evaluate(params, data))
        self.compile_s = time.perf_counter() - t0
        t_train = time.perf_counter()
        step = start
        todo = [s for s in self.schedule if s >= start]
        alive = np.ones(self.E, bool)
        dense = DenseCheckpoints(self.cfg.ckpt_dense)
        for s in todo:
            if s > step:
                params, opt_state = self.run_steps(params, opt_state, data, jnp.int32(step), jnp.int32(s - step))
                step = s
            metrics = {k: np.asarray(v) for k, v in jax.device_get(self.evaluate(params, data)).items()}
            finite = np.isfinite(metrics["train_loss"]) & np.isfinite(metrics["test_loss"])
            if on_eval is not None and not (s == start and state is not None):
                on_eval(Evaluation(s, metrics, alive & finite, alive & ~finite))
            alive &= finite
            write = dense.moved(metrics, alive) or s in self.ckpt_steps   # (the first evaluation: reference)
            if write and on_checkpoint is not None and not (s == start and state is not None):
                on_checkpoint(s, {k: np.asarray(v) for k, v in jax.device_get(params).items()},
                              opt_names.to_tensors(jax.device_get(opt_state)))
            if s in self.ckpt_steps:
                dense.checkpointed(metrics)
            if not alive.any() or (stop is not None and stop()):
                break
        jax.block_until_ready(params)
        return {"params": {k: np.asarray(v) for k, v in jax.device_get(params).items()}, "step": step,
                "compile_s": self.compile_s, "train_s": time.perf_counter() - t_train}
