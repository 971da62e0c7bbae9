"""The memorization atlas's cost (bench row "(f)"): a K-member subset ensemble trained as one batched
program with every per-example measure recorded at each checkpoint (``groklab.train.examples``), against
K runs one at a time, estimated as K × one member's run measured in the same process (Feldman & Zhang
2020 and Carlini et al. 2022 train their subset models one by one).

    python benchmarks/atlas_bench.py [--members 64] [--preset nanda2023-fast] [--steps N] [--frac F]
        [--canaries C] [--layout vmap,groups] [--pieces] [--json]

Both sides do the same work per member: the member's training, its evaluations, and the per-example
loss, φ and rank of every table row at every checkpoint, written as safetensors to a temporary folder
(the store's format). Compilation is timed apart (the first call of each program), and so is the per-example
scoring ("per-example") from the rest of training ("train": steps, evaluations, checkpoint copies); "total"
adds them and the setup. ``--layout vmap,groups`` times the ensemble in each member layout (train/ensemble.py)
one after the other, beside the same one-member run; ``--pieces`` times a step, an evaluation and a checkpoint's
scoring of the ensemble in each layout instead (``piece_costs``), from which a longer run's time follows.
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
    """Train ``cfgs`` as one ensemble, recording per-example measures into ``out``; timings in seconds ("train":
    the steps, evaluations and checkpoint copies; "record": the per-example scoring and its writes, apart)."""
    import jax
    import jax.numpy as jnp

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
    t = time.perf_counter()                        # the scoring program's compilation, on zero parameters
    zeros = {k: jnp.zeros(v.shape, v.dtype) for k, v in trainer.opt_template()[2].items()}
    jax.block_until_ready(rec.fn(jax.device_put(zeros, trainer.device), rec.x, rec.y))
    compile_record = time.perf_counter() - t

    def on_checkpoint(step, params, opt):
        t = time.perf_counter()
        rec(step, params, list(range(len(cfgs))))
        record["s"] += time.perf_counter() - t
        record["n"] += 1

    res = trainer.fit(on_checkpoint=on_checkpoint)
    return {"setup_s": setup, "compile_s": res["compile_s"] + compile_record, "train_s": res["train_s"] - record["s"],
            "record_s": record["s"], "checkpoints": record["n"], "evaluations": len(trainer.schedule),
            "layout": cfgs[0].layout, "group": trainer.group, "eval_group": trainer.eval_group,
            "total_s": time.perf_counter() - t0}


def atlas_speed(members: int = 64, preset: str = "nanda2023-fast", overrides: dict | None = None,
                layouts: tuple[str, ...] = ()) -> dict:
    """The row: one member alone (× K: one at a time) and the K-member ensemble, in this process; with
    ``layouts``, the ensemble once in each (``Config.layout``), the first of them the row's "ensemble"."""
    from groklab.config import resolve
    from groklab.train.subsets import expand_subsets

    cfg = resolve(preset, **{**(overrides or {}), "subsets": members})
    cfgs = expand_subsets([cfg])
    with tempfile.TemporaryDirectory() as tmp:
        one = _timed_fit([cfgs[0]], Path(tmp) / "one")
        runs = {lay: _timed_fit([c.replace(layout=lay) for c in cfgs], Path(tmp) / f"ensemble-{lay}")
                for lay in layouts or (cfg.layout,)}
    ens = next(iter(runs.values()))
    seq_train = members * (one["train_s"] + one["record_s"])
    seq_total = members * one["total_s"]
    row = {"preset": preset, "overrides": overrides or {}, "members": members, "steps": cfg.steps,
           "one": one, "ensemble": ens, "one_at_a_time_train_s": seq_train, "one_at_a_time_total_s": seq_total,
           "speedup_train": seq_train / (ens["train_s"] + ens["record_s"]),
           "speedup_total": seq_total / ens["total_s"]}
    if layouts:
        row["layouts"] = {lay: {**r, "speedup_train": seq_train / (r["train_s"] + r["record_s"]),
                                "speedup_total": seq_total / r["total_s"]} for lay, r in runs.items()}
    return row


def _best(f, reps: int, n: int = 1) -> float:
    """The fastest of ``reps`` calls of ``f`` (waited on), divided by ``n``."""
    import jax

    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(f())
        times.append((time.perf_counter() - t) / n)
    return min(times)


def _pieces(tr, steps: int, reps: int) -> dict:
    """One trainer's step, evaluation and per-example scoring, after their compilation."""
    import jax
    import jax.numpy as jnp

    from groklab.train.examples import per_example_program, pool_facts

    d, (params, opt) = tr.device_data(), tr.init_state()
    score = per_example_program(tr)
    x = jax.device_put(jnp.asarray(tr.data.x), tr.device)
    y = jax.device_put(jnp.asarray(pool_facts(tr.cfgs, [s.train_idx for s in tr.datasets])[0]["y"]), tr.device)
    state = {"p": tr.run_steps(params, opt, d, jnp.int32(0), jnp.int32(0))}   # compiles each program once
    jax.block_until_ready((tr.evaluate(state["p"][0], d), score(state["p"][0], x, y)))

    def step():
        state["p"] = tr.run_steps(*state["p"], d, jnp.int32(0), jnp.int32(steps))
        return state["p"]
    res = {"group": tr.group, "eval_group": tr.eval_group, "step_s": _best(step, reps, steps),
           "eval_s": _best(lambda: tr.evaluate(state["p"][0], d), reps),
           "score_s": _best(lambda: score(state["p"][0], x, y), reps),
           "member_step_gflop": 3 * tr.model.flops_per_example * tr.data.train_idx.shape[1] / 1e9}
    res["gflops"] = tr.E * res["member_step_gflop"] / res["step_s"]
    return res


def piece_costs(members: int = 64, preset: str = "nanda2023-fast", overrides: dict | None = None,
                layouts: tuple[str, ...] = ("vmap", "groups"), steps: int = 2, reps: int = 2) -> dict:
    """Seconds of each piece of the K-member ensemble's run, per layout, after compilation: one step (the mean
    over ``steps`` steps, the best of ``reps``), one evaluation and one checkpoint's per-example scoring (the
    best of ``reps``, without the write); what a run's time is made of, to extrapolate it to more steps."""
    from groklab.config import resolve
    from groklab.train.loop import Trainer
    from groklab.train.subsets import expand_subsets

    cfgs = expand_subsets([resolve(preset, **{**(overrides or {}), "subsets": members})])
    return {lay: _pieces(Trainer([c.replace(layout=lay) for c in cfgs]), steps, reps) for lay in layouts}


def table(row: dict) -> tuple[str, list[str], list[list[str]]]:
    """(title, header, rows) in bench.py's table format; one ensemble row per layout timed."""
    def f(v):
        return f"{v:.1f}"
    e, o = row["ensemble"], row["one"]
    k = row["members"]
    ens = row.get("layouts") or {"": {**e, **{x: row[x] for x in ("speedup_train", "speedup_total")}}}
    out = [[f"one member ({o['checkpoints']} checkpoints)", f(o["compile_s"]), f(o["train_s"]), f(o["record_s"]),
            f(o["total_s"]), ""],
           [f"{k} one at a time (× {k})", f(k * o["compile_s"]), f(k * o["train_s"]), f(k * o["record_s"]),
            f(row["one_at_a_time_total_s"]), ""]]
    for lay, r in ens.items():
        name = f"{k} as one ensemble" + (f", {lay} (groups of {r['group']}; scoring {r['eval_group']})" if lay else "")
        out.append([name, f(r["compile_s"]), f(r["train_s"]), f(r["record_s"]), f(r["total_s"]),
                    f"{r['speedup_train']:.1f}× / {r['speedup_total']:.1f}×"])
    return (f"(f) memorization atlas: {k}-member subset ensemble of {row['preset']} ({row['steps']} steps), "
            "every per-example measure at each checkpoint, seconds",
            ["run", "compile", "train", "per-example", "total", "speed-up (train / total)"], out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="atlas_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=64)
    ap.add_argument("--preset", default="nanda2023-fast")
    ap.add_argument("--steps", type=int, default=None, help="override the preset's steps (a shorter check)")
    ap.add_argument("--device", default=None, help="auto, cpu or cuda")
    ap.add_argument("--frac", type=float, default=None, help="override the pool's fraction of the table (a member "
                    "trains on about half of it)")
    ap.add_argument("--canaries", type=int, default=None, help="override the canaries planted in the pool")
    ap.add_argument("--layout", default=None, help="ensemble layouts to time one after another, comma-separated "
                    "(auto, vmap, groups; default: the preset's)")
    ap.add_argument("--pieces", action="store_true", help="time one step, one evaluation and one scoring of the "
                    "ensemble in each --layout (default vmap,groups) instead of the row")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    ov = {k: v for k, v in (("steps", args.steps), ("device", args.device), ("frac", args.frac),
                            ("canaries", args.canaries)) if v is not None}
    layouts = tuple(args.layout.split(",")) if args.layout else ()
    if args.pieces:
        pieces = piece_costs(args.members, args.preset, ov, layouts or ("vmap", "groups"))
        print(json.dumps(pieces) if args.json else "\n".join(
            f"{lay} (groups of {r['group']}; scoring {r['eval_group']}): step {r['step_s']:.2f} s "
            f"({r['gflops']:.0f} GFLOP/s), evaluation {r['eval_s']:.2f} s, scoring {r['score_s']:.2f} s"
            for lay, r in pieces.items()))
        return 0
    row = atlas_speed(args.members, args.preset, ov, layouts)
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
