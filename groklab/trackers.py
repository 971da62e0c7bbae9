"""Export runs to TensorBoard and MLflow: adapters at the edge that read the run store.

The store stays the one record of a run; these functions copy what it holds (config, per-step
metrics, summary) into another tool's format after training, so they can be run again at any time
on any stored run. Both tools are the optional extra ``groklab[trackers]``; nothing here is imported
until an export is asked for.

- TensorBoard: one event file per run under ``DIR/<run-id>/``, one scalar per metric and step,
  written with TensorBoard's own event writer (no TensorFlow, no PyTorch). Exporting a run again
  replaces its event file.
- MLflow: one MLflow run per groklab run (tag ``groklab.run_id``) in an experiment (default
  "groklab", or the sweep's name): the config as params, every metric per step, the summary's
  numbers as ``summary.*`` metrics and its words as ``summary.*`` tags. Tracking URIs such as
  ``sqlite:///path/mlflow.db`` or ``file:/path/mlruns``; a run already exported is skipped.
"""

from __future__ import annotations

import importlib.util
import math
import os
from datetime import datetime
from pathlib import Path

from groklab.errors import ConfigError
from groklab.store import Store

_NEEDS = {"tensorboard": "tensorboard", "mlflow": "mlflow"}


def _need(what: str) -> None:
    if importlib.util.find_spec(_NEEDS[what]) is None:
        raise ConfigError(f"{what}: needs the optional extra groklab[trackers] (pip install 'groklab[trackers]')")


def _times(run: dict, steps) -> list[float]:
    """Wall-clock seconds of each evaluation: the run's start plus its wall time spread over the steps."""
    try:
        t0 = datetime.fromisoformat(run["created"]).timestamp()
    except (TypeError, ValueError):
        t0 = 0.0
    last = max(int(steps[-1]), 1) if len(steps) else 1
    wall = float(run.get("wall_s") or 0.0)
    return [t0 + wall * int(s) / last for s in steps]


def _scalars(m: dict, i: int) -> dict[str, float]:
    return {k: float(v[i]) for k, v in m.items() if k != "step" and math.isfinite(float(v[i]))}


def _flat(d: dict, prefix: str) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def to_tensorboard(store: Store, run_ids: list[str], logdir: str | Path) -> list[Path]:
    """Write each run's per-step metrics as TensorBoard scalars in ``logdir/<run-id>/``; returns the
    folders written. A run's earlier export is replaced."""
    _need("tensorboard")
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    out = []
    for rid in run_ids:
        run = store.get_run(rid)
        m = store.metrics(run["run_id"])
        d = Path(logdir) / run["run_id"]
        try:
            d.mkdir(parents=True, exist_ok=True)
            for old in d.glob("events.out.tfevents.*"):
                old.unlink()
            w = EventFileWriter(str(d))
        except OSError as e:
            raise ConfigError(f"tensorboard: cannot write to {d} ({e.strerror or e})") from None
        for i, (step, t) in enumerate(zip(m["step"], _times(run, m["step"]))):
            vals = [Summary.Value(tag=k, simple_value=v) for k, v in _scalars(m, i).items()]
            w.add_event(Event(step=int(step), wall_time=t, summary=Summary(value=vals)))
        w.close()
        out.append(d)
    return out


def to_mlflow(store: Store, run_ids: list[str], uri: str, experiment: str = "groklab") -> list[str]:
    """Log each run's config (params), per-step metrics and summary to MLflow at tracking ``uri``;
    returns the MLflow run ids (an already exported run keeps its id and is not logged twice)."""
    _need("mlflow")
    if uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")   # MLflow 3 keeps the file store opt-in
    from mlflow.entities import Metric, Param
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name(experiment)
        eid = exp.experiment_id if exp else client.create_experiment(experiment)
        out = []
        for rid in run_ids:
            run = store.get_run(rid)
            rid = run["run_id"]
            found = client.search_runs([eid], filter_string=f"tags.`groklab.run_id` = '{rid}'", max_results=1)
            if found:
                out.append(found[0].info.run_id)
                continue
            m = store.metrics(rid)
            summary = run["summary"] or {}
            tags = {"groklab.run_id": rid, "groklab.status": run["status"]}
            if run.get("sweep_id"):
                tags["groklab.sweep_id"] = run["sweep_id"]
            flat = _flat({k: v for k, v in summary.items() if k not in ("run_id",)}, "summary.")
            tags.update({k: str(v) for k, v in flat.items() if isinstance(v, str)})
            mid = client.create_run(eid, start_time=int(_times(run, [0])[0] * 1000), tags=tags,
                                    run_name=run["name"] or rid).info.run_id
            params = [Param(k, str(v)) for k, v in run["config"].items()]
            metrics = [Metric(k, v, int(t * 1000), int(step))
                       for i, (step, t) in enumerate(zip(m["step"], _times(run, m["step"])))
                       for k, v in _scalars(m, i).items()]
            last = int(m["step"][-1]) if len(m["step"]) else 0
            end = int(_times(run, [last])[0] * 1000) if len(m["step"]) else int(_times(run, [0])[0] * 1000)
            metrics += [Metric(k, float(v), end, last) for k, v in flat.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
            for i in range(0, len(params), 100):
                client.log_batch(mid, params=params[i:i + 100])
            for i in range(0, len(metrics), 1000):
                client.log_batch(mid, metrics=metrics[i:i + 1000])
            status = {"completed": "FINISHED", "interrupted": "KILLED"}.get(run["status"], "FAILED")
            client.set_terminated(mid, status=status, end_time=end)
            out.append(mid)
    except MlflowException as e:
        raise ConfigError(f"mlflow: cannot log to {uri} ({str(e).splitlines()[0][:200]})") from None
    except ImportError as e:      # mlflow-skinny alone has no SQL store
        raise ConfigError(f"mlflow: {uri} needs {e.name} (pip install 'groklab[trackers]')") from None
    return out


# ---------------------------------------------------------------------------------------------- both
def check_trackers(tensorboard: str | Path | None = None, mlflow: str | None = None) -> None:
    """Fail before training if an export was asked for whose package is missing."""
    if tensorboard:
        _need("tensorboard")
    if mlflow:
        _need("mlflow")


def attach_trackers(store: Store, run_ids: list[str], tensorboard: str | Path | None = None,
                    mlflow: str | None = None, experiment: str = "groklab") -> list[str]:
    """Export ``run_ids`` to TensorBoard event files under ``tensorboard`` and/or MLflow at tracking URI
    ``mlflow`` (in ``experiment``), each when given; returns one line per export saying where it went."""
    notes: list[str] = []
    if not run_ids:
        return notes
    if tensorboard:
        to_tensorboard(store, run_ids, tensorboard)
        notes.append(f"tensorboard: {len(run_ids)} run(s) in {tensorboard}  (tensorboard --logdir {tensorboard})")
    if mlflow:
        to_mlflow(store, run_ids, mlflow, experiment=experiment)
        notes.append(f"mlflow: {len(run_ids)} run(s) in experiment {experiment!r} at {mlflow}")
    return notes


__all__ = ["to_tensorboard", "to_mlflow", "check_trackers", "attach_trackers"]
