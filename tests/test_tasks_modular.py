"""Modular-arithmetic tasks checked against plain Python loops, plus split and label noise."""

import math

import numpy as np
import pytest

from groklab.config import from_dict
from groklab.errors import ConfigError
from groklab.tasks import build_dataset, build_table, modular
from groklab.tasks.base import corrupt_labels, make_dataset, split


def _inv(b: int, p: int) -> int:
    return pow(b, -1, p)


# Written from Power et al.'s operator list, independently of groklab.tasks.modular.
# name -> (a ∘ b on Python ints, whether b = 0 is excluded)
REFERENCE = {
    "x+y": (lambda a, b, p: (a + b) % p, False),
    "x-y": (lambda a, b, p: (a - b) % p, False),
    "x*y": (lambda a, b, p: (a * b) % p, False),
    "x/y": (lambda a, b, p: (a * _inv(b, p)) % p, True),
    "x^2+y": (lambda a, b, p: (a**2 + b) % p, False),
    "x^3+y": (lambda a, b, p: (a**3 + b) % p, False),
    "x^2+y^2": (lambda a, b, p: (a**2 + b**2) % p, False),
    "x^2+xy+y^2": (lambda a, b, p: (a**2 + a * b + b**2) % p, False),
    "x^2+xy+y^2+x": (lambda a, b, p: (a**2 + a * b + b**2 + a) % p, False),
    "x^3+xy": (lambda a, b, p: (a**3 + a * b) % p, False),
    "x^3+xy^2+y": (lambda a, b, p: (a**3 + a * b**2 + b) % p, False),
    "x/y if y odd else x-y": (lambda a, b, p: (a * _inv(b, p)) % p if b % 2 else (a - b) % p, True),
    "x+y if x even else x*y": (lambda a, b, p: (a + b) % p if a % 2 == 0 else (a * b) % p, False),
    "x+y if x even else x-y": (lambda a, b, p: (a + b) % p if a % 2 == 0 else (a - b) % p, False),
}


def _reference_rows(op: str, p: int) -> tuple[list[tuple[int, int]], list[int]]:
    f, no_zero = REFERENCE[op]
    pairs = [(a, b) for a in range(p) for b in range(p) if not (no_zero and b == 0)]
    return pairs, [f(a, b, p) for a, b in pairs]


def test_every_operator_has_an_independent_reference():
    assert set(REFERENCE) == set(modular.OPERATORS)


@pytest.mark.parametrize("p", [7, 11, 97])
@pytest.mark.parametrize("op", sorted(REFERENCE))
def test_operator_matches_python_loop(op, p):
    t = modular.modular_table(op, p)
    pairs, labels = _reference_rows(op, p)
    assert sorted(map(tuple, t.x.tolist())) == sorted(pairs)
    got = {(int(a), int(b)): int(c) for (a, b), c in zip(t.x, t.y, strict=True)}
    assert [got[ab] for ab in pairs] == labels
    assert t.n_classes == t.vocab_size == p
    assert t.x.dtype == np.int32 and t.y.dtype == np.int32


def test_division_excludes_zero_divisor_and_has_p_times_p_minus_1_rows():
    t = build_table(from_dict({"task": "x/y", "p": 97}))
    assert t.x.shape == (97 * 96, 2) == (9312, 2)
    assert (t.x[:, 1] != 0).all()
    # c = a / b  means  a = b · c
    assert ((t.y.astype(np.int64) * t.x[:, 1]) % 97 == t.x[:, 0]).all()


@pytest.mark.parametrize(("alias", "name"), [("add", "x+y"), ("sub", "x-y"), ("mul", "x*y"), ("div", "x/y")])
def test_alias_builds_the_same_table_as_its_operator(alias, name):
    a = build_table(from_dict({"task": alias, "p": 11}))
    b = build_table(from_dict({"task": name, "p": 11}))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert a.meta["op"] == name


def test_symmetric_keeps_only_pairs_with_a_at_most_b():
    t = build_table(from_dict({"task": "x+y", "p": 11, "symmetric": True}))
    assert (t.x[:, 0] <= t.x[:, 1]).all()
    assert t.x.shape[0] == 11 * 12 // 2


def test_division_with_composite_modulus_is_a_config_error_naming_p():
    with pytest.raises(ConfigError, match=r"^p: .*prime.*98"):
        from_dict({"task": "x/y", "p": 98})


def test_unknown_operator_is_a_config_error_naming_task():
    with pytest.raises(ConfigError, match=r"^task: unknown task 'x\^9'"):
        from_dict({"task": "x^9"})


def test_split_is_deterministic_in_the_seed():
    t = modular.modular_table("x+y", 11)
    a_train, a_test = split(t, 0.3, seed=1)
    b_train, b_test = split(t, 0.3, seed=1)
    c_train, _ = split(t, 0.3, seed=2)
    assert np.array_equal(a_train, b_train) and np.array_equal(a_test, b_test)
    assert not np.array_equal(a_train, c_train)
    assert np.array_equal(np.sort(np.concatenate([a_train, a_test])), np.arange(121))


@pytest.mark.parametrize("frac", [0.1, 0.3, 0.55])
def test_frac_gives_round_frac_times_n_training_rows(frac):
    ds = build_dataset(from_dict({"task": "x-y", "p": 97, "frac": frac}))
    assert ds.n_train == round(frac * 97 * 97)
    assert ds.n_train + ds.test_idx.shape[0] == 97 * 97


def test_n_train_overrides_frac():
    ds = build_dataset(from_dict({"task": "x-y", "p": 11, "frac": 0.9, "n_train": 17}))
    assert ds.n_train == 17


def test_data_seed_not_init_seed_chooses_the_split():
    a = build_dataset(from_dict({"task": "x+y", "p": 11, "seed": 1, "data_seed": 5}))
    b = build_dataset(from_dict({"task": "x+y", "p": 11, "seed": 2, "data_seed": 5}))
    c = build_dataset(from_dict({"task": "x+y", "p": 11, "seed": 1}))
    assert np.array_equal(a.train_idx, b.train_idx)
    assert not np.array_equal(a.train_idx, c.train_idx)


@pytest.mark.parametrize("noise", [0.0, 0.05, 0.33])
def test_noise_corrupts_exactly_floor_of_noise_times_n_train_labels_never_to_the_true_class(noise):
    ds = build_dataset(from_dict({"task": "x*y", "p": 97, "frac": 0.3, "noise": noise}))
    true = ds.y[ds.train_idx]
    changed = ds.y_train != true
    assert changed.sum() == ds.corrupted.sum() == math.floor(noise * ds.n_train)
    assert np.array_equal(changed, ds.corrupted)


def test_noise_picks_the_same_labels_for_the_same_seed_and_others_for_another():
    t = modular.modular_table("x+y", 97)
    a = make_dataset(t, 0.3, seed=3, noise=0.2)
    b = make_dataset(t, 0.3, seed=3, noise=0.2)
    c = make_dataset(t, 0.3, seed=4, noise=0.2)
    assert np.array_equal(a.corrupted, b.corrupted) and np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.train_idx[a.corrupted], c.train_idx[c.corrupted])


def test_corrupted_label_differs_from_true_label_even_with_two_classes():
    y = np.zeros(1000, np.int32)
    y_noisy, mask = corrupt_labels(y, 2, 0.5, seed=0)
    assert mask.sum() == 500 and (y_noisy[mask] == 1).all() and (y_noisy[~mask] == 0).all()
