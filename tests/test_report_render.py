"""The report renderer without a browser: sections follow the data, user text is escaped, nothing
external is referenced, large views stay small, and the PNG writers produce real images."""

from __future__ import annotations

import copy
import json
import math
import re
import time

import numpy as np
import pytest
from matplotlib.image import imread

from groklab.report import (
    render_run_html,
    render_sweep_html,
    synthetic_run_view,
    synthetic_sweep_view,
    write_html,
    write_run_pngs,
    write_sweep_pngs,
)
from groklab.report.view import run_sections


def _sections_of_the_synthetic_run() -> tuple[str, ...]:
    """Every run-report section but those drawn only from metrics that do not apply to the synthetic run's
    config (another task's sections, e.g. the text corpus's canaries, or named splits it does not have)."""
    from types import SimpleNamespace

    from groklab.measure import registry

    setup = SimpleNamespace(cfg=SimpleNamespace(**synthetic_run_view()["run"]["config"]), has_noise=True, splits=())

    def applies(m) -> bool:
        try:
            return bool(m.applies(setup))
        except (AttributeError, TypeError):
            return True

    drawn = {registry.PANELS[m.panel].section for m in registry.metrics() if m.panel and applies(m)}
    foreign = {p.section for p in registry.panels()} - drawn
    return tuple(s for s in run_sections() if s not in foreign)


RUN_SECTIONS = _sections_of_the_synthetic_run()

SVG_NS = "http://www.w3.org/2000/svg"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ATTACK = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def full_view() -> dict:
    return synthetic_run_view()


def sections(html: str) -> list[str]:
    return re.findall(r'<\w+ [^>]*data-section="([^"]+)"', html)


def figures(html: str) -> list[str]:
    return re.findall(r'<\w+ [^>]*data-figure="([^"]+)"', html)


def payload(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="groklab-data">(.*?)</script>', html, re.S)
    assert match, "the view is embedded as JSON"
    return json.loads(match.group(1))


def test_full_view_shows_every_section_in_page_order(full_view):
    html = render_run_html(full_view)
    assert sections(html) == ["header", *RUN_SECTIONS]
    assert figures(html) == ["accuracy", "loss", "weight-norm", "collapse", "progress-loss", "progress-gini",
                             "spectrum", "clock", "neurons", "stars", "circuit-spectrum", "circuit-weights",
                             "circuit-ablation", "mem-heatmap", "mem-distribution", "mem-top", "mem-roc",
                             "mem-exposure", "leakage", "noise", "parity"]
    assert 'id="spectrum-slider"' in html and 'type="range"' in html


# (what is removed from the view, sections that must disappear)
REMOVALS = [
    (("progress",), {"progress"}),
    (("spectrum",), {"spectrum"}),
    (("clock",), {"clock"}),
    (("neurons",), {"neurons", "stars"}),
    (("parity",), {"parity"}),
    (("metrics.mia_auc", "metrics.mia_tpr1"), {"leakage"}),
    (("metrics.clean_acc", "metrics.memorized_acc", "metrics.inverted_acc"), {"noise"}),
    (("metrics.weight_norm", "metrics.collapse_frac"), {"weights"}),
]


@pytest.mark.parametrize("how", ["missing", "none"])
@pytest.mark.parametrize(("keys", "gone"), REMOVALS, ids=[r[0][0] for r in REMOVALS])
def test_section_is_left_out_when_its_data_is_missing(full_view, keys, gone, how):
    view = copy.deepcopy(full_view)
    for key in keys:
        parent = view["metrics"] if key.startswith("metrics.") else view
        name = key.removeprefix("metrics.")
        if how == "missing":
            del parent[name]
        else:
            parent[name] = None
    html = render_run_html(view)
    assert set(sections(html)) == {"header", *RUN_SECTIONS} - gone
    for section in gone:
        assert f'id="sec-{section}"' not in html


def test_weight_norm_is_drawn_once_per_step_or_else_per_checkpoint(full_view):
    assert figures(render_run_html(full_view)).count("weight-norm") == 1
    assert "progress-norm" not in figures(render_run_html(full_view))    # the same curve, from checkpoints
    view = copy.deepcopy(full_view)
    del view["metrics"]["weight_norm"]
    assert "progress-norm" in figures(render_run_html(view)) and "weight-norm" not in figures(render_run_html(view))


def test_a_figure_that_does_not_apply_to_the_run_is_not_drawn(full_view, tmp_path):
    view = copy.deepcopy(full_view)
    view["run"]["config"] = {**view["run"].get("config", {}), "loss": "mse", "noise": 0.0}
    view["metrics"]["collapse_frac"] = [0.0] * len(view["metrics"]["step"])   # what an old store logged for MSE
    noise_keys = ("clean_acc", "memorized_acc", "inverted_acc")
    html = render_run_html(view)
    assert "collapse" not in figures(html) and "weight-norm" in figures(html)
    assert "noise" not in sections(html) and not set(noise_keys) & set(figures(html))   # no label noise in it
    assert [p.name for p in write_run_pngs(view, tmp_path)].count("weights.png") == 1


def test_run_header_gets_the_phase_and_why_from_the_summary(full_view):
    data = payload(render_run_html(full_view))
    s = data["view"]["summary"]
    assert s["phase"] == "grokking" and f"step {s['t_test_liu']:,}" in data["view"]["phase_reason"]


def test_all_nan_series_counts_as_missing(full_view):
    view = copy.deepcopy(full_view)
    view["metrics"]["mia_auc"] = [math.nan] * len(view["metrics"]["step"])
    view["metrics"]["mia_tpr1"] = [None] * len(view["metrics"]["step"])
    assert "leakage" not in sections(render_run_html(view))


def test_minimal_view_has_header_and_curves_only():
    view = {"run": {"run_id": "r1"}, "summary": {},
            "metrics": {"step": [1, 10, 100], "train_acc": [0.1, 0.5, 1.0], "test_acc": [0.0, 0.1, 0.2]}}
    html = render_run_html(view)
    assert sections(html) == ["header", "curves"]
    assert figures(html) == ["accuracy"]


@pytest.mark.parametrize("missing", ["run", "summary", "metrics"])
def test_view_without_required_key_is_rejected(full_view, missing):
    view = {k: v for k, v in full_view.items() if k != missing}
    with pytest.raises(ValueError, match=missing):
        render_run_html(view)


def test_numpy_arrays_and_nan_are_embedded_as_json(full_view):
    view = copy.deepcopy(full_view)
    view["metrics"] = {k: np.asarray(v) for k, v in view["metrics"].items()}
    view["metrics"]["test_loss"][3] = np.nan
    view["summary"]["t_mem"] = np.int64(400)
    data = payload(render_run_html(view))["view"]
    assert data["metrics"]["test_loss"][3] is None
    assert data["summary"]["t_mem"] == 400
    assert data["metrics"]["step"] == full_view["metrics"]["step"]


def test_user_text_is_escaped_and_never_markup(full_view):
    view = copy.deepcopy(full_view)
    view["run"]["name"] = ATTACK
    view["run"]["task"] = "</script><script>alert(2)</script>"
    view["run"]["config"]["note"] = "<img src=x onerror=alert(3)> & \u2028 \u2029"
    view["notes"] = ["<!-- comment", "]]> <![CDATA["]
    view["verdict"] = "<b>bold?</b>"
    html = render_run_html(view)
    assert "alert(1)" in html  # the name is there ...
    for raw in (ATTACK, "</script><script>alert", "<img", "<!--", "<b>", "\u2028", "\u2029", "<![CDATA["):
        assert raw not in html  # ... but never as markup
    assert html.count("<script") == 2  # the JSON island and our own code
    data = payload(html)["view"]
    assert data["run"]["name"] == ATTACK  # escaped, not altered
    assert data["run"]["config"]["note"] == view["run"]["config"]["note"]


def test_sweep_text_is_escaped():
    view = synthetic_sweep_view()
    view["sweep"]["name"] = ATTACK
    view["x_name"] = "<svg onload=alert(1)>"
    view["points"][0]["href"] = "javascript:alert(1)"
    html = render_sweep_html(view)
    assert ATTACK not in html and "<svg onload" not in html
    assert payload(html)["view"]["sweep"]["name"] == ATTACK


@pytest.mark.parametrize("render", ["run", "sweep"])
def test_page_references_nothing_external(full_view, render):
    html = render_run_html(full_view) if render == "run" else render_sweep_html(synthetic_sweep_view())
    urls = set(re.findall(r"https?://[^\s\"'<>)]*", html))
    assert urls <= {SVG_NS}, urls  # the SVG namespace is a name, never fetched
    assert not re.search(r"""\b(?:src|href|action)\s*=\s*["']?[a-z]+:""", html, re.I)
    assert "@import" not in html and "url(http" not in html
    assert "default-src 'none'" in html  # the Content-Security-Policy forbids every fetch


def test_large_view_stays_small():
    view = synthetic_run_view(p=113, n_ckpt=200, n_neurons=512)
    start = time.perf_counter()
    html = render_run_html(view)
    elapsed = time.perf_counter() - start
    size = len(html.encode("utf-8"))
    print(f"\n200 checkpoints, p=113, 512 neurons: rendered in {elapsed:.2f} s, {size / 1e6:.2f} MB")
    assert len(view["spectrum"]["norms"]) == 200
    assert size < 10_000_000
    assert set(sections(html)) == {"header", *RUN_SECTIONS}


def test_sweep_report_has_phase_diagram_and_delay():
    html = render_sweep_html(synthetic_sweep_view())
    assert sections(html) == ["header", "phase_diagram", "delay"]
    assert figures(html) == ["phase-diagram", "delay"]
    empty = render_sweep_html({**synthetic_sweep_view(), "points": []})
    assert sections(empty) == ["header"]


def test_write_html_is_atomic_and_overwrites(tmp_path, full_view):
    target = tmp_path / "nested" / "report.html"
    html = render_run_html(full_view)
    assert write_html("old", target) == target
    assert write_html(html, target) == target
    assert target.read_text(encoding="utf-8") == html
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temp file left


def assert_pngs(paths, names):
    assert [p.name for p in paths] == [f"{n}.png" for n in names]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, path
        image = imread(path)
        assert image.shape[0] > 100 and image.shape[1] > 100
        assert image[..., :3].std() > 0.01, f"{path.name} is blank"


def test_run_pngs_one_per_section_with_data(tmp_path, full_view):
    assert_pngs(write_run_pngs(full_view, tmp_path), RUN_SECTIONS)


def test_run_pngs_skip_missing_sections(tmp_path, full_view):
    view = {k: v for k, v in full_view.items() if k not in ("progress", "neurons", "parity", "clock")}
    assert_pngs(write_run_pngs(view, tmp_path), ["curves", "weights", "spectrum", "circuit", "memorization",
                                                        "leakage", "noise"])


def test_sweep_pngs(tmp_path):
    assert_pngs(write_sweep_pngs(synthetic_sweep_view(), tmp_path), ["phase_diagram", "delay"])
