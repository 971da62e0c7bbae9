"""A fair race of the grokking accelerators on one task (``accelerators``): a + b mod 113 on Nanda et al.'s
1-layer transformer, 30% of the pairs, full batch.

Every arm is the tuned baseline (the ``nanda2023-fast`` preset: AdamW lr 1e-2, wd 3, β₂ 0.999, init scale
0.5) with one change, plus the untuned ``nanda2023`` recipe (lr 1e-3, wd 1) for scale. Each arm trains
``RACE_SEEDS`` seeds as one ensemble, and the accelerated arms add a grid of lr × wd around their
own point (a cross of the 3 × 3 grid: lr ÷2, ×2; wd ÷3, ×3; seed 0; the centre is seed 0 itself), trained
after every arm's seeds, as is the untuned arm. Read off the store: steps, training
FLOPs and seconds to 99% test accuracy (median and the range over the seeds: for n seeds the range covers
the median with probability 1 − 2^(1−n), 94% for 5), whether each seed stayed at or above 99% to the end,
the stability rule that a replacement of nanda2023-fast must meet (never below 99% after t_gen for at
least 5 × t_gen steps, at least 6 seeds), and robustness: the fraction of the grid that reaches 99% and
stays there to the end. Every published "X accelerates grokking" figure gets a row with ours beside it,
and the row says how our setup departs from theirs (they are all other tasks, models or baselines).

GrokTransfer (Xu et al. 2025) needs a weaker model first: ``groktransfer-weak`` trains Xu et al.'s small MLP
(d_embed 4, width 16, no biases) on the same task, split and seeds, listed before every other point; the
``groktransfer`` arm's seed s sets ``embed_from`` to its weak model's config hash, and the sweep trains it in
process after the weak models (``sweep.cost.schedule``). Its row is the speed-up in training FLOPs with the weak
model's whole training added (as the paper's Table 1 adds its weak model's time), with steps and seconds alone
and with the weak model in the detail; the race table has a ``groktransfer + weak`` row beside the arm's.
"""

from __future__ import annotations

from groklab.config import Config, from_dict
from groklab.presets import PRESETS
from groklab.reproduce.core import STEP_FACTOR, Published, Row, upper_median
from groklab.reproduce.experiment import TINY_TRANSFORMER, Experiment, register
from groklab.reproduce.grokfast2024 import GROKFAST, GROKFAST_SPEEDUP, LEE
from groklab.reproduce.nanda2023 import NANDA_SETUP
from groklab.reproduce.outcome import Outcome, not_trained
from groklab.reproduce.prieto2025 import PRIETO, PRIETO_ORTHO
from groklab.reproduce.race import RACE_ACC, STAY_FACTOR, _median_hit, facts, interval, median_reached

NAME = "accelerators"
RACE_SEEDS = tuple(range(5))
RACE_STEPS, RACE_EVERY = 200, 10
LATER_EVERY = 20             # the grids and the untuned arm: evaluated every 20 steps, trained after every seed
REPLACE_SEEDS = 6             # ... over at least this many seeds
# the robustness grid around an arm's own (lr, wd), as multipliers: a cross of the 3 × 3 lr × wd grid (lr
# halved and doubled at its wd, wd divided and multiplied by 3 at its lr) and the centre, seed 0 of the arm
GRID = ((1.0, 1.0), (0.5, 1.0), (2.0, 1.0), (1.0, 1 / 3), (1.0, 3.0))
BASELINE = "adamw"
_LOOP = ("steps", "eval_every", "eval_per_decade", "ckpt_per_decade")
_FAST = {k: v for k, v in PRESETS["nanda2023-fast"]["values"].items() if k not in _LOOP}
_SLOW = {k: v for k, v in PRESETS["nanda2023"]["values"].items() if k not in _LOOP}
# arm -> (what it is, its change to nanda2023-fast); "nanda2023" is the untuned recipe instead
ARMS: dict[str, tuple[str, dict]] = {
    "adamw": ("nanda2023-fast as is: AdamW lr 1e-2, wd 3, β₂ 0.999, init scale 0.5", {}),
    "nanda2023": ("the nanda2023 recipe: AdamW lr 1e-3, wd 1, β₂ 0.98, init scale 1", {**_SLOW, "init_scale": 1.0}),
    "grokfast-ema": ("+ Grokfast EMA, α 0.98, λ 2 (Lee et al. 2024)",
                     {"grokfast": "ema", "grokfast_alpha": 0.98, "grokfast_lamb": 2.0}),
    "grokfast-ma": ("+ Grokfast MA, window 100, λ 5 (Lee et al. 2024)",
                    {"grokfast": "ma", "grokfast_window": 100, "grokfast_lamb": 5.0}),
    "orthograd": ("+ ⊥Grad (Prieto et al. 2025)", {"orthograd": True}),
    "stablemax": ("StableMax cross-entropy, float32 (Prieto et al. 2025)", {"loss": "stablemax"}),
    "muon": ("Muon (optax.contrib.muon) for the hidden matrices, AdamW for the rest", {"optimizer": "muon"}),
    "frobenius": ("+ delayed Frobenius penalty 0.01·Σ‖W‖² on steps with train accuracy ≥ 0.99 (vuciv/grokfast)",
                  {"frob_lamb": 0.01, "frob_threshold": 0.99}),
    "cosine": ("cosine learning-rate decay to 0 at the last step", {"schedule": "cosine"}),
    "one-cycle": ("one-cycle learning rate (PyTorch's OneCycleLR defaults)", {"schedule": "one-cycle"}),
    "groktransfer": ("GrokTransfer: W_E = A·B, A the final embedding of a weak MLP (groktransfer-weak, the same "
                     "seed and split), B drawn fresh, both trained (Xu et al. 2025)", {"embed_rank": 4}),
}
GRID_ARMS = tuple(a for a in ARMS if a != "nanda2023")
SMOKE_ARMS = ("adamw", "muon", "frobenius", "groktransfer")

TVEIT = ("Tveit, Remseth, Skogvold 2025, Muon optimizer accelerates grokking (arXiv 2504.16041): mean grokking "
         "epoch 153.09 with AdamW, 102.89 with Muon, over 7 tasks and 3 softmax variants")
ESSENTIAL = ("Essential AI 2025, \"Muon doesn't clearly grok faster\" (blog, June 2025): over a wider search of "
             "hyper-parameters and model sizes Muon's advantage disappears")
VUCIV = ("vuciv/grokfast README (delayed compression; LessWrong, \"A simple method for accelerating grokking\"), "
         "unverified: x+y mod 97, steps to 95% validation accuracy, Grokfast EMA 1,300, delayed Frobenius 720")
# GrokTransfer, as verified in the paper (arXiv 2504.13292 v1; its code, github.com/zhiweixx/groktransfer, holds
# only a README, "Code is coming out soon!"): §2.2, train a weaker model with embedding E_W [d_v, d_W] "until it
# groks to a non-trivial performance on the validation set", then train the target with E_T = A·B, A = E_W and B
# [d_W, d_T] random, "where both A and B are trainable" (§3.3's proof keeps A fixed; its footnote: trainable A
# changes nothing; ``embed_frozen`` is that variant). §4.1: the weak model for modular addition is a two-layer
# FNN with a trainable embedding, (d_embed, width) = (4, 16), no biases, 10^4 epochs (A.3.1, Fig. 6a); §4.2 /
# A.3.3: into an 8-layer transformer (d 512, d_mlp 512, 4 heads) from a two-layer width-4 FNN taken when it
# first reaches 30% test accuracy; p = 113, 25% of the pairs, AdamW, (init scale, lr, wd) by grid search:
# GrokTransfer (0.7, 1e-3, 1), from scratch (0.4, 5e-4, 1). Table 1, wall-clock of the forward and backward
# passes: weak 2,828 ms, target with GrokTransfer 71,079 ms, from scratch 392,667 ms; A.4.1: ~1,000 against
# ~10,000 epochs, ~10^10 against ~10^11 FLOPs.
XU = ("Xu et al. 2025, GrokTransfer (arXiv 2504.13292), Table 1: a + b mod 113, an 8-layer transformer from "
      "scratch 392,667 ms against 2,828 ms (weak MLP) + 71,079 ms (target) of training")
XU_SPEEDUP = round(392_667 / (2_828 + 71_079), 2)
XU_THEIRS = ("theirs: 25% of the pairs, an 8-layer transformer (d 512, 4 heads), each arm at its own grid-searched "
             "init scale, lr and wd, the weak model a width-4 MLP taken at 30% test accuracy, wall-clock time")
TRANSFER, WEAK = "groktransfer", "groktransfer-weak"
# the weak model: Xu et al.'s FNN for modular addition (d_embed 4 per operand, width 16, no biases); AdamW lr 1e-2,
# wd 0.3, β₂ 0.98, init scale 1 (probed here, seeds 0-2: 50%, 50%, 92% test accuracy after 1,000 steps)
WEAK_MODEL = dict(model="mlp", input="embed", d_embed=4, d_mlp=16, n_layers=1, bias=False, init_scale=1.0,
                  lr=1e-2, wd=0.3, beta2=0.98)
WEAK_STEPS, WEAK_EVERY = 1000, 50
OURS = (f"ours: a + b mod 113 on nanda2023's transformer, full batch, {RACE_ACC:.0%} test accuracy, each change "
        "on top of the tuned nanda2023-fast baseline")
# (arm, the arm it is measured against, published speed-up, source, how their setup differs)
SPEEDUP_CLAIMS = (
    ("grokfast-ema", BASELINE, GROKFAST_SPEEDUP["ema"],
     f"{LEE}: x*y mod 97, {GROKFAST['none']:,} → {GROKFAST['ema']:,} iterations to 95% validation accuracy",
     "theirs: x·y mod 97, a 2-layer transformer, Adam with batch 512, against a baseline without weight decay"),
    ("grokfast-ma", BASELINE, GROKFAST_SPEEDUP["ma"],
     f"{LEE}: x*y mod 97, {GROKFAST['none']:,} → {GROKFAST['ma']:,} iterations to 95% validation accuracy",
     "theirs: x·y mod 97, a 2-layer transformer, Adam with batch 512, against a baseline without weight decay"),
    ("muon", BASELINE, round(153.09 / 102.89, 2), TVEIT,
     "theirs: 7 tasks, a pre-LN transformer, epochs to 95% validation accuracy after train accuracy ≈ 100%, "
     "a mean over runs"),
    ("frobenius", "grokfast-ema", round(1300 / 720, 2), VUCIV,
     "theirs: x+y mod 97 on Grokfast's transformer, the penalty without weight decay against Grokfast EMA "
     "(α 0.95, λ 2, wd 0.005)"),
)


def _grid_label(arm: str, a: float, b: float) -> str:
    return f"{arm} lr×{a:g} wd×{b:.3g}"


def _grid(arm: str) -> list[tuple[str, float, float]]:
    """The arm's grid points other than its centre (the centre is seed 0 of the arm itself)."""
    return [(_grid_label(arm, a, b), a, b) for a, b in GRID if (a, b) != (1.0, 1.0)]


# single-seed points by design (the robustness grids), exempt from the rule of at least MIN_SEEDS seeds per arm
PROBE_LABELS = tuple(label for arm in GRID_ARMS for label, _, _ in _grid(arm))


def _arm_config(arm: str, smoke: bool) -> dict:
    size = {**TINY_TRANSFORMER, "ckpt_per_decade": 3} if smoke else {}
    steps, every = (40, 10) if smoke else (RACE_STEPS, RACE_EVERY)
    weak = {"embed_from": _weak_ref(0, smoke)} if arm == TRANSFER else {}
    return {**_FAST, **ARMS[arm][1], **size, "steps": steps, "eval_every": every, "eval_per_decade": 5,
            "ckpt_per_decade": 3, "preset": None, **weak}


def _weak_points(smoke: bool) -> list[Config]:
    """GrokTransfer's weak models, one per seed of the race (the same split), on the race's task."""
    size = {"p": TINY_TRANSFORMER["p"]} if smoke else {}
    steps, every = (40, 10) if smoke else (WEAK_STEPS, WEAK_EVERY)
    base = from_dict({**_FAST, **WEAK_MODEL, **size, "steps": steps, "eval_every": every, "eval_per_decade": 5,
                      "ckpt_per_decade": 3, "preset": None, "name": f"{NAME}/{WEAK}"})
    return [base.replace(seed=s) for s in (RACE_SEEDS[:1] if smoke else RACE_SEEDS)]


def _weak_ref(seed: int, smoke: bool) -> str:
    """``embed_from`` of the transfer arm's seed: the weak model of that seed, named by its config hash (the sweep
    trains it first: ``sweep.cost.schedule`` trains the transfer arm in process, after it)."""
    return f"config:{next(c for c in _weak_points(smoke) if c.seed == seed).hash()}"


def _points(smoke: bool) -> list[Config]:
    """GrokTransfer's weak models first (the transfer arm reads them), every accelerated arm's seeds, then the
    untuned arm and the grids (another evaluation interval, so other ensembles, trained after them: an
    interrupted race has its speed table first)."""
    first, later = _weak_points(smoke), []
    every = {} if smoke else {"eval_every": LATER_EVERY}
    for arm in SMOKE_ARMS if smoke else ARMS:
        base = from_dict(_arm_config(arm, smoke))
        seeds = [base.replace(name=f"{NAME}/{arm}", seed=s, **({"embed_from": _weak_ref(s, smoke)} if arm == TRANSFER
                                                                 else {}))
                 for s in (RACE_SEEDS[:1] if smoke else RACE_SEEDS)]
        if arm == "nanda2023":
            later += [c.replace(**every) for c in seeds]
        else:
            first += seeds
        if arm in GRID_ARMS:
            grid = _grid(arm)[:1] if smoke else _grid(arm)
            later += [base.replace(name=f"{NAME}/{label}", seed=0, lr=base.lr * a, wd=base.wd * b, **every)
                      for label, a, b in grid]
    return first + later


def _member_steps() -> int:
    """The transformers' member-steps (the weak MLPs' are ~100 times cheaper)."""
    return sum(c.steps for c in _points(False) if c.model == "transformer")


def _setup(label: str) -> dict | None:
    """The paper's setup where there is one: Nanda et al.'s for the untuned recipe's arm."""
    return {**NANDA_SETUP, "frac": _SLOW["frac"]} if label == "nanda2023" else None


# ---------------------------------------------------------------------------------------------- reading back

def _speedup_row(out: Outcome, arm: str, over: str, pub_x: float, src: str, theirs: str) -> Row:
    """``over``'s median steps to RACE_ACC over ``arm``'s, beside a published speed-up; the range from the
    seeds' extremes beside it; a bound when either missed in most seeds."""
    q = f"{arm}: speed-up over {over} (median steps to {RACE_ACC:.0%}, {over} ÷ {arm})"
    pub = Published(pub_x, src)
    fa, fo = facts(out, arm), facts(out, over)
    if not fa or not fo:
        return Row(q, pub, None, "ratio", why=not_trained(out, over if fa else arm), label=arm)
    ma, mo = _median_hit(fa), _median_hit(fo)
    why = f"setup differs: {theirs}; {OURS}"
    detail = (f"{over} {interval([f['hit'] for f in fo], 'steps', fo[0]['budget'])}, "
              f"{arm} {interval([f['hit'] for f in fa], 'steps', fa[0]['budget'])} steps")
    if ma is None and mo is None:
        return Row(q, pub, None, "ratio", detail=detail, why="neither reached 99% in most seeds; " + why, label=arm)
    if ma is None:          # the accelerator missed: its speed-up is below over's median / its budget
        ub = mo / min(f["budget"] for f in fa)
        row = Row(q, pub, ub, "ratio", bound="<", detail=detail, why=why, label=arm)
        row.agree = False if ub * STEP_FACTOR < pub_x else None
        return row
    if mo is None:          # the baseline missed: a lower bound
        lb = min(f["budget"] for f in fo) / ma
        row = Row(q, pub, lb, "ratio", bound="≥", detail=detail, why=why, label=arm)
        row.agree = False if lb > pub_x * STEP_FACTOR else None
        row.budget = None if row.agree is not None else min(f["budget"] for f in fo)
        return row
    ha, ho = [f["hit"] for f in fa if f["hit"]], [f["hit"] for f in fo if f["hit"]]
    row = Row(q, pub, mo / ma, "ratio", why=why, label=arm,
              detail=f"{detail}; seeds' extremes give ×{min(ho) / max(ha):.3g} – ×{max(ho) / min(ha):.3g}")
    row.agree = 1 / STEP_FACTOR <= (mo / ma) / pub_x <= STEP_FACTOR
    return row


def _weak_cost(out: Outcome) -> dict[int, dict]:
    """Per seed, the whole training of GrokTransfer's weak model: steps, FLOPs, seconds, final test accuracy."""
    return {f["seed"]: dict(steps=f["budget"], flops=f["budget_flops"], seconds=f["budget_seconds"],
                            final=f["final"]) for f in facts(out, WEAK)}


def _with_weak(out: Outcome) -> list[dict]:
    """The transfer arm's facts with its seed's weak model's training added to steps, FLOPs and seconds (to the
    hit, and for the budget); seeds without a weak run left out."""
    weak, got = _weak_cost(out), []
    for f in facts(out, TRANSFER):
        w = weak.get(f["seed"])
        if w is None:
            continue
        add = {k: (None if f[k] is None else f[k] + w[c]) for k, c in (("hit", "steps"), ("flops", "flops"),
                                                                        ("seconds", "seconds"))}
        got.append({**f, **add, "budget": f["budget"] + w["steps"], "budget_flops": f["budget_flops"] + w["flops"]})
    return got


def _weak_text(weak: dict[int, dict]) -> str:
    ws = list(weak.values())
    return (f"{interval([w['flops'] for w in ws], 'flops')} FLOPs, {interval([w['seconds'] for w in ws], 'seconds')} "
            f"s per member, its test accuracy at the end {interval([w['final'] for w in ws], 'acc')}")


def _transfer_row(out: Outcome) -> Row:
    """GrokTransfer's speed-up over the baseline in training FLOPs to RACE_ACC, its weak model's training
    included (the paper's Table 1 counts the weak model too), beside Xu et al.'s wall-clock ratio; steps and
    seconds without and with the weak model in the detail; a bound when either missed in most seeds."""
    q = (f"{TRANSFER}: speed-up over {BASELINE} in training FLOPs to {RACE_ACC:.0%}, the weak model's training "
         f"included (median {BASELINE} ÷ median {TRANSFER} + weak)")
    pub = Published(XU_SPEEDUP, XU)
    fa, fo, alone = _with_weak(out), facts(out, BASELINE), facts(out, TRANSFER)
    if not fa or not fo:
        return Row(q, pub, None, "ratio", why=not_trained(out, TRANSFER if fo else BASELINE), label=TRANSFER)
    weak = _weak_cost(out)
    why = f"setup differs: {XU_THEIRS}; {OURS}"
    detail = (f"FLOPs {BASELINE} {interval([f['flops'] for f in fo], 'flops')}, {TRANSFER} "
              f"{interval([f['flops'] for f in alone], 'flops')} alone, {interval([f['flops'] for f in fa], 'flops')} "
              f"with the weak model; steps {BASELINE} {interval([f['hit'] for f in fo], 'steps', fo[0]['budget'])}, "
              f"{TRANSFER} {interval([f['hit'] for f in alone], 'steps', alone[0]['budget'])} + the weak MLP's "
              f"{interval([w['steps'] for w in weak.values()], 'steps')} ({_weak_text(weak)}); seconds per member "
              f"{BASELINE} "
              f"{interval([f['seconds'] for f in fo], 'seconds')}, {TRANSFER} "
              f"{interval([f['seconds'] for f in alone], 'seconds')} alone, "
              f"{interval([f['seconds'] for f in fa], 'seconds')} with the weak model")
    mo, ma = median_reached([f["flops"] for f in fo]), median_reached([f["flops"] for f in fa])
    if ma is None and mo is None:
        return Row(q, pub, None, "ratio", detail=detail, why="neither reached 99% in most seeds; " + why,
                   label=TRANSFER)
    if ma is None:          # the transfer missed: its speed-up is below the baseline's median ÷ its own budget
        ub = mo / min(f["budget_flops"] for f in fa)
        row = Row(q, pub, ub, "ratio", bound="<", detail=detail, why=why, label=TRANSFER)
        row.agree = False if ub * STEP_FACTOR < pub.value else None
        return row
    if mo is None:          # the baseline missed: a lower bound
        lb = min(f["budget_flops"] for f in fo) / ma
        row = Row(q, pub, lb, "ratio", bound="≥", detail=detail, why=why, label=TRANSFER)
        row.agree = False if lb > pub.value * STEP_FACTOR else None
        return row
    row = Row(q, pub, mo / ma, "ratio", detail=detail, why=why, label=TRANSFER)
    row.agree = 1 / STEP_FACTOR <= (mo / ma) / pub.value <= STEP_FACTOR
    return row


def _grid_facts(out: Outcome, arm: str) -> list[dict]:
    """The arm's lr × wd grid: its seed-0 run (the centre) and the other eight points."""
    centre = [f for f in facts(out, arm) if f["seed"] == 0][:1]
    return centre + [f for label, _, _ in _grid(arm) for f in facts(out, label)]


def _best(fs: list[dict]) -> dict | None:
    """The grid point that reached RACE_ACC soonest and stayed there (None: none did)."""
    ok = [f for f in fs if f["stays"]]
    return min(ok, key=lambda f: f["hit"]) if ok else None


def _muon_row(out: Outcome) -> Row:
    q = f"muon reaches {RACE_ACC:.0%} sooner than adamw at each one's best point of its lr × wd grid (seed 0)"
    pub = Published("no", ESSENTIAL)
    gm, ga = _grid_facts(out, "muon"), _grid_facts(out, BASELINE)
    if not gm or not ga:
        return Row(q, pub, None, "finding", why=not_trained(out, "muon" if not gm else BASELINE), label="muon")
    bm, ba = _best(gm), _best(ga)

    def said(b: dict | None, n: int) -> str:
        return f"none of {n} points" if b is None else f"lr {b['lr']:g} wd {b['wd']:g} at step {b['hit']:,}"
    ours = "neither" if bm is None and ba is None else "no" if bm is None else \
        "yes" if ba is None or bm["hit"] < ba["hit"] else "no"
    row = Row(q, pub, ours, "finding", label="muon",
              detail=f"best muon: {said(bm, len(gm))}; best adamw: {said(ba, len(ga))}",
              why="setup differs: theirs, modular division mod 97 with a wider search of batch sizes and "
                  f"embedding widths; {OURS}")
    row.agree = None if ours == "neither" else ours == pub.value
    return row


def _prieto_rows(out: Outcome) -> list[Row]:
    """⊥Grad and StableMax: Prieto et al.'s figures were measured without weight decay on their MLP."""
    from groklab.reproduce.outcome import reach
    from groklab.reproduce.prieto2025 import PRIETO_STABLEMAX_STEP

    theirs = ("setup differs: theirs, a bias-free MLP [200, 200] on one-hot a + b mod 113, 40% of the pairs, "
              "no weight decay, 90% test accuracy; " + OURS + " (weight decay 3 kept)")
    rows = []
    for arm, pub in (("orthograd", PRIETO_ORTHO), ("stablemax", PRIETO_STABLEMAX_STEP)):
        r = reach(out, arm, "test_acc", RACE_ACC, published=pub,
                  quantity=f"{arm}: steps to {RACE_ACC:.0%} test accuracy ({PRIETO}: to 90%)")
        r.why = f"{r.why}; {theirs}" if r.why else theirs
        rows.append(r)
    return rows


def _candidate_row(out: Outcome) -> Row:
    """Which arm, if any, is faster than nanda2023-fast and as stable by the replacement rule."""
    base = _median_hit(facts(out, BASELINE))
    faster, notes = [], []
    for arm in ARMS:
        fs = facts(out, arm)
        med = _median_hit(fs)
        if arm == BASELINE or med is None or base is None or med >= base:
            continue
        rules = [f["rule"] for f in fs]
        ok = len(fs) >= REPLACE_SEEDS and all(r == "yes" for r in rules)
        (faster if ok else notes).append(
            f"{arm} (median {med:,.0f} vs {base:,.0f}; rule " + ", ".join(f"{k} {rules.count(k)}" for k in
                                                                          dict.fromkeys(rules)) + f" of {len(fs)})")
    ours = "; ".join(faster) if faster else "none"
    detail = ("faster by the median but not shown stable: " + "; ".join(notes)) if notes else \
        "no arm is faster than nanda2023-fast by the median"
    return Row(f"a recipe faster than nanda2023-fast and as stable (≥ {REPLACE_SEEDS} seeds, ≥ {RACE_ACC:.0%} for "
               f"{STAY_FACTOR} × t_gen steps after t_gen)", None, ours, "finding", detail=detail)


def _compare(out: Outcome) -> list[Row]:
    rows = [_speedup_row(out, *claim) for claim in SPEEDUP_CLAIMS]
    rows += [_muon_row(out), *_prieto_rows(out)]
    rows.append(_transfer_row(out))
    return rows + [_candidate_row(out)]


def _rule_text(fs: list[dict]) -> str:
    rules = [f["rule"] for f in fs]
    return ", ".join(f"{k} {rules.count(k)}" for k in ("yes", "open", "no") if k in rules)


def _final_text(fs: list[dict]) -> str:
    finals = [f["final"] for f in fs]
    return f"{upper_median(finals):.3f} [{min(finals):.3f} – {max(finals):.3f}]"


def _grid_text(g: list[dict]) -> str:
    """"k of n" grid points that reached RACE_ACC and stayed, and how many are not trained yet."""
    if not g:
        return "—"
    missing = len(GRID) - len(g)
    return f"{sum(f['stays'] for f in g)} of {len(g)}" + (f" ({missing} not trained yet)" if missing else "")


def _table_row(arm: str, what: str, fs: list[dict], g: list[dict]) -> list[str]:
    budget = min(f["budget"] for f in fs)
    return [arm, what, f"{sum(f['hit'] is not None for f in fs)} of {len(fs)}",
            interval([f["hit"] for f in fs], "steps", budget),
            interval([f["flops"] for f in fs], "flops"), interval([f["seconds"] for f in fs], "seconds"),
            f"{sum(f['stays'] for f in fs)} of {len(fs)}", _final_text(fs), _rule_text(fs),
            _grid_text(g), f"{budget:,}"]


def _race_table(out: Outcome) -> dict:
    spec = out.sweep["spec"]
    load = spec.get("load_avg")
    rows = []
    for arm, (what, _) in ARMS.items():
        fs = facts(out, arm)
        if arm not in out.labels:
            continue
        if not fs:
            rows.append([arm, what, not_trained(out, arm)] + [""] * 8)
            continue
        rows.append(_table_row(arm, what, fs, _grid_facts(out, arm) if arm in GRID_ARMS else []))
        if arm == TRANSFER and (weak := _with_weak(out)):
            rows.append(_table_row(f"{TRANSFER} + weak", "the same seeds with their weak MLP's whole training "
                                   "added to steps, FLOPs and seconds (its steps are an MLP's)", weak, []))
    at = f"1-minute load average {load:g} on {spec.get('cpus')} cpus at the start" if load is not None else \
        "an unrecorded load"
    return {"title": f"The race at {RACE_ACC:.0%} test accuracy: each arm's seeds as one ensemble; intervals are "
                     "[min – max] over the seeds (for 5 seeds a distribution-free 94% interval for the median); "
                     "training FLOPs = steps × 3 × forward FLOPs per example × batch (+ Muon's Newton–Schulz), "
                     f"evaluations not counted; seconds per member = the ensemble's training time ÷ its members, "
                     f"at {at} (steps and FLOPs do not depend on the load); replacement rule: yes = never below "
                     f"{RACE_ACC:.0%} after t_gen for ≥ {STAY_FACTOR} × t_gen steps, open = the run ended sooner; "
                     "grid: points of the lr × wd cross (5 points) that reached it and stayed to the end",
            "header": ["arm", "change", "seeds reaching 99%", "steps to 99%", "training FLOPs to 99%",
                       "seconds to 99% per member", "stayed ≥ 99% to the end", "test accuracy at the end",
                       "replacement rule",
                       "lr × wd grid", "budget (steps)"],
            "rows": rows}


def _grid_table(out: Outcome) -> dict:
    cells = list(GRID)
    rows = []
    for arm in (a for a in GRID_ARMS if a in out.labels):
        by = {(1.0, 1.0): [f for f in facts(out, arm) if f["seed"] == 0]}
        by.update({(a, b): facts(out, label) for label, a, b in _grid(arm)})
        row = [arm]
        for c in cells:
            f = (by.get(c) or [None])[0]
            row.append("not run" if f is None else "—" if f["hit"] is None else
                       f"{f['hit']:,}" + ("" if f["stays"] else " (fell back)"))
        rows.append(row)
    return {"title": "Robustness: steps to 99% at each point of the arm's lr × wd grid (multipliers of its own lr "
                     "and wd; seed 0; — not reached within the budget, (fell back): dropped below 99% later)",
            "header": ["arm"] + [f"lr×{a:g} wd×{b:.3g}" for a, b in cells], "rows": rows}


EXPERIMENT = register(Experiment(
    NAME, "A fair race of the grokking accelerators", "Lee et al. 2024; Prieto et al. 2025; Tveit et al. 2025; "
    "vuciv/grokfast; Xu et al. 2025",
    "Grokfast, ⊥Grad, StableMax, Muon, a delayed Frobenius penalty, learning-rate schedules and GrokTransfer "
    "accelerate grokking",
    plan=f"a + b mod 113 on nanda2023's transformer: {len(ARMS)} arms × {len(RACE_SEEDS)} seeds, and for the "
         f"{len(GRID_ARMS)} accelerated arms a cross of the lr × wd grid ({len(GRID) - 1} more points, seed 0), "
         f"{RACE_STEPS:,} full-batch steps each, evaluated every {RACE_EVERY} (the grids and nanda2023: every "
         f"{LATER_EVERY}, trained last), after GrokTransfer's {len(RACE_SEEDS)} weak MLPs ({WEAK_STEPS:,} steps "
         f"each, seconds in all); {_member_steps():,} member-steps at about 0.09 CPU-seconds each: "
         "~15-20 minutes on 2 unloaded cores (measured before the GrokTransfer arm: 52 minutes at load 4.7-13)",
    axes=("name",), setup=_setup, points=_points, compare=_compare,
    tables=lambda out: [_race_table(out), _grid_table(out)]), order=35)
