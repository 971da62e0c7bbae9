"""docs/results.md, generated from a run store: each reproduction's numbers beside the published ones.

For every experiment of ``groklab.reproduce`` the store holds, the newest completed full run is shown
(else the newest smoke run, marked as such; else an unfinished one, marked with its points done):
the published value with its source, ours, the command that made it, its wall time on the machine
that ran it, and, where ours differs, the measured facts that go with the difference. Published values
come from the constants in ``groklab.reproduce``; every other number comes from the store. Nothing in
the file is typed by hand: ``groklab results`` rewrites it.

A store is scratch space and can be lost (a new machine, a deleted folder); the page is the record. So an
experiment that none of the stores read holds keeps its summary row and its section from the page being
rewritten, verbatim, and the page says which ones were kept: regenerating after one new reproduction
never drops the others. ``keep=False`` writes only what the stores hold.
"""

from __future__ import annotations

from pathlib import Path

from groklab.config import Config
from groklab.errors import ConfigError
from groklab.measure.labels import DEFAULT_RULE, RULE_TEXT
from groklab.reproduce import EXPERIMENTS, RULES, compare, newest
from groklab.store import Store
from groklab.store.files import atomic_write_bytes

DEFAULT_OUT = Path("docs") / "results.md"


def _kind(sw: dict) -> int:
    """Which of several stores' candidates is shown: completed full (0), then completed smoke (1), then
    unfinished (2); the newest within a kind."""
    done = sw["n_done"] == sw["n_points"]
    return 0 if done and not sw["spec"].get("smoke") else 1 if done else 2


def collect(store: Store | list[Store]) -> list[dict]:
    """``reproduce.compare`` of the reproduction shown for each experiment found, in the catalogue's order.
    Given several stores, each experiment's shown run is picked across all of them by the same rule as
    within one (``reproduce.newest``)."""
    stores = store if isinstance(store, list) else [store]
    out = []
    for name in EXPERIMENTS:
        found = [(st, sw) for st in stores if (sw := newest(st, name)) is not None]
        found.sort(key=lambda f: str(f[1].get("created") or ""), reverse=True)     # newest first (ISO times)
        found.sort(key=lambda f: _kind(f[1]))                                       # stable: by kind, then newest
        if found:
            st, sw = found[0]
            out.append(compare(st, sw["sweep_id"]))
    return out


def run_kind(res: dict) -> str:
    """'full', 'smoke', or either with the points done when the sweep is unfinished."""
    kind = "smoke" if res["smoke"] else "full"
    return kind if res["complete"] else f"{kind}, unfinished ({res['n_done']}/{res['n_points']} points)"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def tally(rows: list[dict]) -> str:
    """'a of b agree (c undecided)' over the rows that have a published value."""
    judged = [r for r in rows if r["published"] is not None]
    if not judged:
        return "nothing published to compare: a new measurement"
    yes = sum(r["agree"] is True for r in judged)
    open_ = sum(r["agree"] is None for r in judged)
    return f"{yes} of {len(judged)} agree" + (f" ({open_} undecided)" if open_ else "")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _agree(row: dict) -> str:
    """The verdict column: yes, **no**, "undecided (budget N)" or — (nothing published)."""
    v = row.get("verdict") or {True: "yes", False: "no", None: "—"}[row["agree"]]
    return "**no**" if v == "no" else v


def sections(page: str) -> dict[str, dict[str, str]]:
    """Each experiment's summary row and section of an earlier page: name -> {"row", "section"}, for
    the experiments that have both (a page of another layout gives nothing)."""
    names, out = set(EXPERIMENTS), {}
    lines = page.splitlines()
    rows = {}
    for ln in lines:
        if ln.startswith("| [") and "](#" in ln:
            rows[ln[3:ln.index("](#")]] = ln
    starts = [i for i, ln in enumerate(lines) if ln.startswith("## ")]
    for k, i in enumerate(starts):
        name = lines[i][3:].strip()
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        if name in names and name in rows:
            out[name] = {"row": rows[name], "section": "\n".join(lines[i:end]).rstrip()}
    return out


def render(results: list[dict], kept: dict[str, dict[str, str]] | None = None) -> str:
    """The markdown of docs/results.md for ``collect``'s results, with ``kept`` (``sections`` of an earlier
    page) for experiments the results lack, each in its catalogue place."""
    kept = kept or {}
    d = Config()
    lines = [
        "# Reproductions: our numbers beside the published ones",
        "",
        "Generated by `groklab results` from the run store; do not edit by hand. Published values, each with "
        "its source, are constants in `groklab/reproduce.py` (the papers as quoted in ../shared/REFERENCES.md); "
        "every other number is read from the store. `groklab reproduce --list` shows each full version's "
        "budget.",
        "",
        *(f"- {rule}" for rule in RULES),
        "",
        "Wall time runs from the sweep's start to its end on the machine named, compilation included.",
        "",
        f"Phases are Liu et al. 2022's four, by groklab's rule (groklab.measure.labels): {RULE_TEXT[DEFAULT_RULE]}. "
        f"liu2022's phase diagram uses their literal rule instead: {RULE_TEXT['liu']} (phase_gap {d.phase_gap:,}).",
        "",
        "| experiment | run | command | wall time | load at start | agreement |",
        "|---|---|---|---|---|---|",
    ]
    by_name = {r["name"]: r for r in results}
    order = [n for n in EXPERIMENTS if n in by_name or n in kept]
    for n in order:
        if n in kept:
            lines.append(kept[n]["row"])
            continue
        r = by_name[n]
        load = "—" if r.get("load_avg") is None else f"{r['load_avg']:g} on {r['cpus']} cpus"
        lines.append(f"| [{r['name']}](#{r['name']}) | {run_kind(r)} | `{r['command']}` | {duration(r['wall_s'])} | "
                     f"{load} | {tally(r['rows'])} |")
    if any(r["smoke"] for r in results):
        lines += ["", "Runs marked smoke are the tiny CI versions (`--smoke`): they show that the whole path "
                  "works, not the papers' results; their departures from the paper are listed with them."]
    if kept:
        lines += ["", "Kept from the page's previous version (their stores were not among those read; each "
                  "section names its sweep and command): " + ", ".join(f"[{n}](#{n})" for n in order if n in kept)
                  + "."]
    missing = [n for n in EXPERIMENTS if n not in order]
    if missing:
        lines += ["", "Not in the store yet: " + ", ".join(f"`groklab reproduce {n}`" for n in missing) + "."]
    for n in order:
        if n in kept:
            lines += ["", kept[n]["section"]]
            continue
        r = by_name[n]
        lines += ["", f"## {r['name']}", "", f"**{r['title']}.** {r['cite']}. Claim: {r['claim']}.", "",
                  f"- run: {run_kind(r)}, sweep `{r['sweep_id']}`, started {r['created']}",
                  f"- command: `{r['command']}`",
                  f"- wall time: {duration(r['wall_s'])} on {r['machine'] or 'an unrecorded machine'}"
                  + (f", 1-minute load average {r['load_avg']:g} at the start" if r.get("load_avg") is not None
                     else "")]
        if r["departures"]:
            lines.append("- setup departures from the paper (read from the stored configs): "
                         + "; ".join(r["departures"]))
        lines += ["", "| quantity | published | ours | measured details | agrees | why ours differs (measured) |",
                  "|---|---|---|---|---|---|"]
        for row in r["rows"]:
            lines.append("| " + " | ".join(_cell(x) for x in (row["quantity"], row["published_text"], row["ours_text"],
                                                             row["detail"], _agree(row), row["why"])) + " |")
        for t in r.get("tables", []):
            lines += ["", f"**{t['title']}**", "", "| " + " | ".join(_cell(h) for h in t["header"]) + " |",
                      "|" + "---|" * len(t["header"])]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t["rows"]]
        sources = list(dict.fromkeys(row["published"]["source"] for row in r["rows"] if row["published"]))
        if sources:
            lines += ["", "Sources: " + " — ".join(f"{_cell(s)}." for s in sources)]
    return "\n".join(lines) + "\n"


def write(store: Store | list[Store], out: str | Path = DEFAULT_OUT, *, keep: bool = True
          ) -> tuple[Path, list[dict], list[str]]:
    """Write the results page for ``store`` (or several stores) to ``out``, keeping (``keep``) the rows and
    sections of the page there for the experiments no store holds; returns the path, the results shown
    and the names kept. Raises ConfigError if no store holds a reproduction (an existing page is left
    alone). The page is replaced atomically: an interrupted write leaves the old one."""
    results = collect(store)
    if not results:
        roots = ", ".join(str(s.root) for s in (store if isinstance(store, list) else [store]))
        raise ConfigError(f"results: no reproductions in {roots}; run `groklab reproduce NAME` first "
                          "(`groklab reproduce --list`)")
    path = Path(out).expanduser()
    if path.is_dir():
        raise ConfigError(f"out: {path} is a directory; give the file name, e.g. {path / 'results.md'}")
    kept = {}
    if keep and path.is_file():
        fresh = {r["name"] for r in results}
        kept = {n: v for n, v in sections(path.read_text()).items() if n not in fresh}
    try:
        atomic_write_bytes(path, render(results, kept).encode())
    except OSError as e:
        raise ConfigError(f"out: cannot write {path} ({e.strerror or e})") from None
    return path, results, [n for n in EXPERIMENTS if n in kept]


__all__ = ["DEFAULT_OUT", "collect", "render", "sections", "write"]
