"""Reports of runs and sweeps: self-contained HTML pages and matplotlib PNGs, drawn from a "view" dict.

A run view holds `run`, `summary` and `metrics` (required) and optionally `progress`, `spectrum`,
`key_freqs`, `clock`, `neurons`, `parity`, `verdict`, `notes` and `phase_reason` (why the summary's
phase, filled from the summary by `groklab.measure.labels` when missing); a sweep view holds `sweep`,
`x_name`, `y_name`, `x_values`, `y_values` and `points`. Every section whose data is missing is left
out of the page and has no PNG. The renderers are pure: a view in, a string or files out.

    html = render_run_html(synthetic_run_view())
    write_html(html, "report.html")
    write_run_pngs(view, "figures/")
"""

from groklab.report.figures import write_run_pngs, write_sweep_pngs
from groklab.report.html import render_run_html, render_sweep_html, write_html
from groklab.report.synthetic import synthetic_run_view, synthetic_sweep_view

__all__ = [
    "render_run_html",
    "render_sweep_html",
    "synthetic_run_view",
    "synthetic_sweep_view",
    "write_html",
    "write_run_pngs",
    "write_sweep_pngs",
]
