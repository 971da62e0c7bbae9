"""Tasks: turn a config into a dataset (token table, labels, split, noise).

Each task family registers a ``TaskFamily``: how to recognise its names, what parameters it
reads from the config, how to check them, and how to build its table. Nothing here knows
about models or training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from groklab.errors import ConfigError
from groklab.tasks import modular, subsets
from groklab.tasks.base import Dataset, Table, corrupt_labels, make_dataset, split

__all__ = ["Dataset", "Table", "TaskConfig", "TaskFamily", "FAMILIES", "build_table", "build_dataset", "check_task",
           "family_of", "list_tasks", "corrupt_labels", "make_dataset", "split"]


class TaskConfig(Protocol):
    """The config fields tasks read. ``groklab.config.Config`` has them all; tasks never import it, so
    the dependency runs one way (config validates through ``check_task``)."""

    @property
    def task(self) -> str: ...
    @property
    def p(self) -> int: ...
    @property
    def frac(self) -> float: ...
    @property
    def n_train(self) -> int | None: ...
    @property
    def n_test(self) -> int | None: ...
    @property
    def symmetric(self) -> bool: ...
    @property
    def noise(self) -> float: ...
    @property
    def perm_n(self) -> int: ...
    @property
    def parity_n(self) -> int: ...
    @property
    def parity_k(self) -> int: ...
    @property
    def model(self) -> str: ...
    @property
    def input(self) -> str: ...
    @property
    def split_seed(self) -> int: ...


@dataclass(frozen=True)
class TaskFamily:
    """A family of tasks sharing a builder.

    names: the exact task names it owns (listed by `groklab tasks`), or a prefix such as "expr:".
    params: the config fields it reads.
    check: raises ConfigError for bad parameters (called at validation, before anything is written).
    build: makes the full table from a config.
    """

    key: str
    names: dict[str, str]          # task name -> one-line description
    params: tuple[str, ...]
    check: Callable[["TaskConfig"], None]
    build: Callable[["TaskConfig"], Table]
    prefix: str | None = None
    modular: bool = False          # outputs live in Z_p and Fourier analysis applies


def _modular_check(c: "TaskConfig") -> None:
    name = modular.canonical(c.task)
    if name in ("x/y", "x/y if y odd else x-y") and not modular.is_prime(c.p):
        raise ConfigError(f"p: task {name} needs a prime modulus, got {c.p}")
    n = getattr(c, "operands", None)
    if n is not None and n > c.p:
        raise ConfigError(f"operands: got {n}; allowed an integer in [2, p = {c.p}]")


def _modular_build(c: "TaskConfig") -> Table:
    return modular.modular_table(c.task, c.p, symmetric=c.symmetric, y_nonzero=getattr(c, "y_nonzero", False),
                                 operands=getattr(c, "operands", None))


FAMILIES: list[TaskFamily] = [
    TaskFamily(
        key="modular",
        names={**{k: f"a {k} mod p: {d}" for k, (_, d) in modular.OPERATORS.items()},
               **{k: f"alias of {v}" for k, v in modular.ALIASES.items()}},
        params=("p", "frac", "symmetric", "noise"),
        check=_modular_check, build=_modular_build, modular=True),
]


def _register_optional_families() -> None:
    """Families that live in their own modules (groups, parity, digits, expressions, the text corpus,
    the knowledge graphs)."""
    import importlib

    for mod in ("groklab.tasks.expr", "groklab.tasks.groups", "groklab.tasks.parity", "groklab.tasks.digits",
                "groklab.tasks.corpus", "groklab.tasks.kg"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod:
                continue
            raise
        for fam in m.FAMILIES:
            if all(f.key != fam.key for f in FAMILIES):
                FAMILIES.append(fam)


_register_optional_families()


def family_of(task: str) -> TaskFamily:
    for fam in FAMILIES:
        if task in fam.names or (fam.prefix is not None and task.startswith(fam.prefix)):
            return fam
    allowed = [n for f in FAMILIES for n in f.names] + [f"{f.prefix}..." for f in FAMILIES if f.prefix]
    raise ConfigError(f"task: unknown task {task!r}; allowed: {', '.join(allowed)} (see `groklab tasks`)")


def check_task(c: "TaskConfig") -> None:
    family_of(c.task).check(c)


def build_table(c: "TaskConfig") -> Table:
    return family_of(c.task).build(c)


def build_dataset(c: "TaskConfig", table: Table | None = None) -> Dataset:
    """The config's dataset: its table split by data seed, with its label noise."""
    table = table if table is not None else build_table(c)
    if table.meta.get("sequence") and c.noise > 0:
        raise ConfigError(f"noise: got {c.noise}; allowed 0 for the sequence task {table.name} (label noise replaces "
                          "a class label; a sequence's targets are its own next tokens)")
    frac = None if c.n_train is not None else c.frac
    ds = make_dataset(table, frac, c.split_seed, c.noise, n_train=c.n_train)
    return subsets.apply(c, ds)     # canaries and a subset ensemble's member subset (groklab.tasks.subsets)


def list_tasks() -> list[dict]:
    """Every task with its parameters and a one-line description (for `groklab tasks`)."""
    out = []
    for fam in FAMILIES:
        for name, desc in fam.names.items():
            out.append({"task": name, "family": fam.key, "params": list(fam.params), "description": desc})
    return out
