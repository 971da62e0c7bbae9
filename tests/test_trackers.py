"""Exports to TensorBoard and MLflow read back with the tools' own readers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from groklab.config import resolve
from groklab.errors import ConfigError
from groklab.store import Store
from groklab.trackers import to_mlflow, to_tensorboard

STEPS = [0, 10, 20, 30]


@pytest.fixture
def store(tmp_path) -> tuple[Store, list[str]]:
    """A store holding two finished runs with known metrics (no training needed)."""
    st = Store(tmp_path / "store")
    cfgs = [resolve("gromov2023", p=23, seed=s).to_dict() for s in (0, 1)]
    ids = st.create_runs(cfgs, code_version="test", machine="test")
    for k, rid in enumerate(ids):
        for step in STEPS:
            st.log_metrics([rid], step, [{"train_acc": step / 30, "test_loss": 1.0 + k - step / 100,
                                          "mia_auc": float("nan")}])
        st.finish(rid, "completed", {"run_id": rid, "phase": "grokking", "t_mem": 10, "t_gen": None,
                                     "final": {"test_acc": 0.75}}, wall_s=3.0)
    return st, ids


def test_tensorboard_event_files_hold_every_scalar_per_step(store, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    st, ids = store
    dirs = to_tensorboard(st, ids, tmp_path / "tb")
    to_tensorboard(st, ids[:1], tmp_path / "tb")          # exporting again replaces, never duplicates
    assert [d.name for d in dirs] == ids
    for k, rid in enumerate(ids):
        acc = EventAccumulator(str(tmp_path / "tb" / rid))
        acc.Reload()
        assert set(acc.Tags()["scalars"]) == {"train_acc", "test_loss"}     # NaN is left out
        ev = acc.Scalars("test_loss")
        assert [e.step for e in ev] == STEPS
        assert np.allclose([e.value for e in ev], [1.0 + k - s / 100 for s in STEPS])
    assert len(list((tmp_path / "tb" / ids[0]).glob("events.out.tfevents.*"))) == 1


def test_mlflow_gets_the_config_metrics_and_summary(store, tmp_path):
    from mlflow.tracking import MlflowClient

    st, ids = store
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mids = to_mlflow(st, ids, uri, experiment="sweep-x")
    assert to_mlflow(st, ids, uri, experiment="sweep-x") == mids        # a second export logs nothing new
    client = MlflowClient(tracking_uri=uri)
    for k, (rid, mid) in enumerate(zip(ids, mids)):
        run = client.get_run(mid)
        assert run.data.params["seed"] == str(k) and run.data.params["p"] == "23"
        assert run.data.tags["groklab.run_id"] == rid and run.data.tags["summary.phase"] == "grokking"
        assert run.data.metrics["summary.final.test_acc"] == 0.75 and run.info.status == "FINISHED"
        hist = sorted(client.get_metric_history(mid, "train_acc"), key=lambda m: m.step)
        assert [m.step for m in hist] == STEPS
        assert all(math.isclose(m.value, s / 30, rel_tol=1e-6) for m, s in zip(hist, STEPS))
    exp = client.get_experiment_by_name("sweep-x")
    assert len(client.search_runs([exp.experiment_id])) == 2


def test_an_unusable_mlflow_uri_is_a_config_error(store, tmp_path):
    st, ids = store
    with pytest.raises(ConfigError, match="mlflow"):
        to_mlflow(st, ids, "bogus-scheme://nowhere", experiment="x")


@pytest.mark.slow
def test_train_and_grid_commands_export_after_training(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from groklab.cli import main

    store, tb = tmp_path / "store", tmp_path / "tb"
    assert main(["grid", "--preset", "gromov2023", "--p", "23", "--d-mlp", "32", "--steps", "20",
                 "--eval-every", "10", "--x", "frac=0.3,0.6", "--pack", "ensemble", "--quiet", "--store", str(store),
                 "--tensorboard", str(tb), "--mlflow", f"sqlite:///{tmp_path / 'm.db'}"]) == 0
    runs = Store(store).list_runs()
    assert len(runs) == 2 and sorted(p.name for p in tb.iterdir()) == sorted(r["run_id"] for r in runs)
    acc = EventAccumulator(str(tb / runs[0]["run_id"]))
    acc.Reload()
    steps = Store(store).metrics(runs[0]["run_id"])["step"]
    assert [e.step for e in acc.Scalars("test_acc")] == [int(s) for s in steps]
