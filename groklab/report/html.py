"""Self-contained HTML reports of a run or a sweep: one file, all data, script and style inline.

The page works from file:// with the network off: a Content-Security-Policy forbids every fetch,
and the charts are drawn in SVG by our own script (assets/report.js). The view is embedded once as
JSON inside <script type="application/json"> with <, >, & and U+2028/9 escaped, and the script
puts user text in the DOM only through textContent, so a run named "<script>…" shows as text.

Figures and their sources: Power et al. 2022 (grokking curves), Liu et al. 2022 (phase diagram),
Nanda et al. 2023 (progress measures, Fourier spectrum, clock), Pearce et al. 2023, the PAIR
explorable (neuron heatmap and DFT stars), Doshi et al. 2023 (label noise), Yeom et al. 2018 and
Carlini et al. 2022 (membership inference), Barak et al. 2022 (sparse parity), Prieto et al. 2025
(Softmax Collapse).
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path

from groklab.report.view import (
    check_run_view,
    check_sweep_view,
    clean,
    metric_panels,
    run_layout,
    section_caption,
    sweep_layout,
)

# section -> (title, caption). Captions are ours, never user data, and name the figure's source;
# "{rule}" is the default phase rule's text (groklab.measure.labels.RULE_TEXT).
CAPTIONS: dict[str, tuple[str, str]] = {
    "curves": (
        "Training curves",
        "Accuracy and loss on the training and held-out sets (log steps). Grokking is the long gap "
        "between memorizing the training set (t_mem) and generalizing to the test set (t_gen), "
        "first reported by Power et al. 2022.",
    ),
    "weights": (
        "Weight norm and Softmax Collapse",
        "Sum of squared weights: memorization inflates it and weight decay shrinks it back into the "
        "zone that generalizes (Liu, Michaud & Tegmark 2022, Omnigrok). Softmax Collapse is the "
        "fraction of training examples whose softmax has rounded to exactly one-hot (Prieto et al. 2025).",
    ),
    "progress": (
        "Progress measures",
        "Restricted loss keeps only the key-frequency directions of the logits and falls before test "
        "loss does; excluded loss removes them and rises while the circuit forms. Shading marks "
        "memorization, circuit formation and clean-up (Nanda et al. 2023).",
    ),
    "spectrum": (
        "Embedding Fourier spectrum",
        "Norm of each Fourier frequency in the token embedding. A generalizing network concentrates "
        "on a few key frequencies (highlighted); drag the slider to watch them emerge over training "
        "(Nanda et al. 2023).",
    ),
    "clock": (
        "Clock representation",
        "Each token's embedding on the cos/sin plane of one key frequency k: tokens sit on a circle at "
        "angle 2πkt/p, the clock the network uses to add (Nanda et al. 2023; PAIR explorable).",
    ),
    "neurons": (
        "Neuron weights by frequency",
        "Input weight of each hidden neuron for each token, neurons sorted by their dominant frequency "
        "as in the PAIR explorable (Pearce et al. 2023). Regular stripes mean a neuron reads a single wave.",
    ),
    "stars": (
        "Neuron frequency stars",
        "DFT magnitude of each neuron's weights, one spoke per frequency (PAIR explorable, Pearce et "
        "al. 2023). One long spoke marks a neuron tuned to a single frequency; a round blob, a memorizing one.",
    ),
    "circuit": (
        "Circuit test in the task's basis",
        "The basis follows the task's structure: Z_p characters for a \u00b1 b, multiplicative characters over "
        "the discrete log for a\u00b7b and a/b, irreducible representations for S_n (Chughtai et al. 2023), Walsh "
        "subsets for parity, 2-D characters of (x, y) otherwise. Left: each component's share of the logits' "
        "variance over the input table (key components highlighted); middle: the token weights' norm per "
        "component over training; right: test accuracy keeping only the key components and with them removed.",
    ),
    "memorization": (
        "Memorization atlas",
        "A subset ensemble: every member trains on a random half of the training pool. mem(i) is the chance a "
        "model trained on example i gets its label right minus the chance one that never saw it does (Feldman & "
        "Zhang 2020); drag the slider to watch it over checkpoints. Right: the online likelihood-ratio attack "
        "(LiRA) against the loss threshold at low false-positive rates (Carlini et al. 2022), and the exposure of "
        "planted canaries' secret labels in bits (Carlini et al. 2019, \u201cThe Secret Sharer\u201d).",
    ),
    "leakage": (
        "Privacy leakage",
        "Loss-threshold membership inference (Yeom et al. 2018): the AUC of telling training from "
        "held-out examples by their loss, and the true-positive rate at 1% false positives "
        "(Carlini et al. 2022). An AUC of 0.5 means the loss reveals nothing.",
    ),
    "noise": (
        "Label noise",
        "Accuracy on clean training examples, on corrupted examples against their corrupted label "
        "(memorized) and against their true label (inverted), as in Doshi et al. 2023, "
        "\u201cTo grok or not to grok\u201d.",
    ),
    "parity": (
        "Sparse parity weights",
        "Weight magnitude from each input bit to each hidden neuron (Barak et al. 2022; PAIR "
        "explorable). Marked columns are the bits whose parity is the label: a generalizing network "
        "puts its weight there.",
    ),
    "phase_diagram": (
        "Phase diagram",
        "Each cell is one run (the majority over its seeds), coloured by its phase: Liu et al. 2022's four "
        "phases by groklab's rule, {rule}. Click a cell to open its report.",
    ),
    "delay": (
        "Grokking delay",
        "Steps from memorization to generalization (t_gen \u2212 t_mem, the first steps train and test "
        "accuracy reach 0.99; Power et al. 2022), median over the cell's seeds, on a log colour scale; grey "
        "cells never got there.",
    ),
}

_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'")


@cache
def _asset(name: str) -> str:
    return (files("groklab.report") / "assets" / name).read_text(encoding="utf-8")


def _script_json(obj: object) -> str:
    """JSON safe to place inside <script type="application/json">: no '<', '>', '&', U+2028/9."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def caption(section: str) -> tuple[str, str]:
    """(title, caption) of a report section: ours, or the one its registered metric panel declares."""
    if section in CAPTIONS:
        title, text = CAPTIONS[section]
        if "{rule}" in text:
            from groklab.measure.labels import DEFAULT_RULE, RULE_TEXT

            text = text.replace("{rule}", RULE_TEXT[DEFAULT_RULE])
        return title, text
    return section_caption(section) or (section, "")


def _section_html(section: str, figures: list[str]) -> str:
    title, caption_ = caption(section)
    extra = ""
    if section == "spectrum":
        extra = ('<div class="slider-row"><label for="spectrum-slider">Checkpoint</label>'
                 '<input type="range" id="spectrum-slider" min="0" max="0" value="0" step="1">'
                 '<output id="spectrum-step" for="spectrum-slider"></output></div>')
    if section == "memorization" and "mem-heatmap" in figures:
        extra = ('<div class="slider-row"><label for="mem-slider">Checkpoint</label>'
                 '<input type="range" id="mem-slider" min="0" max="0" value="0" step="1">'
                 '<output id="mem-step" for="mem-slider"></output></div>')
    figs = "".join(f'<figure class="figure" data-figure="{name}"></figure>' for name in figures)
    grid = "fig-grid" if len(figures) > 1 else "fig-one"
    return (f'<section class="card" id="sec-{section}" data-section="{section}">'
            f"<h2>{escape(title)}</h2><p class=\"caption\">{escape(caption_)}</p>{extra}"
            f'<div class="{grid}">{figs}</div></section>')


def _page(kind: str, view: dict, layout: dict[str, list[str]]) -> str:
    sections = "".join(_section_html(s, figs) for s, figs in layout.items())
    payload = _script_json({"kind": kind, "view": view, "panels": metric_panels()})
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>groklab {kind} report</title><style>{_asset('report.css')}</style></head>"
        f'<body data-kind="{kind}"><main>'
        '<header class="card header" data-section="header"></header>'
        f"{sections}"
        '<footer class="footer">groklab report \u00b7 self-contained: every chart is drawn from data '
        "inside this file, nothing is fetched.</footer></main>"
        '<div id="tooltip" class="tooltip" role="tooltip" hidden></div>'
        f'<script type="application/json" id="groklab-data">{payload}</script>'
        f"<script>{_asset('report.js')}</script>"
        "</body></html>\n"
    )


def render_run_html(view: dict) -> str:
    """The HTML report of one run view, as a self-contained page; sections without data are left out.

    Raises ValueError if `run`, `summary` or `metrics` (with `metrics['step']`) is missing.
    """
    view = clean(view)
    check_run_view(view)
    if view["summary"].get("phase") and "phase_reason" not in view:
        from groklab.measure.labels import phase_reason

        cfg = view["run"].get("config") or {}
        reason = phase_reason(view["summary"], cfg.get("phase_threshold") or 0.9)
        if reason:
            view["phase_reason"] = reason
    return _page("run", view, run_layout(view))


def render_sweep_html(view: dict) -> str:
    """The HTML report of a sweep view: a phase diagram and a delay heat map linking to each run."""
    view = clean(view)
    check_sweep_view(view)
    return _page("sweep", view, sweep_layout(view))


def write_atomic(data: bytes, path: str | os.PathLike) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_html(html: str, path: str | os.PathLike) -> Path:
    """Write a rendered report atomically (temp file in the same folder, then os.replace); returns the path."""
    return write_atomic(html.encode("utf-8"), path)
