"""Sweeps: many configs made from one spec, packed into batched ensembles, run locally or on Ray.

A sweep is a list of points, each one validated config. Every point is written to the store, with
the spec it came from, before anything trains; a point is marked done as soon as the pack it
trained in has been recorded, so a sweep killed at any moment loses only the points in flight and
``resume`` trains the rest. Two front ends make the same ``Plan``: ``groklab grid --x frac=0.1:0.9:9
--y wd=0,1`` and ``groklab sweep FILE.toml`` (grid axes, random axes, seeds; see ``load_sweep_file``).

**Packing.** Points whose configs have equal ``Config.shape_key()`` differ only in
``config.MEMBER_FIELDS`` (seed, lr, wd, frac...) and can train as one vmapped ensemble; such a group
is cut into packs of at most ``max_members``. Whether a pack trains as one ensemble or as separate
one-member runs side by side (one single-threaded worker process per core) is decided by a
*measured* cost model, not a rule of thumb (``schedule``): the pack's first point trains alone in a
single-threaded worker (and is kept), and the other members' ensemble is timed for its setup, a
few steps and an evaluation; both in CPU seconds, which a shared machine does not inflate as it
does wall time. Batch when the ensemble's CPU seconds per point are at most the lone run's: with
every core busy either way, fewer CPU seconds per point finishes sooner. The measurement is cached
per (shape, cpu count) in ``<store>/sweep-costs.json``, so each shape is timed once per store.
Measured on 2 shared cores (2026-11-29): a 64-member ensemble of p = 31 quadratic MLPs took about
half the CPU seconds per point of separate runs, whose cost is mostly setup (building the task,
loading the compiled program) and per-run bookkeeping; a vmapped step alone was *not* cheaper
per member than a single model's (XLA's batched matmuls on CPU), so small models batch for the
setup and evaluation they share. For nanda2023-sized full-batch models ensembles were 10-55 %
slower per model, and two 1-thread processes gave 5-15 % more throughput than one 2-thread one.

**Backends.** ``local``: ensembles train in this process through ``api.train`` (every core);
separate members train in a pool of single-threaded worker processes. ``ray``: each pack (an
ensemble or a single member) is a Ray task running ``train_group``, which never touches the store
and returns the metric histories and checkpoints as numpy arrays; the driver alone writes them into
the store (``record_result``), exactly as ``api.train`` would have.

Modules: ``axes`` (grid values, random draws), ``spec`` (Plan, make_plan, load_sweep_file),
``packing`` (Pack, pack), ``timing`` (a trainer's CPU seconds), ``group`` (train_group: a pack
trained away from the store), ``record`` (start/resume, record_result, adopt_finished), ``cost``
(the measured cost model, schedule), ``progress`` (the progress clock), ``run`` (run_sweep),
``backends.local`` (worker processes, the pipe protocol), ``backends.ray`` (the Ray backend,
check_backend), ``views`` (sweep_rows, phase_diagram, axis_fields). ``python -m groklab.sweep``
is a local worker process (``__main__``).
"""

from groklab.sweep.axes import DISTRIBUTIONS, MAX_POINTS, axis_values, parse_axis
from groklab.sweep.backends.ray import check_backend
from groklab.sweep.cost import COST_FILE, measure_cost, point_seconds, schedule
from groklab.sweep.group import ONE_THREAD_XLA, train_group
from groklab.sweep.packing import MAX_MEMBERS, Pack, pack
from groklab.sweep.progress import SweepProgressFn
from groklab.sweep.record import adopt_finished, record_result, start
from groklab.sweep.run import run_sweep
from groklab.sweep.spec import FILE_KEYS, Plan, load_sweep_file, make_plan
from groklab.sweep.views import PHASE_ORDER, axis_fields, phase_diagram, sweep_rows

__all__ = ["Plan", "Pack", "parse_axis", "axis_values", "make_plan", "load_sweep_file", "start", "pack",
           "measure_cost", "point_seconds", "schedule", "train_group", "record_result", "run_sweep", "check_backend",
           "adopt_finished", "sweep_rows", "phase_diagram", "axis_fields", "COST_FILE", "DISTRIBUTIONS", "FILE_KEYS",
           "MAX_MEMBERS", "MAX_POINTS", "ONE_THREAD_XLA", "PHASE_ORDER", "SweepProgressFn"]
