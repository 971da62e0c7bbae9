"""Every user error is one line on stderr naming what is wrong (and what is allowed), exit code 2,
no traceback, and nothing written to the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from groklab.cli import main
from groklab.store import Store

TINY = ["--preset", "gromov2023", "--p", "23", "--d-mlp", "8", "--steps", "20", "--quiet"]


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.err


def assert_user_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert err.startswith("groklab: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture
def store_with_a_run(tmp_path) -> Path:
    st = Store(tmp_path / "s")
    st.create_runs([{"task": "x+y", "p": 5, "model": "mlp", "seed": 0}], code_version="t", machine="t")
    st.close()
    return tmp_path / "s"


def run_count(root: Path) -> int:
    st = Store(root, create=False)
    try:
        return st.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        st.close()


BAD_FLAGS = [
    (["--p", "1"], ["p: got 1; allowed an integer in [2, 2000]"]),
    (["--frac", "0"], ["frac:", "(0, 1)"]),
    (["--frac", "1.5"], ["frac:", "(0, 1)"]),
    (["--task", "x/y", "--p", "98"], ["p:", "prime"]),
    (["--task", "nope"], ["task:", "unknown task 'nope'", "allowed:"]),
    (["--steps", "-5"], ["steps:", "[1, 10000000]"]),
    (["--steps", "ten"], ["steps:", "integer"]),
    (["--members", "0"], ["members:", "between 1 and 4096"]),
    (["--members", "x"], ["members:"]),
    (["--lr", "nan"], ["lr:", "number"]),
    (["--lr", "-1"], ["lr:", "> 0"]),
    (["--model", "cnn"], ["model:", "one of transformer, mlp"]),
    (["--seed", "-1"], ["seed:"]),
    (["--seed", str(2**70)], ["seed:"]),
    (["--ckpt-per-decade", "10000000000"], ["ckpt_per_decade:"]),
    (["--seeds", "a-b"], ["seeds:", "0-31"]),
    (["--vary", "p=3,5"], ["vary:", "allowed:"]),
    (["--vary", "lr"], ["vary:", "FIELD=v1,v2"]),
    (["--name", "a\x00b"], ["name:", "NUL"]),
    (["--bogus", "1"], ["unrecognized arguments: --bogus"]),
    (["--p"], ["--p", "expected one argument"]),
    (["--seeds", "0-5000"], ["seeds:", "at most 4096"]),
    (["--members", "4097"], ["members:", "4096"]),
    (["--init-scale", "1e308"], ["init_scale:", "(0, 1e+06]"]),
    (["--name", "a\x1b[2Jb"], ["name:", "without control characters", "\\x1b[2J"]),
    (["--max-memory", "lots"], ["max-memory:", "such as 8G"]),
    (["--p", "2000", "--max-memory", "4G"], ["p: 2000 needs ≈", "at most p ="]),
]


@pytest.mark.parametrize("flags, needles", BAD_FLAGS, ids=[" ".join(f)[:40] for f, _ in BAD_FLAGS])
def test_bad_flag_is_one_line_and_creates_no_store(tmp_path, capsys, flags, needles):
    rc, err = run_cli(["train", "--store", str(tmp_path / "new"), *TINY, *flags], capsys)
    assert_user_error(rc, err, *needles)
    assert not (tmp_path / "new").exists()


def test_user_text_in_an_error_line_is_escaped(tmp_path, capsys):
    rc, err = run_cli(["train", "--store", str(tmp_path / "s"), "--config", str(tmp_path / "a\x1b[2J\x07.toml")],
                      capsys)
    assert_user_error(rc, err, "config: file not found", "a\\x1b[2J\\x07.toml")
    assert "\x1b" not in err and "\x07" not in err


def test_unknown_preset_names_the_allowed_ones(tmp_path, capsys):
    rc, err = run_cli(["train", "--store", str(tmp_path / "new"), "--preset", "nope"], capsys)
    assert_user_error(rc, err, "preset: unknown preset 'nope'", "gromov2023")
    assert not (tmp_path / "new").exists()


CONFIG_FILES = [
    ("foo = 1\n", ["unknown key 'foo'", "allowed:"]),
    ("p = [\n", ["not valid TOML"]),
    ("p = 'abc'\n", ["p:", "integer"]),
    ("[config]\np = 5\n", ["unknown table [config]"]),
    ("frac = 2.0\n", ["frac:"]),
    ("steps = 1.5\n", ["steps:"]),
    ("model = 3\n", ["model:"]),
    ("\udcff", ["not valid TOML"]),
]


@pytest.mark.parametrize("text, needles", CONFIG_FILES, ids=[t[:20] for t, _ in CONFIG_FILES])
def test_bad_config_file_is_one_line_and_writes_nothing(store_with_a_run, tmp_path, capsys, text, needles):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(text.encode("utf-8", "surrogateescape"))
    base = ["train", "--store", str(store_with_a_run), "--config", str(cfg), "--quiet"]
    rc, err = run_cli(base, capsys)
    assert_user_error(rc, err, *needles)
    assert run_count(store_with_a_run) == 1


@pytest.mark.parametrize("path_kind", ["missing", "directory"])
def test_config_path_that_cannot_be_read(tmp_path, capsys, path_kind):
    path = tmp_path / "c.toml"
    if path_kind == "directory":
        path.mkdir()
    rc, err = run_cli(["train", "--store", str(tmp_path / "s"), "--config", str(path)], capsys)
    assert_user_error(rc, err, "config:")
    assert not (tmp_path / "s").exists()


def test_store_path_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("x")
    for argv in (["train", *TINY], ["runs"], ["show", "r1"], ["check"], ["train", "--resume", "r1"]):
        rc, err = run_cli([*argv, "--store", str(f)], capsys)
        assert_user_error(rc, err, "not a directory")
    assert f.read_text() == "x"


def test_store_path_with_nul_or_empty(capsys):
    rc, err = run_cli(["runs", "--store", "a\x00b"], capsys)
    assert_user_error(rc, err, "NUL")
    rc, err = run_cli(["train", *TINY, "--store", ""], capsys)
    assert_user_error(rc, err, "store: empty path")


@pytest.mark.parametrize("ref", ["nope", "../x", "/etc/passwd", "r\x00", "%", "_", ""])
def test_unknown_or_hostile_run_ids(store_with_a_run, capsys, ref):
    for argv in (["show", ref], ["train", "--resume", ref]):
        rc, err = run_cli([*argv, "--store", str(store_with_a_run)], capsys)
        assert_user_error(rc, err, "run:")
    assert run_count(store_with_a_run) == 1


def test_commands_on_a_missing_store_create_nothing(tmp_path, capsys):
    for argv in (["runs"], ["show", "r1"], ["train", "--resume", "r1"], ["check", "--repair"]):
        rc, err = run_cli([*argv, "--store", str(tmp_path / "none")], capsys)
        assert_user_error(rc, err, "no store")
    assert not (tmp_path / "none").exists()


def test_resume_refuses_config_flags(store_with_a_run, capsys):
    rc, err = run_cli(["train", "--resume", "r", "--lr", "0.1", "--store", str(store_with_a_run)], capsys)
    assert_user_error(rc, err, "--lr cannot be combined with --resume")


def test_a_running_run_cannot_be_resumed_twice(store_with_a_run, capsys):
    import os
    st = Store(store_with_a_run, create=False)
    rid = st.list_runs()[0]["run_id"]
    st.conn.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (os.getpid(), rid))
    rc, err = run_cli(["train", "--resume", rid, "--store", str(store_with_a_run)], capsys)
    assert_user_error(rc, err, "still running")
    st.conn.execute("UPDATE runs SET status = 'completed' WHERE run_id = ?", (rid,))
    rc, err = run_cli(["train", "--resume", rid, "--store", str(store_with_a_run)], capsys)
    assert_user_error(rc, err, "already finished")


def test_interrupted_run_without_checkpoints_says_so(store_with_a_run, capsys):
    st = Store(store_with_a_run, create=False)
    rid = st.list_runs()[0]["run_id"]
    st.conn.execute("UPDATE runs SET status = 'interrupted', pid = NULL WHERE run_id = ?", (rid,))
    rc, err = run_cli(["train", "--resume", rid, "--store", str(store_with_a_run)], capsys)
    assert_user_error(rc, err, "no complete checkpoint")
    assert st.get_run(rid)["status"] == "interrupted"


def test_progress_line_at_step_zero_says_starting_not_nan(capsys):
    import numpy as np

    from groklab.cli.output import TrainProgress
    from groklab.train.ensemble import Evaluation

    m = {k: np.array([0.5]) for k in ("train_acc", "train_loss", "test_acc", "test_loss")}
    ev = Evaluation(0, m, np.array([True]), np.array([False]))
    pr = TrainProgress(True)
    pr({"step": 0, "steps": 100, "elapsed": 0.0, "eval": ev, "n": 1})
    pr.last = -1e9
    pr({"step": 50, "steps": 100, "elapsed": 2.0, "eval": ev, "n": 1})
    first, second = capsys.readouterr().err.strip().splitlines()
    assert "starting" in first and "nan" not in first
    assert "25 steps/s  2s left" in second
