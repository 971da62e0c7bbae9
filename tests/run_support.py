"""Shared by the reliability and fault tests: a tiny gromov2023 config and an interrupting progress callback."""

from __future__ import annotations

from groklab.config import resolve

TINY = dict(p=23, d_mlp=16, steps=80, eval_every=5, ckpt_per_decade=20)


def tiny(**kw):
    return resolve("gromov2023", **{**TINY, **kw})


def stop_at(step: int):
    """A progress callback that interrupts (like Ctrl-C) at the first evaluation at or past ``step``."""
    def progress(ev):
        if ev["step"] >= step:
            raise KeyboardInterrupt
    return progress
