"""Reports of REAL trained runs and a REAL grid, opened in Debian's Chromium (Playwright) from file://
with every non-file request aborted and counted: every figure draws, the checkpoint slider redraws the
spectrum, a hostile run name stays text, sweep cells open their run's report.

With GROKLAB_SCREENSHOTS=DIR set, one more test trains gromov2023 (p=97, 300 steps) and a small grid
and saves full-page screenshots of their reports as DIR/report-run.png and DIR/report-grid.png (the
README gallery: ``GROKLAB_SCREENSHOTS=docs/img pytest tests/test_report_real_browser.py -k screenshots``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from groklab import api
from groklab.config import from_dict
from groklab.presets import preset_values
from groklab.report.writers import write_run_report, write_sweep_report
from groklab.store import Store
from groklab.sweep import make_plan, run_sweep

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
EVIL = "<script>alert(1)</script>"
TINY = {**preset_values("gromov2023"), "p": 23, "steps": 100, "eval_every": 5}

DRAWN = """() => [...document.querySelectorAll('[data-figure]')].map(f => {
  const svgs = [...f.querySelectorAll('svg')];
  const box = svgs.length ? svgs[0].getBoundingClientRect() : {width: 0, height: 0};
  return {name: f.dataset.figure, svgs: svgs.length, shapes: f.querySelectorAll(
    'svg path, svg rect, svg circle, svg line, svg polyline, svg polygon').length,
    width: box.width, height: box.height, error: f.querySelector('.fig-error') !== null};
})"""
BARS = "() => [...document.querySelectorAll('[data-figure=spectrum] rect.bar')].map(b => b.getAttribute('height'))"


def _grid(st: Store, name: str, base: dict, axes: dict) -> str:
    plan = make_plan(name, preset="gromov2023", base=base, grid=axes)
    sid = st.create_sweep(plan.name, plan.kind, plan.spec, plan.configs)
    run_sweep(st, sid, pack_mode="ensemble")
    return sid


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A store with a tiny real run, its twin named EVIL, a run without checkpoints and a real 2x2 grid,
    each with its report written where `groklab report` puts it."""
    st = Store(tmp_path_factory.mktemp("store"))
    good, evil = api.train([from_dict({**TINY, "wd": 5.0}), from_dict({**TINY, "name": EVIL})], store=st).run_ids
    (bare,) = st.create_runs([from_dict(TINY).to_dict()], code_version="test", machine="test")
    st.log_metrics([bare], 0, [{"train_acc": 0.0, "test_acc": 0.0, "train_loss": 1.0, "test_loss": 1.0}])
    st.log_metrics([bare], 5, [{"train_acc": 0.5, "test_acc": 0.0, "train_loss": 0.5, "test_loss": 1.1}])
    sid = _grid(st, "tiny grid", {"p": 23, "steps": 100, "eval_every": 5}, {"frac": (0.3, 0.6), "wd": (0.0, 5.0)})
    return {"store": st, "good": write_run_report(st, good), "evil": write_run_report(st, evil),
            "bare": write_run_report(st, bare), "grid": write_sweep_report(st, sid), "ckpts": st.checkpoints(good)}


def assert_all_drawn(page) -> list[str]:
    drawn = page.evaluate(DRAWN)
    assert drawn
    for fig in drawn:
        assert fig["svgs"] > 0 and fig["shapes"] > 3 and fig["width"] > 0 and fig["height"] > 0, fig
        assert not fig["error"], fig
    return [f["name"] for f in drawn]


def move_slider(page, index: int) -> None:
    page.evaluate("""(i) => { const s = document.getElementById('spectrum-slider');
                              s.value = String(i); s.dispatchEvent(new Event('input', {bubbles: true})); }""", index)


def test_real_run_report_draws_offline(reports, open_file):
    o = open_file(reports["good"])
    names = assert_all_drawn(o.page)
    assert {"accuracy", "loss", "spectrum", "clock", "neurons"} <= set(names)
    assert o.requests == [o.page.url]
    o.assert_clean()


def test_slider_moves_through_real_checkpoints(reports, open_file):
    o = open_file(reports["good"])
    page, steps = o.page, [c["step"] for c in reports["ckpts"]]
    assert page.evaluate("document.getElementById('spectrum-slider').max") == str(len(steps) - 1)
    last = page.evaluate(BARS)
    assert page.evaluate("window.groklabReport.spectrumStep") == steps[-1]
    move_slider(page, 0)
    first = page.evaluate(BARS)
    assert len(first) == len(last) > 0 and first != last
    assert page.evaluate("window.groklabReport.spectrumStep") == steps[0]
    move_slider(page, len(steps) // 2)
    assert page.evaluate("window.groklabReport.spectrumStep") == steps[len(steps) // 2]
    o.assert_clean()


def test_hostile_run_name_is_text(reports, open_file):
    o = open_file(reports["evil"])
    assert o.page.locator("h1").inner_text() == EVIL
    assert o.page.evaluate("document.querySelectorAll('script').length") == 2
    assert_all_drawn(o.page)
    o.assert_clean()      # no dialog


def test_run_without_checkpoints_shows_its_curves_and_a_note(reports, open_file):
    o = open_file(reports["bare"])
    assert assert_all_drawn(o.page) == ["accuracy", "loss"]
    assert any("has no checkpoints" in t for t in o.page.locator("#notes li").all_inner_texts())
    o.assert_clean()


def test_real_grid_cells_open_their_run_reports(reports, open_file):
    o = open_file(reports["grid"])
    page = o.page
    assert assert_all_drawn(page) == ["phase-diagram", "delay"]
    links = page.locator("[data-figure=phase-diagram] a")
    assert links.count() == 4
    hrefs = [links.nth(i).get_attribute("href") for i in range(4)]
    for href in hrefs:
        assert href.startswith("../../runs/") and (reports["grid"].parent / href).resolve().is_file()
    links.first.click()
    page.wait_for_url("**/runs/*/report.html")
    page.wait_for_function("window.groklabReport && window.groklabReport.kind === 'run'")
    assert {"accuracy", "loss"} <= set(assert_all_drawn(page))
    o.assert_clean()


def _png(page, path: Path, max_height: int | None = None) -> None:
    """A full-page screenshot, cropped to max_height, palette-quantized if it is over 1 MB."""
    from PIL import Image

    height = page.evaluate("document.documentElement.scrollHeight")
    clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": min(height, max_height or height)}
    img = Image.open(io.BytesIO(page.screenshot(full_page=True, clip=clip)))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    if path.stat().st_size > 1_000_000:
        img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    assert path.stat().st_size <= 1_000_000


@pytest.mark.manual
@pytest.mark.skipif(not os.environ.get("GROKLAB_SCREENSHOTS"), reason="set GROKLAB_SCREENSHOTS=DIR to save them")
def test_screenshots(open_file, tmp_path):
    out = Path(os.environ["GROKLAB_SCREENSHOTS"])
    st = Store(tmp_path / "store")
    (rid,) = api.train(from_dict(preset_values("nanda2023-fast")), store=st).run_ids
    assert st.get_run(rid)["summary"]["t_gen"] is not None       # it grokked
    sid = _grid(st, "frac × wd", {"p": 41, "steps": 300, "eval_every": 5}, {"frac": (0.2, 0.35, 0.5, 0.65, 0.8),
                                                           "wd": (0.0, 1.0, 3.0, 10.0)})
    o = open_file(write_run_report(st, rid))
    assert_all_drawn(o.page)
    _png(o.page, out / "report-run.png", max_height=2500)
    o.assert_clean()
    phases = [(r["summary"] or {}).get("phase") for r in st.list_runs(sweep_id=sid)]
    assert "grokking" in phases                                   # the phase panel shows grokking cells
    o = open_file(write_sweep_report(st, sid))
    assert_all_drawn(o.page)
    _png(o.page, out / "report-grid.png")
    o.assert_clean()
