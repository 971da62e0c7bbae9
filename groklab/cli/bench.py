"""`groklab bench`: the speed benchmark of ``benchmarks/bench.py``, run from the source checkout."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from groklab.cli.output import print_json
from groklab.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def load() -> ModuleType:
    """Import ``benchmarks.bench`` from the checkout groklab runs from (the benchmark is not packaged)."""
    if not (REPO / "benchmarks" / "bench.py").is_file():
        raise ConfigError(f"bench: the benchmark lives in a source checkout's benchmarks/ folder, "
                          f"not found under {REPO}; install groklab editable from a clone to run it")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module("benchmarks.bench")


def cmd_bench(args) -> int:

    bench = load()
    plan = bench.Plan.quick_plan() if args.quick else bench.Plan.full()
    plan = plan.on_device(args.device) if args.device else plan
    res = bench.run(plan, Path(args.out) if args.out else None)
    if args.json:
        print_json(res)
    else:
        print(bench.text(res))
        print(f"\nwritten: {res['files']['json']}, {res['files']['markdown']}")
    return 0


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "bench", parents=[common], help="measure training speed against the matmul ceiling and a PyTorch loop",
        description="Measure, in one run: the machine's float32 matmul ceiling (numpy, JAX, PyTorch); steps/s of "
                    "nanda2023 and pair2023 against a plain PyTorch loop; ensembles of E = 1..128 MLPs against "
                    "running them one at a time; the fraction of the ceiling reached; time to 99%% test accuracy "
                    "of nanda2023 and nanda2023-fast with a cold and a warm compilation cache. Writes "
                    "benchmarks/results/<date>-<host>.json and latest.md. Takes about 15 minutes (--quick: 2).")
    p.add_argument("--quick", action="store_true",
                   help="fewer repetitions and sizes; skips nanda2023's run to 99%% (results suffixed -quick)")
    p.add_argument("--out", metavar="DIR", default=None, help="results folder (default benchmarks/results)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="train every benchmarked model there (default: each config's auto); see benchmarks/device.sh")
    p.set_defaults(func=cmd_bench)
