"""Synthetic report views: fake but realistic data for tests and design previews. No model is trained.

The curves follow the shape of a grokking run on modular addition (Power et al. 2022; Nanda et al.
2023): training accuracy saturates early, test accuracy late; embeddings become periodic in a few
key frequencies; neurons group by frequency as in the PAIR explorable.
"""

from __future__ import annotations

import numpy as np

from groklab.measure.labels import DEFAULT_RULE, evals_between, phase_from_times
from groklab.report.synthetic_memorization import synthetic_memorization


def _sigmoid_log(steps: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A sigmoid in log10(step): 0 well before `centre`, 1 well after; `width` in decades."""
    return 1.0 / (1.0 + np.exp(-(np.log10(np.maximum(steps, 1)) - np.log10(centre)) / width))


def _curves(rng, p: int, n_steps: int, t_mem: int, t_gen: int) -> dict:
    """Training curves logged every 50 steps and at log-spaced early steps."""
    step = np.unique(np.concatenate([np.geomspace(1, 50, 25).astype(int), np.arange(50, n_steps + 1, 50)]))
    mem = _sigmoid_log(step, t_mem * 0.7, 0.12)
    gen = _sigmoid_log(step, t_gen * 0.8, 0.06)
    jitter = lambda scale: scale * rng.standard_normal(step.size)
    train_acc = np.clip(1 / p + (1 - 1 / p) * mem + jitter(0.004), 0, 1)
    test_acc = np.clip(1 / p + 0.05 * mem + (0.95 - 1 / p) * gen + jitter(0.006), 0, 1)
    train_loss = np.log(p) * np.exp(-6 * mem) * (1 - 0.9 * gen) + 2e-4 + np.abs(jitter(1e-4))
    test_loss = np.log(p) * (1 + 2.2 * mem) * np.exp(-7 * gen) + 5e-4 + np.abs(jitter(2e-4))
    hump = mem * (1 - gen)  # memorized but not yet generalized
    return {
        "step": step.tolist(),
        "train_acc": train_acc.tolist(),
        "test_acc": test_acc.tolist(),
        "train_loss": train_loss.tolist(),
        "test_loss": test_loss.tolist(),
        "mia_auc": (0.5 + 0.42 * hump + 0.04 * gen + jitter(0.01)).tolist(),
        "mia_tpr1": np.clip(0.01 + 0.55 * hump + 0.02 * gen + jitter(0.01), 0, 1).tolist(),
        "clean_acc": np.clip(train_acc - 0.02 * hump, 0, 1).tolist(),
        "memorized_acc": np.clip(0.9 * mem * (1 - 0.7 * gen) + jitter(0.01), 0, 1).tolist(),
        "inverted_acc": np.clip(1 / p + 0.6 * gen + jitter(0.01), 0, 1).tolist(),
        "weight_norm": (40 + 25 * mem - 45 * gen + jitter(0.3)).tolist(),
        "collapse_frac": np.clip(0.3 * hump**2 + np.abs(jitter(0.005)), 0, 1).tolist(),
    }


def _progress(ckpt: np.ndarray, p: int, t_mem: int, t_gen: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Progress measures at checkpoints; also the circuit and generalization curves at them."""
    c_mem, c_gen = _sigmoid_log(ckpt, t_mem * 0.7, 0.12), _sigmoid_log(ckpt, t_gen * 0.8, 0.06)
    circuit = _sigmoid_log(ckpt, t_gen * 0.35, 0.15)  # the circuit forms before test loss falls
    c_train = np.log(p) * np.exp(-6 * c_mem) * (1 - 0.9 * c_gen) + 2e-4
    c_test = np.log(p) * (1 + 2.2 * c_mem) * np.exp(-7 * c_gen) + 5e-4
    progress = {
        "step": ckpt.tolist(),
        "restricted_loss": (np.log(p) * np.exp(-5 * circuit) + 1e-3).tolist(),
        "excluded_loss": (c_train + 3.5 * c_mem * circuit * (1 - 0.2 * c_gen)).tolist(),
        "train_loss": c_train.tolist(),
        "test_loss": c_test.tolist(),
        "gini_embed": (0.15 + 0.7 * circuit).tolist(),
        "gini_unembed": (0.12 + 0.75 * circuit**1.5).tolist(),
        "weight_norm": (40 + 25 * c_mem - 45 * c_gen).tolist(),
        "phases": {"memorization_end": int(t_mem * 1.5), "circuit_end": int(t_gen * 0.9)},
    }
    return progress, circuit, c_gen


def _neurons(rng, p: int, K: int, key_freqs: list[int], n_neurons: int) -> dict:
    """Each neuron reads one key frequency with a random phase, plus noise; sorted as in PAIR."""
    tokens = np.arange(p)
    neuron_freq = rng.choice(key_freqs, size=n_neurons)
    phase = rng.uniform(0, 2 * np.pi, n_neurons)
    amp = rng.uniform(0.6, 1.2, n_neurons)
    w = amp[:, None] * np.cos(2 * np.pi * neuron_freq[:, None] * tokens / p + phase[:, None])
    w += 0.12 * rng.standard_normal(w.shape)
    dft = np.abs(np.fft.rfft(w, axis=1))[:, 1 : K + 1]  # [neuron, freq 1..K]
    frac = (dft[np.arange(n_neurons), neuron_freq - 1] ** 2) / (dft**2).sum(axis=1)
    order = np.lexsort((phase, neuron_freq))  # by frequency, then phase: stripes line up as in PAIR
    return {"freq": neuron_freq.tolist(), "frac_explained": frac.tolist(), "order": order.tolist(),
            "heatmap": w[order].tolist(), "stars": dft[order].tolist()}


def _clock(rng, p: int, key_freqs: list[int]) -> dict:
    """Tokens on circles of their key frequency."""
    tokens = np.arange(p)
    points = []
    for k in key_freqs:
        angle = 2 * np.pi * k * tokens / p
        r = 1 + 0.05 * rng.standard_normal(p)
        points.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).round(4).tolist())
    return {"freqs": key_freqs, "points": points, "tokens": tokens.tolist()}


def _circuit(ckpt: np.ndarray, circuit: np.ndarray, c_gen: np.ndarray, p: int, key_freqs: list[int]) -> dict:
    """The circuit test in the additive basis: spectrum, weight norms per key frequency, ablation curves."""
    K = (p - 1) // 2
    share = np.full(K, 0.02 / max(K - len(key_freqs), 1))
    share[np.asarray(key_freqs) - 1] = 0.98 / len(key_freqs)
    names = [f"k={k}" for k in range(1, K + 1)]
    chance = 1 / p
    keep = chance + (1 - chance) * c_gen
    remove = chance + (1 - chance) * 0.9 * (1 - circuit) * (1 - c_gen)
    comps = [{"name": f"k={k}", "dim": 2, "fraction": 0.98 / len(key_freqs)} for k in key_freqs]
    return {
        "basis": "additive", "components": comps,
        "ablation": {"step": int(ckpt[-1]), "circuit": True, "fit": "table", "scored": "held-out",
                     "components": comps, "explained": 0.98, "chance": chance, "chance_bound": 2 * chance,
                     "model": {"acc": 1.0, "loss": 1e-3}, "keep": {"acc": float(keep[-1]), "loss": 2e-3},
                     "remove": {"acc": float(remove[-1]), "loss": float(np.log(p))}},
        "spectrum": {"step": int(ckpt[-1]), "names": names, "fractions": share.tolist(),
                     "key": [k in key_freqs for k in range(1, K + 1)], "n_components": K},
        "weights": {"step": ckpt.tolist(), "names": [f"k={k}" for k in key_freqs],
                    "norms": [[float(1 + 6 * c)] * len(key_freqs) for c in circuit],
                    "key": [f"k={k}" for k in key_freqs]},
        "curves": {"step": ckpt.tolist(), "test_acc": (chance + (1 - chance) * c_gen).tolist(),
                   "keep_acc": keep.tolist(), "remove_acc": remove.tolist()},
    }


def _run_meta(p: int, seed: int, n_steps: int) -> dict:
    return {
        "run_id": f"synthetic-p{p}-s{seed}",
        "name": f"Synthetic grokking run (x+y mod {p})",
        "status": "done",
        "task": f"x+y mod {p}",
        "config": {"task": "x+y", "p": p, "frac": 0.3, "model": "transformer", "d_model": 128,
                   "d_mlp": 512, "optimizer": "adamw", "lr": 1e-3, "wd": 1.0, "steps": n_steps, "seed": seed},
        "code_version": "synthetic",
        "machine": "synthetic (no model trained)",
        "wall_s": 452.3,
        "created": "2026-11-29T12:00:00Z",
    }


def synthetic_run_view(p: int = 23, n_ckpt: int = 20, seed: int = 0, n_neurons: int = 48) -> dict:
    """A synthetic run view of a grokking run on `x+y mod p`, with every section filled.

    Returns a dict in the run-view schema with `n_ckpt` checkpoints for the progress measures and
    spectrum, and `n_neurons` hidden neurons. Its name, run id and notes say that it is synthetic.
    """
    rng = np.random.default_rng(seed)
    n_steps, t_mem, t_gen = 20_000, 300, 6_000
    K = (p - 1) // 2
    key_freqs = sorted(rng.choice(np.arange(1, K + 1), size=min(3, K), replace=False).tolist())
    metrics = _curves(rng, p, n_steps, t_mem, t_gen)
    ckpt = np.round(np.geomspace(10, n_steps, n_ckpt)).astype(int)
    ckpt = np.maximum.accumulate(ckpt - np.arange(n_ckpt)) + np.arange(n_ckpt)  # strictly increasing
    progress, circuit, c_gen = _progress(ckpt, p, t_mem, t_gen)
    # embedding spectrum: key frequencies grow with the circuit, the rest decay
    freqs = np.arange(1, K + 1)
    base = 1 + 0.25 * rng.random((ckpt.size, K))
    norms = np.where(np.isin(freqs, key_freqs), base * (1 + 6 * circuit[:, None]), base * (1 - 0.85 * c_gen[:, None]))
    clock = _clock(rng, p, key_freqs)
    neurons = _neurons(rng, p, K, key_freqs, n_neurons)
    # sparse parity: neurons weight the relevant bits
    n_bits, bits = 30, [3, 11, 19]
    pw = np.abs(0.08 * rng.standard_normal((24, n_bits)))
    pw[:, bits] += rng.uniform(0.4, 1.0, (24, len(bits)))
    step, train_acc, test_acc = (np.asarray(metrics[k]) for k in ("step", "train_acc", "test_acc"))
    final = {k: float(metrics[k][-1]) for k in ("train_acc", "test_acc", "train_loss", "test_loss")}
    t_mem_obs = int(step[np.argmax(train_acc >= 0.9)])
    t_gen_obs = int(step[np.argmax(test_acc >= 0.9)])
    gap_evals = evals_between(step, t_mem_obs, t_gen_obs)
    return {
        "run": _run_meta(p, seed, n_steps),
        "summary": {"t_mem": t_mem_obs, "t_gen": t_gen_obs, "delay": t_gen_obs - t_mem_obs,
                    "phase": phase_from_times(t_mem_obs, t_gen_obs, evals=gap_evals), "phase_rule": DEFAULT_RULE,
                    "t_train_liu": t_mem_obs, "t_test_liu": t_gen_obs, "gap_evals": gap_evals,
                    "pair_class": "grok", "final": final, "rqi": 0.93, "n_key_freqs": len(key_freqs)},
        "metrics": metrics,
        "progress": progress,
        "spectrum": {"step": ckpt.tolist(), "freqs": freqs.tolist(), "norms": norms.tolist()},
        "key_freqs": key_freqs,
        "clock": clock,
        "neurons": neurons,
        "parity": {"bits": bits, "weights": pw.tolist()},
        "circuit": _circuit(ckpt, circuit, c_gen, p, key_freqs),
        "memorization": synthetic_memorization(rng, p, ckpt[:: max(1, ckpt.size // 10)], t_mem, t_gen),
        "verdict": (f"Synthetic data: memorized at step {t_mem_obs:,}, generalized at step "
                    f"{t_gen_obs:,} ({t_gen_obs - t_mem_obs:,} steps later): grokking."),
        "notes": ["This view was generated by groklab.report.synthetic_run_view; no model was trained.",
                  f"Key frequencies {key_freqs} were chosen at random (seed {seed})."],
    }


def synthetic_sweep_view() -> dict:
    """A synthetic sweep over training fraction × weight decay, phases by groklab's rule (``measure.labels``).

    Returns a dict in the sweep-view schema; each point links to `runs/<run_id>.html`.
    """
    rng = np.random.default_rng(0)
    fracs = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    wds = [0.0, 0.1, 0.3, 1.0, 3.0, 10.0]
    budget, points = 100_000, []
    for wd in wds:
        for frac in fracs:
            t_mem = int(300 / frac * rng.uniform(0.8, 1.2))
            if wd >= 10 and frac < 0.5:
                t_mem = None  # too much decay: never fits the training set
            # generalization comes sooner with more data and more weight decay
            t_gen = int(t_mem * (1 + 40 * (1 - frac) ** 2 / (0.02 + wd) ** 0.7)) if t_mem else None
            if t_gen is not None and t_gen > budget:
                t_gen = None
            delay = t_gen - t_mem if t_mem and t_gen else None
            phase = phase_from_times(t_mem, t_gen)
            run_id = f"synthetic-f{frac}-wd{wd}"
            points.append({
                "x": frac, "y": wd, "phase": phase, "delay": delay, "t_mem": t_mem, "t_gen": t_gen,
                "test_acc": 0.99 if t_gen else round(float(rng.uniform(0.02, 0.3)), 3),
                "run_id": run_id, "href": f"runs/{run_id}.html",
            })
    return {
        "sweep": {"sweep_id": "synthetic-sweep", "name": "Synthetic sweep: training fraction × weight decay",
                  "created": "2026-11-29T12:00:00Z", "n_points": len(points), "n_done": len(points)},
        "x_name": "frac", "y_name": "wd", "x_values": fracs, "y_values": wds, "points": points,
    }
