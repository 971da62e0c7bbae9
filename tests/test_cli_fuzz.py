"""Property: whatever flags and config files a user throws at the CLI, it answers with exit 0 or 2
and never a traceback (training itself is stubbed: this fuzzes the parser and config layers)."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from dataclasses import fields
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groklab import api
from groklab.cli import main
from groklab.config import Config, invalid_values
from groklab.store import Store
from groklab.train.ensemble import Stacked

FIELD_NAMES = [f.name for f in fields(Config) if f.name != "preset"]
SPECIAL = ["none", "null", "", "true", "false", "yes", "0", "-0", "1", "-1", "2", "97", "113", "1e309", "-1e309", "nan",
           "inf", "1_000", "0x10", "1.5", "1e-300", "99999999999999999999999", "x/y", "x+y", "expr:x^2+y",
           "expr:__import__('os')", "expr:((((x", "parity", "digits", "perm-compose", "mlp", "transformer", "ema",
           "ma", "mse", "stablemax", "float64", "cpu", "cuda", "../..", "/etc/passwd", "a\x00b", "é", "0-3", "3,1"]

flag_value = st.one_of(st.sampled_from(SPECIAL), st.integers(-10**25, 10**25).map(str),
                       st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=12))
field_flag = st.tuples(st.sampled_from(FIELD_NAMES).map(lambda n: "--" + n.replace("_", "-")), flag_value)
other_flag = st.one_of(
    st.tuples(st.sampled_from(["--seeds", "--members", "--vary", "--preset"]), flag_value),
    st.tuples(st.just("--vary"), st.tuples(st.sampled_from(FIELD_NAMES + ["bogus"]), flag_value)
              .map(lambda kv: f"{kv[0]}={kv[1]}")),
    st.tuples(st.sampled_from(["--preset"]), st.sampled_from(["gromov2023", "nanda2023", "pair2023-parity",
                                                                "omnigrok-digits", "demo", "nope"])),
    st.tuples(st.sampled_from(["--bogus", "-x", "--", "--json"]), st.sampled_from(["1", ""])),
)
toml_value = st.recursive(
    st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
              st.text(max_size=10), st.sampled_from(SPECIAL)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=2),
    max_leaves=4)
toml_doc = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)), toml_value, max_size=6)
    .map(lambda d: tomli_w.dumps(d).encode()),
    st.binary(max_size=60),
    st.text(max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


def stub_train(configs, *, store=None, progress=None, sweep_id=None):
    """Stands in for training: the configs arrive validated; nothing is written."""
    cfgs = api._as_configs(configs)
    assert all(isinstance(c, Config) for c in cfgs)
    summaries = [api.summarize(c, f"r000000-{i:06x}", {"step": []}, "completed", 0.0) for i, c in enumerate(cfgs)]
    return api.TrainResult(group_id="g-fuzz", run_ids=[s["run_id"] for s in summaries], summaries=summaries,
                           stacked=Stacked({}))


def no_training(*args, **kwargs):
    raise AssertionError("a read command started training")


def call(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, err.getvalue()


def assert_clean(rc: int, err: str) -> None:
    assert rc in (0, 2), err
    assert "Traceback" not in err and "internal error" not in err, err
    if rc == 2:
        assert err.startswith("groklab: error: ") and err.count("\n") == 1, err


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as d:
        st = Store(Path(d) / "s")
        st.create_runs([{"task": "x+y", "p": 5, "model": "mlp", "seed": 0}], code_version="t", machine="t")
        st.close()
        yield Path(d)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=st.lists(st.one_of(field_flag, other_flag), max_size=6), doc=st.none() | toml_doc)
def test_random_train_flags_and_config_files_never_crash(workdir, flags, doc):
    argv = ["train", "--store", str(workdir / "fresh"), "--json", "--quiet"]
    if doc is not None:
        (workdir / "c.toml").write_bytes(doc)
        argv += ["--config", str(workdir / "c.toml")]
    for flag, value in flags:
        argv += [flag, value] if value != "" or flag.startswith("--") else [flag]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "train", stub_train)
        rc, err = call(argv)
    assert_clean(rc, err)
    if rc == 2:
        assert not (workdir / "fresh").exists()    # a user error writes nothing
    shutil.rmtree(workdir / "fresh", ignore_errors=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmd=st.sampled_from([["runs", "--limit"], ["show"], ["train", "--resume"], ["check", "--json", "--store"],
                            ["runs", "--store"]]),
       value=flag_value)
def test_random_read_commands_never_crash(workdir, cmd, value):
    argv = [*cmd, value]
    if "--store" not in cmd:
        argv += ["--store", str(workdir / "s")]
    before = sorted(p.name for p in workdir.iterdir())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "train", no_training)
        rc, err = call(argv)
    if cmd[0] == "check" and rc == 1:      # an existing store with problems: a report, not an error
        rc = 0
    assert_clean(rc, err)
    assert sorted(p.name for p in workdir.iterdir()) == before


BAD_VALUES = [(n, v) for n in FIELD_NAMES for v in invalid_values(n)]


@pytest.mark.parametrize("name, value", BAD_VALUES, ids=[f"{n}={str(v)[:12]!r}" for n, v in BAD_VALUES])
def test_every_field_rejects_its_declared_bad_values(workdir, name, value):
    """Every field's bad values (from its declaration) exit 2 with one line naming the field; nothing written."""
    flag = "--" + name.replace("_", "-")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "train", stub_train)
        rc, err = call(["train", "--store", str(workdir / "fresh"), "--quiet", f"{flag}={value}"])
    assert rc == 2, err
    assert_clean(rc, err)
    assert err.startswith(f"groklab: error: {name}: "), err
    assert not (workdir / "fresh").exists()
