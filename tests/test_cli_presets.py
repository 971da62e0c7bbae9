"""`groklab presets`: one line per preset; --long adds the source and the measured evidence; --json keeps it all."""

from __future__ import annotations

import json

from groklab.cli import main
from groklab.presets import PRESETS


def test_presets_prints_one_line_per_preset_that_fits_a_wide_terminal(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == list(PRESETS)
    assert all(len(ln) <= 120 for ln in lines)


def test_presets_long_shows_each_presets_source_and_evidence(capsys):
    assert main(["presets", "--long"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for v in PRESETS.values():
        assert " ".join(v["note"].split()) in out and " ".join(v["cite"].split()) in out


def test_presets_json_holds_every_field_of_every_preset(capsys):
    assert main(["presets", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["presets"]
    assert list(got) == list(PRESETS)
    assert all({"cite", "description", "note", "values"} <= set(v) for v in got.values())
