"""The run store: a SQLite catalog (runs, sweeps, per-step metrics, cached analyses) and, per run,
a folder that can rebuild the run's catalog entry on its own.

Layout of a store directory (``--store DIR``, ``GROKLAB_HOME``, default ``./groklab-runs``)::

    groklab.db                              SQLite, WAL mode: the catalog (an index of what follows)
    runs/<run-id>/run.json                  the run's catalog row (config, status, group, member, sweep,
                                            summary, message, ...), replaced atomically on every change
    runs/<run-id>/metrics.jsonl             one line per evaluation (appended, flushed; a torn last line
                                            is ignored)
    runs/<run-id>/ckpt/<step>.safetensors   parameters at a checkpoint step (log grid + last)
    runs/<run-id>/state/<step>.safetensors  optimizer/filter state of the two newest checkpoints while the
                                            run trains (the newest once it finished): resume points
    runs/<run-id>/report.html               written by `groklab report`
    locks/<kind>-<id>.lock                  while a process trains a run's group or a sweep: its lease
                                            (an flock that dies with the process; the file names its pid)
    lost+found/...                          files `groklab check --repair` could not attribute, moved
                                            here (same relative path), never deleted
    sweep-costs.json                        the sweep cost model's measurements

Every file is written to a temporary name, fsynced and renamed, and only then recorded with its
sha256; every catalog change is one transaction. So a process killed at any moment leaves the
store consistent: its run reads 'interrupted', and `groklab check --repair` (``store.check``)
clears what the kill left behind (the row, a temporary file). A catalog that is lost (deleted,
truncated, emptied) is refused by every command but `groklab check`, whose ``--repair`` rebuilds it
from the run folders (``store.recover``). Run folders of older versions have no run.json or
metrics.jsonl; they open, list and resume as before. Nothing is ever unpickled.
"""

from groklab.store.catalog import Store, default_root

__all__ = ["Store", "default_root"]
