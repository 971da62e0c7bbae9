"""What ``groklab check`` reports: one Problem per finding, and the state one check pass shares."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from groklab.errors import GroklabError
from groklab.store.catalog import Store
from groklab.store.files import read_header

LOST_FOUND = "lost+found"
ShapesFn = Callable[[dict], "dict[str, tuple] | None"]
_FLOAT = {"F16", "BF16", "F32", "F64"}


@dataclass
class Problem:
    kind: str                  # catalog, unregistered_run, unattributed_file, dead_run, dead_sweep, orphan_rows,
    #                            missing_checkpoint, corrupt_checkpoint, invalid_checkpoint, missing_state,
    #                            corrupt_state, invalid_state, orphan_file, temp_file, unexpected_file
    message: str               # one line: what is wrong
    repairable: bool
    run_id: str | None = None
    path: str | None = None
    repaired: bool = False
    action: str | None = None  # what --repair does ("delete it"), or what the user can do if it cannot

    def line(self) -> str:
        if self.repaired:
            return f"repaired: {self.message} (did: {self.action})"
        if self.repairable:
            return f"{self.message} (--repair will {self.action})"
        return f"{self.message} (not repaired automatically: {self.action})"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Pass:
    """One check pass over a store: what was found so far and what later steps need to know."""
    store: Store
    repair: bool
    expected_shapes: ShapesFn | None = None
    problems: list[Problem] = field(default_factory=list)
    runs: dict[str, tuple[str, int | None]] = field(default_factory=dict)   # run -> (status, pid) in the catalog
    live: set[str] = field(default_factory=set)          # runs whose process is alive: left alone
    skip_dirs: set[str] = field(default_factory=set)     # run folders reported as a whole (not file by file)
    recorded: dict[str, dict[int, bool]] = field(default_factory=dict)     # run -> step -> has_state
    n_ckpt: int = 0
    _shapes: dict[str, dict | None] = field(default_factory=dict)

    def rel(self, p: Path) -> str:
        return str(p.relative_to(self.store.root))

    def add(self, p: Problem) -> Problem:
        self.problems.append(p)
        return p

    def shapes(self, run: dict) -> dict[str, tuple] | None:
        """The parameter shapes the run's config implies (None without a callback or a usable config)."""
        rid = run["run_id"]
        if rid not in self._shapes:
            try:
                self._shapes[rid] = self.expected_shapes(run) if self.expected_shapes else None
            except (GroklabError, ValueError, KeyError, TypeError):
                self._shapes[rid] = None
        return self._shapes[rid]

    def move_aside(self, f: Path) -> str:
        """Move a file out of the store's folders into lost+found/ (same relative path); returns where."""
        dest = self.store.root / LOST_FOUND / f.relative_to(self.store.root)
        n = 0
        while dest.exists() or dest.is_symlink():
            n += 1
            dest = dest.with_name(f"{f.name}.{n}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, dest)
        return self.rel(dest)


def invalid_tensors(path: Path, shapes: dict[str, tuple] | None = None, run_id: str | None = None,
                    step: int | None = None) -> str | None:
    """Why a checkpoint or state file is not one groklab wrote for this run and step (its header is
    malformed, its metadata names another run or step, its tensors differ from ``shapes``), or None."""
    try:
        tensors, meta = read_header(path)
    except (OSError, ValueError) as e:
        return f"is not a valid safetensors file ({e})"
    if run_id is not None and meta.get("run_id", run_id) != run_id:
        return f"was written for run {meta['run_id']}"
    if step is not None and meta.get("step", str(step)) != str(step):
        return f"was written for step {meta['step']}"
    if shapes is None:
        return None
    missing, extra = sorted(set(shapes) - set(tensors)), sorted(set(tensors) - set(shapes))
    if missing or extra:
        return "does not match its config: " + "; ".join(
            ([f"lacks {', '.join(missing)}"] if missing else []) +
            ([f"has tensors not in its config: {', '.join(extra)}"] if extra else []))
    for k, shp in shapes.items():
        dtype, got = tensors[k]
        if tuple(got) != tuple(shp):
            return f"does not match its config: tensor {k} has shape {tuple(got)}, its config implies {tuple(shp)}"
        if dtype not in _FLOAT:
            return f"does not match its config: tensor {k} has dtype {dtype}, expected floating point"
    return None
