"""Dense checkpoints: beside the log grid, a checkpoint wherever a loss or the weight norm moved by more
than ``ckpt_dense`` (natural log) since the last one — and the same checkpoints after a resume."""

import numpy as np

from groklab import api
from groklab.config import from_dict
from groklab.store import Store
from groklab.train.loop import log_grid

TINY = dict(task="x+y", p=11, frac=0.5, model="mlp", d_embed=16, d_mlp=32, lr=1e-2, wd=1.0, steps=120,
            eval_every=5, eval_per_decade=0, ckpt_per_decade=2)


def _expected(m: dict, grid: set[int], tol: float) -> list[int]:
    """The rule, restated: walk the evaluations, checkpoint where a quantity moved by > tol in log."""
    keys = ("train_loss", "test_loss", "weight_norm")
    out, ref = [], None
    for i, s in enumerate(m["step"].tolist()):
        logs = np.array([np.log(m[k][i]) for k in keys])
        moved = ref is not None and bool((np.abs(logs - ref) > tol).any())
        if moved or s in grid:
            out.append(s)
        if ref is None or moved or s in grid:
            ref = logs
    return out


def test_checkpoints_follow_the_curves_where_they_move(tmp_path):
    cfg = from_dict({**TINY, "ckpt_dense": 0.25})
    res = api.train(cfg, store=tmp_path)
    st = Store(tmp_path)
    rid = res.run_ids[0]
    steps = [c["step"] for c in st.checkpoints(rid)]
    grid = set(log_grid(cfg.steps, cfg.ckpt_per_decade))
    assert steps == _expected(st.metrics(rid), grid, 0.25)
    assert len(set(steps) - grid) >= 3, "the falling loss added checkpoints beside the log grid"
    sparse = api.train(cfg.replace(ckpt_dense=0.0), store=tmp_path)
    assert [c["step"] for c in st.checkpoints(sparse.run_ids[0])] == sorted(grid)


def test_resume_writes_the_same_dense_checkpoints(tmp_path):
    cfg = from_dict({**TINY, "ckpt_dense": 0.25})
    base = api.train(cfg, store=tmp_path / "a")
    want = [c["step"] for c in Store(tmp_path / "a").checkpoints(base.run_ids[0])]

    def stop_at(ev):
        if ev["step"] >= 60:
            raise KeyboardInterrupt

    st = Store(tmp_path / "b")
    try:
        api.train(cfg, store=st, progress=stop_at)
    except KeyboardInterrupt:
        pass
    rid = st.list_runs()[0]["run_id"]
    res = api.resume(rid, store=st)
    assert [c["step"] for c in st.checkpoints(rid)] == want
    np.testing.assert_array_equal(res.params[0]["W_in"], base.params[0]["W_in"])
