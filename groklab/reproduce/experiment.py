"""The ``Experiment`` dataclass and the registry ``EXPERIMENTS`` every experiment module adds itself to.

An experiment module (one per paper, in this package) builds one ``Experiment`` and calls
``register(Experiment(...), order=N)``; ``groklab.reproduce`` imports every module of the package, so
a new file is all a new reproduction needs. ``order`` places it in the catalogue (``groklab reproduce
--list``, docs/results.md): experiments are kept sorted by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from groklab.config import Config
from groklab.errors import ConfigError
from groklab.reproduce.core import Row, setup_diff
from groklab.reproduce.outcome import Outcome
from groklab.store import Store


@dataclass(frozen=True)
class Experiment:
    """A published claim and how groklab tests it.

    ``points(smoke)`` makes the configs (each named ``NAME/label``); ``compare(outcome)`` makes the
    rows from the stored runs; ``after(store, outcome)`` (optional) computes what compare reads besides
    metrics (e.g. the analysis of checkpoints, cached in the store).
    """

    name: str
    title: str
    cite: str
    claim: str                          # the published finding under test
    plan: str                           # the full version: configs and budget, in words
    axes: tuple[str, ...]               # config fields the sweep report lays the points along
    # label -> the paper's complete setup for that label's points, as config fields (``core.required_fields``);
    # every departure is computed against it (``departures``); None: nothing published to depart from
    setup: Callable[[str], dict | None]
    points: Callable[[bool], list[Config]]
    compare: Callable[[Outcome], list[Row]]
    stand_ins: tuple[str, ...] = ()     # departures that are not config fields, each naming what the paper did
    after: Callable[[Store, Outcome], None] | None = None
    # extra tables read from the store: [{"title", "header": [str], "rows": [[str]]}] (e.g. a phase diagram)
    tables: Callable[[Outcome], list[dict]] | None = None


EXPERIMENTS: dict[str, Experiment] = {}      # name -> experiment, in catalogue order
_ORDER: dict[str, int] = {}


def register(exp: Experiment, order: int) -> Experiment:
    """Add ``exp`` to ``EXPERIMENTS`` at its place ``order`` in the catalogue (ties: by name)."""
    if exp.name in EXPERIMENTS:
        raise ValueError(f"reproduce: experiment {exp.name!r} registered twice")
    _ORDER[exp.name] = order
    items = sorted([*EXPERIMENTS.values(), exp], key=lambda e: (_ORDER[e.name], e.name))
    EXPERIMENTS.clear()
    EXPERIMENTS.update((e.name, e) for e in items)
    return exp


def get(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ConfigError(f"reproduce: unknown experiment {name!r}; allowed: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def named(exp: str, label: str, cfg: Config) -> Config:
    """``cfg`` named as a point of experiment ``exp``: ``exp/label``."""
    return cfg.replace(name=f"{exp}/{label}")


TINY_TRANSFORMER = dict(p=23, d_model=32, n_heads=4, d_mlp=64)    # the smoke versions' transformer


def departures(exp: Experiment, out: Outcome, label: str | None = None) -> list[str]:
    """The stored configs' departures from the paper's setup (``core.setup_diff`` against
    ``exp.setup(label)``), for ``label`` or for every label of the sweep: a departure every label shares
    once, the others once each, prefixed with the labels that have it; then the stand-ins that are not config
    fields."""
    labels = [label] if label is not None else list(out.labels)
    per = {lb: setup_diff(exp.setup(lb) or {}, out.configs(lb)) for lb in labels}
    who = {d: [lb for lb, ds in per.items() if d in ds] for ds in per.values() for d in ds}   # first-seen order
    shared = [d for d, lbs in who.items() if len(lbs) == len(per)]
    own = [f"{', '.join(lbs)}: {d}" for d, lbs in who.items() if len(lbs) < len(per)]
    return shared + own + list(exp.stand_ins)


def seeded(exp: str, label: str, cfg: Config, seeds: tuple[int, ...]) -> list[Config]:
    """``cfg`` named as experiment ``exp``'s point ``label``, once per seed."""
    return [cfg.replace(name=f"{exp}/{label}", seed=s) for s in seeds]


__all__ = ["EXPERIMENTS", "TINY_TRANSFORMER", "Experiment", "departures", "get", "named", "register", "seeded"]
