"""The text corpus task (pydoc topics, byte-level BPE, held-out documents, canaries)."""

from types import SimpleNamespace

import numpy as np
import pytest

from groklab.errors import ConfigError
from groklab.tasks import corpus
from groklab.tasks.corpus import corpus_table, decode, documents, encode, split_documents, tokenizer

NAMES = list(documents())


def small_table(seed: int = 0, reps=(1, 3), k: int = 2):
    return corpus_table(384, 24, 256, reps, k, 0.9, seed)


def train_tok(seed: int = 0):
    docs = documents()
    tr, _ = split_documents(NAMES, [len(docs[n]) for n in NAMES], 0.9, seed)
    return tokenizer(tuple(tr), 384)


def test_tokenizer_round_trips_every_document_of_the_corpus():
    tok = train_tok()
    for name, text in documents().items():       # held-out documents too: byte-level BPE encodes any text
        assert decode(tok, encode(tok, text)) == text, name


def test_tokenizer_is_deterministic_and_keeps_digits_single_tokens():
    docs = documents()
    tr, _ = split_documents(NAMES, [len(docs[n]) for n in NAMES], 0.9, 3)
    a = corpus.tokenizer.__wrapped__(tuple(tr), 384)
    b = corpus.tokenizer.__wrapped__(tuple(tr), 384)
    assert a.get_vocab() == b.get_vocab() and a.get_vocab_size() == 384
    ids = encode(a, "pi is 3.14159 and 2026 follows 2025")
    digits = set(corpus.digit_ids(a).tolist())
    assert len(digits) == 10
    assert sum(i in digits for i in ids.tolist()) == len("3141592026" + "2025")


def test_documents_split_by_document_with_about_the_asked_share_held_out():
    docs = documents()
    sizes = [len(docs[n]) for n in NAMES]
    tr, ho = split_documents(NAMES, sizes, 0.8, 5)
    assert set(tr).isdisjoint(ho) and sorted(tr + ho) == sorted(NAMES) and tr and ho
    held = sum(len(docs[n]) for n in ho) / sum(sizes)
    assert held >= 0.2 and held < 0.2 + max(sizes) / sum(sizes)
    assert split_documents(NAMES, sizes, 0.8, 6) != (tr, ho)


def test_table_rows_are_next_token_pairs_from_their_own_side():
    t = small_table()
    canary = t.meta["splits"]["canary"]
    assert t.fixed_train_idx.size == 256 + 4 and canary[t.fixed_train_idx].sum() == 4 and canary.sum() == 4
    assert t.fixed_test_idx.size == 256 // corpus.HELDOUT_SHARE
    assert set(t.fixed_train_idx).isdisjoint(t.fixed_test_idx)
    tok = tokenizer(tuple(t.meta["train_docs"]), 384)
    for idx, names in ((t.fixed_test_idx, t.meta["test_docs"]), (t.fixed_train_idx, t.meta["train_docs"])):
        rows = idx[~canary[idx]][:20]
        assert np.array_equal(t.x[rows, 1:], t.y[rows, :-1])       # y is x shifted by one
        text = "\x00".join(documents()[n] for n in names)
        for r in rows:
            assert decode(tok, np.append(t.x[r], t.y[r, -1])) in text


def test_canaries_are_inserted_as_often_as_asked_and_their_candidates_cover_every_secret():
    t = small_table(reps=(1, 3), k=2)
    digits = np.array(t.meta["digit_ids"])
    assert len({tuple(f["prefix"]) for f in t.meta["canaries"]}) == 2     # a template of its own each
    for f in t.meta["canaries"]:
        prefix = np.array(f["prefix"])
        P = prefix.size
        assert decode(tokenizer(tuple(t.meta["train_docs"]), 384), prefix) == f["template"]
        canary = np.concatenate([prefix, digits[[int(c) for c in f["secret"]]]])
        trained = np.isin(np.arange(t.x.shape[0]), t.fixed_train_idx)
        hits = np.flatnonzero((t.x[:, : canary.size] == canary).all(axis=1) & trained)
        assert hits.size == f["reps"] and t.meta["splits"]["canary"][hits].all()
        lo, hi = f["rows"]
        assert hi - lo == 100 and np.array_equal(t.x[lo, : canary.size], canary)     # the secret's row first
        assert not (trained[lo:hi] | np.isin(np.arange(lo, hi), t.fixed_test_idx)).any()
        scored = t.y[lo:hi] >= 0
        assert scored.sum(axis=1).tolist() == [2] * 100 and scored[:, P - 1: P + 1].all()
        assert len({tuple(r) for r in t.x[lo:hi, P: P + 2]}) == 100


def test_table_shape_does_not_depend_on_the_data_seed_but_its_content_does():
    a, b = small_table(0), small_table(1)
    assert a.x.shape == b.x.shape and a.y.shape == b.y.shape
    assert not np.array_equal(a.x, b.x)
    assert np.array_equal(small_table(0).x, a.x)


def cfg(**kw):
    base = dict(task="pydoc", model="lm", noise=0.0, frac=0.9, corpus_vocab=384, corpus_context=24,
                corpus_windows=256, canary_reps="1,10", canary_digits=2, split_seed=0)
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize("kw, field", [({"canary_reps": "1,x"}, "canary_reps"), ({"canary_reps": "0"}, "canary_reps"),
                                       ({"canary_reps": "300"}, "canary_reps"),
                                       ({"canary_reps": ",".join(["1"] * 9)}, "canary_reps"),
                                       ({"model": "mlp"}, "model")])
def test_bad_corpus_settings_name_their_field(kw, field):
    with pytest.raises(ConfigError, match=f"^{field}: got"):
        corpus.check(cfg(**kw))


def test_too_many_windows_for_the_held_out_documents_is_refused():
    with pytest.raises(ConfigError, match="^corpus_windows: needs"):
        corpus.build(cfg(corpus_windows=60_000, canary_reps=""))


TINY_LM = dict(task="pydoc", model="lm", frac=0.9, corpus_vocab=300, corpus_context=24, corpus_windows=96,
               canary_reps="1,8", canary_digits=2, n_layers=1, d_model=16, n_heads=2, d_mlp=32, layernorm=True,
               lr=1e-2, wd=0.0, batch_size=16, warmup=0, steps=30, eval_every=10, eval_per_decade=0)


@pytest.mark.slow
def test_trained_lm_exposure_metric_equals_brute_force_rank_and_report_draws_it(tmp_path):
    """The compiled, every-evaluation exposure of a trained model is the rank the one-by-one brute force finds;
    the extraction metric is the greedy decoder's; the run report has the exposure panel."""
    import jax.numpy as jnp

    from groklab import api
    from groklab.config import from_dict
    from groklab.measure.exposure import secret_losses_bruteforce
    from groklab.measure.extraction import greedy_extractable, prefix_suffix
    from groklab.models import build
    from groklab.store import Store
    from groklab.tasks import build_dataset

    cfg = from_dict(TINY_LM)
    st = Store(tmp_path / "s")
    res = api.train(cfg, store=st)
    final = res.summaries[0]["final"]
    ds = build_dataset(cfg)
    model = build(cfg, ds)
    params = {k: jnp.asarray(v) for k, v in res.params[0].items()}
    apply = lambda p, x: model.apply(p, jnp.asarray(x))      # noqa: E731
    t = ds.meta
    for i, f in enumerate(t["canaries"]):
        losses = secret_losses_bruteforce(apply, params, np.array(f["prefix"]), np.array(t["digit_ids"]), 2)
        true = losses[int(f["secret"])]
        # the metric ranks float32 losses, the brute force float64 ones: candidates within 1e-5 may swap places
        best, worst = 1 + int((losses < true - 1e-5).sum()), int((losses <= true + 1e-5).sum())
        got = final[f"exposure_{i + 1}"]
        assert np.log2(100) - np.log2(worst) - 1e-6 <= got <= np.log2(100) - np.log2(best) + 1e-6
    rows = ds.train_idx[~t["splits"]["canary"][ds.train_idx]]
    k, l = prefix_suffix(cfg.corpus_context)
    greedy = greedy_extractable(apply, params, ds.x[rows], k, l)
    assert final["extract_train"] == pytest.approx(greedy.mean(), abs=1e-6)
    assert final["ppl_test"] == pytest.approx(np.exp(final["test_loss"]), rel=1e-4)
    from groklab.report.writers import write_run_report

    html = write_run_report(st, res.run_ids[0]).read_text()
    assert "Canary exposure" in html and "exposure_2" in html


@pytest.mark.slow
def test_secret_sharer_smoke_reproduction_reads_its_rows_from_the_store(tmp_path):
    from groklab import reproduce as rp
    from groklab.store import Store

    res = rp.reproduce(Store(tmp_path / "s"), "secret-sharer", smoke=True, report=False)
    assert res["complete"] and res["n_points"] == 1
    rows = {r["quantity"]: r for r in res["rows"]}
    grows = rows["exposure grows with the insertions (mean over training, every seed's order)"]
    assert grows["published_text"] == "yes" and grows["ours_text"] in ("yes", "no")
    assert any(q.startswith("canary inserted 10×: exposure rises") for q in rows)
    table = res["tables"][0]
    assert table["header"][:3] == ["step", "exposure 1×", "exposure 10×"] and table["rows"][0][0] == "0"
    assert any("lowest held-out ppl" in r[0] for r in table["rows"])
    assert any(d.startswith("secrets:") for d in res["departures"])
