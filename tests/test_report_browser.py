"""The reports in a real browser (Debian's Chromium through Playwright), offline from file://:
every figure draws, nothing is fetched, the slider redraws, hostile names stay text, cells link."""

from __future__ import annotations

import copy
import time

import pytest

from groklab.report import (
    render_run_html,
    render_sweep_html,
    synthetic_run_view,
    synthetic_sweep_view,
    write_html,
)

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def open_report(open_file, tmp_path):
    """Write an HTML string to a file and open it with the network blocked and everything recorded."""
    def open_(html: str, name: str = "report.html"):
        return open_file(write_html(html, tmp_path / name))
    return open_


DRAWN = """() => [...document.querySelectorAll('[data-figure]')].map(f => {
  const svgs = [...f.querySelectorAll('svg')];
  const box = svgs.length ? svgs[0].getBoundingClientRect() : {width: 0, height: 0};
  return {name: f.dataset.figure, svgs: svgs.length, shapes: f.querySelectorAll(
    'svg path, svg rect, svg circle, svg line, svg image').length, width: box.width, height: box.height};
})"""


def assert_all_drawn(page) -> list[str]:
    drawn = page.evaluate(DRAWN)
    assert drawn, "the page has figures"
    for fig in drawn:
        assert fig["svgs"] > 0 and fig["shapes"] > 3 and fig["width"] > 0 and fig["height"] > 0, fig
    names = [fig["name"] for fig in drawn]
    assert page.evaluate("window.groklabReport.figures") == names
    return names


def test_run_report_draws_every_figure_offline(open_report):
    opened = open_report(render_run_html(synthetic_run_view()))
    names = assert_all_drawn(opened.page)
    assert len(names) == 21          # the weight norm once; 5 memorization, 3 circuit figures
    assert opened.page.locator(".fig-error").count() == 0
    assert opened.requests == [opened.page.url]  # the page itself, nothing else
    opened.assert_clean()


def test_harness_sees_a_page_that_fetches(open_report):
    opened = open_report('<img src="https://example.invalid/pixel.png"><script>window.groklabReport = {}</script>')
    opened.page.wait_for_load_state("load")
    assert opened.blocked == ["https://example.invalid/pixel.png"]


def test_spectrum_slider_redraws_bars(open_report):
    view = synthetic_run_view()
    opened = open_report(render_run_html(view))
    page, steps = opened.page, view["spectrum"]["step"]
    heights = ("() => [...document.querySelectorAll('[data-figure=spectrum] rect.bar')]"
               ".map(b => b.getAttribute('height'))")
    last = page.evaluate(heights)
    assert len(last) == len(view["spectrum"]["freqs"])
    assert page.evaluate("window.groklabReport.spectrumStep") == steps[-1]
    page.evaluate("""() => { const s = document.getElementById('spectrum-slider');
                             s.value = '0'; s.dispatchEvent(new Event('input', {bubbles: true})); }""")
    first = page.evaluate(heights)
    assert first != last
    assert page.evaluate("window.groklabReport.spectrumStep") == steps[0]
    assert f"step {steps[0]:,}" in page.locator("#spectrum-step").inner_text()
    opened.assert_clean()


def test_hover_shows_step_and_values(open_report):
    opened = open_report(render_run_html(synthetic_run_view()))
    page = opened.page
    box = page.locator("[data-figure=accuracy] svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5)
    tip = page.locator("#tooltip")
    assert tip.is_visible()
    text = tip.inner_text()
    assert text.startswith("step ") and "train" in text and "test" in text
    opened.assert_clean()


def test_hostile_names_show_as_text_and_never_run(open_report):
    view = copy.deepcopy(synthetic_run_view())
    view["run"]["name"] = "<script>alert(1)</script>"
    view["run"]["task"] = "</script><script>alert(2)</script>"
    view["run"]["config"]["evil"] = '<img src=x onerror="alert(3)">'
    view["notes"] = ["<svg onload=alert(4)>", "\u2028</script>"]
    view["verdict"] = "<b>not bold</b>"
    opened = open_report(render_run_html(view))
    page = opened.page
    assert page.locator("h1").inner_text() == "<script>alert(1)</script>"
    assert page.locator("#verdict").inner_text() == "<b>not bold</b>"
    assert page.locator("#notes li").all_inner_texts() == ["<svg onload=alert(4)>", "\u2028</script>"]
    assert page.locator("#verdict b, img, main svg[onload]").count() == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 2
    assert_all_drawn(page)
    opened.assert_clean()  # no dialog fired, no request for "x"


def test_minimal_run_view_draws_without_errors(open_report):
    view = {"run": {"run_id": "r1", "name": None, "status": "running"}, "summary": {"phase": "memorization"},
            "metrics": {"step": [0, 1, 10, 100], "train_acc": [0.0, 0.1, None, 1.0], "test_acc": [0, 0, 0.1, 0.1],
                        "train_loss": [4.0, 3.0, 0.0, 0.01], "test_loss": [4.0, 4.1, 4.5, 5.0]}}
    opened = open_report(render_run_html(view))
    assert assert_all_drawn(opened.page) == ["accuracy", "loss"]
    assert opened.page.locator("h1").inner_text() == "r1"
    opened.assert_clean()


def test_large_run_view_draws(open_report):
    view = synthetic_run_view(p=113, n_ckpt=200, n_neurons=512)
    start = time.perf_counter()
    opened = open_report(render_run_html(view))
    print(f"\n200 checkpoints, p=113, 512 neurons: rendered and drawn in {time.perf_counter() - start:.2f} s")
    assert len(assert_all_drawn(opened.page)) == 21
    opened.assert_clean()


def test_sweep_report_cells_link_to_run_reports(open_report, tmp_path):
    view = synthetic_sweep_view()
    view["points"].append({**view["points"][0], "y": 99, "href": "javascript:alert(1)"})
    view["y_values"].append(99)
    view["points"][1]["phase"] = "__proto__"  # an unknown phase, named like a JS prototype key
    target = view["points"][5]
    write_html(render_run_html(synthetic_run_view()), tmp_path / target["href"])
    opened = open_report(render_sweep_html(view))
    page = opened.page
    assert assert_all_drawn(page) == ["phase-diagram", "delay"]
    hrefs = page.evaluate("() => [...document.querySelectorAll('[data-figure=phase-diagram] a')]"
                          ".map(a => a.getAttribute('href'))")
    assert sorted(hrefs) == sorted(p["href"] for p in view["points"][:-1])  # all but the javascript: one
    assert page.locator("[data-figure=delay] a").count() == len(view["points"]) - 1
    assert "__proto__" in page.locator("[data-figure=phase-diagram] .legend").inner_text()
    cell = page.locator(f'[data-figure=phase-diagram] a[href="{target["href"]}"]')
    cell.hover()
    assert target["run_id"] in page.locator("#tooltip").inner_text()
    cell.click()
    page.wait_for_url(f"**/{target['href']}")
    page.wait_for_function("window.groklabReport && window.groklabReport.kind === 'run'")
    assert page.evaluate("window.groklabReport.figures.length") == 21
    opened.assert_clean()


PROGRESS = """() => { const bar = document.getElementById('sweep-progress'), fill = bar.firstElementChild;
  const stats = document.querySelector('[data-section=header] .stats');
  return {bar: bar.getBoundingClientRect().width, fill: fill.getBoundingClientRect().width,
          row: stats.getBoundingClientRect().width, text: document.querySelector('.meta').innerText}; }"""


@pytest.mark.parametrize(("done", "share"), [(20, 1.0), (10, 0.5), (0, 0.0)])
def test_sweep_progress_bar_is_full_exactly_when_every_run_is_done(open_report, done, share):
    view = synthetic_sweep_view()
    view["sweep"] = {**view["sweep"], "n_points": 20, "n_done": done}
    opened = open_report(render_sweep_html(view))
    got = opened.page.evaluate(PROGRESS)
    assert f"{done} of 20" in got["text"]
    assert got["bar"] == pytest.approx(got["row"], abs=1)        # the bar spans the header, not a part of it
    assert got["fill"] == pytest.approx(share * got["bar"], abs=1)
    opened.assert_clean()


def test_run_header_shows_the_phase_and_why(open_report):
    view = synthetic_run_view()
    opened = open_report(render_run_html(view))
    page, s = opened.page, view["summary"]
    assert page.locator("#phase-badge").inner_text().lower() == s["phase"]
    reason = page.locator("#phase-reason").inner_text()
    assert reason.startswith(s["phase"]) and f"step {s['t_test_liu']:,}" in reason
    opened.assert_clean()

