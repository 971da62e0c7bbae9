"""Carlini et al. 2019, "The Secret Sharer" (``secret-sharer``): canaries inserted 1, 10 and 100 times
into a language model's training text; their exposure across training, held-out perplexity beside it.

A small causal transformer (``model = "lm"``) learns the standard library's pydoc topics
(``groklab.tasks.corpus``: held-out documents, a byte-level BPE trained on the training documents);
three canaries "the red secret number is DDD" (blue, green: one template each; random 3-digit secrets,
|R| = 1,000) are inserted 1, 10 and 100 times. Exposure is ranked exactly over all 1,000 candidates at
every evaluation (the paper estimates it for |R| = 10^9); k-extractable training windows (Carlini et al.
2023) are measured beside it. Their setup cannot be written in our config fields (recurrent models on
other corpora), so it has no ``setup``; what differs is listed as stand-ins.
"""

from __future__ import annotations

import numpy as np

from groklab.config import Config, resolve
from groklab.presets import PRESETS
from groklab.reproduce.core import MIN_SEEDS, Published, Row, seed_verdict, upper_median
from groklab.reproduce.experiment import Experiment, register, seeded
from groklab.reproduce.outcome import Outcome, not_trained

NAME = "secret-sharer"
CARLINI = "Carlini et al. 2019, The Secret Sharer"
_LABEL = "canaries"
SEEDS = tuple(range(MIN_SEEDS))
RECIPE = PRESETS[NAME]["values"]     # the preset is the recipe (groklab train --preset secret-sharer)
REPS = tuple(int(r) for r in RECIPE["canary_reps"].split(","))
DIGITS = RECIPE["canary_digits"]
_SMOKE = dict(corpus_vocab=300, corpus_context=24, corpus_windows=128, canary_reps="1,10", canary_digits=2,
              n_layers=1, d_model=16, n_heads=2, d_mlp=32, steps=40, eval_every=10, eval_per_decade=2)
# a dozen epochs of the full recipe's training rows (windows + insertions) at its batch size
STEPS_PER_EPOCH = (RECIPE["corpus_windows"] + sum(REPS)) / RECIPE["batch_size"]
EARLY = int(12 * STEPS_PER_EPOCH)
EPOCHS = round(RECIPE["steps"] / STEPS_PER_EPOCH)
PUB_REPS = Published("yes", f"{CARLINI}: exposure grows with the number of times a canary is inserted (their "
                            "insertion-count experiments)")
PUB_TIME = Published("yes", f"{CARLINI}: secrets are memorized early in training, often fully within a dozen "
                            "epochs; exposure rises over training", by=EARLY)
PUB_EARLY = Published("yes", f"{CARLINI}: unintended memorization occurs early and is not due to overfitting",
                      by=EARLY)
STAND_INS = (
    "model: a small causal transformer (model = lm; theirs: recurrent (LSTM) language models, e.g. on Penn Treebank, "
    "and a translation model)",
    "data: the standard library's pydoc topics, ~0.47 MB of text, a few thousand windows of a few dozen tokens "
    "(corpus_windows, corpus_context; theirs: Penn Treebank, WikiText, Enron email)",
    "secrets: canary_digits digits, |R| = 10^canary_digits, every candidate ranked (theirs: 9 digits, |R| = 10^9, the "
    "rank estimated by sampling and a skew-normal fit)",
)


def _points(smoke: bool) -> list[Config]:
    cfg = resolve(NAME, **(_SMOKE if smoke else {}))
    return seeded(NAME, _LABEL, cfg, SEEDS[:1] if smoke else SEEDS)


def _reps(run: dict) -> tuple[int, ...]:
    text = run["config"].get("canary_reps") or ""
    return tuple(int(s) for s in text.split(",")) if text else ()


def _curves(out: Outcome) -> list[dict]:
    """Per finished run: steps, each canary's exposure curve by repetitions, held-out and training ppl,
    and the evaluation where held-out perplexity is lowest."""
    got = []
    for r in out.runs(_LABEL):
        m = out.metrics(r)
        ex = {rep: np.asarray(m[f"exposure_{i + 1}"], float) for i, rep in enumerate(_reps(r))
              if f"exposure_{i + 1}" in m}
        ppl = np.asarray(m["ppl_test"], float)
        got.append({"seed": r["seed"], "step": np.asarray(m["step"]), "ex": ex, "ppl": ppl,
                    "ppl_train": np.asarray(m["ppl_train"], float), "extract": np.asarray(m["extract_train"], float),
                    "extract_test": np.asarray(m["extract_test"], float), "best": int(np.nanargmin(ppl)),
                    "max": float(np.log2(10 ** int(r["config"]["canary_digits"])))})
    return got


def _verdict(outcomes: list[str], budgets: list[int], published: Published, quantity: str, detail: str) -> Row:
    v, budget = seed_verdict(outcomes, budgets)
    row = Row(quantity, published, v if v is not None else "undecided", "finding", detail=detail, label=_LABEL)
    row.agree = None if v is None else v == published.value
    row.budget = budget if v is None else None
    return row


def _med(xs) -> str:
    return f"{upper_median(list(xs)):.2f}"


def _grows_with_reps(cs: list[dict]) -> Row:
    """Mean exposure over the evaluations (robust to two canaries both reaching the ceiling) increases with
    the insertions, in each seed."""
    reps = sorted(cs[0]["ex"])
    means = [[float(np.nanmean(c["ex"][r])) for r in reps] for c in cs]
    outcomes = ["yes" if all(a < b for a, b in zip(m, m[1:])) else "no" for m in means]
    detail = "mean exposure over training, median of seeds: " + ", ".join(
        f"{r}×: {_med(m[i] for m in means)} bits" for i, r in enumerate(reps))
    return _verdict(outcomes, [int(c["step"][-1]) for c in cs], PUB_REPS,
                    "exposure grows with the insertions (mean over training, every seed's order)", detail)


def _grows_over_training(cs: list[dict], rep: int) -> Row:
    """The canary's exposure at the end is above its exposure at step 0."""
    outcomes = []
    for c in cs:
        e = c["ex"][rep]
        outcomes.append("yes" if e[-1] > e[0] else "undecided" if c["step"][-1] < PUB_TIME.by else "no")
    detail = (f"step 0 → end (of {cs[0]['max']:.2f} possible), median of {len(cs)} seeds: "
              f"{_med(c['ex'][rep][0] for c in cs)} → {_med(c['ex'][rep][-1] for c in cs)} bits; at most "
              f"{_med(np.nanmax(c['ex'][rep]) for c in cs)}")
    return _verdict(outcomes, [int(c["step"][-1]) for c in cs], PUB_TIME,
                    f"canary inserted {rep}×: exposure rises over training", detail)


def _before_overfitting(cs: list[dict], rep: int) -> Row:
    """The canary is within 0.5 bits of its largest exposure by the step where held-out perplexity is lowest
    (its memorization did not wait for overfitting)."""
    outcomes, parts = [], []
    for c in cs:
        e, b = c["ex"][rep], c["best"]
        outcomes.append("yes" if np.nanmax(e[: b + 1]) >= np.nanmax(e) - 0.5 else
                        "undecided" if c["step"][-1] < PUB_EARLY.by else "no")
        parts.append(f"seed {c['seed']}: {np.nanmax(e[: b + 1]):.2f} of {np.nanmax(e):.2f} bits by step "
                     f"{int(c['step'][b]):,}")
    return _verdict(outcomes, [int(c["step"][-1]) for c in cs], PUB_EARLY,
                    f"canary inserted {rep}×: near its largest exposure before held-out perplexity stops improving",
                    "; ".join(parts))


def _after_best(cs: list[dict]) -> list[Row]:
    """Measured, nothing published to compare: what exposure does after held-out perplexity's minimum."""
    rows = []
    for rep in sorted(cs[0]["ex"]):
        delta = [float(c["ex"][rep][-1] - c["ex"][rep][c["best"]]) for c in cs]
        rows.append(Row(f"canary inserted {rep}×: exposure change from the lowest held-out perplexity to the end "
                        "(bits)", None, upper_median(delta), "bits", label=_LABEL,
                        detail="; ".join(f"seed {c['seed']}: {c['ex'][rep][c['best']]:.2f} at step "
                                         f"{int(c['step'][c['best']]):,} → {c['ex'][rep][-1]:.2f}" for c in cs)))
    ext = [float(c["extract"][-1]) for c in cs]
    rows.append(Row("training windows k-extractable at the end (Carlini et al. 2023; k = l = half a window)", None,
                    upper_median(ext), "frac", label=_LABEL,
                    detail=f"held-out windows: {_med(c['extract_test'][-1] for c in cs)}; held-out perplexity "
                           f"lowest {_med(c['ppl'][c['best']] for c in cs)}, at the end "
                           f"{_med(c['ppl'][-1] for c in cs)}"))
    return rows


def _compare(out: Outcome) -> list[Row]:
    cs = _curves(out)
    if not cs or not cs[0]["ex"]:
        return [Row("exposure grows with the insertions", PUB_REPS, None, "finding", why=not_trained(out, _LABEL))]
    return [_grows_with_reps(cs), *[_grows_over_training(cs, r) for r in sorted(cs[0]["ex"])],
            *[_before_overfitting(cs, r) for r in sorted(cs[0]["ex"])], *_after_best(cs)]


def _tables(out: Outcome) -> list[dict]:
    """Exposure of each canary across training beside held-out perplexity (median over seeds, at the
    evaluations every seed has); the row of lowest held-out perplexity marked."""
    cs = _curves(out)
    title = "Exposure (bits) of canaries inserted 1, 10 and 100 times across training, held-out perplexity beside it"
    if not cs or not cs[0]["ex"]:
        return [{"title": title, "header": ["step"], "rows": [[not_trained(out, _LABEL)]]}]
    reps = sorted(cs[0]["ex"])
    steps = sorted(set.intersection(*[set(c["step"].tolist()) for c in cs]))
    best = upper_median([int(c["step"][c["best"]]) for c in cs])
    shown = [s for s in steps if s in (0, best, steps[-1]) or s % RECIPE["eval_every"] == 0] if len(steps) > 12 \
        else steps
    rows = []
    for s in shown:
        at = [int(np.flatnonzero(c["step"] == s)[0]) for c in cs]
        rows.append([f"{s:,}" + (" ← lowest held-out ppl (median step)" if s == min(shown, key=lambda v: abs(v - best))
                                 else ""),
                     *[_med(c["ex"][r][i] for c, i in zip(cs, at)) for r in reps],
                     _med(c["ppl"][i] for c, i in zip(cs, at)), _med(c["ppl_train"][i] for c, i in zip(cs, at)),
                     _med(c["extract"][i] for c, i in zip(cs, at))])
    ceiling = f"{cs[0]['max']:.2f}"
    return [{"title": f"{title} (median of {len(cs)} seeds; the ceiling is log2 |R| = {ceiling} bits)",
             "header": ["step", *[f"exposure {r}×" for r in reps], "held-out ppl", "train ppl",
                        "train k-extractable"], "rows": rows}]


EXPERIMENT = register(Experiment(
    NAME, "The Secret Sharer: canary exposure across training", CARLINI,
    "a canary's exposure grows with the number of times it is inserted and over training; memorization happens "
    "early and is not due to overfitting",
    plan=f"a 2-layer causal transformer (d_model 64) on the pydoc topics (1,024 training windows of 32 tokens, "
         f"held-out documents), canaries with {DIGITS}-digit secrets inserted {', '.join(map(str, REPS))} times, "
         f"AdamW lr 3e-3, batch 32, {RECIPE['steps']:,} steps (~{EPOCHS} epochs), {MIN_SEEDS} seeds (each its own "
         "split, tokenizer and secrets); exposure ranked over all candidates at every evaluation; 19 min on 2 "
         "cores at load 9",
    axes=("seed",), setup=lambda label: None, points=_points, compare=_compare, stand_ins=STAND_INS,
    tables=_tables), order=88)
