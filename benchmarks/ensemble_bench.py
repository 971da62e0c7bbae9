"""Ensemble layouts side by side: model-steps/s of pair2023 ensembles of E members, one at a time (E = 1)
and batched, for each layout, timed interleaved in one process so that a busy machine slows every variant
alike (the best of ``--reps`` chunks each, after a compiling one).

    python benchmarks/ensemble_bench.py [--sizes 1,64] [--variants vmap,groups,table] [--reps 6] [--chunk 2000]
                                        [--baseline vmap] [--group-bytes 1,2,4,8] [--json]

Variants: ``vmap`` (all members one batch), ``groups`` (members a few at a time, ``layout = "groups"``),
``auto`` (the default layout), ``table`` / ``table-vmap`` (``embed_table = true`` with the auto / vmap layout).
Ratios are against E = 1 of the same variant ("batching") and against E = 1 of the baseline variant ("ratio").
``groklab bench`` row (c) calls ``measure`` with the default layout and ``embed_table``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VARIANTS = {"vmap": {"layout": "vmap"}, "groups": {"layout": "groups"}, "auto": {},
            "table": {"embed_table": True}, "table-vmap": {"embed_table": True, "layout": "vmap"}}


def measure(sizes, variants: dict[str, tuple[str, dict]], chunk: int = 2000, reps: int = 6,
            baseline: str | None = None) -> dict[str, list[dict]]:
    """Per variant (name -> (preset, overrides), or (preset, overrides, GROUP_BYTES) to size member groups by
    another budget), one row per E: model-steps/s (the best of ``reps`` timed chunks of about ``chunk``
    model-steps, max(1, chunk // E) steps, after a compiling one; all (E, variant) pairs timed in turn, rep by
    rep), the member group size and two ratios: ``batching`` against E = 1 of the same variant and ``ratio``
    against E = 1 of ``baseline`` (default: the first variant), "one at a time"."""
    import jax
    import jax.numpy as jnp

    from benchmarks.bench import _trainer
    from groklab.train import ensemble

    sizes = sorted(set(sizes) | {1})
    runs = {}
    default_bytes = ensemble.GROUP_BYTES
    for v, (preset, overrides, *group_bytes) in variants.items():
        for E in sizes:
            ensemble.GROUP_BYTES = group_bytes[0] if group_bytes else default_bytes   # read when a Trainer is built
            t = _trainer(preset, overrides, seeds=range(E))
            ensemble.GROUP_BYTES = default_bytes
            d, n = t.device_data(), max(1, chunk // E)
            state = t.run_steps(*t.init_state(), d, jnp.int32(0), jnp.int32(n))
            jax.block_until_ready(state)
            runs[(v, E)] = {"trainer": t, "data": d, "state": state, "n": n, "best": float("inf")}
    for r in range(reps):
        for run in runs.values():
            n = run["n"]
            t0 = time.perf_counter()
            run["state"] = run["trainer"].run_steps(*run["state"], run["data"], jnp.int32(n * (r + 1)), jnp.int32(n))
            jax.block_until_ready(run["state"])
            run["best"] = min(run["best"], (time.perf_counter() - t0) / n)
    rate = {k: k[1] / run["best"] for k, run in runs.items()}
    base = rate[(baseline or next(iter(variants)), 1)]
    out: dict[str, list[dict]] = {}
    for (v, E), run in runs.items():
        t = run["trainer"]
        flops_step = t.model.flops_per_example * t.datasets[0].n_train * 3      # one model's step
        out.setdefault(v, []).append({
            "E": E, "group": t.group, "model_steps_s": rate[(v, E)], "one_at_a_time_steps_s": base,
            "ratio": rate[(v, E)] / base, "batching": rate[(v, E)] / rate[(v, 1)],
            "gflops": flops_step * rate[(v, E)] / 1e9, "single_gflops": flops_step * rate[(v, 1)] / 1e9})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,64")
    ap.add_argument("--variants", default="vmap,groups,table")
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--chunk", type=int, default=2000, help="model-steps per timed chunk")
    ap.add_argument("--baseline", default=None, help="the variant whose E = 1 is 'one at a time' (default: the first)")
    ap.add_argument("--group-bytes", default="", help="also layout groups at these GROUP_BYTES, MiB (e.g. 1,2,4,8)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    import groklab  # noqa: F401  (groklab's XLA flags before JAX starts)

    chosen = {v: ("pair2023", VARIANTS[v]) for v in a.variants.split(",")}
    for mb in a.group_bytes.split(",") if a.group_bytes else []:
        chosen[f"groups@{mb}MB"] = ("pair2023", VARIANTS["groups"], float(mb) * 2 ** 20)
    res = measure([int(x) for x in a.sizes.split(",")], chosen, a.chunk, a.reps, baseline=a.baseline)
    load = os.getloadavg()
    if a.json:
        print(json.dumps({"load": load, "rows": res}, indent=1))
        return 0
    base = a.baseline or a.variants.split(",")[0]
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; ratio: against E = 1 {base}")
    print(f"{'variant':13s} {'E':>4s} {'group':>5s} {'model-steps/s':>13s} {'batching':>8s} {'ratio':>6s}")
    for v, rows in res.items():
        for r in rows:
            print(f"{v:13s} {r['E']:4d} {r['group']:5d} {r['model_steps_s']:13.0f} {r['batching']:8.2f} "
                  f"{r['ratio']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
