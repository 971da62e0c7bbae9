"""Every label groklab shows about a run, decided here and nowhere else.

The CLI (table, ``show``, ``demo``), ``--json``, the run and sweep reports (HTML and PNG), the sweep
views and the reproduction tables all read these labels from a run's summary, which
``summarize_curves`` fills from the metric curves with the functions below:

- ``phase``: one of Liu et al. 2022's four phases (comprehension, grokking, memorization,
  confusion), by the rule named in ``phase_rule``. The default rule, ``"relative"``
  (``RULE_TEXT``), keeps Liu et al.'s definition of "reached" (accuracy ≥ 0.9, config field
  ``phase_threshold``) and makes their gap relative: grokking when test accuracy gets there at
  least ``GROK_FACTOR`` (1.5) times as late as train accuracy did, and at least ``GROK_MIN_EVALS``
  (3) evaluations later. Liu et al.'s literal rule, a fixed gap of 10³ steps (config field
  ``phase_gap``), is ``rule="liu"``: it was set for their 10⁴–10⁵-step budgets and cannot call a
  run shorter than ~10³ steps grokking (a run that memorizes at step 14 and generalizes at 38 is
  "comprehension" by it).
- ``pair_class``: the run classes of the PAIR explorable (Pearce et al. 2023), with their
  thresholds applied to losses on their scale: their cross-entropy is a mean over the classes
  (``-mean(onehot · log p)``, i.e. CE / C), so groklab's per-example CE is divided by the number of
  classes first. Their thresholds are statements about cross-entropy; an MSE run has no class
  (None, with the reason in ``pair_rule``).
- ``grokked``: the run's phase is grokking (the CLI's "it grokked").
- ``phase_boundaries``: Nanda et al. 2023's three phases (memorization, circuit formation,
  clean-up) located on the curves (``NANDA_RULE``).

Why a factor of 1.5 (t_train, t_test measured here at accuracy 0.9, seed 0 of each preset): a run
that comprehends has its test accuracy rise with its train accuracy (omnigrok-digits at init ×1,
wd 0.3: 20 and 22, ratio 1.1, test accuracy already 0.90 at t_train), while the runs that memorize
first, with test accuracy still low at t_train, cross 1.6 times as late or more (Liu et al.'s MLP at
90% data, wd 4: 1.6; pair2023: 3,750 and 7,000, ratio 1.9, test accuracy 0.09 at t_train;
omnigrok-digits at init ×8: 2.3; gromov2023: 14 and 38, ratio 2.7; Liu et al.'s MLP at 80% data,
wd 1: 5.0). 1.5 lies between the two groups. A ratio does not depend on the budget or on the time
scale the learning rate sets, which a gap in steps does, and on the log-step axis grokking is drawn
on (Power et al. 2022, and every report here) it is a fixed distance between the two rising curves.
The floor of 3 evaluations keeps a lag of one or two evaluation intervals (sampling, not a delay)
out of grokking.

Curves are plain 1-D numpy arrays indexed by evaluation: ``steps[i]`` is the step at which
``train_acc[i]``, ``test_acc[i]``, ``train_loss[i]`` and ``test_loss[i]`` were measured.
"""

from __future__ import annotations

import numpy as np

PHASES = ("comprehension", "grokking", "memorization", "confusion")
RULES = ("relative", "liu")
DEFAULT_RULE = "relative"
GROK_FACTOR = 1.5        # relative rule: t_test >= GROK_FACTOR * t_train ...
GROK_MIN_EVALS = 3       # ... and at least this many evaluations after t_train
LIU_GAP = 1000           # Liu et al.'s fixed gap (config field phase_gap)
# bumped whenever a rule changes, so stored summaries are relabelled when read (measure.summary.refresh_labels):
# 2 = PAIR's class left undecided where it would contradict the accuracy curves
LABELS_VERSION = 2
PAIR_THRESHOLDS = {"no_learn": 1e-5, "no_gen": 1e-5, "gen_ratio": 5e4}
PAIR_LOSSES = ("ce", "stablemax")   # cross-entropies: PAIR's thresholds apply to them, per class

RULE_TEXT = {
    "relative": (f"with t_train, t_test the first steps where train and test accuracy reach 0.9 (Liu et al. "
                 f"2022's threshold): grokking when t_test is at least {GROK_FACTOR:g}× t_train and at least "
                 f"{GROK_MIN_EVALS} evaluations later, comprehension when test accuracy gets there sooner (or "
                 "without train accuracy: noisy labels not fitted), memorization when only train accuracy "
                 "gets there, confusion when neither does"),
    "liu": ("Liu et al. 2022's literal rule: with t_train, t_test the first steps where train and test accuracy "
            "reach 0.9, comprehension when t_test − t_train < phase_gap (10³ steps), grokking when larger, "
            "memorization when only train accuracy gets there, confusion when train accuracy never does"),
}


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


def evals_between(steps: np.ndarray, start: int | None, end: int | None) -> int | None:
    """How many evaluations lie after step ``start`` up to and including ``end`` (None if either is)."""
    if start is None or end is None:
        return None
    steps = _curve("steps", steps)
    return int(np.count_nonzero((steps > start) & (steps <= end)))


# ---------------------------------------------------------------------------------------- Liu phases
def phase_from_times(t_train: int | None, t_test: int | None, *, rule: str = DEFAULT_RULE,
                     evals: int | None = None, gap: int = LIU_GAP, factor: float = GROK_FACTOR,
                     min_evals: int = GROK_MIN_EVALS) -> str:
    """One of ``PHASES`` from the first steps train / test accuracy reached 0.9 (None: never).

    ``rule="relative"`` (default, ``RULE_TEXT``): grokking when t_test ≥ ``factor`` · t_train and
    ``evals`` (evaluations after t_train up to t_test; None counts as enough) ≥ ``min_evals``;
    a run whose test accuracy got there without its train accuracy is comprehension.
    ``rule="liu"``: Liu et al.'s fixed gap, grokking when t_test − t_train ≥ ``gap``; test without
    train is confusion, as the paper's diagram has no cell for it.
    """
    if rule not in RULES:
        raise ValueError(f"rule: unknown phase rule {rule!r}; allowed: {', '.join(RULES)}")
    if t_test is None:
        return "confusion" if t_train is None else "memorization"
    if t_train is None:
        return "confusion" if rule == "liu" else "comprehension"
    if rule == "liu":
        return "comprehension" if t_test - t_train < gap else "grokking"
    late = t_test >= factor * t_train and t_test > t_train
    return "grokking" if late and (evals is None or evals >= min_evals) else "comprehension"


def liu_phase(steps: np.ndarray, train_acc: np.ndarray, test_acc: np.ndarray, threshold: float = 0.9,
              gap: int = LIU_GAP, rule: str = "liu") -> str:
    """The phase of a run from its accuracy curves; Liu et al. 2022's literal rule unless ``rule`` says.

    With t_train, t_test the first steps where train / test accuracy reach ``threshold`` (0.9 in the
    paper): comprehension (t_test − t_train < ``gap``, 10³ in the paper), grokking (≥ ``gap``),
    memorization (test never reached), confusion (train never reached). ``rule="relative"`` gives
    groklab's default rule instead (see ``phase_from_times``).
    """
    t_train = first_step(steps, train_acc, threshold)
    t_test = first_step(steps, test_acc, threshold)
    return phase_from_times(t_train, t_test, rule=rule, evals=evals_between(steps, t_train, t_test), gap=gap)


def phase_of(summary: dict, rule: str | None = None, gap: int = LIU_GAP) -> str | None:
    """The phase of a summarized run by ``rule`` (default: the summary's own phase), read from the
    first-reach steps it records (``t_train_liu``, ``t_test_liu``, ``gap_evals``); None when the
    run has no evaluation. ``gap``: Liu et al.'s fixed gap, the run's config field ``phase_gap``."""
    if rule is None:
        return summary.get("phase")
    if not summary.get("steps") and summary.get("phase") is None:
        return None
    return phase_from_times(summary.get("t_train_liu"), summary.get("t_test_liu"), rule=rule,
                            evals=summary.get("gap_evals"), gap=gap)


def grokked(summary: dict) -> bool:
    """Whether the run grokked: its phase is grokking (the CLI's "it grokked")."""
    return summary.get("phase") == "grokking"


def phase_reason(summary: dict, threshold: float = 0.9) -> str:
    """Why the run has its phase, in one clause read off the summary (``threshold``: phase_threshold);
    "" for a summary that does not record the first-reach steps."""
    if "t_train_liu" not in summary and "t_test_liu" not in summary:
        return ""
    tr, te, n = summary.get("t_train_liu"), summary.get("t_test_liu"), summary.get("steps")
    within = f" within {n:,} steps" if isinstance(n, int) else ""
    at = f"{threshold:.0%}"
    if tr is None and te is None:
        return f"train accuracy never reached {at}{within}"
    if te is None:
        return f"train accuracy reached {at} at step {tr:,}, test accuracy never did{within}"
    if tr is None:
        return f"test accuracy reached {at} at step {te:,}, train accuracy never did (labels not fitted)"
    ratio = f"{te / tr:.1f}× later" if tr > 0 else "later"
    evals = summary.get("gap_evals")
    ev = f", {evals} evaluation{'s' if evals != 1 else ''}" if evals is not None else ""
    return f"train accuracy reached {at} at step {tr:,}, test accuracy at step {te:,} ({ratio}{ev})"


def outcome_line(summary: dict, threshold: float = 0.9) -> str:
    """The sentence the CLI prints about a run: its phase, "it grokked" exactly when it is grokking."""
    phase = summary.get("phase")
    if phase is None:
        return "no evaluation yet"
    verdict = {"grokking": "it grokked", "comprehension": "it generalized as it learned (comprehension)",
               "memorization": "it memorized without generalizing (memorization)",
               "confusion": "it did not fit its training set (confusion)"}.get(phase, phase)
    reason = phase_reason(summary, threshold)
    return f"{verdict}: {reason}" if reason else verdict


# ---------------------------------------------------------------------------------------- PAIR classes
def pair_scale(loss: str | None, n_classes: int | None) -> float | None:
    """What a run's mean loss is divided by to be on the PAIR explorable's scale, or None where their
    thresholds do not apply: cross-entropies (CE, StableMax CE) by the number of classes (their loss is
    a mean over classes); MSE and unknown class counts have none. ``loss=None``: losses already on it."""
    if loss is None:
        return 1.0
    if loss not in PAIR_LOSSES or not n_classes:
        return None
    return float(n_classes)


def pair_rule(loss: str | None, n_classes: int | None) -> str:
    """How the PAIR class was decided, in a short phrase (stored as the summary's ``pair_rule``)."""
    if loss is None:
        return "losses as given"
    if loss not in PAIR_LOSSES:
        return f"not applicable: PAIR's loss thresholds are for cross-entropy, this run trained on {loss}"
    if not n_classes:
        return "not applicable: the number of classes is unknown"
    return f"cross-entropy / {n_classes} classes (PAIR's per-class mean)"


def pair_class(train_loss: np.ndarray, test_loss: np.ndarray, no_learn: float = 1e-5,
               no_gen: float = 1e-5, gen_ratio: float = 5e4, *, scale: float = 1.0) -> str:
    """Classify a run by its loss curves with the rules of the PAIR explorable (Pearce et al. 2023).

    The losses are divided by ``scale`` first (``pair_scale``: the number of classes for a per-example
    cross-entropy). Checked in this order:

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
    train_loss = _curve("train_loss", train_loss).astype(np.float64) / scale
    test_loss = _curve("test_loss", test_loss, train_loss.shape[0]).astype(np.float64) / scale
    ok = ~(np.isnan(train_loss) | np.isnan(test_loss))
    train_loss, test_loss = train_loss[ok], test_loss[ok]
    if train_loss.size == 0 or train_loss.min() > no_learn:
        return "no_learn"
    if test_loss.min() > no_gen:
        return "no_gen"
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(test_loss == 0, 0.0, test_loss / train_loss)
    return "gen" if ratio.max() < gen_ratio else "grok"


def _pair_agreeing(train_loss, test_loss, thresholds: dict, scale: float | None, t_mem: int | None,
                   t_gen: int | None, acc_threshold: float) -> tuple[str | None, str | None]:
    """PAIR's class where it agrees with the accuracy curves, else (None, why): PAIR's loss thresholds
    (1e-5 per class) are reached by their long runs; a run stopped earlier can fit the training set (train
    accuracy ≥ ``acc_threshold``) with a per-class loss still above them, and calling that "no_learn"
    (or a run that generalized "no_gen") would contradict its own curves."""
    if scale is None:
        return None, None
    cls = pair_class(train_loss, test_loss, **thresholds, scale=scale)
    which = {"no_learn": ("train", t_mem, train_loss), "no_gen": ("test", t_gen, test_loss)}.get(cls)
    if which is None or which[1] is None:
        return cls, None
    split, step, curve = which
    lowest = float(np.nanmin(np.asarray(curve, np.float64))) / scale
    limit = thresholds.get(cls, PAIR_THRESHOLDS[cls])
    return None, (f"undecided: {split} accuracy reached {acc_threshold:.0%} at step {step:,} but the {split} loss "
                  f"per class never fell below PAIR's {cls} threshold {limit:g} (lowest {lowest:.2g}); their runs "
                  f"train until it does")


# ---------------------------------------------------------------------------------------- summary
def summarize_curves(steps: np.ndarray, train_acc: np.ndarray, test_acc: np.ndarray,
                     train_loss: np.ndarray, test_loss: np.ndarray, acc_threshold: float = 0.99,
                     phase_threshold: float = 0.9, phase_gap: int = LIU_GAP,
                     pair_thresholds: dict[str, float] | None = None, *, loss: str | None = None,
                     n_classes: int | None = None, rule: str = DEFAULT_RULE) -> dict:
    """The numbers and labels of a run's summary, from its curves.

    Returns a dict with
    - ``t_mem`` / ``t_gen``: first step with train / test accuracy ≥ ``acc_threshold`` (None if
      never), the memorization and generalization times of Power et al. 2022;
    - ``delay``: t_gen − t_mem, or None if either is None;
    - ``t_train_liu`` / ``t_test_liu``: first steps with accuracy ≥ ``phase_threshold``, and
      ``gap_evals`` the evaluations after the one up to the other: what the phase is decided on;
    - ``phase`` by ``rule`` (``phase_from_times``; ``phase_gap`` is the ``"liu"`` rule's gap), and
      ``phase_rule``, the rule's name;
    - ``pair_class``: ``pair_class`` of the losses on PAIR's scale for a run trained on ``loss``
      with ``n_classes`` classes (``loss=None``: the losses as given), None where it does not apply,
      and ``pair_rule`` saying which; ``pair_thresholds`` (keys ``no_learn``, ``no_gen``,
      ``gen_ratio``) override PAIR's thresholds.
    """
    pair_thresholds = dict(pair_thresholds or {})
    unknown = sorted(set(pair_thresholds) - set(PAIR_THRESHOLDS))
    if unknown:
        raise ValueError(f"pair_thresholds has unknown keys {unknown}; allowed: {sorted(PAIR_THRESHOLDS)}")
    t_mem = first_step(steps, train_acc, acc_threshold)
    t_gen = first_step(steps, test_acc, acc_threshold)
    t_train = first_step(steps, train_acc, phase_threshold)
    t_test = first_step(steps, test_acc, phase_threshold)
    evals = evals_between(steps, t_train, t_test)
    scale = pair_scale(loss, n_classes)
    pair, why = _pair_agreeing(train_loss, test_loss, pair_thresholds, scale, t_mem, t_gen, acc_threshold)
    return {
        "t_mem": t_mem,
        "t_gen": t_gen,
        "delay": None if t_mem is None or t_gen is None else t_gen - t_mem,
        "phase": phase_from_times(t_train, t_test, rule=rule, evals=evals, gap=phase_gap),
        "phase_rule": rule,
        "pair_class": pair,
        "pair_rule": why or pair_rule(loss, n_classes),
        "t_train_liu": t_train,
        "t_test_liu": t_test,
        "gap_evals": evals,
        "labels_version": LABELS_VERSION,
    }


# ---------------------------------------------------------------------------------------- Nanda phases
# share of the (log) test-loss descent that marks its start and its end
DESCENT_START = 0.2
DESCENT_END = 0.9
# clean-up ends when the weight norm has made this share of its fall after circuit formation
NORM_SETTLED = 0.9

NANDA_RULE = (
    "memorization ends at the first evaluation with train accuracy >= acc_threshold; circuit "
    f"formation ends when the test loss, after its peak following memorization, has covered "
    f"{DESCENT_START:.0%} of its log-scale descent to its minimum after the peak (it starts to fall; only "
    "for runs whose test accuracy reaches phase_threshold); clean-up ends at the first later "
    f"evaluation where the test loss has covered {DESCENT_END:.0%} of that descent and the sum of "
    f"squared weights has made {NORM_SETTLED:.0%} of its fall from its value at circuit-formation "
    "end to its minimum up to the test loss's minimum (the drop flattens). Both rules stop at the "
    "test loss's minimum, so a run that generalizes and later degrades keeps its phases."
)


def _first(steps: np.ndarray, hit: np.ndarray) -> int | None:
    idx = np.flatnonzero(hit)
    return int(steps[idx[0]]) if idx.size else None


def phase_boundaries(steps, train_acc, test_acc, test_loss, weight_norm=None, *, acc_threshold: float = 0.99,
                     gen_threshold: float = 0.9) -> dict:
    """Nanda et al. 2023's three phases located on a run's metric curves.

    The rule (``NANDA_RULE``), with the test loss read on a log scale:

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
    out: dict = {"memorization_end": _first(steps, tr >= acc_threshold), "circuit_end": None,
                 "cleanup_end": None}
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


__all__ = ["DEFAULT_RULE", "DESCENT_END", "DESCENT_START", "GROK_FACTOR", "GROK_MIN_EVALS", "LIU_GAP",
           "LABELS_VERSION",
           "NANDA_RULE", "NORM_SETTLED", "PAIR_LOSSES", "PAIR_THRESHOLDS", "PHASES", "RULES", "RULE_TEXT",
           "evals_between", "first_step", "grokked", "liu_phase", "outcome_line", "pair_class", "pair_rule",
           "pair_scale", "phase_boundaries", "phase_from_times", "phase_of", "phase_reason", "summarize_curves"]
