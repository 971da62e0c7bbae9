"""``groklab serve``: a local, read-only web application over a run store.

A runs table (filter and sort by any field, live progress), live curves of runs in progress, a
comparison of runs (ensembles and seeds as a median with a band), the sweeps' phase diagrams, delay
grids and parallel coordinates as their points finish, and every run's full report. Starlette
serves it under uvicorn, bound to 127.0.0.1 unless told otherwise; the page draws with Apache
ECharts, shipped in ``assets/vendor`` (with its licence), and fetches nothing from anywhere else.

Modules: ``readonly`` (the store opened read-only: ``ReadOnlyStore``), ``queries`` (what each JSON
endpoint returns), ``reports`` (full reports: the written file, or rendered in memory), ``app``
(routes, security headers, errors), ``server`` (the socket and uvicorn). Nothing here imports the CLI.
"""

from groklab.serve.server import DEFAULT_HOST, DEFAULT_PORT, serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "serve", "make_app"]


def __getattr__(name):
    if name == "make_app":
        from groklab.serve.app import make_app
        return make_app
    raise AttributeError(name)
