"""The optimizer of a config as an Optax chain: filters, then AdamW / Adam / SGD, then the schedule.

Hyper-parameters that may differ between ensemble members (lr, wd, betas, Grokfast's alpha and
lamb) arrive as traced scalars in ``hp``, so one compiled program serves every member.
AdamW's decay is decoupled and multiplied by the learning rate (as PyTorch's AdamW); Adam and
SGD add wd·w to the gradient (as PyTorch's weight_decay).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from groklab.config import member_fields
from groklab.train import filters

# The member fields of the optimizer group, in declaration order: lr, wd, beta1, beta2, grokfast_alpha, grokfast_lamb.
HP_FIELDS = member_fields("optim")


def parts(cfg, hp: dict) -> list[tuple[str, optax.GradientTransformation]]:
    """The chain's transformations in order, each with the name its state is saved under."""
    out: list[tuple[str, optax.GradientTransformation]] = []
    if cfg.grokfast == "ema":
        out.append(("grokfast_ema", filters.grokfast_ema(hp["grokfast_alpha"], hp["grokfast_lamb"])))
    elif cfg.grokfast == "ma":
        out.append(("grokfast_ma", filters.grokfast_ma(cfg.grokfast_window, hp["grokfast_lamb"])))
    if cfg.orthograd:
        out.append(("orthograd", filters.orthograd()))
    if cfg.optimizer == "adamw":
        out += [("adam", optax.scale_by_adam(hp["beta1"], hp["beta2"], cfg.eps)),
                ("decay", optax.add_decayed_weights(hp["wd"]))]
    elif cfg.optimizer == "adam":
        out += [("decay", optax.add_decayed_weights(hp["wd"])),
                ("adam", optax.scale_by_adam(hp["beta1"], hp["beta2"], cfg.eps))]
    else:
        out.append(("decay", optax.add_decayed_weights(hp["wd"])))
        if cfg.momentum:
            out.append(("momentum", optax.trace(decay=cfg.momentum)))
    warm = max(cfg.warmup, 1)
    lr = hp["lr"]
    out.append(("schedule", optax.scale_by_schedule(lambda count: -lr * jnp.minimum((count + 1) / warm, 1.0))))
    return out


def make(cfg, hp: dict) -> optax.GradientTransformation:
    """The config's optimizer: ``parts`` as an ``optax.named_chain`` (state addressable by name)."""
    return optax.named_chain(*parts(cfg, hp))
