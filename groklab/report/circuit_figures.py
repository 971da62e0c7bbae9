"""The PNG of the report's circuit section (``groklab.analysis.circuit``): the share of held-out logit
variance per component of the task's basis, the token weights' norm per component over training
(irreps of S_n; the discrete-log spectrum of Z_p^*) and the ablations' test accuracy per checkpoint.
Same sources and figures as the page (assets/report.js); matplotlib's object API on Agg only."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

KEY, OTHER, MODEL, KEEP, REMOVE = "#3b5bdb", "#ced4da", "#e8590c", "#2f9e44", "#c2255c"
PALETTE = ["#3b5bdb", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#d6336c", "#5c940d"]
# basis -> what one component is, for titles
NOUNS = {"additive": "frequency k (Z_p characters)", "multiplicative": "discrete-log frequency (zero apart)",
         "irreps": "irrep of S_n", "walsh": "Walsh subset", "2d": "2-D frequency (k1, k2)"}


def _f(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _spectrum(ax, c: dict) -> None:
    sp = c["spectrum"]
    share, key = _f(sp["fractions"]), sp["key"]
    x = np.arange(share.size)
    ax.bar(x, share, color=[KEY if k else OTHER for k in key], width=0.8)
    every = max(1, -(-share.size // 24))
    ticks = sorted(set(range(0, share.size, every)) | {i for i, k in enumerate(key) if k and share.size <= 64})
    ax.set_xticks(ticks, [sp["names"][i] for i in ticks], rotation=90 if share.size > 12 else 0, fontsize=6.5)
    n_all = sp.get("n_components", share.size)
    more = f" (strongest {share.size} of {n_all})" if n_all > share.size else ""
    ax.set(ylabel="share of logit variance", xlabel=NOUNS.get(c["basis"], "component") + more,
           title=f"Logits per component at step {sp.get('step')}")
    ax.grid(axis="x", visible=False)


def _weights(ax, c: dict) -> None:
    w = c["weights"]
    norms = _f(np.ravel(w["norms"])).reshape(len(w["norms"]), -1)
    steps = _f(w["step"])
    keys = list(w.get("key") or [])                      # strongest first, coloured as in the page
    ok = steps > 0
    for j, name in enumerate(w["names"]):
        is_key = name in keys
        color = PALETTE[keys.index(name) % len(PALETTE)] if is_key else OTHER
        ax.plot(steps[ok], norms[ok, j], color=color, lw=1.6 if is_key else 0.8, label=name if is_key else None,
                zorder=3 if is_key else 2)
    ax.set_xscale("log")
    what = {"irreps": "irrep", "multiplicative": "discrete-log frequency", "additive": "frequency"}.get(c["basis"],
                                                                                                    "component")
    ax.set(xlabel="step", ylabel="norm", title=f"Token-weight norm per {what}")
    if keys:
        ax.legend(loc="best", fontsize=7)


def _ablation(ax, c: dict) -> None:
    cu = c["curves"]
    steps = _f(cu["step"])
    ok = steps > 0
    for key, label, color in (("test_acc", "model", MODEL), ("keep_acc", "keep only", KEEP),
                              ("remove_acc", "removed", REMOVE)):
        if key in cu:
            ax.plot(steps[ok], _f(cu[key])[ok], color=color, lw=1.5, label=label)
    chance = (c.get("ablation") or {}).get("chance")
    if chance is not None:
        ax.axhline(chance, color="#868e96", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set(xlabel="step", ylabel="test accuracy", title="Ablations on the held-out set")
    ax.legend(loc="best")


def draw(view: dict, figures: list[str]) -> Figure:
    """One panel per figure of the circuit section (``circuit-spectrum``, ``-weights``, ``-ablation``)."""
    c = view["circuit"]
    fig = Figure(figsize=(4.6 * len(figures), 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(figures), squeeze=False)[0]
    panels = {"circuit-spectrum": _spectrum, "circuit-weights": _weights, "circuit-ablation": _ablation}
    for ax, name in zip(axes, figures, strict=True):
        panels[name](ax, c)
    return fig


__all__ = ["draw"]
