"""A training run's footprint, estimated from its config before anything is allocated: memory by part,
checkpoint and metric bytes on disk, evaluations and their time (``estimate``). ``train.budget`` holds
runs to it.

The estimate is arithmetic on shapes: the task's row and class counts without building its table
(``table_shape``), parameter and optimizer-state sizes from ``jax.eval_shape`` (no allocation), and
per-member buffers times the members (they are vmapped: all live at once):

- persistent: parameters, optimizer state, the data tables (host and device copies);
- evaluation: all N rows at once, the logits and their log-probabilities (or MSE terms) [N, C],
  plus the widest hidden layer where it is wider than the logits;
- training: a batch's logits and activations, and the gradients;
- about 0.5 GiB for Python, JAX and the compiled programs.

The evaluation and training programs run one after the other; measured on this project's 2-core VM
(p = 400 and 700, a transformer and Gromov's MLP, peak RSS), their buffers partly reuse each other's
memory, so the transient part is counted as the larger one plus half the smaller. The estimates
came within about 30 % of the measured peaks (tests/test_limits.py keeps two of them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from groklab.config import Config

BASE_BYTES = 512 * 2**20            # Python, JAX, compiled programs
EVAL_RATE = 1e10                    # FLOP/s assumed for evaluation time (a laptop CPU)
EVAL_OVERHEAD_S = 0.002             # per evaluation: metrics transaction, callbacks
METRIC_ROW_BYTES = 1000             # one evaluation of one member in the catalog and metrics.jsonl


@dataclass(frozen=True)
class TableShape:
    """A task's table without building it: rows, input width (tokens or features), classes, vocabulary."""

    rows: int
    inputs: int
    n_classes: int
    vocab: int | None


def table_shape(cfg: Config) -> TableShape:
    """Row and class counts by arithmetic for the modular, expression, custom, permutation, parity and
    digits tasks (an upper bound: division's excluded rows are counted); any other family builds its table."""
    from groklab.tasks import build_table, family_of

    fam = family_of(cfg.task)
    if fam.modular:
        rows = cfg.p * (cfg.p + 1) // 2 if cfg.symmetric else cfg.p * cfg.p
        return TableShape(rows, 2, cfg.p, cfg.p)
    if fam.key == "perm":
        m = math.factorial(cfg.perm_n)
        return TableShape(m * m, 2, m, m)
    if fam.key == "parity":
        from groklab.tasks.parity import DEFAULT_N_TEST, DEFAULT_N_TRAIN

        rows = (cfg.n_train or DEFAULT_N_TRAIN) + (cfg.n_test or DEFAULT_N_TEST)
        return TableShape(rows, cfg.parity_n, 2, 2)
    if fam.key == "digits":
        return TableShape(1797, 64, 10, None)
    t = build_table(cfg)
    return TableShape(int(t.x.shape[0]), int(t.x.shape[1]), int(t.n_classes), t.vocab_size)


@dataclass(frozen=True)
class ModelSize:
    """One member's model: parameters and optimizer values (counts), activations per example, FLOPs."""

    params: int
    opt: int
    act: int            # activation values a training example keeps for the backward pass
    widest: int         # widest hidden layer of one example at evaluation
    flops: float        # forward FLOPs per example


_MODEL_CACHE: dict[str, ModelSize] = {}


def _stand_in(cfg: Config, t: TableShape):
    """A one-row dataset of the task's shapes: all ``models.build`` reads."""
    import numpy as np

    from groklab.tasks import Dataset

    x = np.zeros((1, t.inputs), np.int32 if t.vocab is not None else np.float32)
    one = np.zeros(1, np.int32)
    return Dataset(name=cfg.task, x=x, y=one, n_classes=t.n_classes, vocab_size=t.vocab, train_idx=one,
                   test_idx=one, y_train=one, corrupted=np.zeros(1, bool), meta={"sequence": cfg.model == "lm"})


def _activations(cfg: Config, t: TableShape) -> tuple[int, int]:
    """(values a training example keeps for backward, widest hidden layer at evaluation)."""
    T, d, m, L = t.inputs, cfg.d_model, cfg.d_mlp, cfg.n_layers
    if cfg.model == "lm":       # every position through every block
        return L * (T * (6 * d + 2 * m) + 2 * cfg.n_heads * T * T) + T * d, T * max(d, m)
    if cfg.model == "transformer":
        T += 1
        inner = (L - 1) * (T * (6 * d + 2 * m) + 2 * cfg.n_heads * T * T)
        return inner + T * 3 * d + 2 * d + 2 * m, max(T * d, m)
    first = {"embed": T * cfg.d_embed, "embed-sum": cfg.d_embed, "features": T}.get(cfg.input, m)
    return first + 2 * L * m, max(first, m)


def model_size(cfg: Config, t: TableShape | None = None, counts: tuple[int, int] | None = None) -> ModelSize:
    """Sizes from ``jax.eval_shape`` of the model's and the optimizer's init: nothing is allocated
    (``counts``: the parameter and optimizer-value counts, known already; nothing is traced)."""
    key = (cfg.shape_key(), cfg.opt_dtype)
    if key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    import jax

    from groklab.models import build
    from groklab.train import optim

    t = t or table_shape(cfg)
    model = build(cfg, _stand_in(cfg, t))
    act, widest = _activations(cfg, t)
    if counts is not None:
        return ModelSize(counts[0], counts[1], act, widest, float(model.flops_per_example))
    hp = {k: float(getattr(cfg, k)) for k in optim.HP_FIELDS}
    rng = jax.ShapeDtypeStruct((2,), jax.numpy.uint32)

    def init(k):       # the state's shapes; a float64 optimizer (opt_dtype) holds the same values at 8 bytes each
        p = model.init(k)
        return p, optim.make(cfg.replace(opt_dtype="float32"), hp).init(p)

    params, state = jax.eval_shape(init, rng)
    count = lambda tree: sum(math.prod(v.shape) for v in jax.tree.leaves(tree))  # noqa: E731
    wide = 2 if cfg.opt_dtype == "float64" else 1            # counted in float32 values, as the rest
    out = ModelSize(count(params), wide * count(state), act, widest, float(model.flops_per_example))
    if len(_MODEL_CACHE) > 256:
        _MODEL_CACHE.clear()
    _MODEL_CACHE[key] = out
    return out


@dataclass(frozen=True)
class Estimate:
    """Bytes of memory by part, the largest part's words, and the disk and evaluation time of the runs."""

    members: int
    parts: dict[str, int]
    details: dict[str, str]
    total: int
    checkpoint_bytes: int
    metrics_bytes: int
    n_checkpoints: int
    n_evals: int
    eval_seconds: float

    @property
    def largest(self) -> str:
        return max(self.parts, key=self.parts.__getitem__)


def _n_evals(cfg: Config) -> int:
    """Evaluations of a run, an upper bound without listing them (the linear grid, both log grids, the last)."""
    decades = math.log10(max(cfg.steps, 10))
    return cfg.steps // cfg.eval_every + 2 + int(decades * (cfg.eval_per_decade + cfg.ckpt_per_decade)) + 2


def _n_checkpoints(cfg: Config) -> int:
    """Steps of the checkpoint grid (as ``train.loop.log_grid`` makes it: 0, the log grid, the last)."""
    import numpy as np

    n = max(2, math.ceil(math.log10(max(cfg.steps, 10)) * cfg.ckpt_per_decade) + 1)
    grid = np.unique(np.round(np.logspace(0, math.log10(cfg.steps), n)).astype(np.int64))
    return len({0, cfg.steps, *grid.tolist()})


def estimate(cfg: Config, members: int = 1, n_train: int | None = None,
             counts: tuple[int, int] | None = None) -> Estimate:
    """The memory, disk and evaluation time of ``members`` members of ``cfg`` trained as one ensemble
    (``n_train``: the largest member's training rows, default from ``cfg``; ``counts``: see ``model_size``)."""
    t = table_shape(cfg)
    ms = model_size(cfg, t, counts)
    E, N, C = members, t.rows, t.n_classes
    M = n_train or (cfg.n_train if cfg.n_train is not None else max(1, round(cfg.frac * N)))
    M = min(M, N)
    B = M if cfg.batch_size is None else min(cfg.batch_size, M)
    T = t.inputs + (1 if cfg.model == "transformer" else 0)
    loss_bytes = 8 if cfg.loss_dtype == "float64" else 4
    C = C * t.inputs if cfg.model == "lm" else C      # the lm's logits: one row of classes per position
    per_row = 4 * T + 11 if t.vocab is not None else 4 * t.inputs + 11
    parts = {
        "parameters and optimizer state": E * 4 * (ms.params + ms.opt),
        "data tables": E * 2 * (N * per_row + M * (12 + 4 * T)),
        "evaluation": E * N * (C * (4 + loss_bytes) + 4 * max(0, ms.widest - C)),
        "training": E * (4 * B * (C + ms.act) + 8 * ms.params),
    }
    grow = max(parts["evaluation"], parts["training"]) + min(parts["evaluation"], parts["training"]) // 2
    total = BASE_BYTES + parts["parameters and optimizer state"] + parts["data tables"] + grow
    who = f" × {E:,} members" if E > 1 else ""
    details = {
        "parameters and optimizer state": f"{ms.params:,} parameters and {ms.opt:,} optimizer values{who}",
        "data tables": f"{N:,} rows{who}",
        "evaluation": f"logits {N:,} rows × {C:,} classes{who}",
        "training": f"a batch of {B:,} rows × {C:,} classes and {ms.act:,} activations each{who}",
    }
    n_ck, n_ev = _n_checkpoints(cfg), _n_evals(cfg)
    return Estimate(E, parts, details, total, checkpoint_bytes=E * 4 * (n_ck * ms.params + 2 * ms.opt),
                    metrics_bytes=E * n_ev * METRIC_ROW_BYTES, n_checkpoints=n_ck, n_evals=n_ev,
                    eval_seconds=n_ev * (E * N * ms.flops / EVAL_RATE + EVAL_OVERHEAD_S))


def estimate_rows(cfg: Config) -> int:
    """A member's training rows (its n_train, or frac of the table)."""
    if cfg.n_train is not None:
        return cfg.n_train
    return max(1, round(cfg.frac * table_shape(cfg).rows))


__all__ = ["Estimate", "ModelSize", "TableShape", "estimate", "estimate_rows", "model_size", "table_shape"]
