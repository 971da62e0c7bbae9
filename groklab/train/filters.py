"""Gradient filters as Optax transformations that chain in front of any optimizer.

- Grokfast (Lee et al. 2024, "Grokfast: accelerated grokking by amplifying slow gradients"):
  EMA filter mu_0 = g_0, mu_t = alpha·mu_{t-1} + (1-alpha)·g_t, g' = g + lamb·mu_t;
  MA filter g' = g + lamb·mean(last `window` gradients, current included), applied once full.
- ⊥Grad (Prieto et al. 2025, "Grokking at the edge of numerical stability"): per tensor,
  g_perp = g - (w·g)/(w·w)·w, rescaled to the norm of g.
- Delayed Frobenius penalty (vuciv/grokfast's "delayed compression"; a LessWrong post, 2025): the
  gradient of lamb·Σ‖W‖²_F over the weight matrices, 2·lamb·W, added at every step whose minibatch
  train accuracy (the ``train_acc`` extra argument) is at least ``threshold``, as their loop adds the
  penalty to the loss once ``train_acc >= 0.99`` (a traced test inside the compiled step, not a latch).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class EmaState(NamedTuple):
    mu: optax.Updates
    count: jax.Array


def grokfast_ema(alpha: float | jax.Array = 0.98, lamb: float | jax.Array = 2.0) -> optax.GradientTransformation:
    def init(params):
        return EmaState(mu=jax.tree.map(jnp.zeros_like, params), count=jnp.zeros((), jnp.int32))

    def update(g, state, params=None):
        first = state.count == 0
        mu = jax.tree.map(lambda m, x: jnp.where(first, x, alpha * m + (1 - alpha) * x), state.mu, g)
        out = jax.tree.map(lambda x, m: x + lamb * m, g, mu)
        return out, EmaState(mu=mu, count=state.count + 1)

    return optax.GradientTransformation(init, update)


class MaState(NamedTuple):
    buf: optax.Updates      # (window, *shape) ring buffer of past gradients
    count: jax.Array


def grokfast_ma(window: int = 100, lamb: float | jax.Array = 5.0) -> optax.GradientTransformation:
    def init(params):
        return MaState(buf=jax.tree.map(lambda p: jnp.zeros((window, *p.shape), p.dtype), params),
                       count=jnp.zeros((), jnp.int32))

    def update(g, state, params=None):
        slot = state.count % window
        buf = jax.tree.map(lambda b, x: b.at[slot].set(x), state.buf, g)
        full = state.count + 1 >= window
        out = jax.tree.map(lambda x, b: jnp.where(full, x + lamb * b.mean(0), x), g, buf)
        return out, MaState(buf=buf, count=state.count + 1)

    return optax.GradientTransformation(init, update)


def orthograd(eps: float = 1e-30) -> optax.GradientTransformation:
    def init(params):
        return optax.EmptyState()

    def update(g, state, params):
        def proj(x, w):
            w = w.astype(x.dtype)
            gp = x - (jnp.vdot(w, x) / (jnp.vdot(w, w) + eps)) * w
            return gp * (jnp.linalg.norm(x) / (jnp.linalg.norm(gp) + eps))
        return jax.tree.map(proj, g, params), state

    return optax.GradientTransformation(init, update)


class FrobeniusState(NamedTuple):
    on_steps: jax.Array     # steps so far with the penalty on


def delayed_frobenius(lamb: float, threshold: float = 0.99) -> optax.GradientTransformationExtraArgs:
    """The delayed Frobenius penalty's gradient (module docstring).

    Args:
      lamb: the penalty's weight (the loss gains lamb·Σ‖W‖²_F over parameters with at least two axes).
      threshold: the minibatch train accuracy at or above which a step is penalized.

    ``update(g, state, params, train_acc=...)`` requires ``params`` and ``train_acc`` (a scalar).
    """
    def init(params):
        return FrobeniusState(on_steps=jnp.zeros((), jnp.int32))

    def update(g, state, params, train_acc=None, **_):
        if params is None or train_acc is None:
            raise ValueError("delayed_frobenius: update needs params and train_acc")
        on = train_acc >= threshold
        out = jax.tree.map(lambda x, w: jnp.where(on, x + 2.0 * lamb * w.astype(x.dtype), x) if w.ndim >= 2 else x,
                           g, params)
        return out, FrobeniusState(on_steps=state.on_steps + on.astype(jnp.int32))

    return optax.GradientTransformationExtraArgs(init, update)
