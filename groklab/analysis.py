"""Interpretability of a stored run, read off its checkpoints alone (no retraining).

``analyze_run`` rebuilds the run's dataset and model from its config, loads every checkpoint and
computes, per family of task:

- modular arithmetic (Nanda et al. 2023; Pearce et al. 2023; Doshi et al. 2023; Liu et al.
  2022), at every checkpoint: the embedding spectrum and its Gini coefficient, the Gini of the
  unembedding side (W_out·W_U, or an MLP's W_out), the sum of squared weights per tensor, the
  mean IPR of the neurons' token weights, cross-entropy on the train and test pairs, and for
  tasks whose labels are a ± b: restricted loss, excluded loss, the share of logit variance along
  cos(w_k(a ± b − c)) and RQI. At the final checkpoint (or, for a run that generalized and then
  lost it, at its last checkpoint near its best test accuracy): neuron frequencies and clusters,
  key frequencies (by neurons and by embedding norms), the clock (each token's embedding on the
  cos/sin plane of each key frequency), per-neuron DFT "stars" and the token-weight heatmap
  sorted by frequency. Then Nanda's three phases (``phase_boundaries``) and a one-line verdict
  (``circuit_verdict``).
- sparse parity (Barak et al. 2022): the weight each first-layer neuron puts on each bit, the
  bits that stand out, and whether they are the task's bits; per checkpoint, the share of
  first-layer weight on the task's bits.
- every task: losses, accuracies and weight norms per checkpoint; measures that do not apply
  are listed under ``not_applicable`` with the reason.

``run_view`` turns a run and its analysis into the report's view dict (see ``groklab.report``).
Results are cached in the store under ``ANALYSIS_KEY`` with a fingerprint of the run's config,
checkpoints and metrics, so a resumed or changed run is analyzed again.

Conventions and approximations (also returned in ``notes`` where they apply):

- "Token weights" of a model, one row per token of operand a: a transformer's W_E[:p]; an
  embedding MLP's W_E[:p]; a one-hot MLP's W_in block of each operand (the spectrum uses both
  blocks side by side, the neurons the block of operand a).
- "Neuron token weights" [n_neurons, p]: how token a feeds each first-layer neuron. One-hot MLP:
  W_in[:p]ᵀ; embedding MLP: (W_E[:p]·W_in[:d_embed])ᵀ; transformer: the OV path into the first
  block's MLP, (W_E[:p]·Σ_h W_V^h W_O^h·W_in)ᵀ, which assumes every head attends to a alike and
  ignores LayerNorm.
- RQI (Liu et al. 2022) counts parallelograms i + j = m + n of integers: it measures a linear
  representation of addition, which a clock (circle) embedding is not, so a grokked Fourier
  model scores near 0 on it.
- Losses in the progress measures are cross-entropies of the checkpoint's logits (Nanda's
  measures), whatever loss the run trained on; the phases are read off the run's own metric
  curves, which are evaluated more often than checkpoints are saved.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from groklab.config import Config, from_dict
from groklab.errors import ConfigError, StoreError
from groklab.store import Store
from groklab.store.catalog import dumps

ANALYSIS_KEY = "analysis-v1"
# a loss counts as "low" (restricted loss, test loss: Nanda et al.'s 0.1)
LOW_LOSS = 0.1
# phase rule: share of the (log) test-loss descent that marks its start and its end
DESCENT_START = 0.2
DESCENT_END = 0.9
# clean-up ends when the weight norm has made this share of its fall after circuit formation
NORM_SETTLED = 0.9
# parallelograms sampled per checkpoint for RQI (its standard error stays near 1%)
RQI_SAMPLES = 2000
# significant digits kept in the large arrays (heatmap, stars, clock, spectra, bit weights)
DIGITS = 4

PHASE_RULE = (
    "memorization ends at the first evaluation with train accuracy >= acc_threshold; circuit "
    f"formation ends when the test loss, after its peak following memorization, has covered "
    f"{DESCENT_START:.0%} of its log-scale descent to its minimum after the peak (it starts to fall; only "
    "for runs whose test accuracy reaches phase_threshold); clean-up ends at the first later "
    f"evaluation where the test loss has covered {DESCENT_END:.0%} of that descent and the sum of "
    f"squared weights has made {NORM_SETTLED:.0%} of its fall from its value at circuit-formation "
    "end to its minimum up to the test loss's minimum (the drop flattens). Both rules stop at the "
    "test loss's minimum, so a run that generalizes and later degrades keeps its phases."
)


# ---------------------------------------------------------------------------------------------- phases
def _first(steps: np.ndarray, hit: np.ndarray) -> int | None:
    idx = np.flatnonzero(hit)
    return int(steps[idx[0]]) if idx.size else None


def phase_boundaries(steps, train_acc, test_acc, test_loss, weight_norm=None, *, acc_threshold: float = 0.99,
                     gen_threshold: float = 0.9) -> dict:
    """Nanda et al. 2023's three phases located on a run's metric curves.

    The rule (``PHASE_RULE``), with the test loss read on a log scale:

    - memorization ends at the first step with train accuracy >= ``acc_threshold`` (train loss low);
    - circuit formation ends when the test loss, after its peak at or after memorization, has
      covered 20% (``DESCENT_START``) of its descent to its minimum after that peak: the test
      loss starts to fall (the restricted loss has fallen before it). Only for runs whose test
      accuracy reaches ``gen_threshold`` somewhere; else None;
    - clean-up ends at the first later step where the test loss has covered 90%
      (``DESCENT_END``) of that descent and the weight norm has made 90% (``NORM_SETTLED``) of
      its fall from circuit-formation end to its minimum before the test loss's minimum (the
      drop flattens); None if never.

    Every window stops at the test loss's minimum, so a run that later degrades keeps its phases.
    steps [T] ascending; train_acc, test_acc, test_loss (positive, any loss) and optionally
    weight_norm (sum of squared weights) [T]. Returns {"memorization_end", "circuit_end",
    "cleanup_end"}: steps, or None for a phase the run has not finished.
    """
    steps = np.asarray(steps, dtype=np.int64)
    tr, te = np.asarray(train_acc, np.float64), np.asarray(test_acc, np.float64)
    logl = np.log(np.maximum(np.asarray(test_loss, np.float64), 1e-30))
    out: dict = {"memorization_end": _first(steps, tr >= acc_threshold), "circuit_end": None, "cleanup_end": None}
    if out["memorization_end"] is None or not np.any(te >= gen_threshold):
        return out
    after = np.flatnonzero((steps >= out["memorization_end"]) & np.isfinite(logl))
    if after.size == 0:
        return out
    peak = after[np.argmax(logl[after])]
    window = after[after >= peak]
    low = window[np.argmin(logl[window])]                   # the descent: peak .. minimum
    window = window[window <= low]
    drop = logl[peak] - logl[low]
    if drop <= 0:
        return out
    covered = (logl[peak] - logl[window]) / drop            # 0 at the peak, 1 at the minimum
    start = np.flatnonzero(covered >= DESCENT_START)
    if start.size == 0:
        return out
    c = start[0]
    out["circuit_end"] = int(steps[window[c]])
    done = covered >= DESCENT_END
    if weight_norm is not None:
        w = np.asarray(weight_norm, np.float64)[window]
        ok = np.isfinite(w)
        fall = w[c] - np.min(w[c:][ok[c:]]) if ok[c] else 0.0
        if fall > 0:
            done &= ok & (w[c] - w >= NORM_SETTLED * fall)
    end = np.flatnonzero(done[c:])
    out["cleanup_end"] = int(steps[window[c + end[0]]]) if end.size else None
    return out


# ---------------------------------------------------------------------------------------------- the subject
@dataclass
class _Subject:
    """A run's config, dataset and model, and what its task allows to measure."""

    cfg: Config
    ds: object
    model: object
    family: str                      # "modular", "parity" or "other"
    p: int | None = None
    sign: int | None = None          # labels are a + sign·b mod p (1 or −1), else None
    grid: np.ndarray | None = None   # [p·p, 2] every operand pair, a-major
    why: str | None = None           # family "other": why the Fourier and parity measures do not apply


def _subject(cfg: Config) -> _Subject:
    from groklab.models import build
    from groklab.tasks import build_dataset, family_of

    ds = build_dataset(cfg)
    model = build(cfg, ds)
    meta = ds.meta
    modular = family_of(cfg.task).modular and meta.get("modular") and ds.x.shape[1] == 2 \
        and int(meta.get("p", 0)) >= 3 and ds.n_classes == int(meta["p"])
    if modular and cfg.model == "mlp" and cfg.input == "features":
        return _Subject(cfg, ds, model, "other", why=f"task {cfg.task} is modular, but this MLP reads its operands "
                        "as real-valued features, so it has no weights per token to take a Fourier basis over")
    if modular:
        p = int(meta["p"])
        a, b = ds.x[:, 0].astype(np.int64), ds.x[:, 1].astype(np.int64)
        sign = next((s for s in (1, -1) if np.array_equal(ds.y, (a + s * b) % p)), None)
        g = np.stack(np.meshgrid(np.arange(p), np.arange(p), indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
        return _Subject(cfg, ds, model, "modular", p=p, sign=sign, grid=g)
    if meta.get("bits") is not None and "parity_n" in meta:
        return _Subject(cfg, ds, model, "parity")
    return _Subject(cfg, ds, model, "other",
                    why=f"task {cfg.task} is not modular arithmetic over Z_p (no Fourier basis over its tokens)")


def _token_weights(params: dict, sub: _Subject) -> np.ndarray | None:
    """Weights read per token [p, d] (both operand blocks side by side for a one-hot MLP)."""
    cfg, p = sub.cfg, sub.p
    if cfg.model == "transformer" or cfg.input in ("embed", "embed-sum"):
        return params["W_E"][:p]
    if cfg.input == "onehot":
        V = sub.ds.vocab_size
        return np.concatenate([params["W_in"][i * V:i * V + p] for i in range(sub.ds.x.shape[1])], axis=1)
    return None


def _neuron_token_weights(params: dict, sub: _Subject) -> np.ndarray | None:
    """How token a feeds each first-layer neuron: [n_neurons, p] (see the module docstring)."""
    cfg, p = sub.cfg, sub.p
    if cfg.model == "transformer":
        ov = np.einsum("hdk,hke->de", params["blocks.0.attn.W_V"], params["blocks.0.attn.W_O"])
        return (params["W_E"][:p] @ ov @ params["blocks.0.mlp.W_in"]).T
    if cfg.input in ("embed", "embed-sum"):
        return (params["W_E"][:p] @ params["W_in"][:cfg.d_embed]).T
    if cfg.input == "onehot":
        return params["W_in"][:p].T
    return None


def _unembed_spectrum(params: dict, sub: _Subject) -> np.ndarray:
    from groklab.interp import unembedding_spectrum

    cfg = sub.cfg
    if cfg.model == "transformer":
        W_U = params["W_E"][:sub.ds.n_classes].T if cfg.tied else params["W_U"]
        return unembedding_spectrum(params[f"blocks.{cfg.n_layers - 1}.mlp.W_out"], sub.p, W_U)
    return unembedding_spectrum(params["W_out"], sub.p)


def _parity_weights(params: dict, sub: _Subject) -> np.ndarray | None:
    """parity_bit_weights of the first layer [n_hidden, n_bits], or None for a transformer."""
    from groklab.interp import parity_bit_weights

    cfg, n = sub.cfg, sub.ds.x.shape[1]
    if cfg.model == "transformer":
        return None
    if cfg.input == "features":
        return parity_bit_weights(params["W_in"], n, "bits")
    if cfg.input == "onehot":
        return parity_bit_weights(params["W_in"], n, "one_hot")
    if cfg.input == "embed-sum":         # the bits' positions are summed away: no per-bit weights
        return None
    d = cfg.d_embed                      # embedding: the one-hot weights it amounts to, bit by bit
    W = params["W_in"].reshape(n, d, -1)
    eff = np.einsum("vd,ndh->nvh", params["W_E"][:2], W).reshape(2 * n, -1)
    return parity_bit_weights(eff, n, "one_hot")


# ---------------------------------------------------------------------------------------------- per checkpoint
class _Grids:
    """Labels and masks over the p×p grid, re-indexed so that the task reads as a + b."""

    def __init__(self, sub: _Subject):
        ds, p = sub.ds, sub.p
        a, b = ds.x[:, 0].astype(np.int64), ds.x[:, 1].astype(np.int64)
        self.b_of = np.arange(p) if sub.sign != -1 else (-np.arange(p)) % p   # column j holds b = b_of[j]
        col = (sub.sign or 1) * b % p
        y_obs = ds.y.copy()
        y_obs[ds.train_idx] = ds.y_train
        self.true = np.full((p, p), -1, np.int64)
        self.true[a, col] = ds.y
        self.obs = np.full((p, p), -1, np.int64)
        self.obs[a, col] = y_obs
        self.train = np.zeros((p, p), bool)
        self.train[a[ds.train_idx], col[ds.train_idx]] = True
        self.rows = (a * p + b)                    # grid row of each table row (a-major grid)

    def reindex(self, z_flat: np.ndarray, p: int) -> np.ndarray:
        """Grid logits [p·p, C] (rows a-major) → [p, p, C] with column j at b = b_of[j]."""
        z = z_flat.reshape(p, p, -1)
        return z if self.b_of[-1] == p - 1 else z[:, self.b_of]


def _forward_fn(sub: _Subject, rows: np.ndarray):
    """Jitted, asynchronous forward pass: params → (logits over the model's inputs (the p×p grid
    for a modular task), per-row cross-entropy [N] and correctness [N] of the table's rows,
    ``rows`` giving each table row's input, scored against the labels trained on)."""
    import jax
    import jax.numpy as jnp

    ds = sub.ds
    x = np.asarray(sub.model.prepare(jnp.asarray(sub.grid if sub.family == "modular" else ds.x)))
    y = ds.y.copy()
    y[ds.train_idx] = ds.y_train

    def forward(params, x, rows, y):
        z = sub.model.apply(params, x)
        logp = jax.nn.log_softmax(z[rows].astype(jnp.float32), axis=-1)
        ce = -jnp.take_along_axis(logp, y[:, None], axis=-1)[:, 0]
        return z, ce, logp.argmax(-1) == y

    fn = jax.jit(forward)
    return lambda params: fn(params, x, rows, y)


def _checkpoints(st: Store, rid: str, steps: list[int], forward):
    """Yield (step, params float64, forward's outputs or None if the weights are not finite),
    dispatching the next checkpoint's forward pass before the current one is analyzed, so XLA and
    numpy overlap."""
    pending = None
    for step in steps:
        _, raw = st.load_checkpoint(rid, step)
        params = {k: np.asarray(v, np.float64) for k, v in raw.items()}
        finite = all(np.all(np.isfinite(v)) for v in params.values())
        nxt = (step, params, forward(raw) if finite else None)
        if pending is not None:
            yield pending
        pending = nxt
    if pending is not None:
        yield pending


def _reference_step(steps: list[int], metrics: dict, threshold: float) -> int:
    """The checkpoint whose structure is reported: the last one, unless the run generalized and then
    lost it; then the last checkpoint within 0.01 of the best test accuracy."""
    acc = dict(zip(metrics["step"].tolist(), metrics.get("test_acc", np.zeros(0)).tolist()))
    at = np.array([acc.get(s, np.nan) for s in steps], np.float64)
    if not np.any(np.isfinite(at)):
        return steps[-1]
    best = np.nanmax(at)
    final = at[-1] if np.isfinite(at[-1]) else -1.0
    if best < threshold or final >= best - 0.1:
        return steps[-1]
    return steps[int(np.flatnonzero(at >= best - 0.01)[-1])]


def _fingerprint(row: dict, cks: list[dict], metric_steps: np.ndarray) -> str:
    blob = json.dumps({"key": ANALYSIS_KEY, "config": row["config"], "ckpt": [[c["step"], c["sha256"]] for c in cks],
                       "metrics": [int(metric_steps.size), int(metric_steps[-1]) if metric_steps.size else None]},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _open(store: Store | str | Path | None) -> Store:
    return store if isinstance(store, Store) else Store(store, create=False)


def analyze_run(store: Store | str | Path | None, run_ref: str, *, refresh: bool = False) -> dict:
    """Analyze a stored run from its checkpoints (see the module docstring); cached in the store.

    Returns a JSON-able dict: run_id, task, family ("modular" | "parity" | "other"), model, steps
    (the checkpoint steps analyzed), progress {measure: [value per checkpoint], weight_norms:
    {tensor: [...]}}, phases and phase_rule, final (measures at the last checkpoint), and where
    they apply: reference_step (where the structure below is read), spectrum, key_freqs,
    key_freqs_neurons, key_freqs_norms, clock, neurons, parity, checks, verdict;
    not_applicable {measure: reason}; notes [str]; fingerprint. Raises StoreError for a missing
    run or one without checkpoints, ConfigError if its config no longer validates.
    """
    st = _open(store)
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
    from groklab.interp import (
        circuit_verdict,
        embedding_spectrum,
        excluded_loss,
        fourier_logit_fraction,
        gini,
        ipr,
        restricted_loss,
        rqi,
        sum_squared_weights,
    )

    sub = _subject(cfg)
    ds = sub.ds
    notes: list[str] = []
    na: dict[str, str] = {}
    modular, parity = sub.family == "modular", sub.family == "parity"
    additive = modular and sub.sign is not None
    grids = _Grids(sub) if modular else None
    out: dict = {"run_id": rid, "task": cfg.task, "family": sub.family, "model": cfg.model}

    # the structure (key frequencies, neurons, clock) is read at one checkpoint, and the key
    # frequencies are needed at every checkpoint: read it first
    ref = _reference_step(steps, metrics, cfg.phase_threshold)
    ref_params = {k: np.asarray(v, np.float64) for k, v in st.load_checkpoint(rid, ref)[1].items()}
    _check_params(st, rid, ref_params, sub)
    key = None
    if modular:
        structure = _structure(ref_params, sub, na, notes)
        key = np.asarray(structure["key_freqs"], np.int64)
        out.update(structure)
        out["reference_step"] = ref
        if ref != steps[-1]:
            notes.append(f"the run lost the test accuracy it had: key frequencies, neurons and clock are read at "
                         f"step {ref}, its last checkpoint near its best test accuracy, not at the end")
    if additive and not key.size:
        notes.append("no key frequencies: restricted loss, excluded loss and logit fraction are left empty")

    prog: dict[str, list] = {k: [] for k in ("step", "train_loss", "test_loss", "train_acc", "test_acc",
                                              "weight_norm")}
    extra = (["gini_embed", "gini_unembed", "ipr_mean"] if modular else []) + \
        (["restricted_loss", "excluded_loss", "logit_fraction", "rqi"] if additive else []) + \
        (["true_bit_weight_frac"] if parity else [])
    prog.update({k: [] for k in extra})
    norms_per_tensor: dict[str, list] = {}
    spectra: list[list[float]] = []
    skipped: list[int] = []
    forward = _forward_fn(sub, grids.rows if modular else np.arange(ds.x.shape[0]))
    for step, params, pending in _checkpoints(st, rid, steps, forward):
        if pending is None:
            skipped.append(step)
            continue
        z, ce, hit = (np.asarray(v) for v in pending)
        prog["step"].append(step)
        ssw = sum_squared_weights(params)
        prog["weight_norm"].append(ssw.pop("total"))
        for name, v in ssw.items():
            norms_per_tensor.setdefault(name, []).append(v)
        for name, idx in (("train", ds.train_idx), ("test", ds.test_idx)):
            prog[f"{name}_loss"].append(float(ce[idx].mean(dtype=np.float64)) if idx.size else None)
            prog[f"{name}_acc"].append(float(hit[idx].mean()) if idx.size else None)
        if modular:
            E = _token_weights(params, sub)
            spec = embedding_spectrum(E, sub.p)
            spectra.append(_sig(spec))
            prog["gini_embed"].append(gini(spec))
            prog["gini_unembed"].append(gini(_unembed_spectrum(params, sub)))
            prog["ipr_mean"].append(float(ipr(_neuron_token_weights(params, sub)).mean()))
        if additive:
            zg = grids.reindex(z.astype(np.float64), sub.p)
            has_key = key.size > 0
            prog["restricted_loss"].append(restricted_loss(zg, grids.true, key) if has_key else None)
            prog["excluded_loss"].append(excluded_loss(zg, grids.obs, key, grids.train) if has_key else None)
            prog["logit_fraction"].append(fourier_logit_fraction(zg, key) if has_key else None)
            prog["rqi"].append(rqi(E, sub.p, max_samples=RQI_SAMPLES) if sub.sign == 1 else None)
        if parity:
            bw = _parity_weights(params, sub)
            if bw is not None:
                tot = bw.sum(axis=0)
                prog["true_bit_weight_frac"].append(float(tot[ds.meta["bits"]].sum() / max(tot.sum(), 1e-300)))
    if skipped:
        notes.append(f"checkpoints at steps {skipped} hold non-finite weights and were skipped")
    if not prog["step"]:
        raise StoreError(f"analyze: every checkpoint of run {rid} holds non-finite weights")
    out["steps"] = prog["step"]
    out["progress"] = {**prog, "weight_norms": norms_per_tensor}

    ms = metrics["step"]
    if ms.size and "train_acc" in metrics and "test_loss" in metrics:
        out["phases"] = phase_boundaries(ms, metrics["train_acc"], metrics["test_acc"], metrics["test_loss"],
                                         metrics.get("weight_norm"), acc_threshold=cfg.acc_threshold,
                                         gen_threshold=cfg.phase_threshold)
        out["phase_rule"] = PHASE_RULE
    if cfg.loss != "ce":
        notes.append(f"this run trained on the {cfg.loss} loss; the progress losses are cross-entropies of its "
                     "outputs (Nanda et al.'s measures), its own losses are in the metrics")
    at = {k: v[-1] for k, v in prog.items() if v and k != "step"}
    out["final"] = {"step": prog["step"][-1], **at}

    if modular:
        out["spectrum"] = {"step": prog["step"], "freqs": list(range(1, sub.p // 2 + 1)), "norms": spectra}
        if ds.x.shape[0] < sub.p * sub.p:
            notes.append(f"the task has {ds.x.shape[0]} of the {sub.p * sub.p} pairs (a, b): losses use the pairs "
                         "that exist; neuron frequencies and logit fractions use the model's outputs on every pair")
        if cfg.noise:
            notes.append(f"{cfg.noise:.0%} of training labels are corrupted: the excluded loss uses the training "
                         "labels, the restricted loss the true ones")
        ri = prog["step"].index(ref) if ref in prog["step"] else len(prog["step"]) - 1
        if additive:
            out["checks"] = _checks(prog, ri)
            frac = prog["logit_fraction"][ri]
            verdict = circuit_verdict(key, frac if frac is not None else 0.0, prog["test_acc"][ri])
            if sub.sign == -1:
                na["rqi"] = "RQI's parallelograms i + j = m + n describe addition, not a − b"
                notes.append("labels are a − b mod p: the Fourier directions are taken in a + (−b)")
        else:
            for m in ("restricted_loss", "excluded_loss", "logit_fraction", "rqi"):
                na[m] = (f"the labels of {cfg.task} are not a ± b mod p, and this measure reads the directions "
                         "cos(w_k(a+b)) of the addition circuit (Nanda et al. 2023)")
            verdict = (f"the task {cfg.task} is not addition mod p, so the clock circuit's measures do not apply; key "
                       f"frequencies {', '.join(map(str, key.tolist())) or 'none'}, test accuracy "
                       f"{100 * prog['test_acc'][ri]:.1f}%")
        if ref != prog["step"][-1]:
            verdict += (f" at step {ref}; then it lost it: at step {prog['step'][-1]} train accuracy is "
                        f"{100 * prog['train_acc'][-1]:.1f}%, test accuracy {100 * prog['test_acc'][-1]:.1f}%")
        out["verdict"] = _sentence(verdict)
    else:
        why = sub.why or f"task {cfg.task} is a sparse parity, not modular arithmetic over Z_p"
        na.update({m: why for m in ("spectrum", "key_freqs", "restricted_loss", "excluded_loss", "gini", "ipr",
                                    "clock", "neurons", "logit_fraction", "rqi")})

    if parity:
        _parity_section(out, _parity_weights(ref_params, sub), ds, prog["test_acc"][-1], na)
    elif not modular:
        na["parity"] = "not a sparse-parity task"
    if na:
        out["not_applicable"] = na
    out["notes"] = notes
    return out


def _parity_section(out: dict, bw: np.ndarray | None, ds, test_acc: float, na: dict) -> None:
    from groklab.interp import relevant_bits

    true_bits = [int(b) for b in ds.meta["bits"]]
    if bw is None:
        na["parity"] = "bit weights are read off an MLP's first layer; this run is a transformer"
        return
    found = relevant_bits(bw).tolist()
    out["parity"] = {"bits": found, "true_bits": true_bits, "weights": _sig(bw), "found": found == true_bits}
    rel = "relies on bits " + ", ".join(map(str, found)) if found else "relies on no bits that stand out"
    verdict = f"{rel}: exactly the task's bits" if found == true_bits else f"{rel}; the task's bits are {true_bits}"
    out["verdict"] = _sentence(f"{verdict} (test accuracy {100 * test_acc:.1f}%)")


def _check_params(st: Store, rid: str, params: dict, sub: _Subject) -> None:
    import jax

    shapes = jax.eval_shape(sub.model.init, jax.random.PRNGKey(0))
    st.check_params(rid, params, {k: tuple(v.shape) for k, v in shapes.items()})


def _sig(a: np.ndarray, digits: int = DIGITS) -> list:
    """Array rounded to a few significant digits, as nested lists (keeps the cached JSON small)."""
    a = np.asarray(a, np.float64)
    mag = np.floor(np.log10(np.where(a == 0, 1.0, np.abs(a))))
    scale = 10.0 ** (digits - 1 - mag)
    return (np.round(a * scale) / scale).tolist()


def _sentence(s: str) -> str:
    s = s.strip()
    return (s[:1].upper() + s[1:]).rstrip(".") + "."


def _structure(params: dict, sub: _Subject, na: dict, notes: list) -> dict:
    """Key frequencies, neurons and clock of one checkpoint of a modular run.

    Returns {"key_freqs", "key_freqs_neurons", "key_freqs_norms", "neurons"} and "clock" when
    there are key frequencies. The key set is the neurons' (Nanda et al.'s 2-D DFT), or, when no
    frequency holds a cluster of neurons, the frequencies that stand out of the embedding norms.
    """
    import jax
    import jax.numpy as jnp

    from groklab.interp import (
        UNCLUSTERED,
        embedding_spectrum,
        fourier_basis,
        frequency_power,
        key_frequencies_from_neurons,
        key_frequencies_from_norms,
        neuron_clusters,
        neuron_frequencies,
    )

    p, cfg = sub.p, sub.cfg
    x = sub.model.prepare(jnp.asarray(sub.grid))
    f32 = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    acts = np.asarray(jax.jit(sub.model.neurons)(f32, x), np.float64)
    acts = acts.reshape(p, p, -1)
    if sub.sign == -1:
        acts = acts[:, (-np.arange(p)) % p]
    nf = neuron_frequencies(acts)
    key_neurons = key_frequencies_from_neurons(nf)
    E = _token_weights(params, sub)
    key_norms = key_frequencies_from_norms(embedding_spectrum(E, p))
    key = key_neurons if key_neurons.size else key_norms
    if not key_neurons.size:
        notes.append("no frequency holds a cluster of neurons; key frequencies come from the embedding norms")
    if key.size > p // 4:
        notes.append(f"{key.size} of {p // 2} frequencies are key: the model spreads over many frequencies, "
                     "so restricted and excluded loss say little")

    clusters = neuron_clusters(nf)
    W = _neuron_token_weights(params, sub)                     # [n, p]
    neurons: dict = {"freq": nf.freq.tolist(), "frac_explained": _sig(nf.frac_explained),
                     "clusters": {str(k): v.tolist() for k, v in clusters.items() if k != UNCLUSTERED},
                     "unclustered": int(clusters.get(UNCLUSTERED, np.zeros(0)).size)}
    if W is not None and W.shape[0] == nf.freq.size and cfg.n_layers == 1:
        F, _ = fourier_basis(p)
        coef = F @ W.T                                         # [p, n]: const, cos 1, sin 1, ...
        f, n = np.maximum(nf.freq, 1), np.arange(nf.freq.size)
        sin = np.where(2 * f < p, coef[np.minimum(2 * f, p - 1), n], 0.0)   # even p: no sine at p/2
        phase = np.arctan2(sin, coef[2 * f - 1, n])
        order = np.lexsort((phase, np.where(nf.freq > 0, nf.freq, p)))
        stars = np.sqrt(frequency_power(W.T, p)).T             # [n, K]
        neurons.update(order=order.tolist(), heatmap=_sig(W[order]), stars=_sig(stars[order]))
    else:
        na["neuron_heatmap"] = ("token weights feed the first hidden layer, neuron frequencies are read off the "
                                "last: the heatmap and stars are drawn for 1-layer models only")

    out = {"key_freqs": key.tolist(), "key_freqs_neurons": key_neurons.tolist(),
           "key_freqs_norms": key_norms.tolist(), "neurons": neurons}
    if key.size:
        F, _ = fourier_basis(p)
        Ec = E - E.mean(axis=0)
        points = []
        for k in key:
            plane = np.stack([F[2 * k - 1] @ Ec, F[2 * k] @ Ec]) if 2 * k < p else np.stack([F[2 * k - 1] @ Ec])
            q, _ = np.linalg.qr(plane.T)                       # orthonormal basis of the cos/sin plane
            xy = Ec @ q
            if xy.shape[1] == 1:
                xy = np.concatenate([xy, np.zeros_like(xy)], axis=1)
            points.append(_sig(xy))
        out["clock"] = {"freqs": key.tolist(), "points": points, "tokens": list(range(p))}
    return out


def _checks(prog: dict, ri: int) -> dict:
    """The progress-measure facts Nanda et al. report, measured on this run's checkpoints.

    ri: index of the reference checkpoint (the last, or the last near the best test accuracy of a
    run that later lost it), where "after grokking" is read.
    """
    steps = np.asarray(prog["step"])
    arr = lambda k: np.asarray([np.nan if v is None else v for v in prog[k]], np.float64)  # noqa: E731
    r, te, ex, tr = arr("restricted_loss"), arr("test_loss"), arr("excluded_loss"), arr("train_loss")
    gen = _first(steps, te < LOW_LOSS)
    out = {"restricted_below_0.1": _first(steps, r < LOW_LOSS), "test_below_0.1": gen,
           "restricted_leads_test": None, "excluded_over_train": None, "at_step": int(steps[ri])}
    if out["restricted_below_0.1"] is not None:
        out["restricted_leads_test"] = gen is None or out["restricted_below_0.1"] < gen
    if np.isfinite(ex[ri]) and tr[ri] > 0:
        out["excluded_over_train"] = float(ex[ri] / tr[ri])
    for k in ("gini_embed", "gini_unembed", "weight_norm"):
        v = arr(k)
        out[k] = {"first": float(v[0]), "max": float(np.nanmax(v)), "at_step": float(v[ri]), "final": float(v[-1])}
    return out


# ---------------------------------------------------------------------------------------------- report view
_METRIC_KEYS = ("train_acc", "test_acc", "train_loss", "test_loss", "mia_auc", "mia_tpr1", "clean_acc",
                "memorized_acc", "inverted_acc", "weight_norm", "collapse_frac")


def run_view(store: Store | str | Path | None, run_ref: str) -> dict:
    """The report view of one run (schema in ``groklab.report``): its record, metrics and analysis.

    Sections whose data does not apply are left out; a run without checkpoints gets a note and
    only its record and metrics.
    """
    from groklab.api import summarize

    st = _open(store)
    row = st.get_run(run_ref)
    rid = row["run_id"]
    m = st.metrics(rid)
    summary = row["summary"]
    if summary is None:
        summary = summarize(from_dict(row["config"]), rid, m, row["status"], row["wall_s"])
    view: dict = {
        "run": {k: row.get(k) for k in ("run_id", "name", "status", "task", "config", "code_version", "machine",
                                          "wall_s", "created")},
        "summary": dict(summary),
        "metrics": {"step": m["step"].tolist(),
                    **{k: _nan_none(m[k]) for k in _METRIC_KEYS if k in m and np.any(np.isfinite(m[k]))}},
        "notes": [],
    }
    try:
        a = analyze_run(st, rid)
    except StoreError as e:
        view["notes"].append(str(e).removeprefix("analyze: ") + "; only the metric curves are shown")
        return view
    prog = a["progress"]
    view["progress"] = {k: prog[k] for k in ("step", "restricted_loss", "excluded_loss", "train_loss", "test_loss",
                                             "gini_embed", "gini_unembed", "weight_norm") if k in prog}
    if a.get("phases"):
        view["progress"]["phases"] = a["phases"]
    for k in ("spectrum", "clock", "verdict"):
        if a.get(k) is not None:
            view[k] = a[k]
    if a.get("key_freqs") is not None:
        view["key_freqs"] = a["key_freqs"]
        view["summary"]["n_key_freqs"] = len(a["key_freqs"])
    if a.get("neurons") and "heatmap" in a["neurons"]:
        view["neurons"] = {k: a["neurons"][k] for k in ("freq", "frac_explained", "order", "heatmap", "stars")}
    if a.get("parity"):
        view["parity"] = {"bits": a["parity"]["bits"], "weights": a["parity"]["weights"],
                          "true_bits": a["parity"]["true_bits"]}
    if (a.get("final") or {}).get("rqi") is not None:
        view["summary"]["rqi"] = a["final"]["rqi"]
    view["notes"] += a.get("notes", [])
    na = a.get("not_applicable") or {}
    if na and a["family"] == "other":
        view["notes"].append(next(iter(na.values())) + ": Fourier and parity sections are left out")
    return view


def _nan_none(v: np.ndarray) -> list:
    return [None if not np.isfinite(x) else float(x) for x in v]


__all__ = ["ANALYSIS_KEY", "PHASE_RULE", "analyze_run", "phase_boundaries", "run_view"]
