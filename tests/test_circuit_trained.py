"""The circuit test on real grokked runs (small, fast versions; seed 0): x·y mod 97 and x − y mod 97
(Gromov's quadratic MLP), composition in S4 (the same MLP) and sparse parity (the PAIR explorable's
MLP). At the final checkpoint keeping only the key components holds test accuracy ≥ 0.99 and removing
them leaves it within twice chance; a checkpoint that fits its training set but not the test set is
called memorizing, there and when the analysis is read at that checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from groklab.analysis import analyze_checkpoints, analyze_run
from groklab.api import train
from groklab.config import from_dict, resolve
from groklab.store import Store

pytestmark = pytest.mark.slow

RECIPES = {   # name -> (preset, overrides, basis)
    "x*y": ("gromov2023", dict(task="x*y", steps=150, eval_every=5, ckpt_per_decade=12), "multiplicative"),
    "x-y": ("gromov2023", dict(task="x-y", steps=150, eval_every=5, ckpt_per_decade=12), "additive"),
    "S4": ("gromov2023", dict(task="perm-compose", perm_n=4, frac=0.6, wd=5.0, steps=200, eval_every=5,
                              ckpt_per_decade=12), "irreps"),
    "parity": ("pair2023-parity", dict(lr=3e-3, wd=1.0, steps=2500, eval_every=50, ckpt_per_decade=4), "walsh"),
}


def _run(tmp_path, name: str):
    preset, over, basis = RECIPES[name]
    store = Store(tmp_path / "store")
    res = train(resolve(preset, **over, seed=0), store=store)
    return store, res.run_ids[0], basis


def _memorizing(prog: dict) -> list[int]:
    return [i for i, (tr, te) in enumerate(zip(prog["train_acc"], prog["test_acc"])) if tr >= 0.99 and te < 0.9]


@pytest.mark.parametrize("name", list(RECIPES))
def test_grokked_run_passes_both_ablations_and_its_memorizing_checkpoint_does_not(tmp_path, name):
    store, rid, basis = _run(tmp_path, name)
    a = analyze_run(store, rid)
    assert a["basis"] == basis and a["components"]
    ab = a["ablation"]
    assert ab["step"] == a["steps"][-1] and ab["model"]["acc"] >= 0.99
    assert ab["keep"]["acc"] >= 0.99 and ab["keep"]["loss"] <= ab["model"]["loss"] + 0.1
    assert ab["remove"]["acc"] <= 2 * ab["chance"] and ab["remove"]["acc"] <= ab["chance_bound"]
    assert ab["circuit"] == "generalizing circuit" and "a generalizing" in a["verdict"]
    prog = a["progress"]
    mem = _memorizing(prog)
    assert mem, "the run has no checkpoint between memorizing and generalizing"
    assert all(prog["circuit"][i] == "memorizing" for i in mem)
    assert prog["circuit"][-1] == "generalizing circuit"
    # read at a memorizing checkpoint, the whole analysis says so
    step = prog["step"][mem[0]]
    row = store.get_run(rid)
    cks = [(s, store.load_checkpoint(rid, s)[1]) for s in (step, prog["step"][-1])]
    at = analyze_checkpoints(from_dict(row["config"]), cks, store.metrics(rid), reference=cks[0], run_id=rid)
    assert at["ablation"]["circuit"] == "memorizing" and "is memorizing" in at["verdict"]
    assert at["ablation"]["model"]["acc"] < 0.9 and np.isfinite(at["ablation"]["remove"]["loss"])
