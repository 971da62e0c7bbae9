"""The PNG of the report's memorization section (``groklab.analysis.memorization``): mem(i) on the
p × p grid of a two-operand task (Feldman & Zhang 2020), its distribution over training, the most
memorized examples, LiRA's ROC beside the loss threshold's (Carlini et al. 2022) and canary
exposure over training (Carlini et al. 2019). Same sources and figures as the page
(assets/report.js); matplotlib's object API on Agg only."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

LIRA, LOSS, NOISY, CLEAN, CANARY, TRAIN, TEST = "#c2255c", "#868e96", "#e8590c", "#2f9e44", "#7048e8", "#3b5bdb", \
    "#e8590c"


def _f(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _heatmap(ax, m: dict, view: dict) -> None:
    hm = m["heatmap"]
    side = int(hm["side"])
    grid = _f(hm["mem"][-1]).reshape(side, side)
    cmap = colormaps["magma_r"].with_extremes(bad="#e9ecef")
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, origin="lower", interpolation="nearest")
    ax.set(xlabel="b", ylabel="a", title=f"mem(a, b) at step {hm['step'][-1]} (grey: held out)")
    ax.grid(False)
    ax.figure.colorbar(im, ax=ax, label="mem", shrink=0.8)


def _distribution(ax, m: dict, view: dict) -> None:
    c = m["curves"]
    steps = _f(c["step"])
    ok = steps > 0
    ax.fill_between(steps[ok], _f(c["mem_q10"])[ok], _f(c["mem_q90"])[ok], color="#dee2e6", label="10-90 %")
    ax.plot(steps[ok], _f(c["mem_q50"])[ok], color="#495057", lw=1.2, label="median")
    for key, label, color in (("mem_corrupted", "noisy labels", NOISY), ("mem_clean", "clean", CLEAN),
                              ("mem_canary", "canaries", CANARY)):
        y = _f(c[key])
        if np.isfinite(y[ok]).any():
            ax.plot(steps[ok], y[ok], color=color, lw=1.6, label=label)
    _markers(ax, view)
    ax.set_xscale("log")
    ax.set(xlabel="step", ylabel="mem", title="Memorization scores over training")
    ax.legend(loc="best", fontsize=7)


def _top(ax, m: dict, view: dict) -> None:
    top = m["top"][:12][::-1]
    names = [(" ".join(map(str, e["x"])) if e.get("x") is not None else f"row {e['row']}")
             + f" \u2192 {e['label']} (true {e['true_label']})" for e in top]
    colors = [CANARY if e["canary"] else NOISY if e["corrupted"] else CLEAN for e in top]
    ax.barh(np.arange(len(top)), _f([e["mem"] for e in top]), color=colors)
    ax.set_yticks(np.arange(len(top)), names, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set(xlabel="mem", title="Most memorized (orange: noisy, purple: canary)")
    ax.grid(axis="y", visible=False)


def _roc(ax, m: dict, view: dict) -> None:
    styles = ["-", "--", ":"]
    for k, item in enumerate(m["roc"]):
        for name, color in (("lira", LIRA), ("loss", LOSS)):
            r = item.get(name)
            if r and r["fpr"]:
                ax.plot(_f(r["fpr"]), np.maximum(_f(r["tpr"]), 1e-5), color=color, ls=styles[k % 3], lw=1.4,
                        label=f"{'LiRA' if name == 'lira' else 'loss'} @ {item['step']}")
    ax.plot([1e-5, 1], [1e-5, 1], color="#ced4da", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="false-positive rate", ylabel="true-positive rate",
           title="Membership inference ROC")
    ax.set_xlim(left=1e-4)
    ax.set_ylim(1e-4, 1.05)
    ax.legend(loc="lower right", fontsize=7)


def _exposure(ax, m: dict, view: dict) -> None:
    c = m["curves"]
    steps = _f(c["step"])
    ok = steps > 0
    ax.plot(steps[ok], _f(c["exposure_in"])[ok], color=CANARY, lw=1.8, label="canary trained on")
    ax.plot(steps[ok], _f(c["exposure_out"])[ok], color=LOSS, lw=1.4, ls="--", label="not trained on")
    top = (m.get("summary") or {}).get("max_exposure")
    if top is not None:
        ax.axhline(top, color="#868e96", ls=":", lw=1)
    _markers(ax, view)
    ax.set_xscale("log")
    ax.set(xlabel="step", ylabel="exposure (bits)", title="Canary exposure")
    ax.legend(loc="best", fontsize=7)


def _markers(ax, view: dict) -> None:
    s = view.get("summary") or {}
    for key, color in (("t_mem", TRAIN), ("t_gen", TEST)):
        if isinstance(s.get(key), (int, float)) and s[key] > 0:
            ax.axvline(s[key], color=color, ls="--", lw=1)
            ax.text(s[key], 1.0, f" {key}", color=color, fontsize=7, va="top", transform=ax.get_xaxis_transform())


PANELS = {"mem-heatmap": _heatmap, "mem-distribution": _distribution, "mem-top": _top, "mem-roc": _roc,
          "mem-exposure": _exposure}


def draw(view: dict, figures: list[str]) -> Figure:
    """The memorization section's panels, up to three a row."""
    m = view["memorization"]
    cols = min(3, len(figures))
    rows = -(-len(figures) // cols)
    fig = Figure(figsize=(4.8 * cols, 3.6 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, name in zip(axes, figures, strict=False):
        PANELS[name](ax, m, view)
    for ax in axes[len(figures):]:
        ax.set_visible(False)
    return fig
