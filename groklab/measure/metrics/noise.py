"""What a model does with corrupted training labels (Doshi et al. 2023, "To grok or not to grok")."""

from groklab.measure.noise import doshi_phase
from groklab.measure.registry import Metric, Panel, register


def _noisy(setup) -> bool:
    return setup.has_noise


def _summary(steps, m, cfg) -> dict:
    fin = {k: float(m[k][-1]) for k in ("clean_acc", "memorized_acc", "inverted_acc") if k in m}
    phase = doshi_phase(float(m["test_acc"][-1]), fin["memorized_acc"], fin["inverted_acc"])
    return {"noise": {"fraction": cfg.noise, **fin, "phase": phase}}


register(
    Panel("noise", "noise", "Accuracy under label noise", "accuracy", order=70, y_range=(0, 1), percent=True),
    Metric("clean_acc", lambda c: c.mean(c.pred == c.y_obs, c.is_train & ~c.is_corrupt),
           "accuracy on the clean training rows", applies=_noisy, panel="noise", label="clean", color="#2f9e44",
           order=70),
    Metric("memorized_acc", lambda c: c.mean(c.pred == c.y_obs, c.is_corrupt),
           "corrupted rows predicted as their corrupted label", applies=_noisy, summarize=_summary,
           panel="noise", label="memorized (corrupt label)", color="#e8590c", order=71),
    Metric("inverted_acc", lambda c: c.mean(c.pred == c.y_true, c.is_corrupt),
           "corrupted rows predicted as their true label", applies=_noisy, panel="noise",
           label="inverted (true label)", color="#3b5bdb", order=72),
)
