"""GrokTransfer (``embed_from``; Xu et al. 2025): W_E = A·B with A a stored weak run's embedding. The model
starts at A·B, A trains (their method) or stays fixed bit for bit (``embed_frozen``), configs without it
are unchanged, the store resolves the weak run (by id or config hash) and every reader sees A·B."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from groklab import api
from groklab.cli import main
from groklab.config import Config, from_dict
from groklab.errors import ConfigError
from groklab.models import build, transformer
from groklab.store import Store
from groklab.tasks import build_dataset
from groklab.train.loop import Trainer

TINY = dict(p=11, d_model=16, n_heads=2, d_mlp=32, steps=6, eval_every=3, eval_per_decade=0, ckpt_per_decade=1,
            warmup=0, lr=1e-2, wd=1.0)
WEAK = dict(TINY, model="mlp", input="embed", d_embed=4, d_mlp=8, bias=False, name="weak")


def _target(**kw) -> Config:
    return from_dict({**TINY, "embed_from": "x", "embed_rank": 4, **kw})


def _embeds(E: int, rows: int = 12) -> np.ndarray:
    return np.random.RandomState(1).randn(E, rows, 4).astype(np.float32)


def test_the_model_starts_at_a_times_b_and_its_forward_reads_the_product():
    cfgs = [_target(seed=s) for s in range(2)]
    A = _embeds(2)
    t = Trainer(cfgs, A)
    params, _ = t.init_state()
    assert "W_E" not in params and np.array_equal(np.asarray(params["W_E_A"]), A)   # unscaled, member by member
    p0 = {k: np.asarray(v[0]) for k, v in params.items()}
    plain = {k: v for k, v in p0.items() if k not in ("W_E_A", "W_E_B")} | {"W_E": p0["W_E_A"] @ p0["W_E_B"]}
    x = t.data.x[0][:20]
    np.testing.assert_allclose(transformer.forward(p0, x, cfgs[0], 11), transformer.forward(plain, x, Config(**{
        **cfgs[0].to_dict(), "embed_from": None}), 11), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t.model.token_weights(p0), (p0["W_E_A"] @ p0["W_E_B"])[:11], rtol=1e-5, atol=1e-6)


def test_a_trains_with_the_paper_and_stays_fixed_bit_for_bit_when_frozen():
    A = _embeds(2)
    for frozen in (False, True):
        cfgs = [_target(seed=s, embed_frozen=frozen) for s in range(2)]
        t = Trainer(cfgs, A)
        b0 = np.asarray(t.init_state()[0]["W_E_B"])
        out = t.fit()["params"]
        assert np.array_equal(out["W_E_A"], A) == frozen
        assert not np.array_equal(out["W_E_B"], b0)                # B trains either way


def test_a_config_without_it_is_unchanged():
    assert Config().hash() == Config(embed_from=None, embed_rank=4, embed_frozen=False).hash()
    assert _target().hash() != Config(**{**_target().to_dict(), "embed_from": None}).hash()
    cfg = from_dict(TINY)
    model = build(cfg, build_dataset(cfg))
    p = model.init(jax.random.PRNGKey(3))
    assert "W_E" in p and "W_E_A" not in p
    d = transformer._drawer(jax.random.PRNGKey(3), 4 + 7 * cfg.n_layers, cfg)[2]
    assert np.array_equal(p["W_E"], d((12, 16), 1 / 4))            # the first draw, as before the change
    assert transformer.embedded(p) is p
    # never one ensemble with plain members (other parameters), however the sweep packs them
    assert cfg.shape_key() != _target(**{k: v for k, v in TINY.items()}).shape_key()
    assert _target(embed_from="a").shape_key() == _target(embed_from="b").shape_key()
    with pytest.raises(ConfigError, match="^members: "):
        Trainer([from_dict(TINY), _target()], _embeds(2))


def test_the_store_resolves_the_weak_run_by_id_and_by_config_hash(tmp_path):
    st = Store(tmp_path / "s")
    weak = from_dict(WEAK)
    w = api.train(weak, store=st)
    E = st.load_checkpoint(w.run_ids[0])[1]["W_E"]
    for ref in (w.run_ids[0], f"config:{weak.hash()}", "weak"):
        r = api.train(_target(embed_from=ref, steps=1, eval_every=1), store=st)
        A = st.load_checkpoint(r.run_ids[0], 0)[1]["W_E_A"]
        assert np.array_equal(A[:11], E) and not A[11:].any()      # the '=' row: zero
        assert r.summaries[0]["embed_from_run"] == w.run_ids[0]     # the run the ref resolved to, recorded
    step, params = api.load_params(r.run_ids[0], store=st)        # checked against the config's shapes
    from groklab.export import hooked_state_dict

    sd = hooked_state_dict(params, from_dict(st.get_run(r.run_ids[0])["config"]))
    np.testing.assert_allclose(sd["embed.W_E"], params["W_E_A"] @ params["W_E_B"], rtol=1e-6)


@pytest.mark.parametrize("ref,kw,needle", [
    ("nope", {}, "embed_from: no run 'nope'"),
    ("config:0123456789abcdef", {}, "embed_from: no finished run of config hash"),
    ("weak", {"embed_rank": 5}, "embed_rank: got 5; allowed 4"),
    ("weak", {"p": 13}, "embed_from: run"),
])
def test_bad_weak_runs_are_one_config_error(tmp_path, ref, kw, needle):
    st = Store(tmp_path / "s")
    api.train(from_dict(WEAK), store=st)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        api.train(_target(embed_from=ref, **kw), store=st)
    with pytest.raises(ConfigError, match="^embed_from: allowed only with model = transformer"):
        build(from_dict({**WEAK, "embed_from": "weak"}), build_dataset(from_dict(WEAK)))
    with pytest.raises(ConfigError, match="^embed_from: the weak run's embedding comes from the store"):
        Trainer([_target()])


def test_cli_trains_from_a_weak_run_and_a_bad_one_is_exit_2(tmp_path, capsys):
    st = tmp_path / "s"
    flags = ["--p", "11", "--d-model", "16", "--n-heads", "2", "--d-mlp", "8", "--steps", "3", "--quiet",
             "--store", str(st)]
    assert main(["train", *flags, "--model", "mlp", "--d-embed", "4", "--name", "weak"]) == 0
    assert main(["train", *flags, "--embed-from", "weak"]) == 0
    capsys.readouterr()
    assert main(["train", *flags, "--embed-from", "no-such-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("groklab: error: embed_from: ") and err.count("\n") == 1 and "Traceback" not in err
