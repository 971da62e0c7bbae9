"""The optimizer of a config as an Optax chain: filters, then AdamW / Adam / SGD, then the schedule.

Hyper-parameters that may differ between ensemble members (lr, wd, betas, Grokfast's alpha and
lamb) arrive as traced scalars in ``hp``, so one compiled program serves every member.
AdamW's decay is decoupled and multiplied by the learning rate (as PyTorch's AdamW); Adam and
SGD add wd·w to the gradient (as PyTorch's weight_decay).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from groklab.train import filters

HP_FIELDS = ("lr", "wd", "beta1", "beta2", "grokfast_alpha", "grokfast_lamb")


def make(cfg, hp: dict) -> optax.GradientTransformation:
    parts: list[optax.GradientTransformation] = []
    if cfg.grokfast == "ema":
        parts.append(filters.grokfast_ema(hp["grokfast_alpha"], hp["grokfast_lamb"]))
    elif cfg.grokfast == "ma":
        parts.append(filters.grokfast_ma(cfg.grokfast_window, hp["grokfast_lamb"]))
    if cfg.orthograd:
        parts.append(filters.orthograd())
    if cfg.optimizer == "adamw":
        parts += [optax.scale_by_adam(hp["beta1"], hp["beta2"], cfg.eps), optax.add_decayed_weights(hp["wd"])]
    elif cfg.optimizer == "adam":
        parts += [optax.add_decayed_weights(hp["wd"]), optax.scale_by_adam(hp["beta1"], hp["beta2"], cfg.eps)]
    else:
        parts.append(optax.add_decayed_weights(hp["wd"]))
        if cfg.momentum:
            parts.append(optax.trace(decay=cfg.momentum))
    warm = max(cfg.warmup, 1)
    lr = hp["lr"]
    parts.append(optax.scale_by_schedule(lambda count: -lr * jnp.minimum((count + 1) / warm, 1.0)))
    return optax.chain(*parts)
