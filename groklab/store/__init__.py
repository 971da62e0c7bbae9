"""The run store: a SQLite catalog (runs, sweeps, per-step metrics, cached analyses) and
safetensors checkpoints under ``runs/<run-id>/``.

Layout of a store directory (``--store DIR``, ``GROKLAB_HOME``, default ``./groklab-runs``)::

    groklab.db                              SQLite, WAL mode
    runs/<run-id>/ckpt/<step>.safetensors   parameters at a checkpoint step (log grid + last)
    runs/<run-id>/state/<step>.safetensors  optimizer/filter state of the newest checkpoint (resume)
    runs/<run-id>/report.html               written by `groklab report`

Every file is written to a temporary name, fsynced and renamed, and only then recorded with its
sha256; every catalog change is one transaction. So a process killed at any moment leaves the
store consistent: its run reads 'interrupted', and `groklab check --repair` (``store.check``)
clears what the kill left behind (the row, a temporary file). Nothing is ever unpickled.
"""

from groklab.store.catalog import Store, default_root

__all__ = ["Store", "default_root"]
