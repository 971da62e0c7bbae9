"""A per-step metric is one declaration: registering it (here, in the test) is enough for it to be
evaluated in the compiled program, stored, summarized and drawn in the report."""

import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from groklab import api
from groklab.config import from_dict
from groklab.measure import registry
from groklab.measure.registry import Metric, Panel
from groklab.store import Store

TINY = dict(task="x+y", p=11, frac=0.5, model="mlp", d_embed=16, d_mlp=32, lr=1e-2, steps=60, eval_every=20,
            eval_per_decade=2, ckpt_per_decade=2)


def _margin(c):
    """Mean (correct logit − best other logit) on the held-out rows."""
    right = jnp.take_along_axis(c.logits, c.y_obs[:, None], -1)[:, 0]
    mask = jax.nn.one_hot(c.y_obs, c.logits.shape[-1], dtype=bool)
    other = jnp.where(mask, -jnp.inf, c.logits).max(-1)
    return c.mean(right - other, c.is_test)


@pytest.fixture
def margin_metric():
    registry.register(
        Panel("margin", "margin", "Logit margin", "margin", order=65, caption="Correct minus best other logit."),
        Metric("margin", _margin, "held-out logit margin", final=True, panel="margin", label="test margin",
               summarize=lambda steps, m, cfg: {"margin_peak_step": int(steps[int(np.argmax(m["margin"]))])}))
    yield
    registry.unregister("margin")


def test_registered_metric_is_evaluated_stored_summarized_and_reported(tmp_path, margin_metric):
    from groklab.analysis import run_view
    from groklab.report import render_run_html, write_run_pngs

    res = api.train(from_dict(TINY), store=tmp_path)
    rid = res.run_ids[0]
    m = Store(tmp_path).metrics(rid)
    assert "margin" in m and np.isfinite(m["margin"]).all()
    assert m["margin"][-1] != m["margin"][0], "a real per-step value, not a constant"
    s = res.summaries[0]
    assert s["final"]["margin"] == pytest.approx(float(m["margin"][-1]))
    assert s["margin_peak_step"] == int(m["step"][int(np.argmax(m["margin"]))])

    view = run_view(tmp_path, rid)
    assert view["metrics"]["margin"][-1] == pytest.approx(float(m["margin"][-1]), rel=1e-5)
    html = render_run_html(view)
    assert 'data-figure="margin"' in html and 'id="sec-margin"' in html
    assert "Correct minus best other logit." in html
    payload = json.loads(re.search(r'id="groklab-data">(.*?)</script>', html).group(1))
    assert payload["panels"]["margin"]["series"] == [["margin", "test margin", "#495057"]]
    assert "margin.png" in [p.name for p in write_run_pngs(view, tmp_path / "png")]


def test_metric_that_does_not_apply_is_not_evaluated(tmp_path):
    """Softmax Collapse is declared for softmax losses only: an MSE run neither computes nor draws it."""
    res = api.train(from_dict({**TINY, "loss": "mse", "steps": 20}), store=tmp_path)
    m = Store(tmp_path).metrics(res.run_ids[0])
    assert "collapse_frac" not in m and "train_acc" in m
    assert "collapse_frac" not in res.summaries[0]["final"]
