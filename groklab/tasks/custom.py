"""User-defined binary operations on Z_p, registered from Python.

    from groklab.tasks.custom import register_task
    register_task("x^2-y", fn=lambda x, y: x * x - y, description="a square minus y")
    Config(task="x^2-y", p=53)

After registration the name is a task like any other in this process: it validates through the
registry, builds all equations a ∘ b = c over Z_p² (a ≤ b if ``symmetric``) and counts as modular.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from groklab import tasks as registry  # read at call time: the registry imports expr, which imports this
from groklab.errors import ConfigError
from groklab.tasks import modular
from groklab.tasks.base import Table

if TYPE_CHECKING:
    from groklab.tasks import TaskConfig as Config

MAX_NAME_LEN = 100


def labelled_pairs(name: str, p: int, symmetric: bool, op: Callable[[np.ndarray, np.ndarray], np.ndarray],
                   meta: dict | None = None) -> Table:
    """All pairs (a, b) of Z_p² (a ≤ b if symmetric) labelled by a vectorised operator, taken mod p.

    op maps int64 arrays a, b to int64 results; the pairs and their order are those of
    ``modular.modular_table``, so named, parsed and user operators share one layout.
    """
    grid = modular.modular_table("x+y", p, symmetric=symmetric)
    a, b = grid.x[:, 0].astype(np.int64), grid.x[:, 1].astype(np.int64)
    y = np.asarray(op(a, b), dtype=np.int64) % p
    return dataclasses.replace(grid, name=name, y=y.astype(np.int32),
                               meta={"p": p, "op": name, "symmetric": symmetric, "modular": True, **(meta or {})})


def _integer_valued(name: str, fn: Callable[[int, int], int]) -> Callable[[int, int], int]:
    def checked(x: int, y: int) -> int:
        try:
            v = fn(x, y)
        except Exception as e:  # the user's code: report it as their input's error
            raise ConfigError(f"task: custom task {name!r}: fn({x}, {y}) raised {type(e).__name__}: {e}") from e
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ConfigError(f"task: custom task {name!r}: fn({x}, {y}) returned {v!r}; it must return an integer")
        return int(v)
    return checked


def _check_table(name: str, table: np.ndarray, p: int | None) -> np.ndarray:
    t = np.asarray(table)
    if t.ndim != 2 or t.shape[0] != t.shape[1] or t.shape[0] < 2:
        raise ConfigError(f"task: custom task {name!r}: table must be a square [p, p] array with p >= 2, "
                          f"got shape {t.shape}")
    if p is not None and t.shape[0] != p:
        raise ConfigError(f"p: custom task {name!r}: table is [{t.shape[0]}, {t.shape[0]}] but p = {p}")
    if not np.issubdtype(t.dtype, np.integer):
        raise ConfigError(f"task: custom task {name!r}: table must hold integers, got dtype {t.dtype}")
    if t.min() < 0 or t.max() >= t.shape[0]:
        raise ConfigError(f"task: custom task {name!r}: table values must be in [0, {t.shape[0]}), "
                          f"got {t.min()}..{t.max()}")
    return t.astype(np.int64)


def register_task(name: str, fn: Callable[[int, int], int] | None = None, table: np.ndarray | None = None,
                  p: int | None = None, description: str = "") -> registry.TaskFamily:
    """Make ``name`` a task of this process: a ∘ b = fn(a, b) mod p, or table[a, b].

    fn: any callable on Python ints returning an integer (taken mod p). With fn, p fixes the
        modulus (configs must then use it); p None accepts the config's p.
    table: an explicit [p, p] integer array of results in [0, p); p is its size.
    Returns the registered family. Raises ConfigError for a name that is already a task, for
    both or neither of fn and table, or for a malformed table.
    """
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LEN or not name.isprintable() or "," in name:
        raise ConfigError(f"task: a custom task name must be 1..{MAX_NAME_LEN} printable characters "
                          f"without commas, got {name!r}")
    try:
        registry.family_of(name)
    except ConfigError:
        pass
    else:
        raise ConfigError(f"task: {name!r} is already a task; choose another name")
    if (fn is None) == (table is None):
        raise ConfigError(f"task: custom task {name!r} needs exactly one of fn and table")
    if fn is not None and not callable(fn):
        raise ConfigError(f"task: custom task {name!r}: fn must be callable, got {type(fn).__name__}")
    if p is not None and (isinstance(p, bool) or not isinstance(p, numbers.Integral) or p < 2):
        raise ConfigError(f"p: custom task {name!r}: p must be an integer >= 2, got {p!r}")
    values = None if table is None else _check_table(name, table, p)
    modulus = int(values.shape[0]) if values is not None else (None if p is None else int(p))

    def check(c: "Config") -> None:
        if modulus is not None and c.p != modulus:
            raise ConfigError(f"p: task {name} is defined for p = {modulus}, got {c.p}")

    def build(c: "Config") -> Table:
        check(c)
        if values is not None:
            return labelled_pairs(name, c.p, c.symmetric, lambda a, b: values[a, b])
        return modular.modular_table(name, c.p, symmetric=c.symmetric, fn=_integer_valued(name, fn))

    fam = registry.TaskFamily(key=f"custom:{name}",
                     names={name: description or ("user table" if values is not None else "user operator")},
                     params=("p", "frac", "symmetric", "noise"), check=check, build=build, modular=True)
    registry.FAMILIES.append(fam)
    return fam
