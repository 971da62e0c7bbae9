"""The memorization atlas's cost (bench row "(f)"): a K-member subset ensemble trained as one batched
program with every per-example measure recorded at each checkpoint (``groklab.train.examples``), against
K runs one at a time, estimated as K × one member's run measured in the same process (Feldman & Zhang
2020 and Carlini et al. 2022 train their subset models one by one).

    python benchmarks/atlas_bench.py [--members 64] [--preset nanda2023-fast] [--steps N] [--json]

Both sides do the same work per member: the member's training, its evaluations, and the per-example
loss, φ and rank of every table row at every checkpoint, written as safetensors to a temporary folder
(the store's format). Compilation is timed apart (the first call of each program); "total" adds it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _timed_fit(cfgs: list, out: Path) -> dict:
    """Train ``cfgs`` as one ensemble, recording per-example measures into ``out``; timings in seconds."""
    from groklab.store.files import write_tensors
    from groklab.train.examples import Recorder
    from groklab.train.loop import Trainer

    t0 = time.perf_counter()
    trainer = Trainer(cfgs)
    setup = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    record = {"s": 0.0, "n": 0}

    def save(step, tensors, meta):
        write_tensors(out / f"{'pool' if step is None else f'{step:09d}'}.safetensors", tensors,
                      {k: str(v) for k, v in meta.items()})

    rec = Recorder(trainer, save)

    def on_checkpoint(step, params, opt):
        t = time.perf_counter()
        rec(step, params, list(range(len(cfgs))))
        record["s"] += time.perf_counter() - t
        record["n"] += 1

    res = trainer.fit(on_checkpoint=on_checkpoint)
    return {"setup_s": setup, "compile_s": res["compile_s"], "train_s": res["train_s"], "record_s": record["s"],
            "checkpoints": record["n"], "total_s": time.perf_counter() - t0}


def atlas_speed(members: int = 64, preset: str = "nanda2023-fast", overrides: dict | None = None) -> dict:
    """The row: one member alone (× K: one at a time) and the K-member ensemble, in this process."""
    from groklab.config import resolve
    from groklab.train.subsets import expand_subsets

    cfg = resolve(preset, **{**(overrides or {}), "subsets": members})
    cfgs = expand_subsets([cfg])
    with tempfile.TemporaryDirectory() as tmp:
        one = _timed_fit([cfgs[0]], Path(tmp) / "one")
        ens = _timed_fit(cfgs, Path(tmp) / "ensemble")
    seq_train = members * (one["train_s"] + one["record_s"])
    seq_total = members * one["total_s"]
    return {"preset": preset, "overrides": overrides or {}, "members": members, "steps": cfg.steps,
            "one": one, "ensemble": ens, "one_at_a_time_train_s": seq_train, "one_at_a_time_total_s": seq_total,
            "speedup_train": seq_train / (ens["train_s"] + ens["record_s"]),
            "speedup_total": seq_total / ens["total_s"]}


def table(row: dict) -> tuple[str, list[str], list[list[str]]]:
    """(title, header, rows) in bench.py's table format."""
    def f(v):
        return f"{v:.1f}"
    e, o = row["ensemble"], row["one"]
    k = row["members"]
    return (f"(f) memorization atlas: {k}-member subset ensemble of {row['preset']} ({row['steps']} steps), "
            "every per-example measure at each checkpoint, seconds",
            ["run", "compile", "train", "per-example", "total", "speed-up (train / total)"],
            [[f"one member ({o['checkpoints']} checkpoints)", f(o["compile_s"]), f(o["train_s"]), f(o["record_s"]),
              f(o["total_s"]), ""],
             [f"{k} one at a time (× {k})", f(k * o["compile_s"]), f(k * o["train_s"]), f(k * o["record_s"]),
              f(row["one_at_a_time_total_s"]), ""],
             [f"{k} as one ensemble", f(e["compile_s"]), f(e["train_s"]), f(e["record_s"]), f(e["total_s"]),
              f"{row['speedup_train']:.1f}× / {row['speedup_total']:.1f}×"]])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="atlas_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=64)
    ap.add_argument("--preset", default="nanda2023-fast")
    ap.add_argument("--steps", type=int, default=None, help="override the preset's steps (a shorter check)")
    ap.add_argument("--device", default=None, help="auto, cpu or cuda")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    ov = {k: v for k, v in (("steps", args.steps), ("device", args.device)) if v is not None}
    row = atlas_speed(args.members, args.preset, ov)
    if args.json:
        print(json.dumps(row))
    else:
        title, header, rows = table(row)
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        print(title)
        for r in [header, *rows]:
            print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
