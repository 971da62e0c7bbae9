"""The analysis of a run's checkpoints, given as an iterator of (step, params), with its config and
metric curves: progress measures per checkpoint, the structure at a reference checkpoint, phases
and a verdict. No store here: ``groklab.analysis.stored`` reads the checkpoints and caches the result."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from groklab.analysis.circuit import circuit_progress
from groklab.analysis.circuit import finish as finish_circuit
from groklab.analysis.fmt import sentence, sig
from groklab.analysis.phases import PHASE_RULE, phase_boundaries
from groklab.analysis.structure import checks, parity_section, structure
from groklab.analysis.subject import Grids, Subject, forward_fn, subject
from groklab.config import Config
from groklab.errors import StoreError

# parallelograms sampled per checkpoint for RQI (its standard error stays near 1%)
RQI_SAMPLES = 2000
_FOURIER = ("restricted_loss", "excluded_loss", "logit_fraction", "rqi")
_NOT_MODULAR = ("spectrum", "key_freqs", "restricted_loss", "excluded_loss", "gini", "ipr", "clock", "neurons",
                "logit_fraction", "rqi")

Checkpoint = tuple[int, Mapping[str, np.ndarray]]


def reference_step(steps: list[int], metrics: Mapping[str, np.ndarray], threshold: float) -> int:
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


def _f64(params: Mapping) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float64) for k, v in params.items()}


def _prefetched(checkpoints: Iterable[Checkpoint], forward):
    """Yield (step, params float64, forward's outputs or None if the weights are not finite),
    dispatching the next checkpoint's forward pass before the current one is analyzed, so XLA and
    numpy overlap."""
    pending = None
    for step, raw in checkpoints:
        params = _f64(raw)
        finite = all(np.all(np.isfinite(v)) for v in params.values())
        nxt = (step, params, forward(raw) if finite else None)
        if pending is not None:
            yield pending
        pending = nxt
    if pending is not None:
        yield pending


class _Progress:
    """The measures of every checkpoint, one list per measure."""

    def __init__(self, sub: Subject, key: np.ndarray | None):
        self.sub, self.key = sub, key
        self.modular, self.parity = sub.family == "modular", sub.family == "parity"
        self.additive = self.modular and sub.sign is not None
        self.grids = Grids(sub) if self.modular else None
        extra = (["gini_embed", "gini_unembed", "ipr_mean"] if self.modular else []) + \
            (list(_FOURIER) if self.additive else []) + (["true_bit_weight_frac"] if self.parity else [])
        self.prog: dict[str, list] = {k: [] for k in ("step", "train_loss", "test_loss", "train_acc", "test_acc",
                                                       "weight_norm", *extra)}
        self.norms: dict[str, list] = {}
        self.spectra: list[list[float]] = []
        self.skipped: list[int] = []
        self.last: int | None = None
        self.circuit = None        # groklab.analysis.circuit.CircuitProgress, set once the reference is read

    def forward(self):
        rows = self.grids.rows if self.modular else np.arange(self.sub.ds.x.shape[0])
        return forward_fn(self.sub, rows)

    def add(self, step: int, params: dict, outputs) -> None:
        from groklab.interp import sum_squared_weights

        self.last = step
        if outputs is None:
            self.skipped.append(step)
            return
        ds, prog = self.sub.ds, self.prog
        z, ce, hit = (np.asarray(v) for v in outputs)
        prog["step"].append(step)
        ssw = sum_squared_weights(params)
        prog["weight_norm"].append(ssw.pop("total"))
        for name, v in ssw.items():
            self.norms.setdefault(name, []).append(v)
        for name, idx in (("train", ds.train_idx), ("test", ds.test_idx)):
            prog[f"{name}_loss"].append(float(ce[idx].mean(dtype=np.float64)) if idx.size else None)
            prog[f"{name}_acc"].append(float(hit[idx].mean()) if idx.size else None)
        if self.modular:
            E = self._fourier(params)
        if self.additive:
            self._circuit(z, E)
        if self.circuit is not None:
            self.circuit.add(step, z, params, prog)
        if self.parity:
            bw = self.sub.model.bit_weights(params)
            if bw is not None:
                tot = bw.sum(axis=0)
                prog["true_bit_weight_frac"].append(float(tot[ds.meta["bits"]].sum() / max(tot.sum(), 1e-300)))

    def _fourier(self, params: dict) -> np.ndarray:
        from groklab.interp import embedding_spectrum, gini, ipr, unembedding_spectrum

        sub, prog = self.sub, self.prog
        E = sub.token_weights(params)
        spec = embedding_spectrum(E, sub.p)
        self.spectra.append(sig(spec))
        prog["gini_embed"].append(gini(spec))
        prog["gini_unembed"].append(gini(unembedding_spectrum(sub.model.unembedding(params), sub.p)))
        prog["ipr_mean"].append(float(ipr(sub.neuron_weights(params)).mean()))
        return E

    def _circuit(self, z: np.ndarray, E: np.ndarray) -> None:
        from groklab.interp import excluded_loss, fourier_logit_fraction, restricted_loss, rqi

        sub, prog, grids, key = self.sub, self.prog, self.grids, self.key
        zg = grids.reindex(z.astype(np.float64), sub.p)
        has_key = key.size > 0
        prog["restricted_loss"].append(restricted_loss(zg, grids.true, key) if has_key else None)
        prog["excluded_loss"].append(excluded_loss(zg, grids.obs, key, grids.train) if has_key else None)
        prog["logit_fraction"].append(fourier_logit_fraction(zg, key) if has_key else None)
        prog["rqi"].append(rqi(E, sub.p, max_samples=RQI_SAMPLES) if sub.sign == 1 else None)


def analyze_checkpoints(cfg: Config, checkpoints: Iterable[Checkpoint], metrics: Mapping[str, np.ndarray], *,
                        reference: Checkpoint | None = None, dataset=None, model=None,
                        run_id: str | None = None) -> dict:
    """Analyze a run's checkpoints (see ``groklab.analysis``): the dict ``analyze_run`` returns,
    without its fingerprint.

    checkpoints: (step, params) in ascending steps, read once, lazily; metrics: the run's curves
    {"step": [T], "train_acc": [T], ...}; reference: the checkpoint where the structure is read
    (default: ``reference_step``'s, which makes this read every checkpoint into memory first);
    dataset and model: the run's, built from ``cfg`` unless given. Raises StoreError if every
    checkpoint holds non-finite weights.
    """
    if reference is None:
        checkpoints = list(checkpoints)
        if not checkpoints:
            raise StoreError("analyze: there are no checkpoints to analyze")
        ref = reference_step([s for s, _ in checkpoints], metrics, cfg.phase_threshold)
        reference = next(c for c in checkpoints if c[0] == ref)
    sub = subject(cfg, dataset, model)
    ref, ref_params = reference[0], _f64(reference[1])
    notes: list[str] = []
    na: dict[str, str] = {}
    out: dict = {"run_id": run_id, "task": cfg.task, "family": sub.family, "model": cfg.model}
    # the structure (key frequencies, neurons, clock) is read at one checkpoint, and the key
    # frequencies are needed at every checkpoint: read it first
    key, lost_at = None, None
    if sub.family == "modular":
        found = structure(ref_params, sub, na, notes)
        key = np.asarray(found["key_freqs"], np.int64)
        out.update(found)
        out["reference_step"] = ref
        lost_at = len(notes)
    if sub.family == "modular" and sub.sign is not None and not key.size:
        notes.append("no key frequencies: restricted loss, excluded loss and logit fraction are left empty")

    pr = _Progress(sub, key)
    fwd = pr.forward()
    pr.circuit = circuit_progress(sub, fwd, (ref, ref_params), pr.grids.rows if pr.grids else None, notes, na)
    for step, params, outputs in _prefetched(checkpoints, fwd):
        pr.add(step, params, outputs)
    if lost_at is not None and ref != pr.last:
        notes.insert(lost_at, f"the run lost the test accuracy it had: key frequencies, neurons and clock are read "
                     f"at step {ref}, its last checkpoint near its best test accuracy, not at the end")
    if pr.skipped:
        notes.append(f"checkpoints at steps {pr.skipped} hold non-finite weights and were skipped")
    prog = pr.prog
    if not prog["step"]:
        raise StoreError(f"analyze: every checkpoint of run {run_id} holds non-finite weights")
    out["steps"] = prog["step"]
    out["progress"] = {**prog, "weight_norms": pr.norms}
    _phases(out, cfg, metrics)
    if cfg.loss != "ce":
        notes.append(f"this run trained on the {cfg.loss} loss; the progress losses are cross-entropies of its "
                     "outputs (Nanda et al.'s measures), its own losses are in the metrics")
    at = {k: v[-1] for k, v in prog.items() if v and k != "step"}
    out["final"] = {"step": prog["step"][-1], **at}
    if sub.family == "modular":
        _modular_sections(out, sub, pr, ref, na, notes)
    else:
        why = sub.why or (f"task {cfg.task} is a sparse parity, not modular arithmetic over Z_p"
                          if sub.family == "parity" else
                          f"task {cfg.task} composes elements of S_n, not of Z_p (its basis is S_n's irreps)")
        na.update({m: why for m in _NOT_MODULAR if m not in prog or not any(v is not None for v in prog[m])})
    if sub.family == "parity":
        at_ref = prog["test_acc"][prog["step"].index(ref)] if ref in prog["step"] else prog["test_acc"][-1]
        parity_section(out, sub.model.bit_weights(ref_params), sub.ds, at_ref, na)
    elif sub.family != "modular":
        na["parity"] = "not a sparse-parity task"
    finish_circuit(out, pr.circuit, notes, na)
    if na:
        out["not_applicable"] = na
    out["notes"] = notes
    return out


def _phases(out: dict, cfg: Config, metrics: Mapping[str, np.ndarray]) -> None:
    ms = metrics["step"]
    if ms.size and "train_acc" in metrics and "test_loss" in metrics:
        out["phases"] = phase_boundaries(ms, metrics["train_acc"], metrics["test_acc"], metrics["test_loss"],
                                         metrics.get("weight_norm"), acc_threshold=cfg.acc_threshold,
                                         gen_threshold=cfg.phase_threshold)
        out["phase_rule"] = PHASE_RULE


def _modular_sections(out: dict, sub: Subject, pr: _Progress, ref: int, na: dict, notes: list) -> None:
    """Spectrum, checks and verdict of a modular run."""
    from groklab.interp import circuit_verdict

    cfg, ds, prog, key = sub.cfg, sub.ds, pr.prog, pr.key
    out["spectrum"] = {"step": prog["step"], "freqs": list(range(1, sub.p // 2 + 1)), "norms": pr.spectra}
    if ds.x.shape[0] < sub.p * sub.p:
        notes.append(f"the task has {ds.x.shape[0]} of the {sub.p * sub.p} pairs (a, b): losses use the pairs "
                     "that exist; neuron frequencies and logit fractions use the model's outputs on every pair")
    if cfg.noise:
        notes.append(f"{cfg.noise:.0%} of training labels are corrupted: the excluded loss uses the training "
                     "labels, the restricted loss the true ones")
    ri = prog["step"].index(ref) if ref in prog["step"] else len(prog["step"]) - 1
    if pr.additive:
        out["checks"] = checks(prog, ri)
        frac = prog["logit_fraction"][ri]
        verdict = circuit_verdict(key, frac if frac is not None else 0.0, prog["test_acc"][ri])
        if sub.sign == -1:
            na["rqi"] = "RQI's parallelograms i + j = m + n describe addition, not a − b"
            notes.append("labels are a − b mod p: the Fourier directions are taken in a + (−b)")
    else:
        for m in (_FOURIER if pr.circuit is None else ("logit_fraction", "rqi")):
            na[m] = (f"the labels of {cfg.task} are not a ± b mod p, and this measure reads the directions "
                     "cos(w_k(a+b)) of the addition circuit (Nanda et al. 2023)")
        verdict = (f"the task {cfg.task} is not addition mod p, so the clock circuit's measures do not apply; key "
                   f"frequencies {', '.join(map(str, key.tolist())) or 'none'}, test accuracy "
                   f"{100 * prog['test_acc'][ri]:.1f}%")
    if ref != prog["step"][-1]:
        verdict += (f" at step {ref}; then it lost it: at step {prog['step'][-1]} train accuracy is "
                    f"{100 * prog['train_acc'][-1]:.1f}%, test accuracy {100 * prog['test_acc'][-1]:.1f}%")
    out["verdict"] = sentence(verdict)


__all__ = ["RQI_SAMPLES", "analyze_checkpoints", "reference_step"]
