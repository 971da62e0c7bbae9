"""The step's own matmuls (bench row "(a')"): every dot of one member's training step, timed alone in
XLA and in numpy (OpenBLAS), against the step itself.

    python benchmarks/dot_bench.py [--preset nanda2023] [--reps 5] [--json]

The dots are read from the step's jaxpr (``jax.grad`` of the training loss on the full batch), so they are
exactly the shapes the trainer multiplies, forward and backward. Each is timed as one jitted
``lax.dot_general`` (XLA's CPU kernel, in this process with groklab's XLA flags) and as one ``np.matmul`` on
operands already laid out as a batched matmul (a BLAS call takes transposed operands for free, so the
layout is not timed). The sum over the step's dots at numpy's rates bounds what any kernel path through
OpenBLAS could give the step: ``numpy_frac`` is the step's FLOPs over that time, divided by the large-matmul
ceiling of row (a). A step cannot reach a fraction of the ceiling that its own dot shapes do not reach.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _dots(jaxpr) -> list:
    """Every dot_general equation of ``jaxpr`` and of the jaxprs inside it (pjit, custom_jvp, loops)."""
    out = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            out.append(eqn)
        for v in eqn.params.values():
            for sub in (v if isinstance(v, (list, tuple)) else [v]):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    out.extend(_dots(inner))
    return out


def step_dots(trainer) -> list[dict]:
    """One member's step's dots: lhs and rhs shapes, dimension numbers and FLOPs, in jaxpr order."""
    import jax

    from groklab.train import losses

    cfg, model = trainer.cfg, trainer.model
    d = trainer.device_data()
    params, _ = trainer.init_state()
    p = jax.tree.map(lambda a: a[0], params)
    xb, yb, w = d["x_train"][0], d["y_train"][0], d["train_w"][0]

    def loss(p):
        return (losses.per_example(cfg.loss, model.apply(p, xb), yb, trainer.loss_dtype) * w).sum() / w.sum()

    rows = []
    for eqn in _dots(jax.make_jaxpr(jax.grad(loss))(p).jaxpr):
        a, b = (v.aval for v in eqn.invars)
        (ca, cb), (ba, bb) = eqn.params["dimension_numbers"]
        contract = int(np.prod([a.shape[i] for i in ca]))
        out = int(np.prod(eqn.outvars[0].aval.shape))
        rows.append({"lhs": list(a.shape), "rhs": list(b.shape), "dims": [[list(ca), list(cb)], [list(ba), list(bb)]],
                     "dtype": str(a.dtype), "flops": 2.0 * out * contract})
    return rows


def _as_matmul(a: np.ndarray, b: np.ndarray, dims) -> tuple[np.ndarray, np.ndarray]:
    """(lhs, rhs) of ``dot_general(a, b, dims)`` laid out as batched matmul operands [batch, m, k] @ [batch, k, n]."""
    (ca, cb), (ba, bb) = dims
    fa = [i for i in range(a.ndim) if i not in ca and i not in ba]
    fb = [i for i in range(b.ndim) if i not in cb and i not in bb]
    A = np.ascontiguousarray(a.transpose([*ba, *fa, *ca]))
    B = np.ascontiguousarray(b.transpose([*bb, *cb, *fb]))
    nb = int(np.prod([a.shape[i] for i in ba])) if ba else 1
    m, k = int(np.prod([a.shape[i] for i in fa])), int(np.prod([a.shape[i] for i in ca]))
    n = int(np.prod([b.shape[i] for i in fb]))
    return A.reshape(nb, m, k), B.reshape(nb, k, n)


def _best(fn, reps: int) -> float:
    fn()
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def time_dots(rows: list[dict], reps: int) -> None:
    """Add ``xla_s`` and ``numpy_s`` (best of ``reps``) to every row, in place."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    rng = np.random.default_rng(0)
    for r in rows:
        dt = np.float64 if r["dtype"] == "float64" else np.float32
        a = rng.standard_normal(r["lhs"]).astype(dt)
        b = rng.standard_normal(r["rhs"]).astype(dt)
        dims = tuple(tuple(tuple(x) for x in pair) for pair in r["dims"])
        f = jax.jit(lambda x, y, dims=dims: lax.dot_general(x, y, dims))
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        r["xla_s"] = _best(lambda f=f, ja=ja, jb=jb: f(ja, jb).block_until_ready(), reps)
        A, B = _as_matmul(a, b, dims)
        r["numpy_s"] = _best(lambda A=A, B=B: np.matmul(A, B), reps)


def dot_speed(preset: str, overrides: dict, reps: int, ceiling: float | None, step_ms: float | None = None) -> dict:
    """Row (a'): the dots of ``preset``'s step, their summed time in XLA and numpy, and what that leaves."""
    from benchmarks.bench import _trainer

    trainer = _trainer(preset, overrides)
    rows = step_dots(trainer)
    time_dots(rows, reps)
    flops = sum(r["flops"] for r in rows)
    xla_s, numpy_s = sum(r["xla_s"] for r in rows), sum(r["numpy_s"] for r in rows)
    out = {"preset": preset, "overrides": overrides, "dots": rows, "n_dots": len(rows), "gflop": flops / 1e9,
           "xla_ms": 1e3 * xla_s, "numpy_ms": 1e3 * numpy_s,
           "xla_gflops": flops / xla_s / 1e9, "numpy_gflops": flops / numpy_s / 1e9, "step_ms": step_ms}
    if ceiling:
        out["ceiling"] = ceiling
        out["xla_frac"], out["numpy_frac"] = out["xla_gflops"] / ceiling, out["numpy_gflops"] / ceiling
    if step_ms:
        out["outside_dots_ms"] = step_ms - out["xla_ms"]
    return out


def table(res: dict) -> tuple[str, list[str], list[list[str]]]:
    """The bench's table for row (a'): each dot with at least 1% of the step's FLOPs, the rest summed, the total."""
    def shape(r):
        return f"{'×'.join(map(str, r['lhs']))} · {'×'.join(map(str, r['rhs']))}"

    def line(name, flops, xla_s, numpy_s, fx="", fn=""):
        return [name, f"{flops / 1e6:.0f}", f"{flops / xla_s / 1e9:.0f}{fx}", f"{flops / numpy_s / 1e9:.0f}{fn}"]

    total = res["gflop"] * 1e9
    big = [r for r in res["dots"] if r["flops"] >= 0.01 * total]
    small = [r for r in res["dots"] if r["flops"] < 0.01 * total]
    body = [line(shape(r), r["flops"], r["xla_s"], r["numpy_s"]) for r in big]
    if small:
        body.append(line(f"{len(small)} small dots (Q/K/V and score tables)", sum(r["flops"] for r in small),
                         sum(r["xla_s"] for r in small), sum(r["numpy_s"] for r in small)))
    frac = lambda k: f" ({res[k]:.0%} of the ceiling)" if res.get(k) is not None else ""  # noqa: E731
    body.append(line(f"all {res['n_dots']} dots of one step", total, res["xla_ms"] / 1e3, res["numpy_ms"] / 1e3,
                     frac("xla_frac"), frac("numpy_frac")))
    if res.get("step_ms"):
        body.append([f"the step itself (b): {res['step_ms']:.1f} ms; its dots alone: XLA {res['xla_ms']:.1f} ms, "
                     f"numpy {res['numpy_ms']:.1f} ms", "", "", ""])
    title = f"(a') {res['preset']}: the step's own matmuls, each timed alone, GFLOP/s"
    return title, ["dot (lhs · rhs)", "MFLOP", "XLA", "numpy (OpenBLAS)"], body


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="nanda2023")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import groklab  # noqa: F401  (groklab's XLA flags before JAX starts)
    from benchmarks.bench import groklab_rate, matmul_ceiling

    ceiling = matmul_ceiling((2048, 4096), 3)["best"]
    from benchmarks.bench import _trainer
    step_ms = groklab_rate(_trainer(args.preset, {}), 20, args.reps)["step_ms"]
    res = dot_speed(args.preset, {}, args.reps, ceiling, step_ms)
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    title, head, body = table(res)
    print(title)
    print(" | ".join(head))
    for row in body:
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    sys.exit(main())
