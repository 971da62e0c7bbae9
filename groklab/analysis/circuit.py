"""The circuit test of a run in the basis its task's structure calls for, at every checkpoint.

The basis is chosen from what the labels are, never from the task's name (``choose_basis``):

- two operands in Z_p whose labels are a + b or a − b mod p: Z_p characters ("additive");
- labels a·b or a·b⁻¹ mod p, p prime: multiplicative characters over the discrete log
  ("multiplicative"; zero apart);
- any other map Z_p² → Z_p (polynomials, mixed operators, ``expr:``): 2-D characters of (x, y) ("2d");
- two elements of S_n whose label is an element of S_n: irreducible representations ("irreps"),
  built and checked (homomorphism, orthogonal characters) by ``groklab.interp.irreps``;
- bit strings labelled by a parity: Walsh subsets ("walsh").

At each checkpoint ``groklab.interp.circuit`` finds the key components in the logits on the input
table, the share of the logit variance they explain, and the keep-only and remove ablations on
the held-out rows, with a label (generalizing circuit / memorizing / …); restricted and excluded
loss use the components found at the reference checkpoint (as Nanda et al.'s progress measures use
its key frequencies). Weight pictures: the norm of the token weights per component over checkpoints
(irreps of S_n; discrete-log frequencies of Z_p^*).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from groklab.analysis.fmt import sentence, sig
from groklab.analysis.subject import Subject

# components listed in the spectrum the report draws, at most (the strongest, key ones first)
SPECTRUM_MAX = 64


@lru_cache(maxsize=4)
def _irreps(n: int):
    from groklab.interp.irreps import check_irreps, irreps
    from groklab.tasks.groups import permutations

    perms = permutations(n)
    reps = irreps(perms)
    if n <= 5:                     # S6's check reads 720² products per irrep: seconds; tests run it
        check_irreps(reps, perms)
    return reps


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % d for d in range(2, int(p ** 0.5) + 1))


def choose_basis(sub: Subject, ranking: np.ndarray | None = None):
    """(basis, why): the basis the task's labels call for (module doc), or (None, reason)."""
    from groklab.interp.bases import additive_basis, irrep_label_basis, multiplicative_label_basis
    from groklab.interp.fourier2d import Fourier2DBasis
    from groklab.interp.walsh import WalshBasis, candidate_subsets

    ds = sub.ds
    y = np.asarray(ds.y, np.int64)
    if sub.family == "modular":
        p = sub.p
        a, b = ds.x[:, 0].astype(np.int64), ds.x[:, 1].astype(np.int64)
        if np.array_equal(y, (a + b) % p) or np.array_equal(y, (a - b) % p):
            return additive_basis(p, y), None
        if _is_prime(p) and np.array_equal(y, a * b % p):
            return multiplicative_label_basis(p, y), None
        if _is_prime(p) and np.all(b % p) and np.array_equal(y, a * np.array([pow(int(v), p - 2, p) for v in b]) % p):
            return multiplicative_label_basis(p, y), None
        return Fourier2DBasis(p, ds.x.astype(np.int64)), None
    if sub.family == "group":
        return irrep_label_basis(list(_irreps(int(ds.meta["perm_n"]))), y), None
    if sub.family == "parity":
        bits = np.asarray(ds.x, np.int64)
        return WalshBasis(bits, tuple(candidate_subsets(bits.shape[1], ranking))), None
    return None, sub.why or f"task {sub.cfg.task} has no basis for a circuit test"


class CircuitProgress:
    """The circuit test at every checkpoint of a run (``add``), and its summary (``section``)."""

    def __init__(self, sub: Subject, basis, grid_rows: np.ndarray | None, ref_step: int, ref_z: np.ndarray,
                 ref_train_acc: float):
        from groklab.interp.circuit import circuit_test

        self.sub, self.basis, self.ref_step = sub, basis, ref_step
        self.grid_rows = grid_rows              # table row → row of the forward pass (modular: the p×p grid)
        ds = sub.ds
        self.y = np.asarray(ds.y, np.int64)
        self.test_idx = np.asarray(ds.test_idx, np.int64)
        self.train_idx = np.asarray(ds.train_idx, np.int64)
        self._ref_rows = self._rows(ref_z)
        self.reference = circuit_test(basis, self._ref_rows, self.y, self.test_idx)
        self.ref_train_acc = ref_train_acc
        self.additive = basis.kind == "additive"
        self.n_elements = basis.B.shape[1] if hasattr(basis, "B") else None
        self.weights: list[list[float]] = []
        self.weight_steps: list[int] = []

    def _rows(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, np.float64)
        return z if self.grid_rows is None else z[self.grid_rows]

    def add(self, step: int, z: np.ndarray, params: dict, prog: dict) -> None:
        """The measures of one checkpoint, appended to the run's progress lists."""
        from groklab.interp.circuit import circuit_label, circuit_test, restricted_excluded

        zr = self._rows(z)
        t = circuit_test(self.basis, zr, self.y, self.test_idx)
        train_acc = prog["train_acc"][-1] if prog["train_acc"][-1] is not None else 0.0
        for k, v in (("explained", t.explained), ("keep_acc", t.keep_acc), ("keep_loss", t.keep_loss),
                     ("remove_acc", t.remove_acc), ("remove_loss", t.remove_loss),
                     ("circuit", circuit_label(t, train_acc)), ("components", list(t.names))):
            prog.setdefault(k, []).append(v)
        if not self.additive:                  # the additive run keeps Nanda's own restricted/excluded loss
            r, e = (None, None)
            if self.reference.components and self.train_idx.size:
                r, e = restricted_excluded(self.basis, zr, self.y, self.sub.ds.y_train, self.train_idx,
                                           self.reference.components)
            prog.setdefault("restricted_loss", []).append(r)
            prog.setdefault("excluded_loss", []).append(e)
        self._weights(step, params)

    def _weights(self, step: int, params: dict) -> None:
        """Norm of the token weights per component (irreps; discrete-log frequencies)."""
        from groklab.interp.irreps import irrep_norms
        from groklab.interp.multiplicative import log_spectrum

        if self.basis.kind not in ("irreps", "multiplicative"):
            return
        W = self.sub.model.token_weights(params)
        if W is None or W.shape[0] < self.n_elements:
            return
        W = np.asarray(W, np.float64)[:self.n_elements]
        if self.basis.kind == "irreps":
            norms = irrep_norms(W, list(_irreps(int(self.sub.ds.meta["perm_n"]))))[1:]   # the trivial irrep left out
        else:
            norms = log_spectrum(W, self.n_elements)
        self.weights.append(sig(norms))
        self.weight_steps.append(step)

    def section(self, out: dict, ri: int) -> None:
        """basis, components, ablation (at the reference checkpoint), the spectrum and weight norms."""
        t, prog = self.reference, out["progress"]
        out["basis"] = self.basis.kind
        dims = self.basis.dims
        out["components"] = [{"name": n, "dim": int(dims[c]), "fraction": f}
                             for n, c, f in zip(t.names, t.components, t.fractions)]
        out["ablation"] = {"step": int(prog["step"][ri]), "circuit": prog["circuit"][ri], "fit": "table",
                           "scored": "held-out", **{k: v for k, v in t.as_dict().items() if k != "components"}}
        out["basis_spectrum"] = self._spectrum(t)
        if self.weights:
            names = list(self.basis.names[1:]) if self.basis.kind == "multiplicative" else list(self.basis.names)
            out["basis_weights"] = {"step": self.weight_steps, "names": names, "norms": self.weights,
                                    "key": [n for n in t.names if n in names]}

    def sentence(self) -> str:
        from groklab.interp.circuit import circuit_sentence

        return circuit_sentence(self.reference, self.ref_train_acc)

    def _spectrum(self, t) -> dict:
        """Share of the table's logit variance per component at the reference checkpoint: every component,
        or the SPECTRUM_MAX strongest (key components first) when there are more."""
        from groklab.interp.circuit import component_power

        power, total = component_power(self.basis, self._ref_rows, np.arange(self.basis.n_rows))
        share = power / total if total > 0 else np.zeros_like(power)
        idx = np.arange(share.size)
        if share.size > SPECTRUM_MAX:
            rest = [i for i in np.argsort(-share, kind="stable") if i not in set(t.components)]
            idx = np.array(list(t.components[:SPECTRUM_MAX]) + rest[:max(0, SPECTRUM_MAX - len(t.components))])
        names = self.basis.names
        return {"step": self.ref_step, "names": [names[i] for i in idx], "fractions": sig(share[idx]),
                "key": [bool(i in set(t.components)) for i in idx], "n_components": int(share.size)}


def circuit_progress(sub: Subject, forward, reference, grid_rows: np.ndarray | None, notes: list,
                     na: dict) -> CircuitProgress | None:
    """The circuit test of this run, set up at its reference checkpoint (step, params), or None where no
    basis applies (the reason in ``na['circuit']``)."""
    step, params = reference
    ranking = None
    if sub.family == "parity":
        bw = sub.model.bit_weights(params)
        ranking = None if bw is None else np.argsort(-np.asarray(bw).sum(axis=0), kind="stable")
    basis, why = choose_basis(sub, ranking)
    if basis is None:
        na["circuit"] = why
        return None
    if not all(np.all(np.isfinite(np.asarray(v))) for v in params.values()):
        na["circuit"] = f"the reference checkpoint (step {step}) holds non-finite weights"
        return None
    z, _, hit = (np.asarray(v) for v in forward(params))
    ds = sub.ds
    train_acc = float(hit[ds.train_idx].mean()) if ds.train_idx.size else 0.0
    cp = CircuitProgress(sub, basis, grid_rows, step, z, train_acc)
    if basis.kind == "irreps" and int(ds.meta["perm_n"]) > 5:
        notes.append(f"S{ds.meta['perm_n']}'s irreps are checked (homomorphism, orthogonal characters) by the tests, "
                     "not at each analysis")
    if basis.kind == "irreps" and ds.meta.get("op") not in (None, "compose"):
        notes.append(f"the labels are a{'·b·a⁻¹' if ds.meta['op'] == 'conjugate' else '·b·a'}: the irreps are read at "
                     "that element, as functions of the answer")
    return cp


def finish(out: dict, cp: CircuitProgress | None, notes: list, na: dict) -> None:
    """Write the circuit section into the analysis; the verdict becomes the tested one."""
    if cp is None:
        return
    prog = out["progress"]
    if not cp.additive and not cp.reference.components:
        for m in ("restricted_loss", "excluded_loss"):
            na[m] = f"no key components stand out at the reference checkpoint (step {cp.ref_step})"
    ref = cp.ref_step
    out.setdefault("reference_step", ref)
    ri = prog["step"].index(ref) if ref in prog["step"] else len(prog["step"]) - 1
    cp.section(out, ri)
    tested = cp.sentence()
    if out.get("family") == "parity" and out.get("verdict"):        # the bits the first layer weights
        bits = out["verdict"].rstrip(".")
        out["verdict"] = sentence(f"{tested}; the first layer {bits[:1].lower()}{bits[1:]}")
    elif out.get("family") == "modular":
        lost = out.get("verdict", "").partition(f" at step {ref}; then it lost it")
        out["verdict"] = sentence(tested + (lost[1] + lost[2] if lost[1] else ""))
    else:
        out["verdict"] = sentence(tested)
    if out["basis"] == "multiplicative":
        from groklab.interp.multiplicative import primitive_root

        g = primitive_root(cp.basis.B.shape[1])
        notes.append(f"multiplicative characters over the discrete log to the primitive root {g} "
                     "(the smallest); 0 has its own component, 'zero'")
    if out["basis"] == "2d" and len(cp.reference.components) >= 256:
        notes.append("256 2-D frequencies are key, the most tested: the model spreads over many of them")


def view(a: dict) -> dict:
    """The report's circuit data: basis, ablation beside the verdict, spectrum, weight norms, ablation curves."""
    if not a.get("basis"):
        return {}
    prog = a["progress"]
    curves = {k: prog[k] for k in ("step", "test_acc", "keep_acc", "remove_acc", "explained") if k in prog}
    return {"circuit": {"basis": a["basis"], "components": a.get("components", []), "ablation": a.get("ablation"),
                        "spectrum": a.get("basis_spectrum"), "weights": a.get("basis_weights"), "curves": curves}}


__all__ = ["SPECTRUM_MAX", "CircuitProgress", "choose_basis", "circuit_progress", "finish", "view"]
