"""Optimizer state is saved under tree-path names, and a state that does not fit is refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from groklab.config import resolve
from groklab.errors import StoreError
from groklab.train import optim
from groklab.train import state as opt_names

HP = {k: jnp.float32(0.1) for k in optim.HP_FIELDS}
PARAMS = {"W_E": jnp.zeros((3, 2)), "b": jnp.zeros(2)}


def _state(**changes):
    cfg = resolve("gromov2023").replace(**changes)
    return optim.make(cfg, HP).init(PARAMS)


def test_state_leaves_are_named_by_the_transformation_that_owns_them():
    names = opt_names.names(_state(grokfast="ema"))
    assert "opt/grokfast_ema/mu/W_E" in names
    assert "opt/adam/nu/b" in names and "opt/schedule/count" in names


def test_named_state_round_trips_and_legacy_indices_load_in_chain_order():
    st = _state(grokfast="ema")
    tensors = opt_names.to_tensors(st)
    leaves = opt_names.order(tensors, st, "run r1")
    assert [x.shape for x in leaves] == [x.shape for x in jax.tree.leaves(st)]
    legacy = {f"opt.{i:04d}": np.asarray(v) for i, v in enumerate(jax.tree.leaves(st))}
    for a, b in zip(opt_names.order(legacy, st, "run r1"), leaves):
        np.testing.assert_array_equal(a, b)


def test_state_of_another_chain_is_refused_with_the_run_named():
    saved = opt_names.to_tensors(_state(grokfast="none"))
    with pytest.raises(StoreError, match="optimizer state of run r1"):
        opt_names.order(saved, _state(grokfast="ema"), "run r1")
