"""`groklab report` end to end on real tiny runs: default and custom paths, PNGs, hostile names, a run
without checkpoints, unknown references, sweeps (with the run reports their cells link to) and a
200-checkpoint run (size asserted, time printed only)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from groklab import api
from groklab.cli import main
from groklab.config import from_dict
from groklab.presets import preset_values
from groklab.report.writers import write_run_report, write_sweep_report
from groklab.store import Store
from groklab.sweep import make_plan

EVIL = "<script>alert(1)</script>"
TINY = {**preset_values("gromov2023"), "p": 23, "steps": 100, "eval_every": 5}
MAX_BYTES = 10_000_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One store: a tiny gromov2023 run (wd 5), its twin named EVIL (wd 0), a run without checkpoints,
    and a sweep over wd made by hand from the two trained runs."""
    root = tmp_path_factory.mktemp("store")
    st = Store(root)
    res = api.train([from_dict({**TINY, "wd": 5.0}), from_dict({**TINY, "wd": 0.0, "name": EVIL})], store=st)
    good, evil = res.run_ids
    (bare,) = st.create_runs([from_dict({**TINY, "name": "bare run"}).to_dict()], code_version="test",
                             machine="test")
    for step in (0, 5, 10):
        st.log_metrics([bare], step, [{"train_acc": step / 10, "test_acc": 0.0, "train_loss": 1.0 - step / 20,
                                       "test_loss": 1.0}])
    st.set_status([bare], "interrupted", "killed before its first checkpoint")
    plan = make_plan("wd by hand", base=TINY, grid={"wd": (0.0, 5.0)})
    sweep = st.create_sweep(plan.name, plan.kind, plan.spec, plan.configs)
    st.complete_points(sweep, [0, 1], [evil, good])
    return {"store": st, "root": root, "good": good, "evil": evil, "bare": bare, "sweep": sweep}


def report(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["report", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_run_report_default_path(runs, capsys):
    start = time.perf_counter()
    rc, out, err = report(capsys, runs["good"], "--store", str(runs["root"]))
    seconds = time.perf_counter() - start
    assert rc == 0, err
    path = Path(out.splitlines()[0])
    assert path == runs["store"].run_dir(runs["good"]) / "report.html"
    size = path.stat().st_size
    print(f"\ntiny run report: {size / 1e3:.0f} kB in {seconds:.2f} s")
    assert 0 < size < MAX_BYTES
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>") and runs["good"] in html
    for figure in ("accuracy", "loss", "spectrum", "clock", "neurons"):
        assert f'data-figure="{figure}"' in html
    assert re.search(r"MB in [\d.]+ s", err)


def test_prefix_and_name_resolve_and_out_goes_anywhere(runs, capsys, tmp_path):
    out = tmp_path / "deep" / "dir" / "mine.html"
    rc, text, err = report(capsys, runs["good"][:-1], "--store", str(runs["root"]), "--out", str(out), "--json")
    assert rc == 0, err
    # a prefix shared by several runs is named as ambiguous, not as missing
    rc2, _, err2 = report(capsys, "r", "--store", str(runs["root"]))
    assert rc2 == 2 and "matches 3 runs" in err2 and "Traceback" not in err2
    assert json.loads(text)["path"] == str(out) and out.is_file()
    assert write_run_report(runs["store"], "bare run") == runs["store"].run_dir(runs["bare"]) / "report.html"


def test_png_dir(runs, capsys, tmp_path):
    rc, text, err = report(capsys, runs["good"], "--store", str(runs["root"]), "--png", str(tmp_path / "png"),
                           "--json")
    assert rc == 0, err
    got = json.loads(text)
    pngs = [Path(p) for p in got["pngs"]]
    assert {p.name for p in pngs} >= {"curves.png", "spectrum.png", "clock.png"}
    for p in pngs:
        assert p.parent == tmp_path / "png" and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(got["path"]).is_file()


def test_hostile_name_never_appears_raw(runs, capsys):
    for ref in (runs["evil"], EVIL):     # by id and by name
        rc, out, err = report(capsys, ref, "--store", str(runs["root"]))
        assert rc == 0, err
        html = Path(out.splitlines()[0]).read_text()
        assert EVIL not in html and "alert(1)" in html     # the name is there, escaped
        assert html.count("<script") == 2                  # the data block and the renderer, nothing else


def test_run_without_checkpoints_gets_a_note(runs, capsys):
    rc, out, err = report(capsys, runs["bare"], "--store", str(runs["root"]))
    assert rc == 0, err
    html = Path(out.strip()).read_text()
    assert "has no checkpoints" in html
    assert 'data-figure="accuracy"' in html and 'data-figure="spectrum"' not in html


@pytest.mark.parametrize("argv", [["no-such-run"], ["r000000-000000"], ["../../etc"], [""],
                                  ["no-such-run", "--png", "/tmp/x"]])
def test_unknown_reference_is_one_line_exit_2(runs, capsys, argv):
    rc, out, err = report(capsys, *argv, "--store", str(runs["root"]))
    assert rc == 2 and out == ""
    assert err.startswith("groklab: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_missing_store_and_bad_out_exit_2(runs, capsys, tmp_path):
    rc, _, err = report(capsys, runs["good"], "--store", str(tmp_path / "nowhere"))
    assert rc == 2 and "no store" in err
    rc, _, err = report(capsys, runs["good"], "--store", str(runs["root"]), "--out", str(tmp_path))
    assert rc == 2 and "is a directory" in err
    rc, _, err = report(capsys, runs["good"], "--store", str(runs["root"]), "--x", "wd")
    assert rc == 2 and "is a run" in err


def test_sweep_report_writes_the_run_reports_its_cells_link(runs, capsys):
    st = runs["store"]
    evil_report = st.run_dir(runs["evil"]) / "report.html"
    evil_report.unlink(missing_ok=True)
    # forget its analysis (the catalog autocommits): the cell's report is then the cheap one, curves and a note
    st.conn.execute("DELETE FROM analysis WHERE run_id = ?", (runs["evil"],))
    rc, text, err = report(capsys, "wd by hand", "--store", str(runs["root"]), "--json")
    assert rc == 0, err
    got = json.loads(text)
    path = Path(got["path"])
    assert path == (runs["root"] / "sweeps" / runs["sweep"] / "report.html").resolve()
    assert got["kind"] == "sweep" and str(evil_report) in got["run_reports"]
    light = evil_report.read_text()
    assert EVIL not in light and "were not analyzed" in light and 'data-figure="spectrum"' not in light
    html = path.read_text()
    assert path.stat().st_size < MAX_BYTES and 'data-figure="phase-diagram"' in html
    for rid in (runs["good"], runs["evil"]):
        href = f"../../runs/{rid}/report.html"
        assert href in html and (path.parent / href).resolve().is_file()


def test_sweep_report_elsewhere_links_back_into_the_store(runs, tmp_path):
    out = write_sweep_report(runs["root"], runs["sweep"], out=tmp_path / "a" / "grid.html",
                             png_dir=tmp_path / "png")
    html = out.read_text()
    hrefs = re.findall(r'"href":"([^"]+)"', html)
    assert len(hrefs) == 2
    for href in hrefs:
        assert not href.startswith("/") and (out.parent / href).resolve().is_file()
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["delay.png", "phase_diagram.png"]


def _payload(path: Path) -> dict:
    match = re.search(r'<script type="application/json" id="groklab-data">(.*?)</script>', path.read_text(), re.S)
    return json.loads(match.group(1))["view"]


def _labels_everywhere(runs, capsys, rid: str) -> list[tuple]:
    """(phase, PAIR class) of one run as `show`, `show --json`, its run report and its sweep's report give them."""
    root = str(runs["root"])
    assert main(["show", rid, "--store", root, "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert main(["show", rid, "--store", root]) == 0
    text = capsys.readouterr().out
    shown = re.search(r"phase (\S+)  PAIR class (\S+)", text).groups()
    assert ("it grokked" in text) == (shown[0] == "grokking")
    rc, out, err = report(capsys, rid, "--store", root)
    assert rc == 0, err
    page = _payload(Path(out.splitlines()[0]))["summary"]
    rc, out, err = report(capsys, runs["sweep"], "--store", root)
    assert rc == 0, err
    (cell,) = [p for p in _payload(Path(out.splitlines()[0]))["points"] if p["run_id"] == rid]
    pair = lambda v: "n/a" if v is None else v  # noqa: E731
    return [(js["phase"], pair(js["pair_class"])), shown, (page["phase"], pair(page["pair_class"])),
            (cell["phase"], pair(cell["pair_class"]))]


def test_the_same_run_gets_the_same_label_in_the_cli_json_run_and_grid_reports(runs, capsys):
    got = _labels_everywhere(runs, capsys, runs["good"])
    assert len(set(got)) == 1, got
    assert got[0][0] in ("comprehension", "grokking", "memorization", "confusion")
    assert got[0][1] == "n/a"          # an MSE run: PAIR's cross-entropy thresholds do not apply


def test_a_summary_stored_by_an_older_groklab_is_relabelled_alike_everywhere(runs, capsys):
    st, rid = runs["store"], runs["good"]
    row = st.get_run(rid)
    new_keys = ("phase_rule", "pair_rule", "gap_evals", "labels_version")
    old = {k: v for k, v in row["summary"].items() if k not in new_keys}
    st.finish(rid, row["status"], {**old, "phase": "confusion", "pair_class": "no_learn"}, row["wall_s"])
    try:
        got = _labels_everywhere(runs, capsys, rid)
    finally:
        st.finish(rid, row["status"], row["summary"], row["wall_s"])
    assert set(got) == {(row["summary"]["phase"], "n/a")}, got


def test_name_of_both_a_run_and_a_sweep_is_refused(runs, capsys):
    st = runs["store"]
    st.create_sweep("bare run", "grid", {"axes": []}, [])
    rc, _, err = report(capsys, "bare run", "--store", str(runs["root"]))
    assert rc == 2 and "names both" in err
    rc, _, err = report(capsys, runs["bare"], "--store", str(runs["root"]))
    assert rc == 0, err


def test_200_checkpoints_report_size(tmp_path, capsys):
    cfg = from_dict({**preset_values("gromov2023"), "p": 23, "d_mlp": 32, "steps": 300, "eval_every": 1,
                     "ckpt_per_decade": 210})
    st = Store(tmp_path / "store")
    (rid,) = api.train(cfg, store=st).run_ids
    n = len(st.checkpoints(rid))
    assert n >= 200
    start = time.perf_counter()
    rc, out, err = report(capsys, rid, "--store", str(st.root))
    first = time.perf_counter() - start
    assert rc == 0, err
    start = time.perf_counter()
    path = write_run_report(st, rid)
    again = time.perf_counter() - start
    size = path.stat().st_size
    with capsys.disabled():
        print(f"\n{n}-checkpoint run: report {size / 1e6:.3f} MB, {first:.2f} s with its analysis, "
              f"{again:.2f} s with the analysis cached")
    assert size < MAX_BYTES
    html = path.read_text()
    steps = json.loads(re.search(r'"spectrum":\{.*?"step":(\[[^\]]*\])', html).group(1))
    assert len(steps) == n
