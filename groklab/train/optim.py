"""The optimizer of a config as an Optax chain: filters, then AdamW / Adam / SGD / Muon, then the schedule.

Hyper-parameters that may differ between ensemble members (lr, wd, betas, Grokfast's alpha and
lamb) arrive as traced scalars in ``hp``, so one compiled program serves every member.
AdamW's decay is decoupled and multiplied by the learning rate (as PyTorch's AdamW); Adam and
SGD add wd·w to the gradient (as PyTorch's weight_decay). Muon (``optax.contrib.muon``; Tveit et al.
2025 for grokking) orthogonalizes the momentum of the hidden weight matrices (attention per head)
and hands the embeddings, the unembedding and the biases to AdamW, both with the config's decoupled
decay; its updates are rescaled to AdamW's RMS (``consistent_rms`` 0.2), so the same lr compares.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from optax.contrib import MuonDimensionNumbers

from groklab.config import member_fields
from groklab.train import filters

# The member fields of the optimizer group, in declaration order: lr, wd, beta1, beta2, grokfast_alpha, grokfast_lamb.
HP_FIELDS = member_fields("optim")
MUON_MOMENTUM = 0.95          # optax's and Keller Jordan's default
MUON_RMS = 0.2                # consistent_rms: updates at AdamW's RMS (Liu et al. 2025, "Muon is scalable")
MUON_NS_STEPS = 5
ONE_CYCLE = dict(pct_start=0.3, div_factor=25.0, final_div_factor=1e4)   # PyTorch OneCycleLR's defaults


def lr_shape(cfg) -> Callable[[jax.Array], jax.Array] | None:
    """The schedule's multiplier of the peak lr at a step count (None: constant). It multiplies the
    warm-up ramp: cosine falls from 1 to 0 at ``cfg.steps``; one-cycle rises from 1/25 to 1 over the
    first 30% of ``cfg.steps`` and falls to 1/(25·10⁴) at the end (PyTorch's OneCycleLR)."""
    total = max(cfg.steps, 1)
    if cfg.schedule == "cosine":
        return lambda count: 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(count, total) / total))
    if cfg.schedule == "one-cycle":
        return optax.cosine_onecycle_schedule(total, 1.0, **ONE_CYCLE)
    return None


def learning_rate(cfg, lr) -> Callable[[jax.Array], jax.Array]:
    """The learning rate at a step count: ``lr`` × the warm-up ramp × the schedule's shape."""
    warm = max(cfg.warmup, 1)
    shape = lr_shape(cfg)
    if shape is None:
        return lambda count: lr * jnp.minimum((count + 1) / warm, 1.0)
    return lambda count: lr * jnp.minimum((count + 1) / warm, 1.0) * shape(count)


def adam_only(cfg) -> frozenset[str]:
    """Parameters Muon leaves to AdamW: embeddings, the unembedding or classifier head (and an MLP's
    first layer over one-hot inputs, an embedding by another name); vectors go there anyway."""
    names = {"W_E", "W_E_A", "W_E_B", "W_pos", "W_U"}
    if cfg.model == "mlp":
        names |= {"W_out"} | ({"W_in"} if cfg.input == "onehot" else set())
    return frozenset(names)


def frozen(cfg, updates: dict) -> dict:
    """``updates`` with those of fixed parameters zeroed (GrokTransfer's A with ``embed_frozen``: neither the
    gradient step nor the weight decay moves it, so A + 0 stays A bit for bit)."""
    if cfg.embed_from is None or not cfg.embed_frozen:
        return updates
    return {k: jnp.zeros_like(v) if k == "W_E_A" else v for k, v in updates.items()}


def muon_dims(cfg) -> Callable[[dict], dict]:
    """Which parameters Muon orthogonalizes, as optax's dimension numbers: the last two axes of every
    weight with at least two (leading axes, attention's heads, are batch axes); None leaves it to AdamW."""
    skip = adam_only(cfg)

    def dims(params: dict) -> dict:
        return {k: None if k in skip or getattr(v, "ndim", 0) < 2 else MuonDimensionNumbers(v.ndim - 2, v.ndim - 1)
                for k, v in params.items()}     # (optax also passes masked trees: their MaskedNodes have no ndim)
    return dims


def muon_flops(cfg, shapes: dict) -> float:
    """Newton–Schulz FLOPs of one Muon step over parameters of these shapes: per iteration on an a×b
    matrix (a ≤ b), X·Xᵀ, A·A and B·X, 4a²b + 2a³ multiply-adds ×2 (0 unless the optimizer is Muon)."""
    if cfg.optimizer != "muon":
        return 0.0
    total = 0.0
    skip = adam_only(cfg)
    for k, shape in shapes.items():
        if k in skip or len(shape) < 2:
            continue
        a, b = sorted(shape[-2:])
        batch = 1
        for n in shape[:-2]:
            batch *= n
        total += batch * MUON_NS_STEPS * 2 * (4 * a * a * b + 2 * a ** 3)
    return float(total)


def _base(cfg, hp: dict) -> list[tuple[str, optax.GradientTransformation]]:
    if cfg.optimizer == "muon":     # carries the learning rate itself (both of its branches)
        return [("muon", optax.contrib.muon(
            learning_rate(cfg, hp["lr"]), beta=MUON_MOMENTUM, eps=cfg.eps, weight_decay=hp["wd"],
            adam_b1=hp["beta1"], adam_b2=hp["beta2"], adam_weight_decay=hp["wd"], ns_steps=MUON_NS_STEPS,
            muon_weight_dimension_numbers=muon_dims(cfg), consistent_rms=MUON_RMS))]
    if cfg.optimizer == "adamw":
        out = [("adam", optax.scale_by_adam(hp["beta1"], hp["beta2"], cfg.eps)),
               ("decay", optax.add_decayed_weights(hp["wd"]))]
    elif cfg.optimizer == "adam":
        out = [("decay", optax.add_decayed_weights(hp["wd"])),
               ("adam", optax.scale_by_adam(hp["beta1"], hp["beta2"], cfg.eps))]
    else:
        out = [("decay", optax.add_decayed_weights(hp["wd"]))]
        if cfg.momentum:
            out.append(("momentum", optax.trace(decay=cfg.momentum)))
    rate = learning_rate(cfg, hp["lr"])
    return out + [("schedule", optax.scale_by_schedule(lambda count: -rate(count)))]


def parts(cfg, hp: dict) -> list[tuple[str, optax.GradientTransformation]]:
    """The chain's transformations in order, each with the name its state is saved under."""
    out: list[tuple[str, optax.GradientTransformation]] = []
    if cfg.frob_lamb > 0:
        out.append(("frobenius", filters.delayed_frobenius(cfg.frob_lamb, cfg.frob_threshold)))
    if cfg.grokfast == "ema":
        out.append(("grokfast_ema", filters.grokfast_ema(hp["grokfast_alpha"], hp["grokfast_lamb"])))
    elif cfg.grokfast == "ma":
        out.append(("grokfast_ma", filters.grokfast_ma(cfg.grokfast_window, hp["grokfast_lamb"])))
    if cfg.orthograd:
        out.append(("orthograd", filters.orthograd()))
    return out + _base(cfg, hp)


def make(cfg, hp: dict) -> optax.GradientTransformationExtraArgs:
    """The config's optimizer: ``parts`` as an ``optax.named_chain`` (state addressable by name).
    With the delayed Frobenius penalty its ``update`` takes ``train_acc=`` (this step's minibatch).
    ``opt_dtype = "float64"``: gradients and parameters enter it in float64, its state is float64, and the
    updates leave it in the parameters' dtype (``in_float64``)."""
    chain = optax.named_chain(*parts(cfg, hp))
    return in_float64(chain) if cfg.opt_dtype == "float64" else chain


def in_float64(inner: optax.GradientTransformationExtraArgs) -> optax.GradientTransformationExtraArgs:
    """``inner`` computed in float64: its state is initialised from float64 parameters, each update casts the
    gradients and parameters up and the updates back to the parameters' dtype. Float32 flushes a squared
    gradient below ~1e-19 to zero on XLA's CPU (subnormals), so Adam's second moment vanishes and, with
    eps 1e-25, its step becomes m/eps (``tests/test_optim_dtype.py``); in float64 it stays ≈ lr."""
    up = lambda t: jax.tree.map(lambda a: a.astype(jnp.float64), t)  # noqa: E731

    def init(params):
        return inner.init(up(params))

    def update(updates, state, params=None, **extra):
        out, state = inner.update(up(updates), state, None if params is None else up(params), **extra)
        return jax.tree.map(lambda u, g: u.astype(g.dtype), out, updates), state

    return optax.GradientTransformationExtraArgs(init, update)
