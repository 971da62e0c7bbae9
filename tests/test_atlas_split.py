"""An atlas larger than one ensemble: `groklab train --subsets 8 --ensemble-size 4` trains the 8 members as
2 ensembles on a sweep backend and `groklab memorization ID` reads them as one atlas, equal to the same
atlas trained as one ensemble; resuming an interrupted split atlas trains only the unfinished ensemble;
the atlas survives a catalog rebuilt from the run folders.

Exactness: each member of a subset ensemble pads its training set to the largest of all K members
(``train.subsets.padded_rows``), not only of those in its own ensemble, so a split atlas trains every
member bit for bit as the one ensemble does (measured here, and on the README's 600-step, 16-member
command split as 2 × 8: identical `groklab memorization --json`). Padding to each ensemble's own
largest, as ensembles otherwise do, moved loss by up to 4.5e-8 and φ by 4.8e-7 here (float32 sums over
another padded length) and would change minibatch draws, which depend on the padded length.

On Ray each ensemble trains with single-threaded XLA, which sums in another order than this process's
threads, so there the arrays are compared with tolerances: loss and φ at rtol 1e-5, atol 1e-6 (float32
rounding); online LiRA's per-example scores, likelihood ratios of Gaussians fitted to φ over 4 IN and 4
OUT members that divide φ's differences by their small spread, at rtol 1e-3, atol 1e-4 (measured before
the padding fix, in-process: up to 5.3e-5 on scores near 1); LiRA's AUC and TPRs, counts over (member,
example) pairs, within four pairs ranked the other way (measured: two of 240 × 240). Ranks, and so
mem(i) and exposure, must agree exactly.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil

import numpy as np
import pytest

import groklab
from groklab.analysis.memorization import _per_step, load_group, report_view
from groklab.cli import main
from groklab.store import Store

pytestmark = pytest.mark.slow

FLAGS = ["--preset", "gromov2023", "--p", "11", "--d-mlp", "32", "--steps", "60", "--eval-every", "10",
         "--noise", "0.1", "--canaries", "2", "--subsets", "8"]
CFG = dict(p=11, d_mlp=32, steps=60, eval_every=10, noise=0.1, canaries=2, subsets=8)
TOL = dict(rtol=1e-5, atol=1e-6)
LIRA_TOL = dict(rtol=1e-3, atol=1e-4)     # per-example LiRA scores divide φ's differences by σ over 4 members


def cli(argv: list[str]) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def atlases(tmp_path_factory):
    """(store, train JSON) of the 8 members in one ensemble, and of the same 8 split into 2 ensembles of 4."""
    root = tmp_path_factory.mktemp("atlas")
    one = cli(["train", *FLAGS, "--json", "--quiet", "--store", str(root / "one")])
    two = cli(["train", *FLAGS, "--ensemble-size", "4", "--json", "--quiet", "--store", str(root / "two")])
    return (Store(root / "one"), one), (Store(root / "two"), two)


def assert_same_atlas(a, b, exact: bool = True) -> None:
    """Every recorded step of two atlases: inclusion, per-example arrays, mem(i), LiRA and exposure."""
    assert a.steps == b.steps and np.array_equal(a.inc, b.inc)
    assert [r["config"]["subset"] for r in a.runs] == [r["config"]["subset"] for r in b.runs] == list(range(8))
    close = np.testing.assert_array_equal if exact else (lambda x, y: np.testing.assert_allclose(x, y, **TOL))
    for s in a.steps:
        ea, eb = a.step(s), b.step(s)
        np.testing.assert_array_equal(ea["rank"], eb["rank"])
        np.testing.assert_array_equal(ea["alive"], eb["alive"])
        close(ea["loss"], eb["loss"])
        close(ea["phi"], eb["phi"])
        ra, rb = _per_step(a, ea), _per_step(b, eb)
        np.testing.assert_array_equal(ra["mem"], rb["mem"])
        np.testing.assert_array_equal(ra["exposure"], rb["exposure"])
        close(ra["mem_loss"], rb["mem_loss"])
        lira = np.testing.assert_array_equal if exact else (lambda x, y: np.testing.assert_allclose(x, y, **LIRA_TOL))
        lira(ra["attacks"]["_lira"], rb["attacks"]["_lira"])
        n_in = int((a.inc & ea["alive"].astype(bool)[:, None]).sum())
        n_out = int((~a.inc & ea["alive"].astype(bool)[:, None]).sum())
        for k, one_pair in (("auc", 1 / (n_in * n_out)), ("tpr@0.001", 1 / n_in), ("tpr@0.01", 1 / n_in)):
            # a count: two near-equal scores ranked the other way move it by one pair
            assert abs(ra["attacks"]["lira"][k] - rb["attacks"]["lira"][k]) <= (0 if exact else 4 * one_pair + 1e-12)


def test_a_split_atlas_is_one_group_equal_to_one_ensemble(atlases):
    (st1, one), (st2, two) = atlases
    assert len(one["ensembles"]) == 1 and len(two["ensembles"]) == 2
    groups = [st2.group_runs(g) for g in two["ensembles"]]
    assert [len(g) for g in groups] == [4, 4] and two["group_id"] not in two["ensembles"]
    assert [r["member"] for r in two["runs"]] == [0, 1, 2, 3, 0, 1, 2, 3]     # each ensemble's own member index
    a, b = load_group(st1, one["group_id"]), load_group(st2, two["group_id"])
    assert len(b.pieces) == 2 and len(a.steps) > 5
    assert_same_atlas(a, b)
    # a member run or one ensemble's group id names the whole atlas too
    for ref in (two["runs"][5]["run_id"], two["ensembles"][0]):
        assert load_group(st2, ref).group_id == two["group_id"]
    view = report_view(st2, st2.get_run(two["runs"][5]["run_id"]))          # the run report's section
    assert view["group_id"] == two["group_id"] and view["members"] == 8 and view["heatmap"]["side"] == 11
    assert view["summary"] == report_view(st1, st1.get_run(one["runs"][5]["run_id"]))["summary"]


def test_memorization_json_of_a_split_atlas_lists_every_pool_example(atlases):
    (st1, one), (st2, two) = atlases
    a1 = cli(["memorization", one["group_id"], "--json", "--store", str(st1.root)])
    a2 = cli(["memorization", two["group_id"], "--json", "--store", str(st2.root)])
    assert a2["group_id"] == two["group_id"] and a2["members"] == 8 and a2["ensembles"] == two["ensembles"]
    assert a2["run_ids"] == [r["run_id"] for r in two["runs"]]          # both in subset order 0..7
    assert [st2.get_run(r)["config"]["subset"] for r in a2["run_ids"]] == list(range(8))
    assert len(a2["examples"]) == a2["n_pool"] == a1["n_pool"] > 0
    assert all("mem" in e and isinstance(e["corrupted"], bool) for e in a2["examples"])
    assert sum(e["corrupted"] for e in a2["examples"]) == sum(e["corrupted"] for e in a1["examples"]) > 0
    assert all(e["n_in"] == e["n_out"] == 4 for e in a2["examples"])
    assert a2["examples"] == a1["examples"] and a2["summary"] == a1["summary"] and a2["curves"] == a1["curves"]


@pytest.mark.parametrize("extra, needle", [
    (["--ensemble-size", "0"], "ensemble-size: got 0; allowed an integer in [1, 8]"),
    (["--ensemble-size", "9"], "ensemble-size: got 9; allowed an integer in [1, 8]"),
    (["--ensemble-size", "four"], "ensemble-size: got 'four'"),
])
def test_bad_ensemble_sizes_are_one_line_errors(tmp_path, capsys, extra, needle):
    assert main(["train", *FLAGS, *extra, "--quiet", "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("groklab: error: ") and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "s" / "runs").exists()


def test_ensemble_size_needs_subsets(tmp_path, capsys):
    for extra in (["--ensemble-size", "2", "--members", "4"], ["--backend", "ray"]):
        assert main(["train", "--preset", "gromov2023", "--p", "11", *extra, "--quiet", "--store",
                     str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "only with --subsets K" in err, err


def test_ensemble_size_over_the_memory_estimate_names_the_largest_that_fits(tmp_path, capsys):
    import re

    from groklab.atlas import check_split
    from groklab.errors import ConfigError
    from groklab.train.budget import memory_limit
    from groklab.train.footprint import estimate, estimate_rows
    from groklab.train.subsets import expand_subsets

    members = expand_subsets([groklab.resolve("gromov2023", **CFG)])
    rows = estimate_rows(members[0])
    limit = (estimate(members[0], 4, rows).total + estimate(members[0], 8, rows).total) // 2   # 4 fit, 8 do not
    assert main(["train", *FLAGS, "--ensemble-size", "8", "--max-memory", str(limit), "--quiet", "--store",
                 str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("groklab: error: ensemble-size: 8 needs"), err
    best = int(re.search(r"at most ensemble-size = (\d+) fits", err).group(1))
    assert 4 <= best < 8 and not (tmp_path / "s" / "runs").exists()
    with memory_limit(limit):
        assert check_split(members, best) == best          # the largest allowed value fits the estimate
        assert check_split(members, 7) == 7                # 8 members in ensembles of at most 7 train as 4 + 4
        with pytest.raises(ConfigError, match="ensemble-size"):
            check_split(members, None)                     # the default (all 8 in one) is checked too


def test_resume_after_an_interruption_trains_only_the_unfinished_ensemble(atlases, tmp_path):
    from groklab.atlas import train_atlas

    (_, _), (st2, two) = atlases

    def stop(ev):                 # Ctrl-C in the second ensemble, at step 30
        if ev["done"] >= 4 and ev.get("step", 0) >= 30:
            raise KeyboardInterrupt

    st = Store(tmp_path / "s")
    with pytest.raises(KeyboardInterrupt):
        train_atlas(groklab.resolve("gromov2023", **CFG), ensemble_size=4, store=st, progress=stop)
    (atlas_id,) = [s["sweep_id"] for s in st.list_sweeps()]
    runs = st.list_runs()
    assert sorted(r["status"] for r in runs) == ["completed"] * 4 + ["interrupted"] * 4
    before = {r["run_id"]: (r["updated"], r["step"]) for r in runs}
    first = {r["run_id"] for r in runs if r["status"] == "completed"}
    with pytest.raises(groklab.errors.StoreError, match="4 of its 8 members trained"):
        load_group(st, atlas_id)
    res = cli(["train", "--resume", atlas_id, "--json", "--quiet", "--store", str(st.root)])
    assert res["group_id"] == atlas_id and len(res["runs"]) == 8
    after = {r["run_id"]: r for r in st.list_runs()}
    assert set(after) == set(before)                                   # no ensemble trained again
    assert all((after[r]["updated"], after[r]["step"]) == before[r] for r in first)   # the finished one untouched
    assert all(r["status"] == "completed" and r["step"] == 60 for r in after.values())
    assert_same_atlas(load_group(st2, two["group_id"]), load_group(st, atlas_id))


def test_resume_trains_an_ensemble_that_never_started_even_after_a_lost_catalog(tmp_path):
    from groklab.atlas import resume_atlas, train_atlas

    def stop(ev):                 # Ctrl-C as the first ensemble is recorded
        if ev["done"] >= 4:
            raise KeyboardInterrupt

    st = Store(tmp_path / "s")
    with pytest.raises(KeyboardInterrupt):
        train_atlas(groklab.resolve("gromov2023", **CFG), ensemble_size=4, store=st, progress=stop)
    assert len(st.list_runs()) == 4
    first = st.list_runs()[0]["run_id"]
    st.close()
    (tmp_path / "s" / "groklab.db").unlink()                         # and the catalog is lost
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["check", "--repair", "--store", str(tmp_path / "s")]) == 0
    st = Store(tmp_path / "s", create=False)
    assert st.list_sweeps() == []                                     # the rebuilt catalog has no sweeps
    res = resume_atlas(first, store=st)          # any member run names its atlas; its plan file restores it
    assert len(res.run_ids) == 8 and len({st.get_run(r)["group_id"] for r in res.run_ids}) == 2
    assert st.get_run(first)["group_id"] in res.ensembles                 # the finished ensemble adopted, not retrained
    assert len(st.list_runs()) == 8 and load_group(st, res.group_id).pool["inclusion"].shape[0] == 8


def test_a_split_atlas_survives_a_lost_catalog(atlases, tmp_path):
    (_, _), (st2, two) = atlases
    want = cli(["memorization", two["group_id"], "--json", "--store", str(st2.root)])
    root = tmp_path / "copy"
    shutil.copytree(st2.root, root)
    (root / "groklab.db").unlink()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["check", "--repair", "--store", str(root)]) == 0
    got = cli(["memorization", two["group_id"], "--json", "--store", str(root)])
    assert got["run_ids"] == want["run_ids"] and got["examples"] == want["examples"]
    assert got["summary"] == want["summary"]


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs groklab[ray]")
def test_a_split_atlas_on_ray_equals_the_local_one(atlases, tmp_path):
    (_, _), (st2, two) = atlases
    ray = cli(["train", *FLAGS, "--ensemble-size", "4", "--backend", "ray", "--json", "--quiet", "--store",
               str(tmp_path / "r")])
    assert len(ray["ensembles"]) == 2
    assert_same_atlas(load_group(st2, two["group_id"]), load_group(Store(tmp_path / "r"), ray["group_id"]), exact=False)


def test_every_ensemble_of_an_atlas_pads_to_the_largest_member_of_all(tmp_path):
    from groklab.train.loop import Trainer
    from groklab.train.subsets import expand_subsets

    members = expand_subsets([groklab.resolve("gromov2023", **CFG, batch_size=16)])   # minibatches too
    whole = Trainer(members).data.train_idx.shape[1]
    sizes = [len(t.datasets[0].train_idx) for t in (Trainer([m]) for m in members)]
    assert whole == max(sizes) and min(sizes) < whole
    assert {Trainer(members[:4]).data.train_idx.shape[1], Trainer(members[4:]).data.train_idx.shape[1]} == {whole}
    other = Trainer([groklab.resolve("gromov2023", p=11, frac=f) for f in (0.3, 0.5)])      # no subsets: as before
    assert other.data.train_idx.shape[1] == max(len(d.train_idx) for d in other.datasets)
