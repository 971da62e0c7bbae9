"""A group's per-example measures (``groklab.train.examples``), kept in its first run's folder::

    runs/<member-0 run>/examples/pool.safetensors      the training pool: table rows, inclusion matrix
                                                       [E, n_pool] (uint8), labels, true labels, noise
                                                       and canary masks, held-out rows, inputs
    runs/<member-0 run>/examples/<step>.safetensors    at each checkpoint step: loss and φ [E, N] float32,
                                                       rank [E, N] int16, alive [E] uint8 (N: every row)

Files are written atomically (temporary name, fsync, rename) and read without unpickling; metadata
names the group and its runs. `groklab check` leaves the folder alone; resuming drops the steps
past the checkpoint it resumes from (``Store.truncate_after``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from groklab.errors import StoreError
from groklab.store.files import read_tensors, write_tensors

POOL = "pool"


class ExampleFiles:
    """The per-example methods of ``Store`` (which provides ``conn``, ``run_dir`` and ``group_runs``)."""

    def examples_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "examples"

    def save_examples(self, run_id: str, step: int | None, tensors: dict[str, np.ndarray], meta: dict) -> None:
        """The pool's tensors (``step`` None) or one checkpoint step's measures of ``run_id``'s group."""
        name = POOL if step is None else f"{int(step):09d}"
        write_tensors(self.examples_dir(run_id) / f"{name}.safetensors", tensors,
                      {"run_id": run_id, **{k: str(v) for k, v in meta.items()}})

    def example_steps(self, run_id: str) -> list[int]:
        """Steps with recorded per-example measures, oldest first."""
        d = self.examples_dir(run_id)
        return sorted(int(f.stem) for f in d.glob("*.safetensors") if f.stem.isdigit()) if d.is_dir() else []

    def load_examples(self, run_id: str, step: int | None = None) -> dict[str, np.ndarray]:
        """One step's measures (``step`` None: the pool's tensors)."""
        name = POOL if step is None else f"{int(step):09d}"
        path = self.examples_dir(run_id) / f"{name}.safetensors"
        if not path.is_file():
            what = "its pool" if step is None else f"step {step}"
            raise StoreError(f"memorization: run {run_id} has no per-example measures at {what}")
        return read_tensors(path)

    def resolve_group(self, ref: str) -> tuple[str, list[dict]]:
        """(group id, its runs by member) of a group id, a unique group-id prefix, or any run of it."""
        if isinstance(ref, str) and ref.startswith("g") and "\x00" not in ref:
            rows = self.conn.execute("SELECT DISTINCT group_id FROM runs WHERE group_id = ? OR group_id LIKE ?"
                                     " ESCAPE '\\'", (ref, ref.replace("_", "\\_") + "%")).fetchall()
            exact = [g for (g,) in rows if g == ref]
            if exact or len(rows) == 1:
                gid = exact[0] if exact else rows[0][0]
                return gid, self.group_runs(gid)
        gid = self.get_run(ref)["group_id"]
        return gid, self.group_runs(gid)


def group_meta(run_ids: list[str], group_id: str) -> dict[str, str]:
    """Metadata that ties a pool file to its group."""
    return {"group_id": group_id, "run_ids": json.dumps(run_ids)}
