"""groklab's speed benchmark (issue "Speed"): every number measured in one run, baselines included.

    groklab bench [--quick] [--json] [--out DIR]        # or: python benchmarks/bench.py ...

(a) ceiling   float32 GFLOP/s of large matmuls with numpy (OpenBLAS), JAX/XLA and PyTorch.
(a') dots     every dot of one nanda2023 step (read from its jaxpr), each timed alone in XLA and in numpy:
              what the step's own shapes allow, beside (a)'s large-matmul ceiling (``dot_bench.py``).
(b) steps     full-batch steps/s of nanda2023, pair2023 and a wide embedding MLP as groklab trains
              them (the jitted loop ``Trainer.run_steps`` on chunks of steps, after compile) against the
              plain PyTorch loop of ``torch_reference.py``, one model at a time.
(c) ensemble  model-steps/s of E pair2023 MLPs trained as one batched program, against E times
              the single model's time (running them one after another), with the most any batching
              could give on this machine: the ceiling over one model's achieved GFLOP/s; every E timed
              in turn (``ensemble_bench.py``), also with ``embed_table`` (the first layer as a gather).
(d) ceiling   groklab's achieved GFLOP/s (flops_per_example × examples × 3 for forward and
    fraction  backward / time) as a fraction of (a)'s best.
(e) time to   steps, seconds and FLOPs to 99% test accuracy of nanda2023 and nanda2023-fast, each
    99%       stopped by ``until = "generalized:1"`` in a fresh process with a fresh compilation cache
              (cold) and again with the same one (warm); compile time shown apart. nanda2023
              (minutes) trains once, cold; its warm row ("warm*") is a fresh process's set-up and
              compilation with the warm cache plus that run's training time.
(g) sequence  tokens/s of the sequence model secret-sharer trains (``lm_bench.py``) against a plain
    model     PyTorch loop of the same model started from the same parameters, minibatch AdamW.
(h) sweep     a 64-point sweep (examples/frac-wd.toml) end to end: one `groklab sweep` against one
              `groklab train` process per point (``sweep_bench.py``; full plan only).

Timings are the best of a few repetitions (the least disturbed by other processes); results go to
``results/<date>-<HHMM>-<host>.json`` and ``results/latest.md`` (``-quick`` suffixed in --quick mode, so a
quick check never overwrites a full run). The published numbers these targets come from are in
../shared/REFERENCES.md ("Measured on a 2-core machine like ours").
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent

# (b)/(d)'s models: preset and overrides. "mlp-wide" is REFERENCES.md's embedding MLP (128-d embeddings,
# 512 hidden) on nanda2023's task: a pair2023-style model large enough to be compute-bound.
STEP_MODELS: dict[str, tuple[str, dict]] = {
    "nanda2023": ("nanda2023", {}),
    "pair2023": ("pair2023", {}),
    "mlp-wide": ("pair2023", dict(p=113, symmetric=False, frac=0.3, d_embed=128, d_mlp=512)),
    # the same model with the opt-in first layer as a gather from per-operand tables W_E·W_in (``embed_table``,
    # the layout issue "Speed" names; other rounding than the matmul); PyTorch's loop computes the matmul
    "mlp-wide-table": ("pair2023", dict(p=113, symmetric=False, frac=0.3, d_embed=128, d_mlp=512, embed_table=True)),
}

# (f) issue 17's row: 64 members of nanda2023-fast on a 60% pool (each trains on ~30% of the table, as the recipe
# does), 16 canaries, the 250 steps memorization-phases gives its atlases
ATLAS_ROW = (64, "nanda2023-fast", {"frac": 0.6, "canaries": 16, "steps": 250})

TARGETS = {  # name -> (what is compared, target, "≥" or "≤")
    "step_vs_torch": ("nanda2023 steps/s, groklab / PyTorch reference loop", 5.0, "≥"),
    "ceiling_frac": ("nanda2023 achieved GFLOP/s / numpy matmul ceiling (same run)", 0.75, "≥"),
    "mlp_wide_vs_torch": ("mlp-wide steps/s, groklab (embed_table first layer) / PyTorch reference loop", 1.3, "≥"),
    "ensemble_e64": ("E=64 pair2023 ensemble / one at a time, model-steps/s", 1.3, "≥"),
    "sweep_packed": ("64-point sweep end to end, separate `groklab train` processes / `groklab sweep`", 5.0, "≥"),
    "fast_ttg_s": ("nanda2023-fast seconds to 99% test accuracy (warm, whole process)", 3.0, "≤"),
    "fast_ttg_tflop": ("nanda2023-fast training TFLOP to 99% test accuracy", 0.3, "≤"),
    "fast_vs_slow": ("nanda2023 / nanda2023-fast time to 99% test accuracy (warm)", 100.0, "≥"),
    "atlas64_s": ("64-member nanda2023-fast subset atlas with every per-example measure, seconds (row f)", 600.0, "≤"),
}


@dataclass
class Plan:
    """What one run measures and how long it takes (``full()``, ``quick()``; tests build tiny ones)."""

    matmul_sizes: tuple[int, ...] = (2048, 4096)
    matmul_reps: int = 5
    step_models: dict[str, tuple[str, dict]] = field(default_factory=lambda: dict(STEP_MODELS))
    chunk: int = 100                       # groklab steps per timed `_run` call
    reps: int = 5                          # timed chunks (groklab) / timed loops (PyTorch) per model
    torch_steps: int = 30                  # PyTorch steps per timed loop
    ensemble_preset: tuple[str, dict] = ("pair2023", {})
    ensemble_sizes: tuple[int, ...] = (1, 8, 32, 64, 128)
    ensemble_chunk: int = 2000             # model-steps per timed chunk (max(1, chunk // E) steps of E members)
    ensemble_reps: int = 3
    ensemble_table: bool = True            # (c) also with embed_table (the per-vocabulary first layer)
    ttg: dict[str, tuple[str, dict]] = field(default_factory=lambda: {
        "nanda2023": ("nanda2023", {}), "nanda2023-fast": ("nanda2023-fast", {})})
    ttg_skip: tuple[str, ...] = ()         # ttg entries marked skipped (too long for this mode)
    ttg_until: str = "generalized:1"       # the stop rule of every ttg run: the first evaluation at 99%
    # ttg entries trained once (cold cache); their warm row times a fresh process's set-up and compilation
    # with the warm cache and adds the cold run's training time (the loop does not depend on the cache)
    ttg_train_once: tuple[str, ...] = ("nanda2023",)
    # (d'): the first step model timed again in a child process started with XLA's own CPU defaults
    # (GROKLAB_XLA_DEFAULTS=0), against this process (groklab's XLA_FLAGS)
    xla_compare: bool = True
    # (f) the memorization atlas (atlas_bench.py): (members, preset, overrides) of a subset ensemble with every
    # per-example measure, against that many runs one at a time (one member's run × K); None: not measured.
    # The full plan measures ATLAS_ROW (~13 min on 2 cores)
    atlas: tuple[int, str, dict] | None = None
    # (g) the sequence model (lm_bench.py): overrides of secret-sharer's recipe, tokens/s against a plain PyTorch
    # loop of the same model; None: not measured
    lm: dict | None = field(default_factory=dict)
    # (h) a sweep file trained end to end packed and as separate processes (sweep_bench.py); None: not measured
    sweep_file: str | None = str(REPO / "examples" / "frac-wd.toml")
    # (a') the dots of this step model's step, each timed alone in XLA and numpy (dot_bench.py); None: not measured
    dots: str | None = "nanda2023"
    device: str | None = None             # set by ``on_device``: where every model trains (None: the config's auto)
    quick: bool = False

    @classmethod
    def full(cls) -> Plan:
        return cls(atlas=ATLAS_ROW)

    def on_device(self, device: str) -> Plan:
        """This plan with every model trained on ``device`` (the config field: cpu, cuda); XLA's CPU flags
        are not compared off the CPU. The matmul ceiling's JAX row runs on JAX's default device."""
        put = lambda entry: (entry[0], {**entry[1], "device": device})  # noqa: E731
        return dataclasses.replace(
            self, step_models={k: put(v) for k, v in self.step_models.items()},
            ensemble_preset=put(self.ensemble_preset), ttg={k: put(v) for k, v in self.ttg.items()},
            xla_compare=self.xla_compare and device == "cpu",
            lm=None if self.lm is None else {**self.lm, "device": device},
            atlas=None if self.atlas is None else (self.atlas[0], self.atlas[1], {**self.atlas[2], "device": device}),
            device=device)

    @classmethod
    def quick_plan(cls) -> Plan:
        return cls(matmul_sizes=(2048,), matmul_reps=3, reps=3, torch_steps=10, ensemble_chunk=1000,
                   ensemble_reps=2, ttg_skip=("nanda2023",), sweep_file=None, quick=True)


def _log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def _settle() -> None:
    """Let the previous library's worker threads stop spinning before the next timing."""
    time.sleep(0.3)


def _torch():
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        return None
    from benchmarks import torch_reference

    return torch_reference


# ---------------------------------------------------------------------------------------------- (a)
def matmul_ceiling(sizes: tuple[int, ...], reps: int) -> dict:
    """Best float32 GFLOP/s of n×n matmuls per library and size; ``best`` and ``best_lib`` over all."""
    import jax
    import jax.numpy as jnp

    def best_time(fn, *args) -> float:
        fn(*args)
        out = np.inf
        for _ in range(reps):
            t0 = time.perf_counter()
            fn(*args)
            out = min(out, time.perf_counter() - t0)
        return out

    mm = jax.jit(jnp.matmul)
    libs: dict[str, dict[str, float] | None] = {"numpy": {}, "jax": {}, "torch": {}}
    tr = _torch()
    for n in sizes:
        flop = 2.0 * n**3
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
        _settle()
        libs["numpy"][str(n)] = flop / best_time(np.matmul, a, b) / 1e9
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        _settle()
        libs["jax"][str(n)] = flop / best_time(lambda x, y: mm(x, y).block_until_ready(), ja, jb) / 1e9
        if tr is not None:
            _settle()
            libs["torch"][str(n)] = tr.matmul_gflops(n, reps)
    if tr is None:
        libs["torch"] = None
    best_lib, best = max(((lib, max(v.values())) for lib, v in libs.items() if v), key=lambda t: t[1])
    return {"gflops": libs, "best": best, "best_lib": best_lib}


# ---------------------------------------------------------------------------------------------- (b), (d)
def _trainer(preset: str, overrides: dict, seeds=(0,)):
    from groklab.config import resolve
    from groklab.train.loop import Trainer

    return Trainer([resolve(preset, **{**overrides, "seed": s}) for s in seeds])


def groklab_rate(trainer, chunk: int, reps: int) -> dict:
    """Model-steps/s of ``trainer``'s jitted loop: the best of ``reps`` chunks after a first (compiling) one."""
    import jax
    import jax.numpy as jnp

    data = trainer.device_data()
    params, opt_state = trainer.init_state()
    params, opt_state = trainer.run_steps(params, opt_state, data, jnp.int32(0), jnp.int32(chunk))
    jax.block_until_ready(params)
    _settle()
    best = np.inf
    for r in range(reps):
        t0 = time.perf_counter()
        params, opt_state = trainer.run_steps(params, opt_state, data, jnp.int32(chunk * (r + 1)), jnp.int32(chunk))
        jax.block_until_ready(params)
        best = min(best, time.perf_counter() - t0)
    return {"steps_s": trainer.E * chunk / best, "step_ms": 1e3 * best / chunk}


def step_speed(name: str, preset: str, overrides: dict, plan: Plan, ceiling: float) -> dict:
    """(b) and (d) for one model: groklab vs the PyTorch reference, and the fraction of the ceiling."""
    trainer = _trainer(preset, overrides)
    cfg, model, ds = trainer.cfg, trainer.model, trainer.datasets[0]
    n_train = ds.n_train
    _log(f"steps: {name} groklab ({n_train} examples, full batch)")
    g = groklab_rate(trainer, plan.chunk, plan.reps)
    gflops = model.flops_per_example * n_train * 3 * g["steps_s"] / 1e9
    out = {"model": name, "preset": preset, "overrides": overrides, "n_train": n_train,
           "flops_per_example": model.flops_per_example, "groklab_steps_s": g["steps_s"],
           "gflops": gflops, "ceiling_frac": gflops / ceiling,
           "torch_steps_s": None, "ratio": None}
    tr = _torch()
    if tr is None:
        return out
    _log(f"steps: {name} PyTorch reference loop")
    x = np.asarray(trainer.data.x[0][ds.train_idx])            # prepared inputs (the '=' token appended)
    y = np.asarray(ds.y_train)
    kind = "transformer" if cfg.model == "transformer" else "mlp"
    d_vocab = ds.vocab_size + 1 if kind == "transformer" else ds.vocab_size
    ref = tr.build(kind, cfg, d_vocab, x.shape[1], ds.n_classes)
    _settle()
    rates = tr.steps_per_s(ref, cfg, x, y, plan.torch_steps, plan.reps)
    out["torch_steps_s"] = max(rates)
    out["ratio"] = g["steps_s"] / out["torch_steps_s"]
    return out


def child_rate(preset: str, overrides: dict, chunk: int, reps: int) -> dict:
    """``groklab_rate`` of one model, with the XLA_FLAGS this process started with (run by ``_child``)."""
    return {**groklab_rate(_trainer(preset, overrides), chunk, reps), "xla_flags": os.environ.get("XLA_FLAGS", "")}


def _child(fn: str, args: tuple, env: dict, what: str) -> dict:
    """Run ``benchmarks.bench.<fn>(*args)`` in a fresh Python with ``env``; its JSON result and wall time."""
    code = (f"import json, sys; sys.path.insert(0, {str(REPO)!r}); from benchmarks import bench; "
            f"print('BENCH ' + json.dumps(bench.{fn}(*json.loads({json.dumps(args)!r}))))")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{what} child failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return {**json.loads(lines[-1][6:]), "process_s": wall}


def xla_defaults(plan: Plan, steps: list[dict]) -> dict:
    """The first step model with groklab's XLA_FLAGS (this process's row) vs XLA's own CPU defaults
    (a child process with GROKLAB_XLA_DEFAULTS=0 and the user's XLA_FLAGS minus groklab's)."""
    import groklab

    name, (preset, overrides) = next(iter(plan.step_models.items()))
    mine = next(r for r in steps if r["model"] == name)
    user = os.environ.get("XLA_FLAGS", "").replace(groklab.XLA_DEFAULT_FLAGS, "").strip()
    env = {**os.environ, "GROKLAB_XLA_DEFAULTS": "0", "XLA_FLAGS": user}
    _log(f"steps: {name} groklab with XLA's default flags (child process)")
    _settle()
    other = _child("child_rate", (preset, overrides, plan.chunk, plan.reps), env, f"step rate of {name}")
    return {"model": name, "groklab_flags": os.environ.get("XLA_FLAGS", ""), "default_flags": other["xla_flags"],
            "groklab_steps_s": mine["groklab_steps_s"], "default_steps_s": other["steps_s"],
            "ratio": mine["groklab_steps_s"] / other["steps_s"]}


# ---------------------------------------------------------------------------------------------- (c)
def ensemble_speed(plan: Plan) -> tuple[list[dict], list[dict]]:
    """(c): model-steps/s of E-member ensembles against one model at a time as groklab trains it by default,
    every (E, variant) timed in turn (``ensemble_bench.measure``): the config as given (the default layout
    groups members where that pays, ``train/ensemble.py``) and, with ``plan.ensemble_table``, the same with
    ``embed_table`` (the first layer gathered from per-vocabulary tables: other rounding, opt-in)."""
    from benchmarks.ensemble_bench import measure

    preset, overrides = plan.ensemble_preset
    variants = {"matmul": (preset, overrides)}
    if plan.ensemble_table:
        variants["table"] = (preset, {**overrides, "embed_table": True})
    _log(f"ensemble: E = {', '.join(map(str, plan.ensemble_sizes))}, {' and '.join(variants)} first layer, interleaved")
    res = measure(plan.ensemble_sizes, variants, plan.ensemble_chunk, plan.ensemble_reps, baseline="matmul")
    keep = lambda v: [{**r, "first_layer": v} for r in res.get(v, []) if r["E"] in plan.ensemble_sizes]  # noqa: E731
    return keep("matmul"), keep("table")


def ensemble_bounds(rows: list[dict], ceiling: float) -> None:
    """The most any batching could give: an E-member ensemble does E models' FLOPs, so its
    model-steps/s can beat one at a time by at most ceiling / (one model's GFLOP/s)."""
    for r in rows:
        r["ceiling_bound"] = ceiling / r["single_gflops"]
        r["ceiling_frac"] = r["gflops"] / ceiling


# ---------------------------------------------------------------------------------------------- (e)
def time_to_gen(preset: str, overrides: dict, compile_only: bool = False) -> dict:
    """Train one config until its stop rule (``until`` in ``overrides``) ends it (this process; see ``_child``).

    Returns steps, seconds and FLOPs to the first evaluation at the test-accuracy threshold: ``train_s``
    (the loop, evaluations included), ``compile_s`` (Trainer.fit's up-front compilation), ``setup_s``
    (imports, dataset, model), ``total_s`` from the start of the process's work, ``flops`` (training, as
    ``api.step_flops`` counts a step) and ``eval_flops`` (the evaluations up to it). ``step`` is None if
    the budget ran out.
    """
    t_start = time.perf_counter()
    from groklab.api import step_flops
    from groklab.config import resolve
    from groklab.train.loop import Trainer
    from groklab.train.until import stop_rule

    cfg = resolve(preset, **overrides)
    trainer = Trainer([cfg])
    rule = stop_rule(cfg, 1)
    hit: dict = {}
    evals = [0]

    def on_eval(ev) -> None:
        evals[0] += 1
        if rule is not None:
            rule.update(ev)
        if not hit and ev.metrics["test_acc"][0] >= cfg.acc_threshold:
            hit.update(step=ev.step, t=time.perf_counter(), evals=evals[0])

    t_fit = time.perf_counter()
    out = trainer.fit(on_eval, stop=lambda: compile_only or (rule() if rule is not None else bool(hit)))
    if compile_only:
        return {"step": None, "budget": cfg.steps, "compile_s": out["compile_s"], "setup_s": t_fit - t_start}
    t_end = hit.get("t", time.perf_counter())
    per_step, per_eval = step_flops(trainer)
    step = hit.get("step")
    return {"step": step, "budget": cfg.steps, "compile_s": out["compile_s"],
            "train_s": t_end - t_fit - out["compile_s"], "setup_s": t_fit - t_start, "total_s": t_end - t_start,
            "flops": None if step is None else per_step * step,
            "eval_flops": None if step is None else per_eval * hit["evals"]}


def _run_child(preset: str, overrides: dict, cache: str, compile_only: bool = False) -> dict:
    return _child("time_to_gen", (preset, overrides, compile_only), {**os.environ, "GROKLAB_JAX_CACHE": cache},
                  f"time-to-99% of {preset}")


def time_to_99(plan: Plan) -> dict:
    """(e): cold and warm time to 99% for each entry of ``plan.ttg``, and the slow/fast ratios."""
    out: dict = {}
    for name, (preset, overrides) in plan.ttg.items():
        if name in plan.ttg_skip:
            out[name] = {"skipped": "--quick: the full run takes minutes; run without --quick"}
            continue
        with tempfile.TemporaryDirectory(prefix="groklab-bench-cache-") as cache:
            res = {}
            for phase in ("cold", "warm"):
                once = phase == "warm" and name in plan.ttg_train_once
                _log(f"time to 99%: {name} ({phase} compilation cache{', compilation only' if once else ''})")
                res[phase] = _run_child(preset, {"until": plan.ttg_until, **overrides}, cache, compile_only=once)
                if once:   # the training loop of the cold run, after this process's set-up and compilation
                    cold = res["cold"]
                    res[phase].update(step=cold["step"], train_s=cold["train_s"], composed=True,
                                      flops=cold.get("flops"), eval_flops=cold.get("eval_flops"),
                                      total_s=res[phase]["setup_s"] + res[phase]["compile_s"] + cold["train_s"])
        out[name] = res
    names = list(plan.ttg)
    if len(names) == 2:
        slow, fast = (out[n] for n in names)
        for phase in ("cold", "warm"):
            ok = all("skipped" not in r and r[phase]["step"] is not None for r in (slow, fast))
            out[f"ratio_{phase}"] = slow[phase]["total_s"] / fast[phase]["total_s"] if ok else None
        out["ratio_steps"] = (slow["warm"]["step"] / fast["warm"]["step"]) if out["ratio_warm"] else None
    return out


# ---------------------------------------------------------------------------------------------- the run
def machine_info() -> dict:
    import jax

    cpu = platform.processor()
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1) if m else cpu
    except OSError:
        pass
    tr = _torch()
    return {"host": socket.gethostname(), "cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "jax": jax.__version__,
            "torch": __import__("torch").__version__ if tr is not None else None,
            "xla_flags": os.environ.get("XLA_FLAGS", ""), "load_before": list(os.getloadavg()),
            "jax_device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}"}


def targets(res: dict) -> list[dict]:
    steps = {r["model"]: r for r in res["steps"]}
    ens = {r["E"]: r for r in res["ensemble"]}
    numpy_best = max((res["ceiling"]["gflops"].get("numpy") or {"": None}).values(), default=None)
    nanda = steps.get("nanda2023", {})
    fast = res["time_to_99"].get("nanda2023-fast") or {}
    warm = fast.get("warm") if isinstance(fast, dict) and fast.get("warm", {}).get("step") is not None else None
    atlas = res.get("atlas")
    values = {
        "step_vs_torch": nanda.get("ratio"),
        "ceiling_frac": nanda["gflops"] / numpy_best if nanda and numpy_best else None,
        "mlp_wide_vs_torch": steps.get("mlp-wide-table", steps.get("mlp-wide", {})).get("ratio"),
        "ensemble_e64": ens[64]["ratio"] if 64 in ens else None,
        "sweep_packed": (res.get("sweep") or {}).get("ratio"),
        "fast_ttg_s": warm["total_s"] if warm else None,
        "fast_ttg_tflop": warm["flops"] / 1e12 if warm and warm.get("flops") is not None else None,
        "fast_vs_slow": res["time_to_99"].get("ratio_warm"),
        "atlas64_s": atlas["ensemble"]["total_s"] if atlas and atlas.get("members") == 64 else None,
    }
    out = [{"name": k, "what": what, "value": values[k], "target": tgt, "op": op,
            "met": None if values[k] is None else bool(values[k] >= tgt if op == "≥" else values[k] <= tgt)}
           for k, (what, tgt, op) in TARGETS.items()]
    by_name = {r["name"]: r for r in out}
    if 64 in ens and "ceiling_bound" in ens[64]:
        by_name["ensemble_e64"]["bound"] = ens[64]["ceiling_bound"]
    if numpy_best:
        by_name["ceiling_frac"]["ceiling"] = numpy_best
    if "mlp-wide-table" in steps and steps.get("mlp-wide", {}).get("ratio") is not None:
        by_name["mlp_wide_vs_torch"]["plain"] = steps["mlp-wide"]["ratio"]     # the matmul first layer
    if res.get("dots") and res["dots"]["preset"] == "nanda2023" and res["dots"].get("numpy_frac") is not None:
        by_name["ceiling_frac"]["dots_frac"] = res["dots"]["numpy_frac"]
    return out


def run(plan: Plan, out_dir: Path | None = None) -> dict:
    """Measure everything ``plan`` asks for; write the JSON and markdown; return the results.

    The JSON is rewritten after each section (``"complete": false`` until the end), so an
    interrupted run keeps what it measured.
    """
    out_dir = Path(out_dir) if out_dir is not None else RESULTS
    t0 = time.perf_counter()
    res: dict = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "quick": plan.quick, "complete": False,
                 "machine": machine_info(), "plan": dataclasses.asdict(plan)}
    _log("matmul ceiling")
    res["ceiling"] = matmul_ceiling(plan.matmul_sizes, plan.matmul_reps)
    write(res, out_dir)
    res["steps"] = [step_speed(name, preset, ov, plan, res["ceiling"]["best"])
                    for name, (preset, ov) in plan.step_models.items()]
    if plan.xla_compare:
        res["xla_defaults"] = xla_defaults(plan, res["steps"])
    write(res, out_dir)
    res["ensemble"], res["ensemble_table"] = ensemble_speed(plan)
    write(res, out_dir)
    # On a shared machine the first ceiling may have been measured in a busy moment: measure it
    # again and keep the better one, so the fractions of (d) are not flattered by a low ceiling.
    _log("matmul ceiling, again")
    again = matmul_ceiling(plan.matmul_sizes, plan.matmul_reps)
    if again["best"] > res["ceiling"]["best"]:
        res["ceiling"] = again
        for r in res["steps"]:
            r["ceiling_frac"] = r["gflops"] / again["best"]
    ensemble_bounds(res["ensemble"] + res["ensemble_table"], res["ceiling"]["best"])
    if plan.dots is not None:
        from benchmarks.dot_bench import dot_speed

        _log(f"the dots of one {plan.dots} step, each alone in XLA and numpy")
        step = next((r for r in res["steps"] if r["model"] == plan.dots), None)
        preset, ov = plan.step_models[plan.dots]
        res["dots"] = dot_speed(preset, ov, plan.reps, res["ceiling"]["best"],
                                1e3 / step["groklab_steps_s"] if step else None)
        write(res, out_dir)
    res["time_to_99"] = time_to_99(plan)
    if plan.atlas is not None:
        from benchmarks.atlas_bench import atlas_speed

        res["atlas"] = atlas_speed(*plan.atlas)
    if plan.lm is not None:
        from benchmarks.lm_bench import lm_speed

        _log("sequence model: groklab and the PyTorch loop")
        res["lm"] = lm_speed(plan.lm, plan.chunk, plan.reps, plan.torch_steps)
    if plan.sweep_file is not None:
        from benchmarks.sweep_bench import sweep_speed

        _log(f"sweep end to end: {Path(plan.sweep_file).name}, packed, then one process per point")
        res["sweep"] = sweep_speed(plan.sweep_file)
        write(res, out_dir)
    res["targets"] = targets(res)
    res["machine"]["load_after"] = list(os.getloadavg())
    res["bench_s"] = time.perf_counter() - t0
    res["complete"] = True
    write(res, out_dir)
    return res


def write(res: dict, out_dir: Path) -> None:
    """``<date>-<HHMM>-<host>.json`` (the run's start: a later run the same day writes a file of its own) and,
    once complete, ``latest.md`` in ``out_dir`` (``-quick`` suffixed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9_.-]+", "_", res["machine"]["host"]) or "host"
    sfx = "-quick" if res["quick"] else ""
    js = out_dir / f"{res['date'][:10]}-{res['date'][11:13]}{res['date'][14:16]}-{host}{sfx}.json"
    md = out_dir / f"latest{sfx}.md"
    res["files"] = {"json": str(js), "markdown": str(md)}
    js.write_text(json.dumps(res, indent=1, default=str) + "\n")
    if res["complete"]:
        md.write_text(markdown(res))


# ---------------------------------------------------------------------------------------------- output
def _f(v, fmt: str = ".3g") -> str:
    return "—" if v is None else format(v, fmt)


def tables(res: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """The result as (title, header, rows) tables, shared by the terminal and the markdown file."""
    c = res["ceiling"]
    sizes = [str(n) for n in res["plan"]["matmul_sizes"]]
    out = [("(a) float32 matmul ceiling, GFLOP/s", ["library", *(f"{n}³" for n in sizes)],
            [[lib, *(_f(v.get(n), ".0f") for n in sizes)] if v else [lib, *("not installed" for _ in sizes)]
             for lib, v in c["gflops"].items()])]
    out[0][2].append([f"best: {c['best_lib']}", _f(c["best"], ".0f"), *([""] * (len(sizes) - 1))])
    if res.get("dots"):
        from benchmarks.dot_bench import table as dot_table

        out.append(dot_table(res["dots"]))
    out.append(("(b, d) full-batch training step, one model",
                ["model", "examples", "groklab steps/s", "PyTorch steps/s", "ratio", "GFLOP/s", "of ceiling"],
                [[r["model"], str(r["n_train"]), _f(r["groklab_steps_s"], ".1f"),
                  _f(r["torch_steps_s"], ".1f") if res["machine"]["torch"] else "no torch",
                  _f(r["ratio"], ".2f"), _f(r["gflops"], ".0f"), _f(r["ceiling_frac"], ".0%")]
                 for r in res["steps"]]))
    x = res.get("xla_defaults")
    if x:
        out.append(("(d') groklab's XLA flags vs XLA's CPU defaults, same step",
                    ["model", "groklab flags", "steps/s", "XLA defaults", "steps/s", "ratio"],
                    [[x["model"], f"`{x['groklab_flags'] or '(none)'}`", _f(x["groklab_steps_s"], ".1f"),
                      f"`{x['default_flags'] or '(none)'}`", _f(x["default_steps_s"], ".1f"), _f(x["ratio"], ".2f")]]))
    out.append(("(c) ensembles of pair2023 MLPs (ratio: against one model at a time with the matmul first layer)",
                ["first layer", "E", "members per group", "model-steps/s", "one at a time", "ratio", "vs E = 1 alike",
                 "GFLOP/s", "of ceiling", "ceiling / one model"],
                [[r.get("first_layer", "matmul"), str(r["E"]), str(r.get("group", r["E"])),
                  _f(r["model_steps_s"], ".0f"), _f(r["one_at_a_time_steps_s"], ".0f"), _f(r["ratio"], ".2f"),
                  _f(r.get("batching"), ".2f"),
                  _f(r.get("gflops"), ".1f"), _f(r.get("ceiling_frac"), ".0%"), _f(r.get("ceiling_bound"), ".1f")]
                 for r in res["ensemble"] + res.get("ensemble_table", [])]))
    rows = []
    for name, r in res["time_to_99"].items():
        if not isinstance(r, dict):
            continue
        if "skipped" in r:
            rows.append([name, "skipped", "", "", "", "", "", r["skipped"]])
            continue
        for phase in ("cold", "warm"):
            p = r[phase]
            rows.append([name, phase + ("*" if p.get("composed") else ""),
                         _f(p["step"], "d") if p["step"] is not None else f"> {p['budget']}",
                         _f(p.get("flops") and p["flops"] / 1e12, ".3g"),
                         _f(p["compile_s"], ".1f"), _f(p["train_s"], ".1f"), _f(p["setup_s"], ".1f"),
                         _f(p["total_s"], ".1f")])
    t = res["time_to_99"]
    rows.append(["nanda2023 / fast", "ratio", _f(t.get("ratio_steps"), ".1f"), "", "", "", "",
                 f"cold {_f(t.get('ratio_cold'), '.1f')}, warm {_f(t.get('ratio_warm'), '.1f')}"])
    out.append(("(e) time to 99% test accuracy (until = generalized:1), seconds and training TFLOP",
                ["preset", "cache", "steps", "TFLOP", "compile", "train", "setup", "total"], rows))
    if res.get("sweep"):
        from benchmarks.sweep_bench import table as sweep_table

        out.append(sweep_table(res["sweep"]))
    if res.get("atlas"):
        from benchmarks.atlas_bench import table

        out.append(table(res["atlas"]))
    if res.get("lm"):
        from benchmarks.lm_bench import table as lm_table

        out.append(lm_table(res["lm"]))
    out.append(("targets", ["ratio", "measured", "target", "met", "most this machine allows / beside it"],
                [[r["what"], _f(r["value"], ".2f"), f"{r.get('op', '≥')} {r['target']:g}",
                  "—" if r["met"] is None else ("yes" if r["met"] else "no"), _target_note(r)]
                 for r in res["targets"]]))
    return out


def _target_note(r: dict) -> str:
    if r.get("bound") is not None:
        return _f(r["bound"], ".1f")
    note = f"numpy ceiling {r['ceiling']:.0f} GFLOP/s" if r.get("ceiling") else ""
    if r.get("plain") is not None:
        note = f"with the matmul first layer: {r['plain']:.2f}×"
    if r.get("dots_frac") is not None:         # row (a'): what the step's own dot shapes reach in numpy
        note += f"; the step's own dots reach {r['dots_frac']:.0%} of it in numpy (a')"
    return note


def text(res: dict) -> str:
    m = res["machine"]
    lines = [f"groklab bench{' --quick' if res['quick'] else ''}  {res['date']}  {m['host']}: {m['cpu']}, "
             f"{m['cpus']} cpus, load {m['load_before'][0]:.1f} -> {m['load_after'][0]:.1f}  "
             f"(jax {m['jax']}, torch {m['torch'] or 'not installed'}), {res['bench_s']:.0f} s"]
    for title, header, rows in tables(res):
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        lines += ["", title, "  ".join(h.ljust(w) for h, w in zip(header, widths))]
        lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# groklab bench{' --quick' if res['quick'] else ''}, {res['date']}", "",
             f"{m['host']}: {m['cpu']}, {m['cpus']} cpus; jax {m['jax']}, numpy {m['numpy']}, "
             f"torch {m['torch'] or 'not installed'}. Load average {m['load_before'][0]:.1f} before, "
             f"{m['load_after'][0]:.1f} after (over {m['cpus']} cpus: above that, other processes shared the "
             f"machine). XLA_FLAGS: `{m.get('xla_flags') or '(none)'}`. Benchmark took {res['bench_s']:.0f} s. "
             f"Raw numbers: `{Path(res['files']['json']).name}`.", ""]
    for title, header, rows in tables(res):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions; skip nanda2023's run to 99%%")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--out", metavar="DIR", help=f"results folder (default {RESULTS})")
    ap.add_argument("--device", choices=("cpu", "cuda"), help="train every model there (default: auto)")
    args = ap.parse_args(argv)
    plan = Plan.quick_plan() if args.quick else Plan.full()
    res = run(plan.on_device(args.device) if args.device else plan, Path(args.out) if args.out else None)
    print(json.dumps(res, default=str) if args.json else text(res))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
