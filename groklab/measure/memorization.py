"""Per-example memorization, influence, likelihood-ratio membership inference and canary exposure,
from a subset ensemble: K models, model k trained on the pool examples where ``inc[k]`` is set.

Every function takes numpy arrays with a leading member axis ``[K, n]`` and a ``[K]`` mask of the
members to use (members whose loss turned non-finite are left out).

- Memorization (Feldman & Zhang 2020, "What neural networks memorize and why: discovering the long
  tail via influence estimation"): mem(i) = P(h_S(x_i) = y_i | i ∈ S) − P(h_S(x_i) = y_i | i ∉ S),
  the probabilities estimated by the mean over the members with and without example i.
- Counterfactual memorization on the loss (Zhang, Ippolito, Lee, Jagielski, Tramèr, Carlini 2021,
  "Counterfactual memorization in neural language models"): E[ℓ_i | i ∉ S] − E[ℓ_i | i ∈ S].
- Influence (Feldman & Zhang 2020): infl(i → j) = P(h_S(x_j) = y_j | i ∈ S) − P(h_S(x_j) = y_j | i ∉ S)
  for held-out examples j.
- LiRA, online (Carlini, Chien, Nasr, Song, Terzis, Tramèr 2022, "Membership inference attacks from
  first principles"): for target model t and example i, Gaussians fitted to the logit-scaled
  confidence φ = log(p_y / (1 − p_y)) of the *other* members with and without i; the score is the
  log-likelihood ratio log N(φ_ti; μ_in, σ_in²) − log N(φ_ti; μ_out, σ_out²). The means are the
  Gaussian fits' (not the median their code uses); the variance is each example's own when each
  side has at least ``PER_EXAMPLE_VAR_MIN`` shadow models, else pooled over the examples (their
  "fixed variance", which they recommend for few shadow models).
- Exposure (Carlini, Liu, Erlingsson, Kos, Song 2019, "The Secret Sharer"): a canary's secret label
  ranked among all |R| = C labels by the model's loss (rank 1: the lowest loss);
  exposure = log₂ C − log₂ rank.
"""

from __future__ import annotations

import warnings

import numpy as np

from groklab.measure.leakage import mia_auc, tpr_at_fpr

PER_EXAMPLE_VAR_MIN = 32        # shadow models per side before each example gets its own variance
FPRS = (0.001, 0.01)            # the false-positive rates TPR is reported at (Carlini et al. 2022)


def _masks(inc: np.ndarray, alive: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    inc = np.asarray(inc, bool)
    use = np.ones(inc.shape[0], bool) if alive is None else np.asarray(alive, bool)
    return inc & use[:, None], ~inc & use[:, None]


def in_out_means(inc: np.ndarray, values: np.ndarray, alive: np.ndarray | None = None):
    """(mean over IN members, mean over OUT members, n_in, n_out) of ``values`` ``[K, n]`` per
    example; a mean with no member is NaN."""
    m_in, m_out = _masks(inc, alive)
    v = np.where(np.isfinite(values), values, 0.0).astype(np.float64)
    n_in, n_out = m_in.sum(0), m_out.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in = np.where(n_in > 0, (v * m_in).sum(0) / n_in, np.nan)
        mean_out = np.where(n_out > 0, (v * m_out).sum(0) / n_out, np.nan)
    return mean_in, mean_out, n_in, n_out


def memorization(inc: np.ndarray, correct: np.ndarray, alive: np.ndarray | None = None) -> np.ndarray:
    """mem(i) = P(correct | i ∈ S) − P(correct | i ∉ S) (Feldman & Zhang 2020); ``correct`` ``[K, n]``."""
    p_in, p_out, _, _ = in_out_means(inc, np.asarray(correct, np.float64), alive)
    return p_in - p_out


def counterfactual_loss(inc: np.ndarray, loss: np.ndarray, alive: np.ndarray | None = None) -> np.ndarray:
    """E[loss | i ∉ S] − E[loss | i ∈ S] (Zhang et al. 2021's counterfactual memorization, on the loss)."""
    l_in, l_out, _, _ = in_out_means(inc, loss, alive)
    return l_out - l_in


def influence(inc: np.ndarray, correct_test: np.ndarray, alive: np.ndarray | None = None,
              top: int = 20, block: int = 512) -> dict:
    """Feldman & Zhang 2020's influence of each pool example i on each held-out example j.

    ``correct_test`` ``[K, n_test]``. Returns {"max": [n_pool] the largest infl(i → j) over j,
    "argmax": [n_pool] that j, "pairs": the ``top`` (i, j, infl) pairs, largest first}; the full
    ``[n_pool, n_test]`` matrix is computed in blocks of rows and never kept.
    """
    m_in, m_out = _masks(inc, alive)
    c = np.asarray(correct_test, np.float64) * (m_in.any(1) | m_out.any(1))[:, None]
    a_in = m_in.T / np.maximum(m_in.sum(0), 1)[:, None]
    a_out = m_out.T / np.maximum(m_out.sum(0), 1)[:, None]
    ok = (m_in.sum(0) > 0) & (m_out.sum(0) > 0)
    n_pool = inc.shape[1]
    best, arg = np.full(n_pool, np.nan), np.zeros(n_pool, np.int64)
    pairs: list[tuple[float, int, int]] = []
    for lo in range(0, n_pool, block):
        infl = a_in[lo:lo + block] @ c - a_out[lo:lo + block] @ c
        infl[~ok[lo:lo + block]] = -np.inf
        if infl.shape[1] == 0:
            break
        arg[lo:lo + block] = infl.argmax(1)
        best[lo:lo + block] = infl.max(1)
        flat = np.argsort(infl, axis=None)[-top:]
        pairs += [(float(infl.flat[f]), lo + int(f // infl.shape[1]), int(f % infl.shape[1])) for f in flat]
    best[~ok] = np.nan
    pairs = sorted((p for p in pairs if np.isfinite(p[0])), reverse=True)[:top]
    return {"max": best, "argmax": arg, "pairs": [{"i": i, "j": j, "infl": v} for v, i, j in pairs]}


def _loo_stats(mask: np.ndarray, phi: np.ndarray):
    """Per (target t, example i): mean and variance of φ over the members in ``mask`` other than t."""
    v = np.where(mask, phi, 0.0)
    s1, s2, n = v.sum(0), (v * v).sum(0), mask.sum(0)
    n_t = n[None, :] - mask
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (s1[None, :] - v) / n_t
        var = ((s2[None, :] - v * v) - n_t * mu * mu) / (n_t - 1)
    return mu, np.maximum(var, 0.0), n_t


def lira_scores(inc: np.ndarray, phi: np.ndarray, alive: np.ndarray | None = None,
                per_example_min: int = PER_EXAMPLE_VAR_MIN) -> np.ndarray:
    """Online LiRA (Carlini et al. 2022) score of every (target member t, pool example i), ``[K, n]``:
    higher means "member". Shadow statistics leave the target out; NaN where a side has fewer than
    two shadow models or the target is not used."""
    m_in, m_out = _masks(inc, alive)
    phi = np.where(np.isfinite(phi), phi, 0.0).astype(np.float64)
    mu_in, var_in, n_in = _loo_stats(m_in, phi)
    mu_out, var_out, n_out = _loo_stats(m_out, phi)
    ok = (n_in >= 2) & (n_out >= 2)
    if n_in[ok].min(initial=0) < per_example_min or n_out[ok].min(initial=0) < per_example_min:
        with warnings.catch_warnings():         # pooled over examples, per target (a target with none: NaN)
            warnings.simplefilter("ignore", RuntimeWarning)
            var_in = np.broadcast_to(np.nanmean(np.where(ok, var_in, np.nan), 1, keepdims=True), var_in.shape)
            var_out = np.broadcast_to(np.nanmean(np.where(ok, var_out, np.nan), 1, keepdims=True), var_out.shape)
    floor = 1e-12
    var_in, var_out = np.maximum(var_in, floor), np.maximum(var_out, floor)
    score = (-0.5 * (phi - mu_in) ** 2 / var_in - 0.5 * np.log(var_in)
             + 0.5 * (phi - mu_out) ** 2 / var_out + 0.5 * np.log(var_out))
    use = np.ones(inc.shape[0], bool) if alive is None else np.asarray(alive, bool)
    return np.where(ok & use[:, None], score, np.nan)


def attack_metrics(scores: np.ndarray, inc: np.ndarray, fprs: tuple[float, ...] = FPRS) -> dict:
    """AUC and TPR at each false-positive rate of an attack whose ``scores`` ``[K, n]`` are higher for
    members, over every (member, example) pair with a finite score; labels from ``inc``."""
    ok = np.isfinite(scores)
    member, non = -scores[ok & inc], -scores[ok & ~inc]    # leakage's functions flag *low* values
    if member.size == 0 or non.size == 0:
        return {"auc": None, **{f"tpr@{f:g}": None for f in fprs}, "n_pairs": int(ok.sum())}
    return {"auc": mia_auc(member, non), **{f"tpr@{f:g}": tpr_at_fpr(member, non, f) for f in fprs},
            "n_pairs": int(ok.sum())}


def roc_points(scores: np.ndarray, inc: np.ndarray, n: int = 40) -> dict:
    """The ROC curve at ``n`` log-spaced false-positive rates from 1/(non-members) to 1, for a
    log-log plot (Carlini et al. 2022's Figure style): {"fpr": [...], "tpr": [...]}."""
    ok = np.isfinite(scores)
    member, non = -scores[ok & inc], -scores[ok & ~inc]
    if member.size == 0 or non.size == 0:
        return {"fpr": [], "tpr": []}
    fprs = np.unique(np.geomspace(1.0 / non.size, 1.0, n))
    return {"fpr": fprs.tolist(), "tpr": [tpr_at_fpr(member, non, float(f)) for f in fprs]}


def exposure(rank: np.ndarray, n_classes: int) -> np.ndarray:
    """Exposure of a secret ranked ``rank`` (1 = the model's likeliest of ``n_classes`` candidates),
    log₂ C − log₂ rank (Carlini et al. 2019); same shape as ``rank``."""
    return np.log2(float(n_classes)) - np.log2(np.maximum(np.asarray(rank, np.float64), 1.0))


def separation_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """ROC AUC of ``scores`` ranking the ``positive`` examples above the others (ties count half);
    None when a group is empty or no score is finite."""
    ok = np.isfinite(scores)
    pos, neg = scores[ok & positive], scores[ok & ~positive]
    if pos.size == 0 or neg.size == 0:
        return None
    return mia_auc(-pos, -neg)
