"""The memorization atlas of a stored subset ensemble: per-example memorization, influence, LiRA and
canary exposure (formulas and sources in ``groklab.measure.memorization``), read from the per-example
measures its training recorded at every checkpoint (``groklab.store.examples``).

``atlas`` is what `groklab memorization RUN|GROUP --json` prints (keys in README.md); ``report_view``
is the run report's "memorization" section (``groklab.report``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from groklab.errors import StoreError
from groklab.measure import memorization as mm
from groklab.store import Store

ATLAS_VERSION = 1


@dataclass
class Group:
    """A group's pool (tensors of ``pool.safetensors``) and the steps with per-example measures.

    An atlas split into several ensembles is one Group: ``pieces`` names each ensemble's first run
    (where its arrays are) and ``order`` puts the concatenated members in subset order 0..K-1."""

    group_id: str
    runs: list[dict]
    pool: dict[str, np.ndarray]
    steps: list[int]
    store: Store
    pieces: list[str] = field(default_factory=list)
    order: np.ndarray | None = None
    groups: list[str] = field(default_factory=list)

    @property
    def inc(self) -> np.ndarray:
        return self.pool["inclusion"].astype(bool)

    @property
    def n_classes(self) -> int:
        return int(self.pool["n_classes"])

    def step(self, s: int) -> dict[str, np.ndarray]:
        if len(self.pieces) <= 1:
            return self.store.load_examples(self.runs[0]["run_id"], s)
        parts = [self.store.load_examples(rid, s) for rid in self.pieces]
        return {k: np.concatenate([p[k] for p in parts])[self.order] for k in parts[0]}


def _pool(st: Store, first: str) -> dict[str, np.ndarray]:
    from groklab.store.files import read_header

    pool = st.load_examples(first)
    _, meta = read_header(st.examples_dir(first) / "pool.safetensors")
    return {**pool, "n_classes": np.int64(int(meta.get("n_classes", 0)) or int(pool["y"].max()) + 1)}


def _merged(st: Store, atlas_id: str) -> Group:
    """The atlas of several ensembles as one Group: members in subset order, the steps all recorded."""
    pieces = st.atlas_pieces(atlas_id)
    runs = [r for rs in pieces for r in rs]
    subs = np.array([int(r["config"].get("subset", 0)) for r in runs])
    k = int(runs[0]["config"].get("subsets") or 0) if runs else 0
    if not runs or sorted(subs.tolist()) != list(range(k)):
        raise StoreError(f"memorization: atlas {atlas_id} has {len(runs)} of its {k or '?'} members trained; "
                         f"finish it with `groklab train --resume {atlas_id}`")
    pools = [_pool(st, rs[0]["run_id"]) for rs in pieces]
    if any(not np.array_equal(p["rows"], pools[0]["rows"]) for p in pools):
        raise StoreError(f"memorization: the ensembles of atlas {atlas_id} were trained on different pools")
    order = np.argsort(subs, kind="stable")
    pool = {**pools[0], "inclusion": np.concatenate([p["inclusion"] for p in pools])[order]}
    steps = sorted(set.intersection(*(set(st.example_steps(rs[0]["run_id"])) for rs in pieces)))
    if not steps:
        raise StoreError(f"memorization: the ensembles of atlas {atlas_id} have no recorded step in common")
    return Group(atlas_id, [runs[i] for i in order], pool, steps, st, [rs[0]["run_id"] for rs in pieces], order,
                 [rs[0]["group_id"] for rs in pieces])


def load_group(st: Store, ref: str) -> Group:
    """The group of a run or group reference (an atlas of several ensembles: all of them, merged),
    with its pool; StoreError if it recorded none."""
    atlas_id = st.atlas_of(ref)
    if atlas_id is not None:
        return _merged(st, atlas_id)
    gid, runs = st.resolve_group(ref)
    first = runs[0]["run_id"]
    cfg = runs[0]["config"]
    if not (cfg.get("subsets") or cfg.get("canaries")):
        raise StoreError(f"memorization: group {gid} is no subset ensemble and has no canaries; train one with "
                         "`groklab train ... --subsets K` (and/or --canaries N)")
    pool = _pool(st, first)
    steps = st.example_steps(first)
    if not steps:
        raise StoreError(f"memorization: group {gid} has no per-example measures yet (none is written before "
                         "its first checkpoint)")
    return Group(gid, runs, pool, steps, st, [first], None, [gid])


def _pick(steps: list[int], step: int | None) -> int:
    if step is None:
        return steps[-1]
    return min(steps, key=lambda s: (abs(s - step), s))


def _attacks(g: Group, e: dict[str, np.ndarray]) -> dict:
    """LiRA and the loss threshold at one step, on the same (member, example) pairs."""
    rows, inc, alive = g.pool["rows"], g.inc, e["alive"].astype(bool)
    loss = e["loss"][:, rows].astype(np.float64)
    use = alive[:, None] & np.ones_like(inc)
    if (inc & use).any() and (~inc & use).any():
        lira = mm.lira_scores(inc, e["phi"][:, rows], alive)
        return {"lira": mm.attack_metrics(lira, inc), "loss": mm.attack_metrics(np.where(use, -loss, np.nan), inc),
                "_lira": lira, "_loss": np.where(use, -loss, np.nan)}
    # every member trains on the whole pool (canaries only): the loss threshold, pool against held-out rows
    test = e["loss"][:, g.pool["test_rows"]].astype(np.float64)
    scores = np.concatenate([-loss, -test], 1)
    scores[~alive] = np.nan
    labels = np.concatenate([np.ones_like(loss, bool), np.zeros_like(test, bool)], 1)
    return {"lira": None, "loss": mm.attack_metrics(scores, labels), "_loss": scores, "_labels": labels}


def _per_step(g: Group, e: dict[str, np.ndarray]) -> dict:
    """Every per-example measure at one step."""
    rows, inc, alive = g.pool["rows"], g.inc, e["alive"].astype(bool)
    correct = (e["rank"] == 1).astype(np.float64)
    out = {"mem": mm.memorization(inc, correct[:, rows], alive),
           "mem_loss": mm.counterfactual_loss(inc, e["loss"][:, rows], alive)}
    out["p_in"], out["p_out"], out["n_in"], out["n_out"] = mm.in_out_means(inc, correct[:, rows], alive)
    canary = g.pool["canary"].astype(bool)
    if canary.any():
        ex = mm.exposure(e["rank"][:, rows][:, canary], g.n_classes)
        m_in = inc[:, canary] & alive[:, None]
        m_out = ~inc[:, canary] & alive[:, None]
        with np.errstate(invalid="ignore"):
            out["exposure"] = np.where(m_in.any(0), (ex * m_in).sum(0) / np.maximum(m_in.sum(0), 1), np.nan)
            out["exposure_in"] = float(ex[m_in].mean()) if m_in.any() else None
            out["exposure_out"] = float(ex[m_out].mean()) if m_out.any() else None
    test = g.pool["test_rows"]
    out["test_acc"] = float(correct[alive][:, test].mean()) if alive.any() and test.size else None
    out["attacks"] = _attacks(g, e)
    return out


def _q(v: np.ndarray, q: float) -> float | None:
    v = v[np.isfinite(v)]
    return float(np.quantile(v, q)) if v.size else None


def _mean(v: np.ndarray) -> float | None:
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


def curves(g: Group) -> dict:
    """Per stored step: memorization's distribution (quantiles; means on noisy, clean and canary
    examples), both attacks' AUC and TPR at 0.1 % and 1 % FPR, canary exposure IN and OUT."""
    cor, can = g.pool["corrupted"].astype(bool), g.pool["canary"].astype(bool)
    keys = ("mem_q10", "mem_q50", "mem_q90", "mem_max", "mem_corrupted", "mem_clean", "mem_canary", "test_acc",
            "lira_auc", "lira_tpr01", "lira_tpr1", "loss_auc", "loss_tpr01", "loss_tpr1", "exposure_in",
            "exposure_out", "mem_auc_corrupted")
    out: dict[str, list] = {"step": list(g.steps), **{k: [] for k in keys}}
    for s in g.steps:
        r = _per_step(g, g.step(s))
        mem = r["mem"]
        clean = ~cor & ~can
        vals = {"mem_q10": _q(mem, 0.1), "mem_q50": _q(mem, 0.5), "mem_q90": _q(mem, 0.9), "mem_max": _q(mem, 1.0),
                "mem_corrupted": _mean(mem[cor]), "mem_clean": _mean(mem[clean]), "mem_canary": _mean(mem[can]),
                "test_acc": r["test_acc"], "exposure_in": r.get("exposure_in"), "exposure_out": r.get("exposure_out"),
                "mem_auc_corrupted": mm.separation_auc(mem, cor) if cor.any() else None}
        for name in ("lira", "loss"):
            a = r["attacks"][name] or {}
            vals |= {f"{name}_auc": a.get("auc"), f"{name}_tpr01": a.get("tpr@0.001"),
                     f"{name}_tpr1": a.get("tpr@0.01")}
        for k in keys:
            out[k].append(vals[k])
    return out


def _fin(v) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def _examples(g: Group, r: dict, infl: dict | None) -> list[dict]:
    """One entry per pool example at the chosen step (the JSON's ``examples``)."""
    p, rows = g.pool, g.pool["rows"]
    x = p.get("x")
    test = p["test_rows"]
    out = []
    for i, row in enumerate(rows.tolist()):
        d = {"row": row, "x": x[row].tolist() if x is not None else None, "label": int(p["label"][i]),
             "true_label": int(p["y_true"][i]), "corrupted": bool(p["corrupted"][i]), "canary": bool(p["canary"][i]),
             "n_in": int(r["n_in"][i]), "n_out": int(r["n_out"][i]), "mem": _fin(r["mem"][i]),
             "mem_loss": _fin(r["mem_loss"][i]), "p_in": _fin(r["p_in"][i]), "p_out": _fin(r["p_out"][i])}
        if "exposure" in r and p["canary"][i]:
            d["exposure"] = _fin(r["exposure"][np.cumsum(p["canary"].astype(bool))[i] - 1])
        if infl is not None and np.isfinite(infl["max"][i]):
            d["influence"] = {"test_row": int(test[infl["argmax"][i]]), "infl": float(infl["max"][i])}
        out.append(d)
    return out


def atlas(st: Store, ref: str, step: int | None = None, top: int = 20) -> dict:
    """The memorization atlas of a run's group at ``step`` (the stored step nearest to it; default
    the last): every pool example's scores, the most influenced held-out examples, both attacks and
    the curves over training. The keys are documented in README.md ("Memorization atlas")."""
    g = load_group(st, ref)
    s = _pick(g.steps, step)
    e = g.step(s)
    r = _per_step(g, e)
    inc, alive = g.inc, e["alive"].astype(bool)
    has_out = bool((~inc & alive[:, None]).any())
    infl = None
    if has_out and g.pool["test_rows"].size:
        correct_test = (e["rank"][:, g.pool["test_rows"]] == 1)
        infl = mm.influence(inc, correct_test, alive, top=top)
    cor = g.pool["corrupted"].astype(bool)
    att = r["attacks"]
    clean = ~cor & ~g.pool["canary"].astype(bool)
    summary = {"mem_auc_corrupted": mm.separation_auc(r["mem"], cor) if cor.any() and has_out else None,
               "mem_corrupted": _mean(r["mem"][cor]), "mem_clean": _mean(r["mem"][clean]),
               "test_acc": r["test_acc"], "lira": att["lira"], "loss_threshold": att["loss"],
               "exposure_in": r.get("exposure_in"), "exposure_out": r.get("exposure_out"),
               "max_exposure": float(np.log2(g.n_classes))}
    pairs = []
    if infl is not None:
        test, rows = g.pool["test_rows"], g.pool["rows"]
        pairs = [{"train_row": int(rows[q["i"]]), "test_row": int(test[q["j"]]), "infl": q["infl"],
                  "mem": _fin(r["mem"][q["i"]])} for q in infl["pairs"]]
    cfg = g.runs[0]["config"]
    return {"version": ATLAS_VERSION, "group_id": g.group_id, "run_ids": [x["run_id"] for x in g.runs],
            "ensembles": g.groups,
            "members": len(g.runs), "alive": int(alive.sum()), "subsets": cfg.get("subsets", 0),
            "scheme": cfg.get("subset_scheme", "half"), "canaries": cfg.get("canaries", 0), "task": cfg.get("task"),
            "p": cfg.get("p"), "n_classes": g.n_classes, "n_pool": int(g.pool["rows"].size),
            "n_test": int(g.pool["test_rows"].size), "step": s, "steps": g.steps, "summary": summary,
            "influence": pairs, "curves": curves(g), "examples": _examples(g, r, infl)}


def _grid(g: Group, mem: np.ndarray) -> list | None:
    """mem(i) on the p × p grid of a two-operand task (None off the pool), flattened row-major."""
    x = g.pool.get("x")
    if x is None or x.shape[1] != 2:
        return None
    side = int(x.max()) + 1
    if side > 128:
        return None
    grid = np.full((side, side), np.nan)
    ab = x[g.pool["rows"]]
    grid[ab[:, 0], ab[:, 1]] = mem
    return [None if not np.isfinite(v) else round(float(v), 4) for v in grid.ravel()]


def _roc_steps(g: Group, summary: dict) -> list[int]:
    """Up to three steps for the ROC figure: nearest t_mem, nearest t_gen, and the last."""
    want = [summary.get("t_mem"), summary.get("t_gen"), g.steps[-1]]
    picked = sorted({_pick(g.steps, int(w)) for w in want if isinstance(w, (int, float))})
    return picked or [g.steps[-1]]


def report_view(st: Store, row: dict, slider_steps: int = 12) -> dict | None:
    """The run report's "memorization" section of a run's group (None if it recorded nothing)."""
    cfg = row["config"]
    if not (cfg.get("subsets") or cfg.get("canaries")):
        return None
    try:
        g = load_group(st, row["run_id"])
    except StoreError:
        return None
    a = atlas(st, row["run_id"])
    view: dict = {"group_id": g.group_id, "members": a["members"], "n_pool": a["n_pool"], "step": a["step"],
                  "summary": a["summary"], "curves": a["curves"], "n_classes": g.n_classes}
    ex = [e for e in a["examples"] if e["mem"] is not None]
    ex.sort(key=lambda e: -e["mem"])
    view["top"] = [{k: e.get(k) for k in ("row", "x", "label", "true_label", "corrupted", "canary", "mem", "p_in",
                                          "p_out", "exposure")} for e in ex[:15]]
    idx = np.unique(np.round(np.geomspace(1, len(g.steps), min(slider_steps, len(g.steps))) - 1).astype(int))
    grids = [(g.steps[i], _grid(g, _per_step(g, g.step(g.steps[i]))["mem"])) for i in idx]
    if grids and grids[0][1] is not None:
        view["heatmap"] = {"side": int(g.pool["x"].max()) + 1, "step": [s for s, _ in grids],
                           "mem": [m for _, m in grids]}
    rocs = []
    for s in _roc_steps(g, row.get("summary") or {}):
        att = _per_step(g, g.step(s))["attacks"]
        inc = g.inc if att["lira"] is not None else att["_labels"]
        item = {"step": s, "loss": mm.roc_points(att["_loss"], inc)}
        if att["lira"] is not None:
            item["lira"] = mm.roc_points(att["_lira"], inc)
        rocs.append(item)
    view["roc"] = rocs
    return view

