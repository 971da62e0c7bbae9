"""Memorization of a text corpus at every evaluation (task ``pydoc``, ``groklab.tasks.corpus``):
perplexity on training and held-out windows, each canary's exposure (Carlini et al. 2019), and the
k-extractable rate of training windows (Carlini et al. 2023), held-out windows beside it as the rate
that predictable text reaches without being memorized.

Exposure is ranked exactly, inside the compiled evaluation: the corpus table holds every canary's 10^k
candidate secrets as rows that are neither trained on nor held out, scored on the secret's positions
only, in blocks of 10^k (one per canary, in ``canary_reps`` order, the true secret first in its block).
A canary's exposure is then its rank among its block's losses. Canaries are numbered by their place in
``canary_reps`` (``exposure_1`` is the first entry's); the summary maps them to their repetitions.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from groklab.measure.exposure import exposure_in_block
from groklab.measure.extraction import extractable, prefix_suffix
from groklab.measure.registry import EvalContext, Metric, Panel, register

TASK = "pydoc"
SLOTS = 4                      # canaries with an exposure curve of their own (the first SLOTS of canary_reps)
COLORS = ("#74c0fc", "#1c7ed6", "#862e9c", "#e8590c")
TRAIN, TEST = "#3b5bdb", "#e8590c"


def reps_of(cfg) -> tuple[int, ...]:
    text = getattr(cfg, "canary_reps", "") or ""
    return tuple(int(s) for s in text.split(",")) if text.strip() else ()


def _corpus(setup) -> bool:
    return getattr(setup.cfg, "task", None) == TASK


def _windows(c: EvalContext):
    """Training windows (canary insertions left out) and held-out windows."""
    canary = c.splits.get("canary", jnp.zeros_like(c.is_train))
    return c.is_train & ~canary, c.is_test


def _exposure(c: EvalContext, i: int):
    """Exposure of canary i: the rank of its block's first row among the block (module docstring)."""
    cand = ~c.is_train & ~c.is_test
    k = jnp.where(cand, (c.y_obs >= 0).sum(-1), 0).max()
    size = jnp.power(10, k)
    o = jnp.cumsum(cand) - 1                     # ordinal among candidate rows
    block = cand & (o // size == i)
    return exposure_in_block(c.loss, block, block & (o % size == 0))


def _extract(c: EvalContext, rows):
    k, l = prefix_suffix(c.y_obs.shape[-1])
    return c.mean(extractable(c.pred, c.y_obs, k, l), rows)


def _summary(steps, m, cfg) -> dict:
    """Per canary (by repetitions): exposure at the end, its maximum and where; the extraction rates."""
    out = []
    for i, r in enumerate(reps_of(cfg)[:SLOTS]):
        ex = m.get(f"exposure_{i + 1}")
        if ex is None:
            continue
        j = int(np.nanargmax(ex))
        out.append({"reps": r, "final": float(ex[-1]), "max": float(ex[j]), "step_max": int(steps[j])})
    best = int(np.nanargmin(m["ppl_test"])) if "ppl_test" in m else None
    return {"canaries": {"exposure": out, "best_ppl_test": None if best is None else float(m["ppl_test"][best]),
                         "step_best_ppl_test": None if best is None else int(steps[best])}}


def _slot(i: int) -> Metric:
    return Metric(f"exposure_{i + 1}", lambda c, i=i: _exposure(c, i),
                  f"exposure of canary {i + 1} (the {i + 1}. entry of canary_reps), in bits: log2 of the candidates "
                  "minus log2 of its secret's rank among them (Carlini et al. 2019)",
                  applies=lambda s, i=i: _corpus(s) and len(reps_of(s.cfg)) > i, final=True,
                  summarize=_summary if i == 0 else None, panel="canary-exposure", label=f"canary {i + 1}",
                  color=COLORS[i], order=70 + i)


register(
    Panel("perplexity", "canaries", "Perplexity", "perplexity", order=17, log_y=True),
    Panel("canary-exposure", "canaries", "Canary exposure", "exposure (bits)", order=18,
          caption="Text memorization: perplexity on training and held-out windows, each planted canary's exposure "
                  "in bits (canary k is the k-th entry of canary_reps; Carlini et al. 2019) and the share of windows "
                  "whose second half greedy decoding reproduces from the first (k-extractable, Carlini et al. 2023)."),
    Panel("extraction", "canaries", "k-extractable windows", "fraction", order=19, y_range=(0, 1), percent=True),
    Metric("ppl_train", lambda c: jnp.exp(c.mean(c.loss, _windows(c)[0])),
           "perplexity on the training windows (canary insertions left out)", applies=_corpus, final=True,
           panel="perplexity", label="train", color=TRAIN, order=66),
    Metric("ppl_test", lambda c: jnp.exp(c.mean(c.loss, _windows(c)[1])), "perplexity on the held-out windows",
           applies=_corpus, final=True, panel="perplexity", label="held out", color=TEST, order=67),
    Metric("extract_train", lambda c: _extract(c, _windows(c)[0]),
           "fraction of training windows whose second half greedy decoding emits from the first", applies=_corpus,
           final=True, panel="extraction", label="train", color=TRAIN, order=68),
    Metric("extract_test", lambda c: _extract(c, _windows(c)[1]),
           "the same on held-out windows (what predictable text reaches unmemorized)", applies=_corpus, final=True,
           panel="extraction", label="held out", color=TEST, order=69),
    *[_slot(i) for i in range(SLOTS)],
)
