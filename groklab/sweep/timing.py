"""Timing a trainer as it trains, in CPU seconds: its setup, one step and one evaluation of every member."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def time_trainer(build: Callable[[], Any], min_time: float) -> dict:
    """Build a trainer and time it in CPU seconds of this process (every thread; unlike wall time,
    not inflated when other jobs share the machine): {"setup_s": build + compile + first calls,
    "step_s": one training step of every member, "eval_s": one evaluation of every member, metrics
    brought to the host}."""
    import jax
    import jax.numpy as jnp

    clock = time.process_time
    t0 = clock()
    trainer = build()
    data = trainer.device_data()
    state = trainer.init_state()

    def steps(n: int) -> float:
        nonlocal state
        t = clock()
        state = trainer.run_steps(*state, data, jnp.int32(0), jnp.int32(n))
        jax.block_until_ready(state)
        return clock() - t

    def evaluate() -> float:
        t = clock()
        jax.device_get(trainer.evaluate(state[0], data))
        return clock() - t

    steps(1)         # compiles (or loads from JAX's persistent cache)
    evaluate()
    setup = clock() - t0
    steps(1)         # the first call on its own outputs is slower again (buffer placement)
    n = max(1, min(trainer.cfg.eval_every, 64))     # as training runs: eval_every steps a call
    while (dt := steps(n)) < min_time / 3 and n < 4096:
        n = min(4096, max(2 * n, int(n * min_time / 3 / max(dt, 1e-6))))
    return {"setup_s": setup, "step_s": min(dt, steps(n), steps(n)) / n, "eval_s": min(evaluate() for _ in range(3))}
