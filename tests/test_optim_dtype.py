"""``opt_dtype``: the optimizer's arithmetic and state in float64 while the parameters stay float32. Why it
exists: on XLA's CPU a float32 squared gradient below ~1e-19 is flushed to zero (no subnormals), so Adam's
second moment vanishes and, under Prieto et al.'s eps 1e-25, its step becomes m/eps instead of ~lr."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from groklab.api import train
from groklab.config import Config, resolve
from groklab.store import Store
from groklab.train import optim

HP = {"lr": 1e-2, "wd": 0.0, "beta1": 0.9, "beta2": 0.999}


def _first_update(opt_dtype: str, g: float) -> float:
    cfg = Config(optimizer="adam", eps=1e-25, opt_dtype=opt_dtype, warmup=0)
    prev = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", opt_dtype == "float64")
    try:
        opt = optim.make(cfg, {k: jnp.float32(v) for k, v in HP.items()})
        p = {"w": jnp.zeros(4, jnp.float32)}
        u, state = jax.jit(opt.update)({"w": jnp.full(4, g, jnp.float32)}, opt.init(p), p)
        assert u["w"].dtype == jnp.float32
        leaves = [a for a in jax.tree.leaves(state) if hasattr(a, "dtype") and a.ndim]
        assert leaves and all(a.dtype == (jnp.float64 if opt_dtype == "float64" else jnp.float32) for a in leaves)
        return float(u["w"][0])
    finally:
        jax.config.update("jax_enable_x64", prev)


def test_a_tiny_gradient_gives_adam_a_step_of_lr_in_float64_and_m_over_eps_in_float32():
    assert abs(_first_update("float64", 1e-20) + HP["lr"]) < 1e-6          # Adam's first step: -lr·sign(g)
    assert abs(_first_update("float32", 1e-15) + HP["lr"]) < 1e-6          # g² = 1e-30 is still normal
    assert _first_update("float32", 1e-20) < -100 * HP["lr"]               # g² = 1e-40 flushed: m/eps


def test_a_run_with_a_float64_optimizer_keeps_float32_parameters_and_a_float64_state(tmp_path):
    base = dict(p=23, d_mlp=48, init_std=None, steps=30, eval_every=10, ckpt_per_decade=2)
    cfg = resolve("gromov2023", **base, opt_dtype="float64")
    assert Config().hash() == Config(opt_dtype="float32").hash()            # older configs hash as before
    st = Store(tmp_path)
    res = train([cfg], store=st)
    step, params = st.load_checkpoint(res.run_ids[0])
    assert step == 30 and all(np.asarray(v).dtype == np.float32 for v in params.values())
    ref = train([cfg.replace(opt_dtype="float32")], store=st)
    a, b = st.metrics(res.run_ids[0]), st.metrics(ref.run_ids[0])
    assert np.allclose(a["train_loss"], b["train_loss"], rtol=1e-3, atol=1e-6)   # same optimizer, finer arithmetic
    assert not jax.config.jax_enable_x64
