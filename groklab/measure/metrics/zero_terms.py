"""Zero loss terms (Prieto et al. 2025, their logger's ``zero_terms``): the fraction of training rows whose
loss, in the run's own loss function and dtype, is exactly zero. Under softmax this is Softmax Collapse
seen from the loss; under StableMax, whose s(x) has no exponential to underflow, it is the collapse
measure that still means something. At 1, with no weight decay, every gradient is zero."""

from groklab.measure.registry import Metric, register


def _zero_terms(c):
    # ctx.loss is the loss cast to float32 from its own dtype: a nonzero float64 term is at least ~1e-16
    # (1 - p rounded at float64), far above float32's smallest number, so a zero stays a zero and only a zero
    return c.mean(c.loss == 0.0, c.is_train)


register(
    Metric("zero_terms", _zero_terms, "fraction of training rows whose loss is exactly zero (Prieto et al.)",
           applies=lambda s: s.cfg.loss != "mse", final=True, panel="collapse", label="zero loss terms",
           color="#7048e8", order=22),
)
