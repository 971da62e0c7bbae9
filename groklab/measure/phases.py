"""What happened in a run, read off its metric curves: when it memorized, when it generalized, and
which published class the run falls in.

Curves are plain 1-D numpy arrays indexed by evaluation: ``steps[i]`` is the training step at which
``train_acc[i]``, ``test_acc[i]``, ``train_loss[i]`` and ``test_loss[i]`` were measured.

References:
- Liu, Kitouni, Nolte, Michaud, Tegmark, Williams 2022, "Towards understanding grokking: an
  effective theory of representation learning" — the phase diagram (comprehension, grokking,
  memorization, confusion) from the first steps at which train and test accuracy reach 0.9.
- Pearce, Ghandeharioun, Hussein, Thain, Wattenberg, Dixon 2023, PAIR explorable "Do machine
  learning models memorize or generalize?" — run classes from the loss curves (no learn, no gen,
  gen, grok).
"""

from __future__ import annotations

import numpy as np


def _curve(name: str, values: np.ndarray, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D curve, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} points, the other curves {n}")
    return arr


def first_step(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    """Return the first step at which ``values >= threshold``, or None if it is never reached.

    steps: [T] evaluation steps, ascending. values: [T] the metric at those steps (NaN never counts
    as reaching the threshold).
    """
    steps = _curve("steps", steps)
    values = _curve("values", values, steps.shape[0])
    hit = np.flatnonzero(values >= threshold)
    return int(steps[hit[0]]) if hit.size else None


def liu_phase(steps: np.ndarray, train_acc: np.ndarray, test_acc: np.ndarray,
              threshold: float = 0.9, gap: int = 1000) -> str:
    """Classify a run into the phase diagram of Liu et al. 2022 ("Towards understanding grokking").

    With t_train, t_test the first steps where train / test accuracy reach ``threshold`` (0.9 in
    the paper) within the steps given:

    - ``"comprehension"``: both reached and t_test − t_train < ``gap`` (10^3 in the paper);
    - ``"grokking"``: both reached and t_test − t_train ≥ ``gap``;
    - ``"memorization"``: train reached, test never;
    - ``"confusion"``: train never reached. This includes the rare case where test accuracy reaches
      the threshold but train accuracy does not: the paper's diagram has no cell for it, and a
      model that has not fit its own training set has not comprehended the task.

    Returns one of the four strings above.
    """
    t_train = first_step(steps, train_acc, threshold)
    t_test = first_step(steps, test_acc, threshold)
    if t_train is None:
        return "confusion"
    if t_test is None:
        return "memorization"
    return "comprehension" if t_test - t_train < gap else "grokking"


def pair_class(train_loss: np.ndarray, test_loss: np.ndarray, no_learn: float = 1e-5,
               no_gen: float = 1e-5, gen_ratio: float = 5e4) -> str:
    """Classify a run by its loss curves with the rules of the PAIR explorable (Pearce et al. 2023).

    Checked in this order:

    - ``"no_learn"``: the minimum training loss is above ``no_learn`` (1e-5);
    - ``"no_gen"``: the minimum test loss is above ``no_gen`` (1e-5);
    - ``"gen"``: the maximum over training of test_loss / train_loss is below ``gen_ratio``
      (5·10^4): test loss tracked train loss, so the model generalized as it learned;
    - ``"grok"`` otherwise: test loss lagged far behind train loss before catching up.

    train_loss, test_loss: [T] losses at the same evaluation steps. Evaluations where either loss
    is NaN (a diverged run) are ignored, and a run with no evaluation left is "no_learn". In the
    ratio, a test loss of exactly 0 counts as ratio 0, and a positive test loss over a train loss of
    exactly 0 as ratio +inf.
    """
    train_loss = _curve("train_loss", train_loss).astype(np.float64)
    test_loss = _curve("test_loss", test_loss, train_loss.shape[0]).astype(np.float64)
    ok = ~(np.isnan(train_loss) | np.isnan(test_loss))
    train_loss, test_loss = train_loss[ok], test_loss[ok]
    if train_loss.size == 0 or train_loss.min() > no_learn:
        return "no_learn"
    if test_loss.min() > no_gen:
        return "no_gen"
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(test_loss == 0, 0.0, test_loss / train_loss)
    return "gen" if ratio.max() < gen_ratio else "grok"


def summarize_curves(steps: np.ndarray, train_acc: np.ndarray, test_acc: np.ndarray,
                     train_loss: np.ndarray, test_loss: np.ndarray, acc_threshold: float = 0.99,
                     phase_threshold: float = 0.9, phase_gap: int = 1000,
                     pair_thresholds: dict[str, float] | None = None) -> dict:
    """Summarize a run's curves in the numbers and classes groklab reports.

    Returns a dict with
    - ``t_mem`` / ``t_gen``: first step with train / test accuracy ≥ ``acc_threshold`` (None if
      never), the memorization and generalization times of Power et al. 2022;
    - ``delay``: t_gen − t_mem, or None if either is None;
    - ``phase``: ``liu_phase`` with ``phase_threshold`` and ``phase_gap`` (Liu et al. 2022);
    - ``t_train_liu`` / ``t_test_liu``: the first-reach steps that phase was decided from;
    - ``pair_class``: ``pair_class`` of the losses, with ``pair_thresholds`` (keys ``no_learn``,
      ``no_gen``, ``gen_ratio``) overriding its defaults (Pearce et al. 2023).
    """
    allowed = {"no_learn", "no_gen", "gen_ratio"}
    pair_thresholds = dict(pair_thresholds or {})
    unknown = sorted(set(pair_thresholds) - allowed)
    if unknown:
        raise ValueError(f"pair_thresholds has unknown keys {unknown}; allowed: {sorted(allowed)}")
    t_mem = first_step(steps, train_acc, acc_threshold)
    t_gen = first_step(steps, test_acc, acc_threshold)
    return {
        "t_mem": t_mem,
        "t_gen": t_gen,
        "delay": None if t_mem is None or t_gen is None else t_gen - t_mem,
        "phase": liu_phase(steps, train_acc, test_acc, phase_threshold, phase_gap),
        "pair_class": pair_class(train_loss, test_loss, **pair_thresholds),
        "t_train_liu": first_step(steps, train_acc, phase_threshold),
        "t_test_liu": first_step(steps, test_acc, phase_threshold),
    }
