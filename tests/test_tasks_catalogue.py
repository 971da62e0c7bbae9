"""Tasks beyond modular arithmetic: permutation groups, sparse parity, digits, expressions, custom."""

import itertools
import math
import random

import numpy as np
import pytest

from groklab import tasks
from groklab.config import from_dict
from groklab.errors import ConfigError
from groklab.tasks import build_dataset, build_table, family_of, groups
from groklab.tasks.custom import register_task
from groklab.tasks.expr import evaluate, parse, to_string

# --------------------------------------------------------------------------- permutation groups


def _compose(a: tuple, b: tuple) -> tuple:
    """(a·b)(i) = a(b(i)) on permutations written as tuples."""
    return tuple(a[b[i]] for i in range(len(a)))


def _inverse(a: tuple) -> tuple:
    out = [0] * len(a)
    for i, ai in enumerate(a):
        out[ai] = i
    return tuple(out)


S5 = list(itertools.permutations(range(5)))
S5_INDEX = {g: i for i, g in enumerate(S5)}


def test_s5_composition_table_equals_composition_of_tuples():
    t = build_table(from_dict({"task": "perm-compose", "perm_n": 5}))
    assert t.x.shape == (14400, 2) and t.n_classes == t.vocab_size == 120
    expect = [S5_INDEX[_compose(S5[a], S5[b])] for a, b in t.x.tolist()]
    assert t.y.tolist() == expect


def test_permutation_composition_applies_the_right_factor_first():
    a, b = (1, 0, 2), (0, 2, 1)   # a swaps 0,1; b swaps 1,2
    c = groups.compose_table(3)
    idx = {g: i for i, g in enumerate(itertools.permutations(range(3)))}
    assert c[idx[a], idx[b]] == idx[(1, 2, 0)]   # a(b(0)) = 1, a(b(1)) = a(2) = 2, a(b(2)) = a(1) = 0


@pytest.mark.parametrize(("task", "expect"), [
    ("perm-conjugate", lambda a, b: _compose(_compose(a, b), _inverse(a))),
    ("perm-aba", lambda a, b: _compose(_compose(a, b), a)),
])
def test_conjugation_and_aba_on_random_s5_elements(task, expect):
    t = build_table(from_dict({"task": task}))
    rng = random.Random(0)
    for row in rng.sample(range(t.x.shape[0]), 300):
        a, b = t.x[row]
        assert S5[t.y[row]] == expect(S5[a], S5[b])


def test_conjugating_by_the_identity_returns_the_element():
    t = build_table(from_dict({"task": "perm-conjugate", "perm_n": 4}))
    rows = t.x[:, 0] == 0
    assert np.array_equal(t.y[rows], t.x[rows, 1])


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_symmetric_group_sizes(n):
    t = build_table(from_dict({"task": "perm-compose", "perm_n": n, "frac": 0.5}))
    m = math.factorial(n)
    assert t.n_classes == m and t.x.shape == (m * m, 2)
    assert t.meta == {"perm_n": n, "group": f"S{n}", "op": "compose", "modular": False}
    # a group: every row and column of its table is a permutation of the elements
    table = t.y.reshape(m, m)
    assert (np.sort(table, axis=1) == np.arange(m)).all() and (np.sort(table, axis=0).T == np.arange(m)).all()


@pytest.mark.parametrize("n", [1, 2, 9])
def test_perm_n_out_of_range_is_a_config_error(n):
    with pytest.raises(ConfigError, match=rf"^perm_n: must be between 3 and 6, got {n}$"):
        from_dict({"task": "perm-compose", "perm_n": n})


def test_permutation_tasks_are_not_modular():
    assert not family_of("perm-aba").modular


# --------------------------------------------------------------------------- sparse parity


def test_parity_label_is_parity_of_the_meta_bits():
    c = from_dict({"task": "parity", "parity_n": 30, "parity_k": 3, "data_seed": 7})
    t = build_table(c)
    bits = t.meta["bits"]
    assert len(bits) == 3 and bits == sorted(bits) and all(0 <= b < 30 for b in bits)
    assert t.x.shape == (2200, 30) and t.vocab_size == 2 and t.n_classes == 2
    assert set(np.unique(t.x)) <= {0, 1}
    assert np.array_equal(t.y, t.x[:, bits].sum(axis=1) % 2)
    assert 0.4 < t.y.mean() < 0.6


def test_parity_train_and_test_strings_are_distinct_and_disjoint():
    ds = build_dataset(from_dict({"task": "parity", "parity_n": 12, "n_train": 1500, "n_test": 2000}))
    assert ds.n_train == 1500 and ds.test_idx.shape[0] == 2000
    rows = {tuple(r) for r in ds.x.tolist()}
    assert len(rows) == 3500
    assert not set(ds.train_idx.tolist()) & set(ds.test_idx.tolist())


def test_parity_ignores_frac_and_is_seeded_by_data_seed():
    a = build_table(from_dict({"task": "parity", "frac": 0.1, "data_seed": 1}))
    b = build_table(from_dict({"task": "parity", "frac": 0.9, "seed": 5, "data_seed": 1}))
    c = build_table(from_dict({"task": "parity", "data_seed": 2}))
    assert np.array_equal(a.x, b.x) and a.meta["bits"] == b.meta["bits"]
    assert not np.array_equal(a.x, c.x)
    assert build_dataset(from_dict({"task": "parity", "frac": 0.1})).n_train == 1200


def test_parity_can_use_every_string_of_a_small_space():
    t = build_table(from_dict({"task": "parity", "parity_n": 4, "parity_k": 4, "n_train": 10, "n_test": 6}))
    assert len({tuple(r) for r in t.x.tolist()}) == 16


@pytest.mark.parametrize(("overrides", "field"), [
    ({"parity_n": 5, "parity_k": 6}, "parity_k"),
    ({"parity_k": 0}, "parity_k"),
    ({"parity_n": 1, "parity_k": 1}, "parity_n"),
    ({"parity_n": 65}, "parity_n"),
    ({"parity_n": 10, "n_train": 1000, "n_test": 100}, "n_train"),
])
def test_bad_parity_parameters_are_config_errors_naming_the_field(overrides, field):
    with pytest.raises(ConfigError, match=rf"^{field}: "):
        from_dict({"task": "parity", **overrides})


# --------------------------------------------------------------------------- digits


def test_digits_are_1797_normalised_8x8_images_of_ten_classes():
    c = from_dict({"task": "digits", "model": "mlp", "input": "features", "frac": 0.5})
    t = build_table(c)
    assert t.x.shape == (1797, 64) and t.x.dtype == np.float32 and t.vocab_size is None
    assert t.x.min() == 0.0 and t.x.max() == 1.0
    assert np.allclose(t.x * 16, np.round(t.x * 16))       # intensities 0..16, divided by 16
    assert t.n_classes == 10 and set(np.unique(t.y)) == set(range(10))
    assert build_dataset(c, t).n_train == round(0.5 * 1797)


@pytest.mark.parametrize("overrides", [{}, {"model": "mlp"}, {"input": "features"}])
def test_digits_without_an_mlp_on_features_is_a_config_error(overrides):
    with pytest.raises(ConfigError, match="^input: task digits needs model = mlp and input = features$"):
        from_dict({"task": "digits", **overrides})


# --------------------------------------------------------------------------- expressions


def _grid(p):
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    return a.ravel().astype(np.int64), b.ravel().astype(np.int64)


@pytest.mark.parametrize(("text", "python"), [
    ("1 + 2*3", lambda x, y: 7),
    ("-x^2", lambda x, y: -(x**2)),
    ("(-x)^2", lambda x, y: x**2),
    ("2^3^2", lambda x, y: 2**9),
    ("x - y - 1", lambda x, y: (x - y) - 1),
    ("x - -y", lambda x, y: x + y),
    ("x^2 + 3*x*y - y", lambda x, y: x * x + 3 * x * y - y),
    ("(x + y)^5 * (x - 2*y)^3", lambda x, y: (x + y) ** 5 * (x - 2 * y) ** 3),
    ("123456789123456789*x + y^64", lambda x, y: 123456789123456789 * x + y**64),
    ("x^0 + 0^0", lambda x, y: 2),
])
def test_expression_matches_a_python_loop(text, python):
    p = 13
    x, y = _grid(p)
    got = evaluate(parse(text), x, y, p)
    assert got.tolist() == [python(a, b) % p for a, b in zip(x.tolist(), y.tolist(), strict=True)]


@pytest.mark.parametrize(("text", "normal"), [
    ("x^2+3*x*y-y", "x^2 + 3*x*y - y"),
    ("-x^2", "-x^2"),
    ("((x))*(y*x)", "x*(y*x)"),
    ("x-(y-1)", "x - (y - 1)"),
    ("(x-y)-1", "x - y - 1"),
    ("2^3^2", "2^9"),
])
def test_expression_normalises_and_parses_back_to_the_same_tree(text, normal):
    assert to_string(parse(text)) == normal
    assert parse(normal) == parse(text)


def test_expression_task_builds_the_modular_table_of_its_expression():
    c = from_dict({"task": "expr:x^2 + 3*x*y - y", "p": 31, "symmetric": True})
    t = build_table(c)
    assert t.meta == {"p": 31, "op": "x^2 + 3*x*y - y", "symmetric": True, "modular": True}
    assert (t.x[:, 0] <= t.x[:, 1]).all() and t.x.shape[0] == 31 * 32 // 2
    assert t.y.tolist() == [(a * a + 3 * a * b - b) % 31 for a, b in t.x.tolist()]
    assert family_of(c.task).modular


def test_expression_x_plus_y_equals_the_named_operator():
    a = build_table(from_dict({"task": "expr:y+x", "p": 23}))
    b = build_table(from_dict({"task": "x+y", "p": 23}))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)


@pytest.mark.parametrize(("task", "message"), [
    ("expr:__import__('os')", r"position 0: unknown name '__import__'"),
    ("expr:x/0", r"position 1: unsupported operator '/'"),
    ("expr:z+1", r"position 0: unknown name 'z'"),
    ("expr:", r"position 0: empty expression"),
    ("expr:x**2", r"position 1: unsupported operator '\*\*'"),
    ("expr:x^y", r"position 2: exponent must be a non-negative integer literal"),
    ("expr:x^65", r"position 2: exponent must be at most 64"),
    ("expr:(x+1", r"position 4: expected '\)'"),
    ("expr:x+", r"position 2: expression ends too early"),
    ("expr:3x", r"position 1: unexpected 'x'"),
    ("expr:" + "(" * 60 + "x" + ")" * 60, r"position 51: nesting deeper than 50"),
])
def test_bad_expression_is_a_one_line_config_error_with_its_position(task, message):
    with pytest.raises(ConfigError, match=r"^task: cannot parse expression at " + message) as e:
        from_dict({"task": task})
    assert "\n" not in str(e.value) and str(e.value).endswith("allowed: integers, x, y, + - * ^ ( )")


# --------------------------------------------------------------------------- custom tasks


@pytest.fixture
def registry():
    """Undo this test's registrations."""
    n = len(tasks.FAMILIES)
    yield
    del tasks.FAMILIES[n:]


def test_registered_callable_is_a_task_taken_mod_p(registry):
    register_task("cube-minus", fn=lambda x, y: x**3 - y, description="x cubed minus y")
    c = from_dict({"task": "cube-minus", "p": 11})
    t = build_table(c)
    assert t.y.tolist() == [(a**3 - b) % 11 for a, b in t.x.tolist()] and t.x.shape == (121, 2)
    assert family_of("cube-minus").modular
    assert {"task": "cube-minus", "family": "custom:cube-minus", "params": ["p", "frac", "symmetric", "noise"],
            "description": "x cubed minus y"} in tasks.list_tasks()
    assert build_dataset(c, t).n_train == round(0.3 * 121)


def test_registered_table_is_a_task_with_its_own_p(registry):
    table = (np.arange(5)[:, None] * 2 + np.arange(5)[None, :]) % 5
    register_task("twice-plus", table=table)
    t = build_table(from_dict({"task": "twice-plus", "p": 5, "symmetric": True}))
    assert t.y.tolist() == [(2 * a + b) % 5 for a, b in t.x.tolist()]
    assert (t.x[:, 0] <= t.x[:, 1]).all()
    with pytest.raises(ConfigError, match=r"^p: task twice-plus is defined for p = 5, got 97$"):
        from_dict({"task": "twice-plus"})


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "x+y", "fn": lambda x, y: x}, r"'x\+y' is already a task"),
    ({"name": "expr:mine", "fn": lambda x, y: x}, r"'expr:mine' is already a task"),
    ({"name": "both", "fn": lambda x, y: x, "table": np.zeros((3, 3), int)}, "exactly one of fn and table"),
    ({"name": "neither"}, "exactly one of fn and table"),
    ({"name": "flat", "table": np.zeros(9, int)}, r"square \[p, p\] array"),
    ({"name": "big", "table": np.full((3, 3), 3)}, r"values must be in \[0, 3\)"),
    ({"name": "neg", "table": np.full((3, 3), -1)}, r"values must be in \[0, 3\)"),
    ({"name": "real", "table": np.zeros((3, 3))}, "must hold integers"),
    ({"name": "size", "table": np.zeros((3, 3), int), "p": 5}, r"^p: .*p = 5"),
    ({"name": "", "fn": lambda x, y: x}, "custom task name"),
])
def test_bad_registration_is_a_config_error(registry, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        register_task(**kwargs)


def test_registered_fn_must_return_integers(registry):
    register_task("half", fn=lambda x, y: x / 2)
    with pytest.raises(ConfigError, match=r"fn\(0, 0\) returned 0.0; it must return an integer"):
        build_table(from_dict({"task": "half", "p": 5}))


def test_registered_fn_errors_become_config_errors(registry):
    register_task("ratio", fn=lambda x, y: x // y)
    with pytest.raises(ConfigError, match=r"fn\(0, 0\) raised ZeroDivisionError"):
        build_table(from_dict({"task": "ratio", "p": 5}))


def test_registered_fn_with_fixed_p_refuses_another_p(registry):
    register_task("fixed", fn=lambda x, y: x, p=7)
    assert build_table(from_dict({"task": "fixed", "p": 7})).n_classes == 7
    with pytest.raises(ConfigError, match=r"^p: "):
        from_dict({"task": "fixed", "p": 11})
