"""(h) a sweep end to end: one `groklab sweep FILE` (points packed into ensembles) against the same points as
separate `groklab train` processes, one after another, each timed from its start to its exit (imports, set-up,
compilation, training, evaluations and store writes included), measured in one run.

    python benchmarks/sweep_bench.py [FILE]      # or row (h) of `groklab bench` (full plan)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FILE = REPO / "examples" / "frac-wd.toml"


def _groklab() -> list[str]:
    exe = Path(sys.executable).with_name("groklab")
    return [str(exe)] if exe.is_file() else [sys.executable, "-c", "import sys; from groklab.cli import main; "
                                                                     "sys.exit(main())"]


def train_flags(config: dict) -> list[str]:
    """``groklab train`` flags that rebuild ``config`` (a point's full config dict) from the defaults."""
    from groklab.config import FIELDS

    out: list[str] = []
    for k, v in config.items():
        if k in ("preset", "name") or v == FIELDS[k].default:
            continue
        text = "none" if v is None else str(v).lower() if isinstance(v, bool) else repr(v) if isinstance(v, float) \
            else str(v)
        out += ["--" + k.replace("_", "-"), text]
    return out


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    return time.perf_counter() - t0


def sweep_speed(file: str | Path = DEFAULT_FILE) -> dict:
    """Seconds of the sweep in ``file`` as one `groklab sweep` process and as one `groklab train` process per
    point (the same configs); the ratio separate / packed."""
    from groklab.sweep.spec import load_sweep_file

    configs = load_sweep_file(file).configs
    with tempfile.TemporaryDirectory(prefix="groklab-bench-sweep-") as tmp:
        packed = _timed([*_groklab(), "sweep", str(file), "--store", f"{tmp}/packed", "--quiet"])
        separate = [_timed([*_groklab(), "train", *train_flags(c), "--store", f"{tmp}/separate", "--quiet"])
                    for c in configs]
    return {"file": str(Path(file).name), "points": len(configs), "steps": configs[0]["steps"],
            "packed_s": packed, "separate_s": sum(separate), "separate_max_s": max(separate),
            "ratio": sum(separate) / packed}


def table(res: dict) -> tuple[str, list[str], list[list[str]]]:
    return (f"(h) a {res['points']}-point sweep ({res['file']}, {res['steps']} steps each) end to end, seconds",
            ["how", "processes", "seconds", "ratio"],
            [["`groklab sweep` (packed ensembles)", "1", f"{res['packed_s']:.1f}", "1"],
             ["`groklab train` per point, one after another", str(res["points"]), f"{res['separate_s']:.1f}",
              f"{res['ratio']:.1f}"]])


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default=str(DEFAULT_FILE))
    a = ap.parse_args()
    print(json.dumps(sweep_speed(a.file), indent=1))
