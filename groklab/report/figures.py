"""Static PNG figures of a run or a sweep, for papers: one file per report section that has data.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global backend switch), so it
is safe to call from any thread or a headless server. Same sections and sources as the HTML report
(`groklab.report.html`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap, LogNorm, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Patch, Rectangle

from groklab.report.circuit_figures import draw as circuit_draw
from groklab.report.html import caption, write_atomic
from groklab.report.memorization_figures import draw as memorization_draw
from groklab.report.view import check_run_view, check_sweep_view, clean, metric_panels, run_layout, sweep_layout

TRAIN, TEST = "#3b5bdb", "#e8590c"
PALETTE = ["#3b5bdb", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#d6336c", "#5c940d",
           "#7048e8", "#868e96"]
PHASE_COLORS = {"comprehension": "#40c057", "grokking": "#5c7cfa", "memorization": "#fab005",
                "confusion": "#fa5252"}
BAND_COLORS = {"memorization": "#fff4e6", "circuit formation": "#f3f0ff", "clean-up": "#ebfbee"}
_RC = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
       "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.color": "#e9ecef",
       "grid.linewidth": 0.6, "legend.frameon": False, "savefig.dpi": 150}


def _arr(values) -> np.ndarray:
    """A float array with None (missing or non-finite in the view) as NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _figure(n_panels: int, width_per: float = 4.2, height: float = 3.2) -> tuple[Figure, list]:
    fig = Figure(figsize=(width_per * n_panels, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, list(axes)


def _lines(ax, x, series: list[tuple[str, list | None, str]], *, logy: bool = False,
           markers: dict | None = None, bands: list | None = None, ylabel: str = "", title: str = "",
           ylim: tuple | None = None, dashed: tuple[str, ...] = ()) -> None:
    """Series [(label, y, colour)] against log steps, with dashed markers {label: step} and shaded bands."""
    x = _arr(x)
    ok_x = x > 0
    for label, y, color in series:
        if y is None:
            continue
        y = _arr(y)
        ok = ok_x & np.isfinite(y) & ((y > 0) if logy else True)
        if ok.any():
            ax.plot(np.where(ok, x, np.nan), np.where(ok, y, np.nan), color=color, lw=1.5, label=label,
                    ls="--" if label in dashed else "-")
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if ylim:
        ax.set_ylim(*ylim)
    lo, hi = np.nanmin(np.where(ok_x, x, np.nan)), np.nanmax(x)
    for start, end, label in bands or []:
        start, end = max(start, lo), min(end, hi)
        if end > start:
            ax.axvspan(start, end, color=BAND_COLORS[label], zorder=0, lw=0)
            ax.text(np.sqrt(start * end), 1.01, label, transform=ax.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=7.5, color="#868e96")
    for i, (label, (step, color)) in enumerate((markers or {}).items()):
        if step is not None and lo <= step <= hi:
            ax.axvline(step, color=color, ls="--", lw=1)
            ax.text(step * 1.06, 0.97 - 0.07 * i, label, transform=ax.get_xaxis_transform(), color=color,
                    fontsize=8, va="top", fontweight="bold")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, pad=14 if bands else 6)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")


def _run_markers(view: dict) -> dict:
    s = view["summary"]
    return {"t_mem": (s.get("t_mem"), TRAIN), "t_gen": (s.get("t_gen"), TEST)}


def _metric_panels(view: dict, panels: list[tuple[str, list[tuple[str, str, str]], dict]]) -> Figure:
    """One panel per (title, [(metric key, label, colour)], options) over the run's logged steps."""
    m = view["metrics"]
    fig, axes = _figure(len(panels))
    for ax, (title, keys, opts) in zip(axes, panels, strict=True):
        _lines(ax, m["step"], [(label, m.get(key), color) for key, label, color in keys],
               markers=_run_markers(view), title=title, **opts)
    return fig


def _panel(view: dict, name: str) -> tuple[str, list[tuple[str, str, str]], dict]:
    """A registered metric panel as (title, series, options) for ``_metric_panels``."""
    spec = metric_panels()[name]
    opts: dict = {"ylabel": spec["ylabel"], "logy": spec["log_y"]}
    if spec["y_range"]:
        lo, hi = spec["y_range"]
        opts["ylim"] = (lo, None if hi is None else hi + 0.02 * (hi - (lo or 0)))
    return spec["title"], [tuple(s) for s in spec["series"]], opts


def _metric_section(view: dict, figures: list[str]) -> Figure:
    """A section of per-step-metric panels (declared in the metric registry), one panel per figure."""
    panels = [_panel(view, f) for f in figures]
    phase = view["summary"].get("phase")
    for i, name in enumerate(figures):
        if metric_panels()[name]["badge"] == "phase" and phase:   # the run's phase, as the page's badge
            panels[i] = (f"{panels[i][0]} — {phase}", *panels[i][1:])
    fig = _metric_panels(view, panels)
    for ax, name in zip(fig.axes, figures):
        hline = metric_panels()[name]["hline"]
        if hline:
            ax.axhline(hline[0], color="#868e96", ls=":", lw=1)
    return fig


def _progress(view: dict, figures: list[str]) -> Figure:
    p = view["progress"]
    phases = p.get("phases") or {}
    a, b = phases.get("memorization_end"), phases.get("circuit_end")
    bands = []
    if a is not None:
        bands.append((0, a, "memorization"))
    if a is not None and b is not None:
        bands.append((a, b, "circuit formation"))
    if b is not None:
        bands.append((b, np.inf, "clean-up"))
    panels = {
        "progress-loss": ("Restricted and excluded loss", [
            ("restricted", p.get("restricted_loss"), "#7048e8"), ("excluded", p.get("excluded_loss"), "#0c8599"),
            ("train", p.get("train_loss"), TRAIN), ("test", p.get("test_loss"), TEST)],
            {"logy": True, "ylabel": "loss", "dashed": ("train", "test")}),
        "progress-gini": ("Gini of Fourier norms", [
            ("W_E", p.get("gini_embed"), TRAIN), ("W_U·W_out", p.get("gini_unembed"), "#d6336c")],
            {"ylim": (0, 1), "ylabel": "Gini coefficient"}),
        "progress-norm": ("Weight norm", [("sum of squared weights", p.get("weight_norm"), "#495057")],
                          {"ylabel": "‖w‖²"}),
    }
    fig, axes = _figure(len(figures))
    for ax, name in zip(axes, figures, strict=True):
        title, series, opts = panels[name]
        _lines(ax, p["step"], series, bands=bands, title=title, **opts)
    return fig


def _key_color(view: dict, k) -> str:
    keys = view.get("key_freqs") or []
    return PALETTE[keys.index(k) % len(PALETTE)] if k in keys else "#adb5bd"


def _spectrum(view: dict, figures: list[str]) -> Figure:
    sp = view["spectrum"]
    norms = _arr(np.ravel(sp["norms"])).reshape(len(sp["norms"]), -1)  # (ckpt, freq)
    freqs = np.array(sp.get("freqs") or np.arange(1, norms.shape[1] + 1))
    keys = set(view.get("key_freqs") or [])
    steps = _arr(sp.get("step") or np.arange(1, norms.shape[0] + 1))
    fig, (ax0, ax1) = _figure(2)
    ax0.bar(freqs, norms[-1], color=[_key_color(view, k) if k in keys else "#ced4da" for k in freqs], width=0.8)
    ax0.set(xlabel="frequency k", ylabel="norm", title=f"W_E spectrum at step {steps[-1]:,.0f}")
    ax0.grid(axis="x", visible=False)
    for j, k in enumerate(freqs):
        is_key = k in keys
        ax1.plot(steps, norms[:, j], color=_key_color(view, k) if is_key else "#ced4da",
                 lw=1.6 if is_key else 0.8, label=f"k = {k}" if is_key else None, zorder=3 if is_key else 2)
    ax1.set_xscale("log")
    ax1.set(xlabel="step", ylabel="norm", title="Norm per frequency over training")
    if keys:
        ax1.legend(loc="best")
    return fig


def _clock(view: dict, figures: list[str]) -> Figure:
    ck = view["clock"]
    n = len(ck["points"])
    fig, axes = _figure(n, width_per=3.0, height=3.2)
    for f, (ax, pts) in enumerate(zip(axes, ck["points"], strict=True)):
        pts = _arr(np.ravel(pts)).reshape(-1, 2)
        p = len(pts)
        tokens = ck.get("tokens") or list(range(p))
        ax.scatter(pts[:, 0], pts[:, 1], c=np.arange(p) / p, cmap="hsv", s=22 if p <= 60 else 8,
                   edgecolors="white", linewidths=0.5, zorder=3)
        every = 1 if p <= 40 else 2 if p <= 80 else 5
        for i in range(0, p, every):
            if np.isfinite(pts[i]).all():
                ax.annotate(str(tokens[i]), pts[i], xytext=1.6 * pts[i] / (np.linalg.norm(pts[i]) + 1e-12),
                            textcoords="offset fontsize", ha="center", va="center", fontsize=6.5, color="#495057")
        ax.set_aspect("equal")
        lim = 1.3 * np.nanmax(np.abs(pts)) if np.isfinite(pts).any() else 1
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="cos", ylabel="sin")
        freqs = ck.get("freqs") or []
        ax.set_title(f"k = {freqs[f]}" if f < len(freqs) else f"#{f + 1}")
    return fig


def _neuron_rows(view: dict) -> tuple[list, list]:
    nr = view["neurons"]
    n = len(nr.get("heatmap") or nr.get("stars"))
    order = nr.get("order") if len(nr.get("order") or []) == n else list(range(n))
    freq = nr.get("freq")
    return order, [freq[i] for i in order] if freq else [None] * n


def _neurons(view: dict, figures: list[str]) -> Figure:
    w = _arr(np.ravel(view["neurons"]["heatmap"])).reshape(len(view["neurons"]["heatmap"]), -1)
    order, freqs = _neuron_rows(view)
    fig = Figure(figsize=(7.5, min(9.0, 2.0 + 0.06 * len(w))), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    lim = np.nanmax(np.abs(w)) or 1.0
    im = ax.imshow(w, aspect="auto", cmap="RdBu_r", norm=TwoSlopeNorm(0, -lim, lim), interpolation="nearest")
    ax.grid(False)
    start = 0
    for i in range(1, len(freqs) + 1):
        if i == len(freqs) or freqs[i] != freqs[start]:
            if freqs[start] is not None:
                ax.text(-0.01, (start + i - 1) / 2, f"k {freqs[start]}", transform=ax.get_yaxis_transform(),
                        ha="right", va="center", fontsize=8, color=_key_color(view, freqs[start]),
                        fontweight="bold")
            if i < len(freqs):
                ax.axhline(i - 0.5, color="white", lw=1.2)
            start = i
    ax.set_yticks([])
    ax.set(xlabel="token", title="Neuron input weights, sorted by frequency")
    ax.set_ylabel("neuron", labelpad=28)
    fig.colorbar(im, ax=ax, label="weight", shrink=0.8)
    return fig


def _stars(view: dict, figures: list[str]) -> Figure:
    stars = view["neurons"]["stars"]
    order, freqs = _neuron_rows(view)
    n = len(stars)
    cols = min(n, 12)
    rows = -(-n // cols)
    fig = Figure(figsize=(cols * 0.8, rows * 0.9 + 0.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for i, mags in enumerate(stars):
        mags = np.nan_to_num(_arr(mags))
        K = len(mags)
        angle = np.pi / 2 - 2 * np.pi * np.arange(K + 1) / K  # clockwise from the top, as in the page
        r = 0.42 * np.append(mags, mags[0]) / (mags.max() or 1)
        cx, cy = i % cols, -(i // cols)
        color = _key_color(view, freqs[i])
        ax.add_patch(Circle((cx, cy), 0.42, facecolor="#fafbfc", edgecolor="#e9ecef", lw=0.6))
        spokes = np.stack([np.full(K, cx), cx + 0.42 * np.cos(angle[:-1]), np.full(K, np.nan)], axis=1)
        ax.plot(spokes.ravel(), np.stack([np.full(K, cy), cy + 0.42 * np.sin(angle[:-1]),
                                          np.full(K, np.nan)], axis=1).ravel(), color="#eef0f3", lw=0.4)
        ax.fill(cx + r * np.cos(angle), cy + r * np.sin(angle), color=color, alpha=0.35, lw=0)
        ax.plot(cx + r * np.cos(angle), cy + r * np.sin(angle), color=color, lw=0.8)
        label = f"#{order[i]}" + (f" k{freqs[i]}" if freqs[i] is not None else "")
        ax.text(cx, cy - 0.5, label, ha="center", va="top", fontsize=5.5, color="#495057")
    ax.set_xlim(-0.6, cols - 0.4)
    ax.set_ylim(-rows + 0.3, 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Per-neuron DFT magnitude (one spoke per frequency)")
    return fig


def _parity(view: dict, figures: list[str]) -> Figure:
    pa = view["parity"]
    w = np.abs(_arr(np.ravel(pa["weights"])).reshape(len(pa["weights"]), -1))
    fig = Figure(figsize=(7.5, min(8.0, 2.0 + 0.08 * len(w))), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    im = ax.imshow(w, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.grid(False)
    bits = sorted(pa.get("bits") or [])
    every = max(1, -(-w.shape[1] // 30))
    ticks = sorted(set(range(0, w.shape[1], every)) | set(bits))
    ax.set_xticks(ticks, [str(t) for t in ticks], fontsize=7)
    for b in bits:
        ax.add_patch(Rectangle((b - 0.5, -0.5), 1, len(w), fill=False, edgecolor="#e8590c", lw=1.4))
    for label in ax.get_xticklabels():
        if int(label.get_text()) in bits:
            label.set(color="#e8590c", fontweight="bold")
    ax.set(xlabel="input bit", ylabel="neuron", title="|weight| per neuron and input bit (relevant bits boxed)")
    fig.colorbar(im, ax=ax, label="|w|", shrink=0.8)
    return fig


def _sweep_grid(view: dict) -> tuple[list, list, dict]:
    xs, ys = view["x_values"], view["y_values"]
    cells: dict[tuple[int, int], dict] = {}
    for p in view["points"]:
        if p.get("x") in xs and p.get("y") in ys:
            cells.setdefault((ys.index(p["y"]), xs.index(p["x"])), p)
    return xs, ys, cells


def _label(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _compact(v: float) -> str:
    """1234 -> '1.2k', as in the page."""
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.2g}{suffix}"
    return f"{v:.3g}"


def _cells(ax, values, **kwargs):
    """A grid of cells separated by white lines, cell (i, j) centred on (j, i)."""
    ny, nx = values.shape
    return ax.pcolormesh(np.arange(nx + 1) - 0.5, np.arange(ny + 1) - 0.5, values, edgecolors="white",
                         linewidth=2, **kwargs)


def _grid_axes(view: dict, title: str) -> tuple[Figure, object]:
    xs, ys = view["x_values"], view["y_values"]
    fig = Figure(figsize=(max(4.5, 0.7 * len(xs) + 2.5), max(3.0, 0.5 * len(ys) + 1.8)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.grid(False)
    ax.set_xticks(range(len(xs)), [_label(v) for v in xs])
    ax.set_yticks(range(len(ys)), [_label(v) for v in ys])
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set(xlabel=view.get("x_name") or "x", ylabel=view.get("y_name") or "y", title=title)
    return fig, ax


def _phase_diagram(view: dict, figures: list[str]) -> Figure:
    xs, ys, cells = _sweep_grid(view)
    names = list(PHASE_COLORS) + sorted({str(p.get("phase")) for p in view["points"]} - set(PHASE_COLORS))
    colors = [PHASE_COLORS.get(n, "#ced4da") for n in names] + ["#f8f9fa"]
    idx = np.full((len(ys), len(xs)), len(names), dtype=float)  # the last colour: no run
    for (i, j), p in cells.items():
        idx[i, j] = names.index(str(p.get("phase")))
    fig, ax = _grid_axes(view, "Phase of each run (Liu et al. 2022's phases, groklab's rule)")
    _cells(ax, idx, cmap=ListedColormap(colors), vmin=-0.5, vmax=len(colors) - 0.5)
    ax.legend(handles=[Patch(color=c, label=n) for n, c in zip(names, colors, strict=False)], loc="upper left",
              bbox_to_anchor=(1.01, 1), frameon=False)
    return fig


def _delay(view: dict, figures: list[str]) -> Figure:
    xs, ys, cells = _sweep_grid(view)
    d = np.full((len(ys), len(xs)), np.nan)
    for (i, j), p in cells.items():
        if p.get("delay") is not None and p["delay"] > 0:
            d[i, j] = p["delay"]
    cmap = colormaps["viridis"].with_extremes(bad="#dee2e6")
    fig, ax = _grid_axes(view, "t_gen − t_mem (steps)")
    finite = d[np.isfinite(d)]
    norm = LogNorm(finite.min(), max(finite.max(), finite.min() * 10)) if finite.size else None
    im = _cells(ax, np.ma.masked_invalid(d), cmap=cmap, norm=norm)
    for (i, j), v in np.ndenumerate(d):
        if np.isfinite(v) and len(xs) <= 14:
            light = norm(v) > 0.6 if norm else False
            ax.text(j, i, _compact(v), ha="center", va="center", fontsize=7, color="#1d2330" if light else "white")
    fig.colorbar(im, ax=ax, label="delay (steps, log)")
    return fig


# Sections drawn from the analysis; every other run section is made of registered metric panels.
_RUN_DRAW: dict[str, Callable[[dict, list[str]], Figure]] = {
    "progress": _progress, "spectrum": _spectrum, "clock": _clock, "neurons": _neurons, "stars": _stars,
    "parity": _parity, "circuit": circuit_draw, "memorization": memorization_draw,
}
_SWEEP_DRAW: dict[str, Callable[[dict, list[str]], Figure]] = {"phase_diagram": _phase_diagram, "delay": _delay}


def _write(layout: dict[str, list[str]], draw: dict, view: dict, out_dir, subtitle: str) -> list[Path]:
    paths = []
    for section, figures in layout.items():
        with rc_context(_RC):
            fig = draw.get(section, _metric_section)(view, figures)
            title = caption(section)[0] + (f" \u2014 {subtitle}" if subtitle else "")
            fig.suptitle(title, fontsize=11, fontweight="bold")
            buf = io.BytesIO()
            fig.savefig(buf, format="png", facecolor="white")
        paths.append(write_atomic(buf.getvalue(), Path(out_dir) / f"{section}.png"))
    return paths


def write_run_pngs(view: dict, out_dir: str | os.PathLike) -> list[Path]:
    """Write one titled PNG per run-report section with data (curves.png, progress.png, …) into `out_dir`.

    Returns the paths written, in page order.
    """
    view = clean(view)
    check_run_view(view)
    return _write(run_layout(view), _RUN_DRAW, view, out_dir, view["run"].get("task") or "")


def write_sweep_pngs(view: dict, out_dir: str | os.PathLike) -> list[Path]:
    """Write phase_diagram.png and delay.png for a sweep view into `out_dir`; returns the paths written."""
    view = clean(view)
    check_sweep_view(view)
    return _write(sweep_layout(view), _SWEEP_DRAW, view, out_dir, (view.get("sweep") or {}).get("name") or "")
