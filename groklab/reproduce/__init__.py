"""Reproductions of published grokking results: one command each, our numbers beside theirs.

``reproduce(store, NAME)`` builds an experiment's configs, trains them into the store as one sweep
(kind ``reproduce``, name NAME, a spec holding ``smoke`` and the command that made it) through
``groklab.sweep.run_sweep`` (points that share shapes train as one batched ensemble, or side by side
when the measured cost model says so), and compares the stored runs with what the papers published.

Every published number lives in its experiment's module next to its source (the papers, as quoted in
../shared/REFERENCES.md); every number of ours is read back from the store by ``compare``, so
``groklab results`` rebuilds docs/results.md from the store alone and nothing in it is typed by hand.

Each experiment module holds the paper's complete setup as config fields (``Experiment.setup``); its
full version runs that setup with at least ``MIN_SEEDS`` seeds per arm, sized to the claim (its plan
says how long it takes on 2 cores), and every departure from the paper is computed by diffing the
stored configs against the setup (``core.setup_diff``), never typed; a ``smoke`` version runs tiny
models through the same path in seconds, for CI. The verdict rules are ``core.RULES`` (seeds, the
agreement factor, budgets that leave a row undecided), printed with every table.

Layout: ``core`` (Published, Row, formatting, the agreement rule), ``outcome`` (a sweep read back from
the store, ``reach``), ``experiment`` (the Experiment dataclass and the registry EXPERIMENTS), ``run``
(running an experiment through the sweep, ``compare``, ``newest``), then one module per experiment,
each ending in ``register(Experiment(...), order=N)``. Every module of this package is imported here,
so adding a reproduction is one new module (and its test).
"""

from __future__ import annotations

import importlib
import pkgutil

from groklab.reproduce.core import (
    ACC_TOL,
    MIN_SEEDS,
    REFS,
    RULES,
    STEP_FACTOR,
    UNSTATED,
    Published,
    Row,
    agrees,
    first_reach,
    fmt_field,
    fmt_number,
    fmt_ours,
    fmt_published,
    required_fields,
    setup_diff,
)
from groklab.reproduce.doshi2023 import DOSHI, DOSHI_PHASE, DOSHI_SEEDS, DOSHI_SRC, doshi_reason
from groklab.reproduce.experiment import EXPERIMENTS, Experiment, departures, get, register
from groklab.reproduce.grokfast2024 import (
    GROKFAST,
    GROKFAST_ACC,
    GROKFAST_BUDGET,
    GROKFAST_SETUPS,
    GROKFAST_SPEEDUP,
    GROKFAST_SRC,
    LEE,
)
from groklab.reproduce.leakage import LEAK_CURVE, LEAK_RECIPE, LEAK_SEEDS, LEAK_SRC
from groklab.reproduce.liu2022 import LIU, LIU_LRS, LIU_PHASES, LIU_PUB, LIU_SETUP, LIU_WDS
from groklab.reproduce.nanda2023 import NANDA, NANDA_BUDGETS, NANDA_FRACTION, NANDA_FRACTION_SRC, NANDA_LOSS
from groklab.reproduce.omnigrok import OMNIGROK, OMNIGROK_PHASE, OMNIGROK_SEEDS, OMNIGROK_SETUP, OMNIGROK_STEPS
from groklab.reproduce.outcome import METRIC_NAMES, Outcome, finding, liu_reason, phase_row, reach
from groklab.reproduce.pair2023 import (
    PAIR,
    PAIR_FREQ_RANGE,
    PAIR_FREQS,
    PAIR_GROKS,
    PAIR_SEEDS,
    PAIR_SETUPS,
    PARITY_PUB,
)
from groklab.reproduce.power2022 import (
    POWER,
    POWER_FRAC,
    POWER_FULL,
    POWER_NEVER,
    POWER_NEVER_PUB,
    POWER_OPERATORS,
    POWER_SETUP,
)
from groklab.reproduce.prieto2025 import (
    PRIETO,
    PRIETO_ACC,
    PRIETO_ARMS,
    PRIETO_CURVE,
    PRIETO_ORTHO,
    PRIETO_SETUPS,
    PRIETO_SOFTMAX,
    PRIETO_STABLEMAX,
    PRIETO_STEPS,
)
from groklab.reproduce.run import (
    KIND,
    command,
    compare,
    describe,
    machine_load,
    newest,
    reproduce,
    reproduction_sweeps,
    spec_of,
)

_FRAMEWORK = {"core", "outcome", "experiment", "run"}     # the modules that are not experiments


def _import_experiments() -> None:
    """Import every experiment module of this package (each registers its experiment when imported)."""
    for m in pkgutil.iter_modules(__path__):
        if m.name not in _FRAMEWORK and not m.name.startswith("_"):
            importlib.import_module(f"{__name__}.{m.name}")


_import_experiments()

# every name the single-module groklab.reproduce had (its experiments' constants included), for its callers
__all__ = [
    "ACC_TOL", "DOSHI", "DOSHI_PHASE", "DOSHI_SEEDS", "DOSHI_SRC", "EXPERIMENTS", "GROKFAST", "GROKFAST_ACC",
    "GROKFAST_BUDGET", "GROKFAST_SETUPS", "GROKFAST_SPEEDUP", "GROKFAST_SRC", "KIND", "LEAK_CURVE", "LEAK_RECIPE",
    "LEAK_SEEDS", "LEAK_SRC", "LEE", "LIU", "LIU_LRS", "LIU_PHASES", "LIU_PUB", "LIU_SETUP", "LIU_WDS", "METRIC_NAMES",
    "MIN_SEEDS", "NANDA", "NANDA_BUDGETS", "NANDA_FRACTION", "NANDA_FRACTION_SRC", "NANDA_LOSS", "OMNIGROK",
    "OMNIGROK_PHASE", "OMNIGROK_SEEDS", "OMNIGROK_SETUP", "OMNIGROK_STEPS", "PAIR", "PAIR_FREQS", "PAIR_FREQ_RANGE",
    "PAIR_GROKS", "PAIR_SEEDS", "PAIR_SETUPS", "PARITY_PUB", "POWER", "POWER_FRAC", "POWER_FULL", "POWER_NEVER",
    "POWER_NEVER_PUB", "POWER_OPERATORS", "POWER_SETUP", "PRIETO", "PRIETO_ACC", "PRIETO_ARMS", "PRIETO_CURVE",
    "PRIETO_ORTHO", "PRIETO_SETUPS", "PRIETO_SOFTMAX", "PRIETO_STABLEMAX", "PRIETO_STEPS", "REFS", "RULES",
    "STEP_FACTOR", "UNSTATED", "Experiment", "Outcome", "Published", "Row", "agrees", "command", "compare",
    "departures", "describe", "doshi_reason", "finding", "first_reach", "fmt_field", "fmt_number", "fmt_ours",
    "fmt_published", "get", "liu_reason", "machine_load", "newest", "phase_row", "reach", "register", "reproduce",
    "reproduction_sweeps", "required_fields", "setup_diff", "spec_of",
]
