"""What is analyzed: a run's config, dataset and model, the family of its task, and the model's
forward pass over the inputs the measures read (the p×p grid of a modular task)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from groklab.config import Config


@dataclass
class Subject:
    """A run's config, dataset and model, and what its task allows to measure."""

    cfg: Config
    ds: object
    model: object
    family: str                      # "modular", "group" (S_n), "parity" or "other"
    p: int | None = None
    sign: int | None = None          # labels are a + sign·b mod p (1 or −1), else None
    grid: np.ndarray | None = None   # [p·p, 2] every operand pair, a-major
    why: str | None = None           # family "other": why the Fourier and parity measures do not apply

    def token_weights(self, params: dict) -> np.ndarray | None:
        """The model's weights per token of Z_p [p, d] (a one-hot MLP: both operand blocks side by side)."""
        W = self.model.token_weights(params)
        return None if W is None else W[:self.p]

    def neuron_weights(self, params: dict) -> np.ndarray | None:
        """How token a ∈ Z_p feeds each first-layer neuron: [n_neurons, p]."""
        W = self.model.neuron_weights(params)
        return None if W is None else W[:, :self.p]


def subject(cfg: Config, ds=None, model=None) -> Subject:
    """The subject of a run with this config (its dataset and model built from the config unless given)."""
    from groklab.models import build
    from groklab.tasks import build_dataset, family_of

    ds = build_dataset(cfg) if ds is None else ds
    model = build(cfg, ds) if model is None else model
    meta = ds.meta
    modular = family_of(cfg.task).modular and meta.get("modular") and ds.x.shape[1] == 2 \
        and int(meta.get("p", 0)) >= 3 and ds.n_classes == int(meta["p"])
    if modular and not model.reads_tokens:
        return Subject(cfg, ds, model, "other", why=f"task {cfg.task} is modular, but this MLP reads its operands "
                       "as real-valued features, so it has no weights per token to take a Fourier basis over")
    if modular:
        p = int(meta["p"])
        a, b = ds.x[:, 0].astype(np.int64), ds.x[:, 1].astype(np.int64)
        sign = next((s for s in (1, -1) if np.array_equal(ds.y, (a + s * b) % p)), None)
        g = np.stack(np.meshgrid(np.arange(p), np.arange(p), indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
        return Subject(cfg, ds, model, "modular", p=p, sign=sign, grid=g)
    if meta.get("perm_n") is not None and model.reads_tokens and ds.x.shape[1] == 2 \
            and ds.n_classes == math.factorial(int(meta["perm_n"])):
        return Subject(cfg, ds, model, "group")    # S_n: its irreps (groklab.analysis.circuit)
    if meta.get("bits") is not None and "parity_n" in meta:
        return Subject(cfg, ds, model, "parity")
    return Subject(cfg, ds, model, "other",
                   why=f"task {cfg.task} is not modular arithmetic over Z_p (no Fourier basis over its tokens)")


class Grids:
    """Labels and masks over the p×p grid, re-indexed so that the task reads as a + b."""

    def __init__(self, sub: Subject):
        ds, p = sub.ds, sub.p
        a, b = ds.x[:, 0].astype(np.int64), ds.x[:, 1].astype(np.int64)
        self.b_of = np.arange(p) if sub.sign != -1 else (-np.arange(p)) % p   # column j holds b = b_of[j]
        col = (sub.sign or 1) * b % p
        y_obs = ds.y.copy()
        y_obs[ds.train_idx] = ds.y_train
        self.true = np.full((p, p), -1, np.int64)
        self.true[a, col] = ds.y
        self.obs = np.full((p, p), -1, np.int64)
        self.obs[a, col] = y_obs
        self.train = np.zeros((p, p), bool)
        self.train[a[ds.train_idx], col[ds.train_idx]] = True
        self.rows = (a * p + b)                    # grid row of each table row (a-major grid)

    def reindex(self, z_flat: np.ndarray, p: int) -> np.ndarray:
        """Grid logits [p·p, C] (rows a-major) → [p, p, C] with column j at b = b_of[j]."""
        z = z_flat.reshape(p, p, -1)
        return z if self.b_of[-1] == p - 1 else z[:, self.b_of]


def forward_fn(sub: Subject, rows: np.ndarray):
    """Jitted, asynchronous forward pass: params → (logits over the model's inputs (the p×p grid
    for a modular task), per-row cross-entropy [N] and correctness [N] of the table's rows,
    ``rows`` giving each table row's input, scored against the labels trained on)."""
    import jax
    import jax.numpy as jnp

    ds = sub.ds
    x = np.asarray(sub.model.prepare(jnp.asarray(sub.grid if sub.family == "modular" else ds.x)))
    y = ds.y.copy()
    y[ds.train_idx] = ds.y_train

    def forward(params, x, rows, y):
        z = sub.model.apply(params, x)
        logp = jax.nn.log_softmax(z[rows].astype(jnp.float32), axis=-1)
        ce = -jnp.take_along_axis(logp, y[:, None], axis=-1)[:, 0]
        return z, ce, logp.argmax(-1) == y

    fn = jax.jit(forward)
    return lambda params: fn(params, x, rows, y)


__all__ = ["Grids", "Subject", "forward_fn", "subject"]
