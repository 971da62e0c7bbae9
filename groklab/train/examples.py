"""Per-example measures of every member on the whole table, recorded at every checkpoint of a subset
ensemble or a run with canaries (``groklab.tasks.subsets``): the inputs of the memorization atlas
(``groklab.measure.memorization``).

At each checkpoint step one more compiled, member-vmapped program (in the evaluation's member groups)
scores every row of the task's table against its *pool* label (the label the pool trains on: noisy or a
canary's secret for pool rows, the true label elsewhere), whether or not the member trained on it:

- ``loss``: the run's per-example loss;
- ``phi``: the logit-scaled confidence φ = log(p_y / (1 − p_y)) = z_y − logsumexp_{j≠y} z_j, computed
  from the logits so that it stays exact where p_y rounds to 1 (Carlini et al. 2022); −log ℓ for
  MSE models (``confidence``);
- ``rank``: 1 + the number of classes whose logit is strictly above the label's (rank 1: correct;
  the rank of a canary's secret, Carlini et al. 2019).

Nothing here knows about the store: ``Recorder`` hands arrays to a ``save`` callback.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from groklab.config import Config
from groklab.tasks import build_table, make_dataset
from groklab.tasks.subsets import plant_canaries
from groklab.train import ensemble, losses
from groklab.train.subsets import records_examples

__all__ = ["Recorder", "per_example_program", "pool_facts", "records_examples"]


def pool_facts(cfgs: list[Config], train_idx: list[np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """What the atlas needs to know of the pool, as tensors and string metadata.

    ``train_idx``: each member's training rows (as trained). Tensors: ``rows`` (the pool's table rows),
    ``inclusion`` [E, n_pool], ``label`` (the pool's labels), ``y_true``, ``corrupted`` (label noise),
    ``canary``, ``test_rows``, ``y`` (every table row's label the measures score against), ``x``
    (the table's inputs, when they are tokens).
    """
    c = cfgs[0]
    table = build_table(c)
    ds = make_dataset(table, None if c.n_train is not None else c.frac, c.split_seed, c.noise, n_train=c.n_train)
    noisy = ds.corrupted.copy()
    pool, canary_pos = plant_canaries(ds, c.canaries, c.split_seed)
    canary = np.zeros(pool.n_train, bool)
    canary[canary_pos] = True
    y = pool.y.copy()
    y[pool.train_idx] = pool.y_train
    tensors = {
        "rows": pool.train_idx.astype(np.int32),
        "inclusion": np.stack([np.isin(pool.train_idx, t) for t in train_idx]).astype(np.uint8),
        "label": pool.y_train.astype(np.int32), "y_true": pool.y[pool.train_idx].astype(np.int32),
        "corrupted": noisy.astype(np.uint8), "canary": canary.astype(np.uint8),
        "test_rows": pool.test_idx.astype(np.int32), "y": y.astype(np.int32),
    }
    if table.vocab_size is not None and table.x.ndim == 2:
        tensors["x"] = table.x.astype(np.int32)
    meta = {"n_classes": str(pool.n_classes), "subsets": str(c.subsets), "scheme": c.subset_scheme,
            "canaries": str(c.canaries), "task": c.task, "p": str(c.p)}
    return tensors, meta


def confidence(kind: str, logits: jax.Array, y: jax.Array, loss: jax.Array) -> jax.Array:
    """The logit-scaled confidence φ of each row (Carlini et al. 2022), exact where p_y rounds to 1:
    log p_y − log Σ_{j≠y} p_j under softmax (z_y − logsumexp_{j≠y} z_j) or StableMax (Prieto et al.
    2025). An MSE model's outputs are no probabilities: there φ = −log ℓ, which like the logit
    scaling maps the score onto the whole line (and is far closer to Gaussian than a softmax of
    outputs fitted to one-hot targets, measured here)."""
    if kind == "mse":
        return -jnp.log(jnp.maximum(loss, 1e-30))
    is_y = jax.nn.one_hot(y, logits.shape[-1], dtype=bool)
    if kind == "stablemax":
        s = losses.stablemax_s(logits)
        return jnp.log(jnp.where(is_y, s, 0.0).sum(-1)) - jnp.log(jnp.where(is_y, 0.0, s).sum(-1))
    z_y = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
    return z_y - jax.nn.logsumexp(jnp.where(is_y, -jnp.inf, logits), axis=-1)


def per_example_program(trainer) -> Callable:
    """Jitted ``(params [E, ...], x [E, N, T'], y [N]) -> (loss, phi, rank)``, each ``[E, N]``; the members in
    the trainer's evaluation groups (``trainer.eval_group``, ``train.ensemble``) when it has them."""
    cfg, model, dtype = trainer.cfg, trainer.model, trainer.loss_dtype

    def member(params, x, y):
        logits = model.apply(params, x).astype(jnp.float32)
        loss = losses.per_example(cfg.loss, logits, y, dtype).astype(jnp.float32)
        z_y = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
        rank = 1 + (logits > z_y[:, None]).sum(-1)
        return loss, confidence(cfg.loss, logits, y, loss), rank.astype(jnp.int32)

    vm = jax.vmap(member, in_axes=(0, 0, None))
    grouped = ensemble.in_groups(lambda t, y: vm(*t, y), trainer.eval_group)   # the evaluation's groups
    return jax.jit(lambda params, x, y: grouped((params, x), y))


SaveFn = Callable[[int | None, dict[str, np.ndarray], dict[str, str]], None]


class Recorder:
    """Scores every member on the whole table at each checkpoint and hands the arrays to ``save``
    (``save(None, pool tensors, meta)`` once, then ``save(step, arrays, meta)`` per checkpoint)."""

    def __init__(self, trainer, save: SaveFn):
        self.trainer, self.save = trainer, save
        tensors, meta = pool_facts(trainer.cfgs, [d.train_idx for d in trainer.datasets])
        save(None, tensors, meta)
        self.fn = per_example_program(trainer)
        self.x = jax.device_put(jnp.asarray(trainer.data.x), trainer.device)
        self.y = jax.device_put(jnp.asarray(tensors["y"]), trainer.device)
        self.rank_dtype = np.int16 if int(meta["n_classes"]) < 2**15 else np.int32

    def __call__(self, step: int, params: dict[str, np.ndarray], live: list[int]) -> None:
        p = jax.device_put({k: jnp.asarray(v) for k, v in params.items()}, self.trainer.device)
        loss, phi, rank = (np.asarray(a) for a in jax.device_get(self.fn(p, self.x, self.y)))
        alive = np.zeros(loss.shape[0], bool)
        alive[live] = True
        loss, phi = np.where(alive[:, None], loss, np.nan), np.where(alive[:, None], phi, np.nan)
        self.save(int(step), {"loss": loss.astype(np.float32), "phi": phi.astype(np.float32),
                              "rank": rank.astype(self.rank_dtype), "alive": alive.astype(np.uint8)},
                  {"step": str(int(step))})
