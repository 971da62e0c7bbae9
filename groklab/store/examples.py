"""A group's per-example measures (``groklab.train.examples``), kept in its first run's folder::

    runs/<member-0 run>/examples/pool.safetensors      the training pool: table rows, inclusion matrix
                                                       [E, n_pool] (uint8), labels, true labels, noise
                                                       and canary masks, held-out rows, inputs
    runs/<member-0 run>/examples/<step>.safetensors    at each checkpoint step: loss and φ [E, N] float32,
                                                       rank [E, N] int16, alive [E] uint8 (N: every row)

Files are written atomically (temporary name, fsync, rename) and read without unpickling; metadata
names the group and its runs. `groklab check` leaves the folder alone; resuming drops the steps
past the checkpoint it resumes from (``Store.truncate_after``).

An *atlas* split into several ensembles (``groklab.atlas``) is a sweep of kind ``atlas`` whose id is
the atlas id: each ensemble is a group with its own ``examples/``, and every member's run.json names
the sweep, so ``atlas_pieces`` finds the pieces from the runs alone (the catalog rebuilt from the
run folders included); ``groklab.analysis.memorization`` concatenates them along the member axis.
The plan (every member config) is also kept in ``<store>/atlases/<atlas id>.json``, from which a
resume rebuilds the sweep when the catalog has lost it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from groklab.errors import StoreError
from groklab.store.files import read_tensors, write_tensors

POOL = "pool"
ATLAS = "atlas"            # the sweep kind of an atlas split into several ensembles
ATLAS_PLANS = "atlases"    # <store>/atlases/<atlas id>.json: its member configs, kept beside the catalog
FINISHED = ("completed", "diverged")


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

    def atlas_of(self, ref: str) -> str | None:
        """The atlas id (a sweep of kind ``atlas``) that ``ref`` names or belongs to: the atlas id or a
        unique prefix of it, the group id of one of its ensembles, or any member run; None otherwise."""
        if not isinstance(ref, str) or not ref or "\x00" in ref:
            return None
        rows = self.conn.execute("SELECT DISTINCT sweep_id FROM runs WHERE sweep_id = ? OR sweep_id LIKE ? ESCAPE"
                                 " '\\'", (ref, ref.replace("_", "\\_") + "%")).fetchall()
        sids = [s for (s,) in rows if s == ref] or [s for (s,) in rows]
        if len(sids) != 1:
            try:
                sids = [self.resolve_group(ref)[1][0]["sweep_id"]]
            except (StoreError, IndexError):
                return None
        sid = sids[0]
        return sid if sid is not None and self._is_atlas(sid) else None

    def _is_atlas(self, sweep_id: str) -> bool:
        """Its sweep row says so; with no row (a catalog rebuilt from the run folders) its plan file does,
        or its runs: one subset ensemble's members (one pool, K, no subset twice) in more than one group."""
        row = self.conn.execute("SELECT kind FROM sweeps WHERE sweep_id = ?", (sweep_id,)).fetchone()
        if row is not None:
            return row[0] == ATLAS
        if self.atlas_plan_path(sweep_id).is_file():
            return True
        runs = self.list_runs(sweep_id=sweep_id)
        keys = {json.dumps([r["config"].get(k) for k in ("subsets", "data_seed", "frac", "n_train", "noise",
                                                          "canaries", "subset_scheme")]) for r in runs}
        subs = [r["config"].get("subset") for r in runs]
        return (len(keys) == 1 and bool(runs[0]["config"].get("subsets")) and len(set(subs)) == len(subs)
                and len({r["group_id"] for r in runs}) > 1)

    def atlas_plan_path(self, atlas_id: str) -> Path:
        """The file that keeps an atlas's plan (its member configs) outside the catalog."""
        return self.root / ATLAS_PLANS / f"{atlas_id}.json"

    def atlas_pieces(self, atlas_id: str) -> list[list[dict]]:
        """The finished ensembles of an atlas, each its runs by member, oldest first: those its sweep's
        done points name (or, with no sweep row, every group whose runs all finished; a subset trained
        twice counts in its newest group)."""
        done = {p["run_id"] for p in self.sweep_points(atlas_id) if p["status"] == "done" and p["run_id"]}
        groups: dict[str, list[dict]] = {}
        for r in sorted(self.list_runs(sweep_id=atlas_id), key=lambda r: (r["created"], r["member"])):
            groups.setdefault(r["group_id"], []).append(r)
        if done:
            pieces = [rs for rs in groups.values() if any(r["run_id"] in done for r in rs)]
        else:
            pieces = [rs for rs in groups.values() if all(r["status"] in FINISHED for r in rs)]
        seen: set[int] = set()
        out = []
        for rs in reversed(pieces):        # newest first: a subset trained again replaces the older
            subs = {int(r["config"].get("subset", 0)) for r in rs}
            if not subs & seen:
                seen |= subs
                out.append(sorted(rs, key=lambda r: r["member"]))
        return out[::-1]


def group_meta(run_ids: list[str], group_id: str) -> dict[str, str]:
    """Metadata that ties a pool file to its group."""
    return {"group_id": group_id, "run_ids": json.dumps(run_ids)}
