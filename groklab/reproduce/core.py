"""Values, setups and the verdict rules: a published number (``Published``), one comparison (``Row``),
a paper's setup and how the stored configs depart from it (``setup_diff``), how the tables print
them, and when ours agrees with theirs. ``RULES`` states the rules in words; every table prints them.

Seeds: an arm trains several seeds (``MIN_SEEDS`` in a full version); a step count is their median (the
upper median for an even count) with the range beside it, a finding the majority of the seeds' outcomes.

Agreement: a step count agrees within a factor of ``STEP_FACTOR`` (one published as "within N" when
at most N times that factor); an accuracy within ``ACC_TOL``; a finding (a phase, "generalizes or not")
when equal. A run that stopped before the published event is a bound, never a "no": a step count not
reached within a budget disagrees only when the budget already exceeds the published value by that
factor, and is otherwise undecided; a finding the paper saw within S steps (``Published.by``) is
decided by runs of at least S steps, and a shorter run that has not shown it reads "undecided (budget
N)". A run whose every training loss term is exactly zero (``zero_terms`` = 1, Prieto et al.) has zero
gradients and cannot change any more: its "not reached" is final at any budget.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

STEP_FACTOR = 2.0       # step counts within this factor of the published one agree
ACC_TOL = 0.05          # accuracies within this of the published one agree
MIN_SEEDS = 3           # seeds per arm in a full version

RULES = (
    f"Seeds: each arm of a full version trains at least {MIN_SEEDS} seeds; a step count is their median (the upper "
    "median for an even count), shown with the range, and a finding is the majority of the seeds' outcomes.",
    f"Agreement: a step count agrees within a factor of {STEP_FACTOR:g} of the published one (below it, for one "
    f"published as \"≤ N\"), an accuracy within {ACC_TOL:g}, a finding when equal.",
    "Budgets: a run stopped before the published event is a bound, not a \"no\". \"> N\" means not reached within "
    f"a budget of N steps and \"≥\" marks a lower bound; such a bound disagrees only when it exceeds the published "
    f"value by the factor of {STEP_FACTOR:g}. A finding the paper saw within S steps is decided by runs of at least "
    "S steps; a shorter run that has not shown it reads \"undecided (budget N)\". A run whose every training loss "
    "term is exactly zero (zero_terms = 1) has zero gradients and can no longer change: its \"no\" is final.",
    "Departures: each experiment's published setup (architecture, init, optimizer with its betas, eps and decay, "
    "loss and its dtype, batch, steps, data) is data in its module; the departures listed are every field where "
    "the stored configs differ from it, computed, plus the differences that are not config fields (stand-ins).",
)

REFS = "../shared/REFERENCES.md"


@dataclass(frozen=True)
class Published:
    """A number or finding as published, and where."""

    value: float | int | str
    source: str
    approx: bool = False          # published as "~value"
    within: bool = False          # published as an upper bound: "within value" (steps)
    by: int | None = None         # a finding: the step by which the paper saw it (runs this long decide it)


@dataclass
class Row:
    """One comparison: a quantity, the published value, ours (read from the store) and, where ours
    differs, the measured facts that go with the difference."""

    quantity: str
    published: Published | None
    ours: float | int | str | None     # None: nothing to compare (the point did not train)
    kind: str                          # steps | acc | frac | ratio | count | finding
    bound: str = ""                    # ">" : not reached within the budget ``ours``; "≥": a lower bound
    agree: bool | None = None          # None: no published value, or a bound that cannot decide
    detail: str = ""                   # further measured numbers (shown beside ours)
    why: str = ""                      # where ours differs: what was measured (never a guess)
    label: str | None = None           # the points the row is about, if not all (for their departures)
    budget: int | None = None          # undecided because the runs stopped at this step

    @property
    def verdict(self) -> str:
        """yes / no / "undecided (budget N)" / — (nothing published to compare)."""
        if self.agree is not None:
            return "yes" if self.agree else "no"
        if self.published is not None and self.budget is not None:
            return f"undecided (budget {self.budget:,})"
        return "—"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["published_text"] = fmt_published(self.published, self.kind)
        d["ours_text"] = fmt_ours(self)
        d["verdict"] = self.verdict
        return d


def fmt_number(v: float | int | str | None, kind: str) -> str:
    """A value as the tables print it."""
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if kind in ("steps", "count"):
        return f"{int(round(v)):,}"
    if kind in ("acc", "frac"):
        return f"{v:.3f}"
    if kind == "ratio":
        return f"×{v:.3g}"
    return f"{v:.4g}"


def fmt_published(p: Published | None, kind: str) -> str:
    if p is None:
        return "—"
    return ("≤ " if p.within else "") + ("~" if p.approx else "") + fmt_number(p.value, kind)


def fmt_ours(r: Row) -> str:
    if r.kind == "finding" and r.ours == "undecided" and r.budget is not None:
        return f"not within {r.budget:,}"
    return (f"{r.bound} " if r.bound else "") + fmt_number(r.ours, r.kind)


def fmt_field(v: Any) -> str:
    """A config field's value as the departures print it."""
    if isinstance(v, bool) or v is None:
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def agrees(kind: str, published: Published | None, ours: Any, bound: str = "") -> bool | None:
    """The module docstring's agreement rule; None when it cannot be decided."""
    if published is None or ours is None:
        return None
    pub = published.value
    if isinstance(pub, str) or isinstance(ours, str):
        return str(pub) == str(ours)
    if kind in ("steps", "ratio"):
        if bound:   # ours is a budget (">") or a lower bound ("≥"): only decides when beyond the factor
            return False if ours > pub * STEP_FACTOR else None
        return (0 if published.within else 1 / STEP_FACTOR) <= ours / pub <= STEP_FACTOR
    if kind in ("acc", "frac"):
        return abs(ours - pub) <= ACC_TOL
    return pub == ours


def ratio_row(quantity: str, pub: Published | None, num: Row, den: Row, needs: str, unreached: str) -> Row:
    """A ratio of two reach rows (ours = num / den); ``num`` may be a lower bound (not reached within its budget),
    which makes the ratio one; ``needs`` says why there is no ratio, ``unreached`` why it is only a bound."""
    if num.ours is None or den.ours is None or den.bound:
        return Row(quantity, pub, None, "ratio", why=needs)
    x = num.ours / den.ours
    row = Row(quantity, pub, x, "ratio", bound="≥" if num.bound else "")
    row.agree = agrees("ratio", pub, x, row.bound)
    if num.bound:
        row.why = f"a lower bound: {unreached}"
        row.budget = num.ours if row.agree is None else None
    return row


def first_reach(steps: np.ndarray, values: np.ndarray, threshold: float, below: bool = False) -> int | None:
    """First evaluated step with ``values >= threshold`` (``< threshold`` if ``below``), or None."""
    hit = np.flatnonzero(values < threshold if below else values >= threshold)
    return int(steps[hit[0]]) if hit.size else None


def mean_finite(xs: list[float]) -> float | None:
    """The mean of the finite values (None if there is none)."""
    xs = [x for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(xs)) if xs else None


def upper_median(xs: list[float]) -> float:
    """The median of an odd count, the upper of the two middle values of an even one (a conservative step)."""
    return sorted(xs)[len(xs) // 2]


def spread(xs: list[float | None], kind: str, budget: int | None = None) -> str:
    """"median M, range a–b of n seeds" (misses, None, shown as "> budget")."""
    got = [x for x in xs if x is not None]
    n = len(xs)
    if n <= 1:
        return ""
    hi = f"> {budget:,}" if len(got) < n and budget is not None else (fmt_number(max(got), kind) if got else "—")
    lo = fmt_number(min(got), kind) if got else hi
    return f"range {lo} – {hi} over {n} seeds" if lo != hi else f"all {n} seeds {lo}"


def seed_verdict(outcomes: list[str], budgets: list[int]) -> tuple[str | None, int | None]:
    """The majority of per-seed outcomes ("yes", "no", "undecided"): (the finding or None, the budget
    that left it undecided)."""
    n = len(outcomes)
    for v in ("yes", "no"):
        if outcomes.count(v) * 2 > n:
            return v, None
    open_ = [b for o, b in zip(outcomes, budgets) if o == "undecided"]
    return None, min(open_) if open_ else min(budgets)


# ---------------------------------------------------------------------------------------------- setups
# Fields every published setup states, and the ones its model, optimizer and task add.
SETUP_FIELDS = ("task", "model", "n_layers", "d_mlp", "act", "bias", "init", "init_scale", "optimizer", "lr",
                "wd", "warmup", "loss", "loss_dtype", "batch_size", "steps", "grokfast", "orthograd")
SETUP_BY = {
    ("model", "transformer"): ("d_model", "n_heads", "layernorm", "tied", "op_token"),
    ("model", "mlp"): ("input", "tied"),
    ("model", "lm"): ("d_model", "n_heads", "layernorm", "tied", "pos"),
    ("input", "embed"): ("d_embed",), ("input", "embed-sum"): ("d_embed",),
    ("layernorm", True): ("ln_place",),
    ("optimizer", "adamw"): ("beta1", "beta2", "eps"), ("optimizer", "adam"): ("beta1", "beta2", "eps"),
    ("optimizer", "sgd"): ("momentum",),
    ("grokfast", "ema"): ("grokfast_alpha", "grokfast_lamb"), ("grokfast", "ma"): ("grokfast_window", "grokfast_lamb"),
}
MODULAR_FIELDS = ("p", "symmetric", "y_nonzero", "operands")
UNSTATED = "not stated"      # a setup field the paper and its code leave open (ours is then listed beside it)


def required_fields(setup: dict) -> tuple[str, ...]:
    """The fields a complete published setup of this kind must state (``setup`` names its task and model)."""
    from groklab.tasks import family_of

    need = list(SETUP_FIELDS)
    for (k, v), extra in SETUP_BY.items():
        if setup.get(k) == v:
            need += extra
    fam = family_of(setup["task"])
    need += list(MODULAR_FIELDS) if fam.modular else [f for f in fam.params if f not in ("frac", "noise")]
    need.append("n_train" if "n_train" in setup else "frac")
    return tuple(dict.fromkeys(need))


def setup_diff(paper: dict, configs: list[dict]) -> list[str]:
    """Every field of the paper's setup where the stored configs hold something else: "field ours (paper
    theirs)", ours listing each value the configs hold."""
    found = []
    for k, theirs in paper.items():
        ours = sorted({c.get(k) for c in configs}, key=repr)
        if configs and ours != [theirs]:
            found.append(f"{k} {', '.join(fmt_field(v) for v in ours)} (paper {fmt_field(theirs)})")
    return found


def majority(xs: list) -> Any:
    """The most common value (the first seen among equals; None for no values)."""
    return Counter(xs).most_common(1)[0][0] if xs else None


__all__ = ["ACC_TOL", "MIN_SEEDS", "REFS", "RULES", "SETUP_FIELDS", "STEP_FACTOR", "Published", "Row", "agrees",
           "first_reach", "fmt_field", "fmt_number", "fmt_ours", "fmt_published", "majority", "mean_finite",
           "required_fields", "seed_verdict", "setup_diff", "spread", "upper_median", "UNSTATED"]
