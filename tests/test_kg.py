"""The knowledge-graph tasks of Wang et al. 2024 (kg-compose, kg-compare): their construction, splits
without leakage, and the errors their parameters give."""

from __future__ import annotations

import numpy as np
import pytest

from groklab.config import from_dict
from groklab.errors import ConfigError
from groklab.tasks import build_dataset, build_table
from groklab.tasks.kg import OOD_FRAC, SPLITS


def _cfg(task="kg-compose", **kw):
    return from_dict({"task": task, "model": "lm", "kg_entities": 60, "kg_relations": 8, "kg_degree": 5,
                      "kg_phi": 3.0, "n_test": 80, **kw})


def _facts(t, split):
    m = t.meta["splits"][split]
    return t.x[m], t.y[m]


def _atomic_kb(t) -> dict[tuple[int, int], int]:
    """(h, r) -> t of every atomic fact in the table."""
    kb = {}
    for s in ("atomic_id", "atomic_ood"):
        x, _ = _facts(t, s)
        for h, r, tail, _end in x.tolist():
            assert kb.setdefault((h, r), tail) == tail
    return kb


def test_compose_splits_partition_the_rows_and_train_on_atomic_and_train_inferred_only():
    t = build_table(_cfg())
    masks = np.stack([t.meta["splits"][s] for s in SPLITS])
    assert (masks.sum(0) == 1).all()                               # every row in exactly one split
    train = np.zeros(t.x.shape[0], bool)
    train[t.fixed_train_idx] = True
    assert np.array_equal(train, masks[0] | masks[1] | masks[2])
    ds = build_dataset(_cfg())
    assert np.array_equal(np.sort(ds.test_idx), np.nonzero(masks[3] | masks[4])[0])
    counts = t.meta["counts"]
    assert counts["atomic_id"] + counts["atomic_ood"] == 60 * 5
    assert counts["atomic_ood"] == round(OOD_FRAC * 300)
    assert counts["inferred_train"] == round(3.0 * counts["atomic_id"])
    assert counts["inferred_id"] == 80


def test_no_leakage_between_id_train_and_test_inferred_facts():
    t = build_table(_cfg())
    train_q = {tuple(q) for q in _facts(t, "inferred_train")[0][:, :3].tolist()}
    for split in ("inferred_id", "inferred_ood"):
        test_q = {tuple(q) for q in _facts(t, split)[0][:, :3].tolist()}
        assert not train_q & test_q, f"{split} queries also trained on"
    assert len(train_q) == t.meta["counts"]["inferred_train"]    # no duplicate queries either


def test_inferred_facts_compose_two_atomic_facts_id_with_id_and_ood_with_ood():
    t = build_table(_cfg())
    kb = _atomic_kb(t)
    ood = {(h, r) for h, r, _, _ in _facts(t, "atomic_ood")[0].tolist()}
    for split in ("inferred_train", "inferred_id", "inferred_ood"):
        x, y = _facts(t, split)
        assert (y[:, :2] == -1).all() and (y[:, 2] == x[:, 3]).all() and (y[:, 3] == t.meta["end_token"]).all()
        for h, r1, r2, tail in x.tolist():
            bridge = kb[(h, r1)]
            assert kb[(bridge, r2)] == tail
            hops_ood = ((h, r1) in ood, (bridge, r2) in ood)
            assert hops_ood == ((True, True) if split == "inferred_ood" else (False, False))


def test_atomic_rows_score_the_tail_and_the_end_token_only():
    t = build_table(_cfg())
    x, y = _facts(t, "atomic_id")
    assert (y[:, 0] == -1).all() and (y[:, 3] == -1).all()
    assert (y[:, 1] == x[:, 2]).all() and (y[:, 2] == t.meta["end_token"]).all()
    assert t.meta["sequence"] and t.n_classes == t.vocab_size == 60 + 8 + 1


def test_the_graph_comes_from_kg_seed_alone():
    a, b = build_table(_cfg()), build_table(_cfg(seed=5, data_seed=7))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, build_table(_cfg(kg_seed=1)).x)


def test_compare_labels_are_the_attribute_comparisons_and_ood_pairs_are_ood_entities():
    t = build_table(_cfg("kg-compare", kg_relations=3, kg_degree=6, kg_phi=2.0))
    E, A, V = 60, 3, 6
    value = {}
    for s in ("atomic_id", "atomic_ood"):
        for e, a, v, _ in _facts(t, s)[0].tolist():
            value[(e, a - E)] = v - (E + A)
    ood = {(e, a - E) for e, a, _, _ in _facts(t, "atomic_ood")[0].tolist()}
    train_q = {tuple(q) for q in _facts(t, "inferred_train")[0][:, :3].tolist()}
    for split in ("inferred_train", "inferred_id", "inferred_ood"):
        for a, e1, e2, label in _facts(t, split)[0].tolist():
            att = a - E
            assert label == E + A + V + 3 * att + int(np.sign(value[(e1, att)] - value[(e2, att)])) + 1
            both = ((e1, att) in ood, (e2, att) in ood)
            assert both == ((True, True) if split == "inferred_ood" else (False, False))
            if split != "inferred_train":
                assert (a, e1, e2) not in train_q


@pytest.mark.parametrize("kw,needle", [
    (dict(kg_degree=9), "kg_degree: got 9; allowed an integer in [1, kg_relations = 8]"),
    (dict(kg_entities=1), "kg_entities: got 1; allowed"),
    (dict(kg_phi=50.0), "kg_phi: got 50.0; allowed a ratio up to"),
    (dict(model="mlp"), "model: got 'mlp'; allowed lm"),
])
def test_bad_parameters_are_one_line_errors(kw, needle):
    with pytest.raises(ConfigError) as e:
        build_table(_cfg(**kw)) if "kg_phi" in kw else _cfg(**kw)
    assert str(e.value).startswith(needle) and "\n" not in str(e.value)
