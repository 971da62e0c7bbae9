"""`until = "generalized[:N]"`: training stops once every live member's test accuracy has been >= acc_threshold
at N evaluations in a row, and the summary says what reaching t_gen cost (steps, seconds, FLOPs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from groklab import api, resolve
from groklab.cli import main
from groklab.config import from_dict
from groklab.errors import ConfigError
from groklab.store import Store
from groklab.train.ensemble import Evaluation
from groklab.train.until import DEFAULT_EVALS, Generalized, stop_rule, until_evals

# Gromov's quadratic MLP on a + b mod 13: generalizes in about 100 full-batch steps (seconds)
FAST = dict(p=13, frac=0.7, d_mlp=128, init_std=0.5 / (2 * 128) ** (1 / 3), steps=300, eval_every=5)


def _ev(step, accs, alive=None):
    accs = np.asarray(accs, float)
    alive = np.ones(len(accs), bool) if alive is None else np.asarray(alive, bool)
    return Evaluation(step, {"test_acc": accs}, alive, ~alive)


def _first_stop(test_accs: list[np.ndarray], steps: np.ndarray, n: int, thr: float) -> int | None:
    """The first step at which every member's test accuracy was >= thr at its last n evaluations."""
    ok = np.stack([np.asarray(a) >= thr for a in test_accs])          # [E, evals]
    for i in range(n - 1, ok.shape[1]):
        if ok[:, i - n + 1:i + 1].all():
            return int(steps[i])
    return None


def test_until_is_off_by_default_and_leaves_old_hashes_alone():
    base = resolve("gromov2023")
    assert base.until is None and stop_rule(base, 1) is None
    assert from_dict({**base.to_dict(), "until": None}).hash() == base.hash()
    assert base.replace(until="generalized").hash() != base.hash()
    assert until_evals("generalized") == DEFAULT_EVALS and until_evals("generalized:7") == 7


@pytest.mark.parametrize("bad", ["generalized:0", "generalized:x", "generalized:", "memorized", "generalized:1001"])
def test_bad_rules_are_refused_in_one_line_naming_the_field(bad):
    allowed = r"allowed generalized or generalized:N with N in \[1, 1000\]"
    with pytest.raises(ConfigError, match=r"^until: got .*; " + allowed):
        resolve("gromov2023", until=bad)


def test_cli_refuses_a_zero_count_with_exit_2(tmp_path, capsys):
    assert main(["train", "--preset", "gromov2023", "--until", "generalized:0", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "until: got 'generalized:0'" in err[0]


def test_rule_needs_n_evaluations_in_a_row_from_every_member():
    rule = Generalized(2, 0.99, 2)
    rule.update(_ev(10, [1.0, 0.5]))
    rule.update(_ev(20, [1.0, 0.995]))
    assert not rule()                      # member 1 has held it once
    rule.update(_ev(30, [0.98, 1.0]))
    assert not rule()                      # member 0 fell back: its count starts again
    rule.update(_ev(40, [1.0, 1.0]))
    assert not rule()                      # member 0: once since
    rule.update(_ev(50, [1.0, 1.0]))
    assert rule()


def test_a_diverged_member_does_not_hold_the_others_back():
    rule = Generalized(1, 0.99, 2)
    rule.update(_ev(10, [1.0, np.nan], alive=[True, False]))
    assert rule()
    assert not Generalized(1, 0.99, 2)()    # nothing evaluated yet


def test_a_resumed_rule_continues_the_count_of_its_history():
    rule = Generalized(3, 0.99, 1, history=[[0.2, 1.0, 1.0]])
    assert not rule()
    rule.update(_ev(50, [1.0]))
    assert rule()
    fresh = Generalized(3, 0.99, 1, history=[[1.0, 1.0, 0.3]])
    fresh.update(_ev(50, [1.0]))
    assert not fresh()


def test_an_ensemble_stops_at_the_first_evaluation_the_rule_allows_and_equals_the_full_run(tmp_path):
    n = 2
    cfgs = [resolve("gromov2023", **FAST, seed=s, until=f"generalized:{n}") for s in (0, 1)]
    res = api.train(cfgs, store=tmp_path / "until")
    full = api.train([c.replace(until=None) for c in cfgs], store=tmp_path / "full")
    st, st_full = Store(tmp_path / "until"), Store(tmp_path / "full")
    m = [st.metrics(r) for r in res.run_ids]
    stop = _first_stop([x["test_acc"] for x in m], m[0]["step"], n, cfgs[0].acc_threshold)
    assert stop is not None and stop < FAST["steps"], "the recipe generalizes well before its budget"
    assert [s["steps"] for s in res.summaries] == [stop, stop]
    assert all(s["status"] == "completed" and s["until"] == "generalized:2" for s in res.summaries)
    for rid, rid_full in zip(res.run_ids, full.run_ids):       # the same numbers up to the stop, step for step
        a, b = st.metrics(rid), st_full.metrics(rid_full)
        k = len(a["step"])
        assert b["step"][-1] == FAST["steps"] and k < len(b["step"])
        for key in ("step", "train_loss", "test_loss", "test_acc"):
            np.testing.assert_array_equal(a[key], b[key][:k], err_msg=key)


def test_summary_reports_steps_seconds_and_flops_to_generalization(tmp_path, capsys):
    assert main(["train", "--preset", "gromov2023", *sum((["--" + k.replace("_", "-"), str(v)] for k, v in
                                                        FAST.items()), []),
                 "--until", "generalized", "--json", "--quiet", "--store", str(tmp_path)]) == 0
    s = json.loads(capsys.readouterr().out)["runs"][0]
    cfg = resolve("gromov2023", **FAST)
    from groklab.train.loop import Trainer

    step_flops, eval_flops = api.step_flops(Trainer([cfg]))
    g = s["to_gen"]
    assert g["step"] == s["t_gen"] and s["t_gen"] < s["steps"] < FAST["steps"]
    assert g["flops"] == pytest.approx(step_flops * s["t_gen"])
    m = Store(tmp_path).metrics(s["run_id"])
    assert g["eval_flops"] == pytest.approx(eval_flops * int((m["step"] <= s["t_gen"]).sum()))
    assert 0 < g["seconds"] <= s["wall_s"]
    assert main(["show", s["run_id"], "--store", str(tmp_path)]) == 0
    assert f"to test acc >= 0.99: step {s['t_gen']}" in capsys.readouterr().out
