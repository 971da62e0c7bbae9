"""The structure read at one checkpoint: key frequencies, neurons and clock of a modular run, the
bits a parity run relies on, and the progress-measure facts of Nanda et al. over all checkpoints."""

from __future__ import annotations

import numpy as np

from groklab.analysis.fmt import sentence, sig
from groklab.analysis.phases import first_step
from groklab.analysis.subject import Subject

# a loss counts as "low" (restricted loss, test loss: Nanda et al.'s 0.1)
LOW_LOSS = 0.1


def structure(params: dict, sub: Subject, na: dict, notes: list) -> dict:
    """Key frequencies, neurons and clock of one checkpoint of a modular run.

    Returns {"key_freqs", "key_freqs_neurons", "key_freqs_norms", "neurons"} and "clock" when
    there are key frequencies. The key set is the neurons' (Nanda et al.'s 2-D DFT), or, when no
    frequency holds a cluster of neurons, the frequencies that stand out of the embedding norms.
    """
    import jax
    import jax.numpy as jnp

    from groklab.interp import (
        embedding_spectrum,
        key_frequencies_from_neurons,
        key_frequencies_from_norms,
        neuron_frequencies,
    )

    p = sub.p
    x = sub.model.prepare(jnp.asarray(sub.grid))
    f32 = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    acts = np.asarray(jax.jit(sub.model.neurons)(f32, x), np.float64)
    acts = acts.reshape(p, p, -1)
    if sub.sign == -1:
        acts = acts[:, (-np.arange(p)) % p]
    nf = neuron_frequencies(acts)
    key_neurons = key_frequencies_from_neurons(nf)
    E = sub.token_weights(params)
    key_norms = key_frequencies_from_norms(embedding_spectrum(E, p))
    key = key_neurons if key_neurons.size else key_norms
    if not key_neurons.size:
        notes.append("no frequency holds a cluster of neurons; key frequencies come from the embedding norms")
    if key.size > p // 4:
        notes.append(f"{key.size} of {p // 2} frequencies are key: the model spreads over many frequencies, "
                     "so restricted and excluded loss say little")
    out = {"key_freqs": key.tolist(), "key_freqs_neurons": key_neurons.tolist(),
           "key_freqs_norms": key_norms.tolist(), "neurons": _neurons(params, sub, nf, na)}
    if key.size:
        out["clock"] = _clock(E, key, p)
    return out


def _neurons(params: dict, sub: Subject, nf, na: dict) -> dict:
    """Neuron frequencies and clusters; for a 1-layer model also the token-weight heatmap and the
    per-neuron DFT stars, neurons sorted by frequency then phase."""
    from groklab.interp import UNCLUSTERED, fourier_basis, frequency_power, neuron_clusters

    p = sub.p
    clusters = neuron_clusters(nf)
    W = sub.neuron_weights(params)                              # [n, p]
    neurons: dict = {"freq": nf.freq.tolist(), "frac_explained": sig(nf.frac_explained),
                     "clusters": {str(k): v.tolist() for k, v in clusters.items() if k != UNCLUSTERED},
                     "unclustered": int(clusters.get(UNCLUSTERED, np.zeros(0)).size)}
    if W is not None and W.shape[0] == nf.freq.size and sub.cfg.n_layers == 1:
        F, _ = fourier_basis(p)
        coef = F @ W.T                                         # [p, n]: const, cos 1, sin 1, ...
        f, n = np.maximum(nf.freq, 1), np.arange(nf.freq.size)
        sin = np.where(2 * f < p, coef[np.minimum(2 * f, p - 1), n], 0.0)   # even p: no sine at p/2
        phase = np.arctan2(sin, coef[2 * f - 1, n])
        order = np.lexsort((phase, np.where(nf.freq > 0, nf.freq, p)))
        stars = np.sqrt(frequency_power(W.T, p)).T             # [n, K]
        neurons.update(order=order.tolist(), heatmap=sig(W[order]), stars=sig(stars[order]))
    else:
        na["neuron_heatmap"] = ("token weights feed the first hidden layer, neuron frequencies are read off the "
                                "last: the heatmap and stars are drawn for 1-layer models only")
    return neurons


def _clock(E: np.ndarray, key: np.ndarray, p: int) -> dict:
    """Each token's (centred) weights on the cos/sin plane of each key frequency."""
    from groklab.interp import fourier_basis

    F, _ = fourier_basis(p)
    Ec = E - E.mean(axis=0)
    points = []
    for k in key:
        plane = np.stack([F[2 * k - 1] @ Ec, F[2 * k] @ Ec]) if 2 * k < p else np.stack([F[2 * k - 1] @ Ec])
        q, _ = np.linalg.qr(plane.T)                           # orthonormal basis of the cos/sin plane
        xy = Ec @ q
        if xy.shape[1] == 1:
            xy = np.concatenate([xy, np.zeros_like(xy)], axis=1)
        points.append(sig(xy))
    return {"freqs": key.tolist(), "points": points, "tokens": list(range(p))}


def checks(prog: dict, ri: int) -> dict:
    """The progress-measure facts Nanda et al. report, measured on this run's checkpoints.

    ri: index of the reference checkpoint (the last, or the last near the best test accuracy of a
    run that later lost it), where "after grokking" is read.
    """
    steps = np.asarray(prog["step"])
    arr = lambda k: np.asarray([np.nan if v is None else v for v in prog[k]], np.float64)  # noqa: E731
    r, te, ex, tr = arr("restricted_loss"), arr("test_loss"), arr("excluded_loss"), arr("train_loss")
    gen = first_step(steps, te < LOW_LOSS)
    out = {"restricted_below_0.1": first_step(steps, r < LOW_LOSS), "test_below_0.1": gen,
           "restricted_leads_test": None, "restricted_lead_steps": None, "excluded_over_train": None,
           "at_step": int(steps[ri])}
    if out["restricted_below_0.1"] is not None:
        out["restricted_leads_test"] = gen is None or out["restricted_below_0.1"] < gen
        if gen is not None:     # Nanda et al.: restricted loss falls well before test loss
            out["restricted_lead_steps"] = int(gen - out["restricted_below_0.1"])
    if np.isfinite(ex[ri]) and tr[ri] > 0:
        out["excluded_over_train"] = float(ex[ri] / tr[ri])
    for k in ("gini_embed", "gini_unembed", "weight_norm"):
        v = arr(k)
        out[k] = {"first": float(v[0]), "max": float(np.nanmax(v)), "at_step": float(v[ri]), "final": float(v[-1])}
    return out


def parity_section(out: dict, bw: np.ndarray | None, ds, test_acc: float, na: dict) -> None:
    """The bits a parity run's first layer relies on (``bw``: the model's bit weights), and its verdict."""
    from groklab.interp import relevant_bits

    true_bits = [int(b) for b in ds.meta["bits"]]
    if bw is None:
        na["parity"] = "bit weights are read off an MLP's first layer; this run is a transformer"
        return
    found = relevant_bits(bw).tolist()
    out["parity"] = {"bits": found, "true_bits": true_bits, "weights": sig(bw), "found": found == true_bits}
    rel = "relies on bits " + ", ".join(map(str, found)) if found else "relies on no bits that stand out"
    verdict = f"{rel}: exactly the task's bits" if found == true_bits else f"{rel}; the task's bits are {true_bits}"
    out["verdict"] = sentence(f"{verdict} (test accuracy {100 * test_acc:.1f}%)")


__all__ = ["LOW_LOSS", "checks", "parity_section", "structure"]
