"""Stop rules: end training once a run has done what it was run for (``until = "generalized[:N]"``).

A fast recipe that generalizes in 100 steps should not pay for the 700 after it. ``Generalized`` counts,
per member, the consecutive evaluations whose test accuracy is at least ``acc_threshold`` (the
threshold that defines t_gen) and asks the loop to stop once every live member's count reaches N; a
member that diverged no longer holds the others back. It is the ``stop`` callback of ``Trainer.fit``,
fed each evaluation by its caller, so the loop and the store know nothing of it.
"""

from __future__ import annotations

import numpy as np

from groklab.config import Config
from groklab.train.ensemble import Evaluation

DEFAULT_EVALS = 3     # `until = "generalized"`: three evaluations in a row, so one lucky evaluation is not enough


def until_evals(rule: str | None) -> int | None:
    """N of ``"generalized:N"`` (``DEFAULT_EVALS`` for plain ``"generalized"``); None for no rule."""
    if rule is None:
        return None
    _, _, n = rule.partition(":")
    return int(n) if n else DEFAULT_EVALS


class Generalized:
    """Stop once every live member's test accuracy has been >= ``threshold`` at ``n`` evaluations in a row.

    ``history``: each member's test accuracies at the evaluations before this one (a resumed run's
    stored curve), oldest first, so a resume continues the count where the interrupted run left it.
    """

    def __init__(self, n: int, threshold: float, n_members: int, history: list | None = None):
        self.n, self.threshold = n, threshold
        self.streak = np.zeros(n_members, np.int64)
        self.alive = np.ones(n_members, bool)
        for e, accs in enumerate(history or []):
            for a in accs:
                self.streak[e] = self.streak[e] + 1 if a >= threshold else 0

    def update(self, ev: Evaluation) -> None:
        """Count one evaluation (members not alive in it stop counting)."""
        hit = np.asarray(ev.metrics["test_acc"]) >= self.threshold
        self.streak = np.where(hit, self.streak + 1, 0)
        self.alive &= np.asarray(ev.alive, bool)

    def __call__(self) -> bool:
        return bool(self.alive.any() and (self.streak[self.alive] >= self.n).all())


def stop_rule(cfg: Config, n_members: int, history: list | None = None) -> Generalized | None:
    """The config's stop rule for an ensemble of ``n_members`` (None: train all ``cfg.steps``)."""
    n = until_evals(cfg.until)
    return None if n is None else Generalized(n, cfg.acc_threshold, n_members, history)
