"""Memorization across grokking's phases (``memorization-phases``): how per-example memorization mem(i),
LiRA and canary exposure move over training in each of Doshi et al. 2023's four label-noise phases, and on
nanda2023-fast's transformer with planted canaries; a measurement nobody has published (issue 17).

Design, and the departures it prints:

- A subset ensemble's member trains on a random half of its pool, and Doshi et al.'s phases are set by the
  training fraction (50 % of the a+b mod 97 table). The pool is therefore 98 % of the table, so a member
  trains on ~49 % and has two held-out sets: the 2 % outside the pool (188 equations, the store's test
  set, which times t_gen) and the clean pool examples it did not train on (~3,000), on which its test
  accuracy for ``measure.doshi_phase`` is read (memorized / inverted accuracy: on the corrupted examples it
  trained on, as groklab's noise metrics give them). The table prints each member's phase.
- Each weight decay is one atlas on its own pool (data seed = its index), so the four train as four
  ensembles and are four groups; one atlas of 8 members per weight decay (LiRA: 4 shadow models a side).
- nanda2023-fast: a 60 % pool, so a member trains on 30 % as the recipe does; 16 canaries (random
  secrets among 113 labels: exposure at most log2 113 = 6.82 bits); 3 atlases (pools and canaries 0-2).
- Budget (the issue: 30 minutes on 2 cores): one quadratic-MLP member step at p = 97 is 3·p³·N = 1.37
  GFLOP (the one-hot first layer is a gather), a nanda2023 member step on 3,831 rows 3.7 GFLOP; ~45
  GFLOP/s here. Hence 800 steps at weight decay 0 and 600 at 5 and 15 (Doshi's phases are settled by step 500
  in `groklab reproduce doshi2023`) and 1,200 at 20 (forgetting comes after a full inversion, test accuracy
  0.85 at step 1,000 there), and 250 steps of nanda2023-fast (it reaches 99 % test accuracy at 80-165).
"""

from __future__ import annotations

import numpy as np

from groklab.config import Config, resolve
from groklab.reproduce.core import Published, Row, agrees, majority
from groklab.reproduce.doshi2023 import DOSHI, DOSHI_PHASE, DOSHI_SETUP
from groklab.reproduce.experiment import TINY_TRANSFORMER, Experiment, named, register
from groklab.reproduce.memorization import MEM_SRC, atlas_facts, fmt_or_dash, median_of, value_at
from groklab.reproduce.nanda2023 import NANDA_SETUP
from groklab.reproduce.outcome import Outcome, not_trained
from groklab.train.subsets import expand_subsets

NAME = "memorization-phases"
NANDA = "nanda2023-fast"
MEMBERS = 8                     # LiRA: 4 shadow models a side
DOSHI_POOL = 0.98               # a member trains on ~49 % of the table (Doshi et al.: 50 %)
DOSHI_STEPS = {0: 800, 5: 600, 15: 600, 20: 1200}
NANDA_RECIPE = dict(frac=0.6, canaries=16, steps=250)
NANDA_SEEDS = (0, 1, 2)
KEEPS, FORGETS = 0.5, 0.2       # mean mem(i) of the corrupted examples at the end: kept ≥ 0.5, forgotten ≤ 0.2
_SMOKE = 6                      # members: LiRA needs two shadow models a side
# smoke: p = 31 with 15 % noise, where some weight decays generalize within 150 steps (p = 23 at 35 % never does)
_SMOKE_DOSHI = dict(p=31, d_mlp=128, init_std=0.5 / 256 ** (1 / 3), noise=0.15, steps=150, eval_every=10,
                    ckpt_per_decade=4)
_SMOKE_NANDA = dict(**TINY_TRANSFORMER, frac=0.6, canaries=3, steps=60, eval_every=10, ckpt_per_decade=4)
SRC = f"{DOSHI} (the four phases); {MEM_SRC}"


def _label(w: int) -> str:
    return f"wd={w}"


def _setup(label: str) -> dict:
    """Doshi et al.'s setup for the weight-decay labels; Nanda et al.'s (30 % data) for nanda2023-fast's atlases,
    whose optimizer is groklab's recipe (so its lr, wd, betas and init depart from theirs)."""
    if label.startswith("wd="):
        return {**DOSHI_SETUP, "wd": float(label.split("=")[1])}
    return {**NANDA_SETUP, "frac": 0.3}


def _points(smoke: bool) -> list[Config]:
    k = _SMOKE if smoke else MEMBERS
    out = []
    for i, w in enumerate(DOSHI_PHASE):
        size = _SMOKE_DOSHI if smoke else {"steps": DOSHI_STEPS[w]}
        cfg = resolve("doshi2023-wd0", **size, wd=float(w), frac=DOSHI_POOL, subsets=k, seed=1000 * i, data_seed=i)
        out += [named(NAME, _label(w), c) for c in expand_subsets([cfg])]
    for s in NANDA_SEEDS[:1] if smoke else NANDA_SEEDS:
        cfg = resolve(NANDA, **(_SMOKE_NANDA if smoke else NANDA_RECIPE), subsets=k, seed=1000 * s, data_seed=s)
        out += [named(NAME, NANDA, c) for c in expand_subsets([cfg])]
    return out


def _groups(out: Outcome, label: str) -> list[list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in out.runs(label):
        groups.setdefault(r["group_id"], []).append(r)
    return list(groups.values())


def _subgroup_lira(g, step: int, mask: np.ndarray) -> dict:
    """LiRA's AUC and TPR at 1 % FPR on the (member, example) pairs of the pool examples in ``mask``."""
    from groklab.measure import memorization as mm

    e = g.step(step)
    alive = e["alive"].astype(bool)
    scores = mm.lira_scores(g.inc, e["phi"][:, g.pool["rows"]], alive)
    return mm.attack_metrics(scores[:, mask], g.inc[:, mask])


def _member_phases(out: Outcome, g, runs: list[dict]) -> list[dict]:
    """Each member's Doshi phase at the end: test accuracy on the clean pool examples it did not train on."""
    from groklab.measure import doshi_phase

    e = g.step(g.steps[-1])
    correct = e["rank"][:, g.pool["rows"]] == 1
    clean = ~g.pool["corrupted"].astype(bool) & ~g.pool["canary"].astype(bool)
    res = []
    by_run = {rid: k for k, rid in enumerate(r["run_id"] for r in g.runs)}
    for r in runs:
        k = by_run[r["run_id"]]
        held = clean & ~g.inc[k]
        test = float(correct[k, held].mean()) if held.any() else float("nan")
        nz = r["summary"]["noise"]
        res.append({"test": test, "test_rows": r["summary"]["final"]["test_acc"], "mem": nz["memorized_acc"],
                    "inv": nz["inverted_acc"], "phase": doshi_phase(test, nz["memorized_acc"], nz["inverted_acc"])})
    return res


def _facts(out: Outcome, runs: list[dict], doshi: bool) -> dict:
    """One atlas's numbers: ``atlas_facts`` plus its curves as arrays, and (Doshi) its members' phases and
    LiRA on its corrupted and clean examples at the end."""
    from groklab.analysis.memorization import load_group

    f = atlas_facts(out, runs)
    f["c"] = {k: np.array([np.nan if v is None else v for v in vs], float)
              for k, vs in f["a"]["curves"].items() if k != "step"}
    if doshi:
        g = load_group(out.store, runs[0]["group_id"])
        cor = g.pool["corrupted"].astype(bool)
        f["members"] = _member_phases(out, g, runs)
        f["lira_cor"] = _subgroup_lira(g, g.steps[-1], cor)
        f["lira_clean"] = _subgroup_lira(g, g.steps[-1], ~cor)
    return f


def _when(f: dict, key: str, when: str) -> float | None:
    """Curve ``key`` at ``when``: start, t_mem, t_gen or end (the last recorded step at or before it)."""
    step = {"start": 0, "t_mem": f["t_mem"], "t_gen": f["t_gen"], "end": int(f["steps"][-1])}[when]
    return value_at(f["steps"], f["c"][key], step)


def _peak(f: dict, key: str) -> tuple[float | None, int | None]:
    v = f["c"][key]
    if not np.isfinite(v).any():
        return None, None
    i = int(np.nanargmax(v))
    return float(v[i]), int(f["steps"][i])


def _traj(f: dict, key: str, spec: str = ".2f") -> str:
    """"t_mem (step a) x, t_gen (step b) y, peak z at step c, end w" of one curve."""
    pk, at = _peak(f, key)
    parts = [f"{w} (step {f[w]:,}) {fmt_or_dash(_when(f, key, w), spec)}" if f[w] is not None else f"{w} —"
             for w in ("t_mem", "t_gen")]
    return ", ".join(parts + [f"peak {fmt_or_dash(pk, spec)} at step {at:,}" if at is not None else "peak —",
                              f"end {fmt_or_dash(_when(f, key, 'end'), spec)}"])


def _verdict(f: dict) -> str:
    """kept / forgotten / partly, from the corrupted examples' mean mem(i) at the end and at its peak."""
    end, (pk, _) = _when(f, "mem_corrupted", "end"), _peak(f, "mem_corrupted")
    if end is None:
        return "undecided"
    if end >= KEEPS:
        return "kept"
    return "forgotten" if end <= FORGETS and pk is not None and pk >= KEEPS else "partly"


def _doshi_rows(w: int, f: dict) -> list[Row]:
    label, phase = _label(w), DOSHI_PHASE[w]
    ms = f["members"]
    ours = majority([m["phase"] for m in ms])
    counts = ", ".join(f"{p} {sum(m['phase'] == p for m in ms)}" for p in dict.fromkeys(m["phase"] for m in ms))
    pub = Published(phase, DOSHI)
    mean = lambda k: fmt_or_dash(float(np.nanmean([m[k] for m in ms])), ".3f")  # noqa: E731
    q = f"wd {w}:"
    lira, loss = (fmt_or_dash(_when(f, k, "end"), ".3f") for k in ("lira_tpr1", "loss_tpr1"))
    return [
        Row(f"{q} phase of the {len(ms)} members (measure.doshi_phase)", pub, ours, "finding",
            agree=agrees("finding", pub, ours), label=label,
            detail=f"{counts}; test accuracy on held-out clean pool examples {mean('test')} (2% test rows "
                   f"{mean('test_rows')}), memorized {mean('mem')}, inverted {mean('inv')}"),
        Row(f"{q} mean mem(i) of the corrupted examples at the end", None, _when(f, "mem_corrupted", "end"),
            "frac", label=label, detail=_traj(f, "mem_corrupted") + f" → {_verdict(f)}"),
        Row(f"{q} mean mem(i) of the clean examples at the end", None, _when(f, "mem_clean", "end"), "frac",
            label=label, detail=_traj(f, "mem_clean")),
        Row(f"{q} AUC of mem(i) separating corrupted from clean at the end", None,
            _when(f, "mem_auc_corrupted", "end"), "frac", label=label, detail=_traj(f, "mem_auc_corrupted", ".3f")),
        Row(f"{q} LiRA TPR at 1% FPR at the end (loss threshold beside)", None, _when(f, "lira_tpr1", "end"),
            "frac", label=label,
            detail=f"loss threshold {loss} (LiRA {lira}); LiRA on the corrupted examples' pairs "
                   f"{fmt_or_dash(f['lira_cor'].get('tpr@0.01'), '.3f')}, on the clean ones' "
                   f"{fmt_or_dash(f['lira_clean'].get('tpr@0.01'), '.3f')}; LiRA over training: "
                   + _traj(f, "lira_tpr1", ".3f")),
    ]


def _answer(facts: dict[int, dict]) -> Row:
    """The question as data: does coexistence keep memorizing the corrupted labels while full inversion
    forgets them? Read from the atlases whose members are in those phases."""
    by_phase = {}
    for w, f in facts.items():
        by_phase.setdefault(majority([m["phase"] for m in f["members"]]), []).append((w, f))
    co, full = by_phase.get("coexistence", []), by_phase.get("full_inversion", [])

    def said(items):
        return "; ".join(f"wd {w}: mean mem {fmt_or_dash(_when(f, 'mem_corrupted', 'end'), '.2f')} at the end "
                         f"(peak {fmt_or_dash(_peak(f, 'mem_corrupted')[0], '.2f')}), {_verdict(f)}" for w, f in items)
    if not co or not full:
        miss = " and ".join(p for p, v in (("coexistence", co), ("full inversion", full)) if not v)
        return Row("coexistence keeps memorizing the corrupted labels while full inversion forgets them", None,
                   "undecided", "finding", detail=f"no atlas's members are in {miss}: " + said(facts.items()))
    yes = all(_verdict(f) == "kept" for _, f in co) and all(_verdict(f) == "forgotten" for _, f in full)
    no = any(_verdict(f) == "forgotten" for _, f in co) or any(_verdict(f) == "kept" for _, f in full)
    return Row("coexistence keeps memorizing the corrupted labels while full inversion forgets them", None,
               "yes" if yes else "no" if no else "undecided", "finding",
               detail=f"coexistence {said(co)}; full inversion {said(full)} (kept: ≥ {KEEPS} at the end; "
                      f"forgotten: ≤ {FORGETS} after a peak ≥ {KEEPS})")


def _shift(f: dict) -> str | None:
    """What grokking did to the canaries' exposure: from test accuracy 0.9 to the end, ±0.5 bits."""
    a, b = _when(f, "exposure_in", "t_gen"), _when(f, "exposure_in", "end")
    if a is None or b is None:
        return None
    return "falls" if b <= a - 0.5 else "rises" if b >= a + 0.5 else "kept"


def _nanda_rows(facts: list[dict]) -> list[Row]:
    n, lb = len(facts), NANDA
    each = lambda fn: "; ".join(f"atlas {i}: {fn(f)}" for i, f in enumerate(facts))  # noqa: E731
    med = lambda key, when: median_of([_when(f, key, when) for f in facts])  # noqa: E731
    t = lambda f, w: f"{f[w]:,}" if f[w] is not None else "—"  # noqa: E731
    top = facts[0]["a"]["summary"]["max_exposure"]
    rows = [Row(f"{lb}: held-out accuracy of the members at the end (median of {n} atlases)", None,
                median_of([f["a"]["summary"]["test_acc"] for f in facts]), "acc", label=lb,
                detail=each(lambda f: f"t_mem {t(f, 't_mem')}, test accuracy 0.9 at {t(f, 't_gen')}"))]
    for when, what in (("start", "at step 0"), ("t_mem", "at t_mem"), ("t_gen", "at test accuracy 0.9"),
                       ("end", "at the end")):
        def ex(f, when=when):
            return (f"{fmt_or_dash(_when(f, 'exposure_in', when), '.2f')} (members that never saw it "
                    f"{fmt_or_dash(_when(f, 'exposure_out', when), '.2f')})")
        rows.append(Row(f"{lb}: canary exposure (bits, at most {top:.2f}) {what}, median of {n} atlases",
                        None, fmt_or_dash(med("exposure_in", when), ".2f"), "finding", label=lb, detail=each(ex)))
    rows.append(Row(f"{lb}: canary exposure over training (peak and its step)", None,
                    fmt_or_dash(median_of([_peak(f, "exposure_in")[0] for f in facts]), ".2f"), "finding", label=lb,
                    detail=each(lambda f: _traj(f, "exposure_in"))))
    rows.append(Row(f"{lb}: mean mem(i) of the canaries at the end (clean examples beside)", None,
                    med("mem_canary", "end"), "frac", label=lb,
                    detail=each(lambda f: f"canaries {_traj(f, 'mem_canary')}; clean {_traj(f, 'mem_clean')}")))
    rows.append(Row(f"{lb}: LiRA TPR at 1% FPR at the end (loss threshold beside)", None, med("lira_tpr1", "end"),
                    "frac", label=lb, detail=f"loss threshold {fmt_or_dash(med('loss_tpr1', 'end'), '.3f')}; "
                                             + each(lambda f: f"LiRA {_traj(f, 'lira_tpr1', '.3f')}")))
    shifts = [_shift(f) for f in facts]
    said = ", ".join(f"{s} {shifts.count(s)}" for s in dict.fromkeys(x for x in shifts if x))
    rows.append(Row(f"{lb}: what grokking does to canary exposure (end against test accuracy 0.9, ±0.5 bits)",
                    None, majority([s for s in shifts if s]) or "undecided", "finding", label=lb,
                    detail=f"{said or 'no atlas reached test accuracy 0.9'} of {n} atlases"))
    return rows


def _compare(out: Outcome) -> list[Row]:
    rows, doshi = [], {}
    for w in DOSHI_PHASE:
        groups = _groups(out, _label(w))
        if not groups:
            rows.append(Row(f"wd {w}: phase of the members", Published(DOSHI_PHASE[w], DOSHI), None, "finding",
                            why=not_trained(out, _label(w)), label=_label(w)))
            continue
        doshi[w] = _facts(out, groups[0], doshi=True)
        rows += _doshi_rows(w, doshi[w])
    if doshi:
        rows.append(_answer(doshi))
    groups = _groups(out, NANDA)
    if not groups:
        return rows + [Row(f"{NANDA}: canary exposure", None, None, "finding", why=not_trained(out, NANDA))]
    return rows + _nanda_rows([_facts(out, g, doshi=False) for g in groups])


def _tables(out: Outcome) -> list[dict]:
    """Per label, the curves at about eight log-spaced recorded steps and at t_mem and t_gen (atlas 0 of
    nanda2023-fast)."""
    rows = []
    for label in [*map(_label, DOSHI_PHASE), NANDA]:
        groups = _groups(out, label)
        if not groups:
            continue
        keys = ("test_acc", "mem_canary" if label == NANDA else "mem_corrupted", "mem_clean", "mem_auc_corrupted",
                "lira_tpr1", "loss_tpr1", "exposure_in")
        f = atlas_facts(out, groups[0])
        c, steps = f["a"]["curves"], f["steps"]
        idx = {int(np.argmin(np.abs(steps - s))) for s in np.geomspace(max(1, steps[-1] / 300), steps[-1], 8)}
        at = {w: int(np.flatnonzero(steps <= f[w])[-1]) for w in ("t_mem", "t_gen") if f[w] is not None}
        for i in sorted(idx | set(at.values())):
            ev = [w for w, j in at.items() if j == i]
            rows.append([label, f"{int(steps[i]):,}" + (f" ({', '.join(ev)})" if ev else ""),
                         *(fmt_or_dash(c[k][i], ".3f") for k in keys)])
    return [{"title": "mem(i), LiRA and exposure over training, per phase (one atlas per weight decay, atlas 0 of "
                      "nanda2023-fast; mem corrupted: of the noisy labels, for nanda2023-fast of the canaries; t_mem, "
                      "t_gen: the members' median)",
             "header": ["label", "step", "test acc (held-out rows)", "mem corrupted", "mem clean", "AUC mem",
                        "LiRA TPR@1%", "loss TPR@1%", "exposure"], "rows": rows}]


EXPERIMENT = register(Experiment(
    NAME, "Memorization across grokking's phases: noisy labels and canaries", SRC,
    "new: how per-example memorization, LiRA and canary exposure move across grokking in each of Doshi et al.'s "
    "four label-noise phases (does coexistence keep memorizing the corrupted labels while full inversion forgets "
    "them?) and on nanda2023-fast with canaries (what grokking does to their exposure)",
    plan=f"Doshi et al.'s quadratic MLP on a+b mod 97 with 35% noisy labels, one {MEMBERS}-member subset-ensemble "
         f"atlas per weight decay 0/5/15/20 on a {DOSHI_POOL:.0%} pool (each member on ~49% of the table), "
         f"{', '.join(f'{s:,}' for s in DOSHI_STEPS.values())} steps; nanda2023-fast on a "
         f"{NANDA_RECIPE['frac']:.0%} pool (members on 30%) with {NANDA_RECIPE['canaries']} canaries, "
         f"{len(NANDA_SEEDS)} atlases of {MEMBERS}, {NANDA_RECIPE['steps']} steps",
    axes=("wd",), setup=_setup, points=_points, compare=_compare, tables=_tables,
    stand_ins=("a member trains on a random half of a 98% pool (~49% of the table; Doshi et al. 50%) and its Doshi "
               "phase reads test accuracy on the clean pool examples it did not train on",
               f"{NANDA}: groklab's recipe (AdamW lr 1e-2, wd 3, beta2 0.999, init scale 0.5) on Nanda et al.'s "
               "model and task, on a 60% pool so that members train on 30% as theirs does; "
               f"{NANDA_RECIPE['steps']} steps (the recipe's 800 cut for the budget)")), order=86)
