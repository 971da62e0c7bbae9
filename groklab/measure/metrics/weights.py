"""Weight norm (Liu, Michaud & Tegmark 2022, Omnigrok) and Softmax Collapse (Prieto et al. 2025)."""

import jax.numpy as jnp

from groklab.measure.registry import Metric, Panel, register


def _weight_norm(c):
    return sum(jnp.sum(v.astype(jnp.float32) ** 2) for v in c.params.values())


def softmax_collapse(logits):
    """Per example: True where sum_j exp(z_j - max z) == 1 exactly in float32 (Prieto et al. 2025)."""
    z = logits.astype(jnp.float32)
    return jnp.exp(z - z.max(-1, keepdims=True)).sum(-1) == 1.0


def _collapse(c):
    collapsed = softmax_collapse(c.logits)
    if collapsed.ndim == 2:     # a sequence collapses where every scored position does
        collapsed = (collapsed | (c.y_obs < 0)).all(-1)
    return c.mean(collapsed, c.is_train)


register(
    Panel("weight-norm", "weights", "Weight norm", "‖w‖²", order=20),
    Panel("collapse", "weights", "Softmax Collapse", "fraction of train set", order=21, y_range=(0, None),
          percent=True),
    Metric("weight_norm", _weight_norm, "sum of squared weights", panel="weight-norm",
           label="sum of squared weights", color="#495057", order=20),
    # Softmax Collapse is a property of the softmax: it means nothing for an MSE-trained model.
    Metric("collapse_frac", _collapse, "fraction of training rows whose softmax rounds to one-hot",
           applies=lambda s: s.cfg.loss != "mse", final=True, panel="collapse", label="collapsed",
           color="#d6336c", order=21),
)
