"""The analysis of a stored run: its checkpoints read (checksums and shapes checked) and fed to
``analyze_checkpoints``, the result cached in the store under ``ANALYSIS_KEY`` with a fingerprint of
the run's config, checkpoints and metrics, so a resumed or changed run is analyzed again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from groklab.analysis.compute import analyze_checkpoints, reference_step
from groklab.config import Config, from_dict
from groklab.errors import ConfigError, StoreError
from groklab.store import Store
from groklab.store.catalog import dumps

ANALYSIS_KEY = "analysis-v2"    # v2: the circuit test (basis, components, ablation)


def open_store(store: Store | str | Path | None) -> Store:
    """``store`` itself, or the existing store at that path (the default store for None)."""
    return store if isinstance(store, Store) else Store(store, create=False)


def _fingerprint(row: dict, cks: list[dict], metric_steps: np.ndarray) -> str:
    blob = json.dumps({"key": ANALYSIS_KEY, "config": row["config"], "ckpt": [[c["step"], c["sha256"]] for c in cks],
                       "metrics": [int(metric_steps.size), int(metric_steps[-1]) if metric_steps.size else None]},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def analyze_run(store: Store | str | Path | None, run_ref: str, *, refresh: bool = False) -> dict:
    """Analyze a stored run from its checkpoints (see ``groklab.analysis``); cached in the store.

    Returns a JSON-able dict: run_id, task, family ("modular" | "group" | "parity" | "other"), model, steps
    (the checkpoint steps analyzed), progress {measure: [value per checkpoint], weight_norms:
    {tensor: [...]}}, phases and phase_rule, final (measures at the last checkpoint), and where
    they apply: reference_step (where the structure below is read), spectrum, key_freqs,
    key_freqs_neurons, key_freqs_norms, clock, neurons, parity, checks, verdict; basis, components,
    ablation, basis_spectrum, basis_weights (the circuit test, ``groklab.analysis.circuit``);
    not_applicable {measure: reason}; notes [str]; fingerprint. Raises StoreError for a missing
    run or one without checkpoints, ConfigError if its config no longer validates.
    """
    st = open_store(store)
    row = st.get_run(run_ref)
    rid = row["run_id"]
    cks = st.checkpoints(rid)
    if not cks:
        raise StoreError(f"analyze: run {rid} has no checkpoints (status {row['status']}); "
                         "analysis reads checkpoints, so there is nothing to analyze")
    metrics = st.metrics(rid)
    fp = _fingerprint(row, cks, metrics["step"])
    if not refresh:
        cached = st.get_analysis(rid, ANALYSIS_KEY)
        if cached is not None and cached.get("fingerprint") == fp:
            return cached
    try:
        cfg = from_dict(row["config"])
    except ConfigError as e:
        raise ConfigError(f"analyze: run {rid}'s config no longer validates ({e})") from None
    out = _compute(st, rid, cfg, [c["step"] for c in cks], metrics)
    out["fingerprint"] = fp
    out = json.loads(dumps(out))          # exactly what the cache returns next time (NaN → null)
    st.put_analysis(rid, ANALYSIS_KEY, out)
    return out


def _compute(st: Store, rid: str, cfg: Config, steps: list[int], metrics: dict) -> dict:
    """``analyze_checkpoints`` over the run's checkpoints, read one at a time; the reference
    checkpoint's tensors are checked against the shapes the config implies."""
    import jax

    from groklab.models import build
    from groklab.tasks import build_dataset

    ds = build_dataset(cfg)
    model = build(cfg, ds)
    ref = reference_step(steps, metrics, cfg.phase_threshold)
    ref_params = {k: np.asarray(v, np.float64) for k, v in st.load_checkpoint(rid, ref)[1].items()}
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0))
    st.check_params(rid, ref_params, {k: tuple(v.shape) for k, v in shapes.items()})
    checkpoints = ((step, st.load_checkpoint(rid, step)[1]) for step in steps)
    return analyze_checkpoints(cfg, checkpoints, metrics, reference=(ref, ref_params), dataset=ds, model=model,
                               run_id=rid)


__all__ = ["ANALYSIS_KEY", "analyze_run", "open_store"]
