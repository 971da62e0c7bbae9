"""The report's circuit section: laid out when the view has a circuit test, drawn as a PNG and, in a
real browser, as three figures with the ablation numbers beside the verdict."""

from __future__ import annotations

import pytest

from groklab.report import render_run_html, synthetic_run_view, write_html, write_run_pngs
from groklab.report.view import clean, run_layout


def _circuit_view(basis: str = "irreps") -> dict:
    view = synthetic_run_view()
    steps = [0, 10, 100, 1000]
    names = ["(4,1)", "(3,2)", "(3,1,1)", "(2,2,1)", "(2,1,1,1)", "(1,1,1,1,1)"]
    view["verdict"] = "Irreps (4,1), (2,1,1,1) explain 60.0% of the logit variance: a generalizing irrep circuit."
    view["circuit"] = {
        "basis": basis,
        "components": [{"name": "(4,1)", "dim": 16, "fraction": 0.4},
                       {"name": "(2,1,1,1)", "dim": 16, "fraction": 0.2}],
        "ablation": {"step": 1000, "circuit": "generalizing circuit", "explained": 0.6, "chance": 0.0083,
                     "chance_bound": 0.0167, "model": {"acc": 1.0, "loss": 0.01}, "keep": {"acc": 0.9995, "loss": 0.02},
                     "remove": {"acc": 0.0071, "loss": 6.2}},
        "spectrum": {"step": 1000, "names": names, "fractions": [0.4, 0.01, 0.005, 0.01, 0.2, 0.002],
                     "key": [True, False, False, False, True, False], "n_components": 6},
        "weights": {"step": steps, "names": names, "key": ["(4,1)", "(2,1,1,1)"],
                    "norms": [[1, 1, 1, 1, 1, 1], [2, 1, 1, 1, 1.5, 1], [5, 1, 0.5, 0.5, 4, 0.2],
                              [9, 0.3, 0.1, 0.1, 7, 0.1]]},
        "curves": {"step": steps, "test_acc": [0.01, 0.0, 0.4, 1.0], "keep_acc": [0.01, 0.01, 0.9, 1.0],
                   "remove_acc": [0.01, 0.0, 0.01, 0.007], "explained": [0.0, 0.01, 0.3, 0.6]},
    }
    return view


def test_circuit_section_is_laid_out_with_its_figures_and_left_out_without_data():
    layout = run_layout(clean(_circuit_view()))
    assert layout["circuit"] == ["circuit-spectrum", "circuit-weights", "circuit-ablation"]
    no_weights = _circuit_view("walsh")
    del no_weights["circuit"]["weights"]
    assert run_layout(clean(no_weights))["circuit"] == ["circuit-spectrum", "circuit-ablation"]
    bare = synthetic_run_view()
    bare.pop("circuit", None)
    assert "circuit" not in run_layout(clean(bare))
    html = render_run_html(_circuit_view())
    assert 'data-section="circuit"' in html and "Circuit test in the task" in html


def test_circuit_section_png(tmp_path):
    paths = write_run_pngs(_circuit_view(), tmp_path)
    png = tmp_path / "circuit.png"
    assert png in paths and png.stat().st_size > 10_000


@pytest.mark.browser
def test_circuit_figures_draw_in_a_browser_with_the_ablations_beside_the_verdict(open_file, tmp_path):
    opened = open_file(write_html(render_run_html(_circuit_view()), tmp_path / "r.html"))
    page = opened.page
    drawn = page.evaluate("window.groklabReport.figures")
    assert {"circuit-spectrum", "circuit-weights", "circuit-ablation"} <= set(drawn)
    assert page.locator(".fig-error").count() == 0
    assert page.locator('[data-figure="circuit-spectrum"] rect.bar').count() == 6
    assert page.locator('[data-figure="circuit-spectrum"] rect[data-component="(4,1)"]').count() == 1
    line = page.locator("#ablation").inner_text()
    assert "irreps" in line and "99.95%" in line and "0.7%" in line and "generalizing circuit" in line
    opened.assert_clean()
