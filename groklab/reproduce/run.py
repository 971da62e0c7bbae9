"""Running an experiment through the sweep and reading it back: ``reproduce`` trains one experiment
into the store as a sweep of kind ``KIND``; ``compare`` puts the stored runs beside the published
values; ``newest`` picks the reproduction ``groklab results`` shows."""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable

from groklab.config import Config, from_dict
from groklab.errors import ConfigError
from groklab.reproduce.core import RULES
from groklab.reproduce.experiment import EXPERIMENTS, Experiment, departures, get
from groklab.reproduce.outcome import Outcome
from groklab.store import Store
from groklab.store.catalog import dumps

KIND = "reproduce"


def command(name: str, smoke: bool) -> str:
    return f"groklab reproduce {name}" + (" --smoke" if smoke else "")


def spec_of(exp: Experiment, smoke: bool, configs: list[Config]) -> dict:
    """The sweep spec: what was asked for and how to ask again; ``spec_hash`` identifies the configs."""
    axes = [{"field": a, "values": list(dict.fromkeys(getattr(c, a) for c in configs))} for a in exp.axes]
    blob = dumps([c.to_dict() for c in configs]).encode()
    return {"experiment": exp.name, "smoke": smoke, "command": command(exp.name, smoke), "cite": exp.cite,
            "claim": exp.claim, "axes": axes, "spec_hash": hashlib.sha256(blob).hexdigest()[:16]}


def _same_configs(store: Store, sweep: dict, spec: dict, configs: list[Config]) -> bool:
    """Whether a stored reproduction sweep asked for ``configs``: the same spec hash, or, for a sweep made
    before fields were added to Config (``added``, left out of ``Config.hash`` at their defaults), the
    same config hashes point by point, so adding a field never orphans an unfinished reproduction."""
    if sweep["spec"].get("spec_hash") == spec["spec_hash"]:
        return True
    try:
        stored = [from_dict(p["config"]).hash() for p in store.sweep_points(sweep["sweep_id"])]
    except (ConfigError, KeyError, TypeError, ValueError):     # a point this code cannot read is not the same
        return False
    return stored == [c.hash() for c in configs]


def _missing(store: Store, sweep: dict, configs: list[Config]) -> list[Config] | None:
    """The configs a stored reproduction sweep lacks, when the experiment has gained points since it was made
    (every stored point is still one of ``configs``, as a multiset of config hashes); None otherwise."""
    try:
        stored = Counter(from_dict(p["config"]).hash() for p in store.sweep_points(sweep["sweep_id"]))
    except (ConfigError, KeyError, TypeError, ValueError):
        return None
    want = Counter(c.hash() for c in configs)
    if stored - want or not want - stored:
        return None
    out = []
    for c in configs:               # in the experiment's order, so a point's dependencies come before it
        if stored[c.hash()]:
            stored[c.hash()] -= 1
        else:
            out.append(c)
    return out


def machine_load() -> dict:
    """The machine's CPU count and 1-minute load average when a reproduction starts (a shared machine
    makes wall times longer; the load says by how much it was shared)."""
    try:
        load = round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        load = None
    return {"cpus": os.cpu_count(), "load_avg": load}


def reproduction_sweeps(store: Store, name: str | None = None) -> list[dict]:
    """The store's reproduction sweeps (newest first), optionally of one experiment."""
    return [s for s in store.list_sweeps() if s["kind"] == KIND and (name is None or s["name"] == name)]


def compare(store: Store, sweep_ref: str) -> dict:
    """Our numbers beside the published ones for one reproduction sweep, all read from the store.

    Returns {"name", "title", "cite", "claim", "sweep_id", "smoke", "complete", "n_done", "n_points",
    "command", "wall_s", "machine", "created", "load_avg" and "cpus" (at the start), "departures": [str],
    "rules": [str] (``core.RULES``: how the rows are judged), "rows": [Row.to_dict()]}.
    """
    out = Outcome(store, sweep_ref)
    spec = out.sweep["spec"]
    exp = get(spec.get("experiment", out.sweep["name"]))
    rows = exp.compare(out)
    deps = departures(exp, out)
    for r in rows:           # beside every disagreement: how its points' setup departs from the paper's
        mine = deps if r.label is None else departures(exp, out, r.label)
        if r.agree is False and mine:
            r.why = (f"{r.why}; " if r.why else "") + "setup differs: " + "; ".join(mine)
    return {"name": exp.name, "title": exp.title, "cite": exp.cite, "claim": exp.claim,
            "sweep_id": out.sweep["sweep_id"], "smoke": out.smoke, "complete": out.complete, "n_done": out.n_done,
            "n_points": len(out.points), "command": spec.get("command", command(exp.name, out.smoke)),
            "wall_s": out.wall_s(), "machine": out.machine(), "created": out.sweep["created"],
            "load_avg": spec.get("load_avg"), "cpus": spec.get("cpus"),
            "departures": deps, "rules": list(RULES), "rows": [r.to_dict() for r in rows],
            "tables": exp.tables(out) if exp.tables is not None else []}


def reproduce(store: Store, name: str, *, smoke: bool = False, resume: bool = False,
              progress: Callable[[dict], None] | None = None, report: bool = True) -> dict:
    """Run one experiment into ``store`` and compare it (see ``compare``), plus "report" (the sweep's
    HTML report, when the report module is present) and "resumed".

    With ``resume``, the newest unfinished sweep of the same experiment and configs is continued; if there is
    none and the experiment has gained points since a stored sweep of it was made (all of that sweep's points
    are still among its configs), the new points are added to that sweep and only they train.
    """
    from groklab.sweep import run_sweep

    exp = get(name)
    configs = exp.points(smoke)
    spec = spec_of(exp, smoke, configs)
    sid = None
    if resume:
        same = [s for s in reproduction_sweeps(store, name) if s["n_done"] < s["n_points"]
                and _same_configs(store, s, spec, configs)]
        grown = [(s, m) for s in reproduction_sweeps(store, name) if bool(s["spec"].get("smoke")) == smoke
                 and (m := _missing(store, s, configs))] if not same else []
        if grown:       # the experiment gained points (a new arm): train only those, into the sweep most done
            sweep, extra = max(grown, key=lambda g: g[0]["n_done"])
            store.extend_sweep(sweep["sweep_id"], {**sweep["spec"], **spec}, [c.to_dict() for c in extra])
            same = [sweep]
        if not same:
            raise ConfigError(f"resume: no unfinished `{command(name, smoke)}` in {store.root}; "
                              "run it without --resume")
        sid = same[0]["sweep_id"]
    if sid is None:
        sid = store.create_sweep(name, KIND, {**spec, **machine_load()}, [c.to_dict() for c in configs])
    t0 = time.perf_counter()
    # smoke: the whole path in seconds, without timing the cost model; full: let it choose
    run_sweep(store, sid, pack_mode="ensemble" if smoke else "auto", progress=progress)
    if exp.after is not None:
        exp.after(store, Outcome(store, sid))
    result = compare(store, sid)
    result["resumed"] = resume
    result["run_s"] = round(time.perf_counter() - t0, 3)
    result["report"] = None
    if report:
        try:
            from groklab.report.writers import write_sweep_report
        except ModuleNotFoundError:
            write_sweep_report = None
        if write_sweep_report is not None:
            result["report"] = str(write_sweep_report(store, sid))
    return result


def newest(store: Store, name: str) -> dict | None:
    """The reproduction ``groklab results`` shows for an experiment: the newest completed full run,
    else the newest completed smoke run, else the newest unfinished one (None if there is none)."""
    sweeps = reproduction_sweeps(store, name)
    done = [s for s in sweeps if s["n_done"] == s["n_points"]]
    for pick in ([s for s in done if not s["spec"].get("smoke")], [s for s in done if s["spec"].get("smoke")], sweeps):
        if pick:
            return pick[0]
    return None


def describe() -> list[dict]:
    """Every experiment: name, title, cite, claim, full plan, smoke and full commands."""
    return [{"name": e.name, "title": e.title, "cite": e.cite, "claim": e.claim, "plan": e.plan,
             "command": command(e.name, False), "smoke_command": command(e.name, True)} for e in EXPERIMENTS.values()]


__all__ = ["KIND", "command", "compare", "describe", "machine_load", "newest", "reproduce", "reproduction_sweeps",
           "spec_of"]
