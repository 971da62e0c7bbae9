"""The synthetic knowledge graphs of Wang et al. 2024, "Grokked transformers are implicit reasoners"
(their ``composition.ipynb`` and ``comparison.ipynb``), as next-token sequence tasks for ``model = lm``.

**kg-compose.** Each of ``kg_entities`` entities gets ``kg_degree`` atomic facts (h, r, t): distinct
relations out of ``kg_relations``, each with a uniformly random tail entity. 5 % of the atomic facts are
OOD. An inferred fact (h, r1, r2) → t composes two atomic facts (h, r1, b), (b, r2, t): in distribution
(ID) when both are ID, OOD when both are OOD (mixed ones are dropped, as theirs). Training holds every
atomic fact (ID and OOD) and round(kg_phi × #ID atomic) ID inferred facts; held out are ``n_test`` ID
inferred facts (theirs: 0.5 % of the ID inferred facts, sampled down to 3,000) and up to ``n_test`` OOD
inferred facts.

**kg-compare.** Each entity has a value in 0..kg_degree-1 for each of ``kg_relations`` attributes
(theirs: 20 values, 20 attributes); per attribute 90 % of the entities are ID. An inferred fact
(attribute, e1, e2) → one of three labels per attribute (e1's value <, =, > e2's); ordered pairs of two
ID entities are ID (10 % of them held out, the rest a pool trained on as round(kg_phi × #ID atomic)
facts), pairs of two OOD entities OOD (held out).

Tokens: entities 0..E-1, then relations / attributes, then (kg-compare) values and comparison labels,
and last the end token ``</a>``. Rows are 4 tokens; the loss covers the answer and ``</a>``, as theirs
(their prefix tokens and padding carry label -100): an atomic row ``h r t </a>`` scores t and ``</a>``
(y = [-1, t, </a>, -1]); an inferred row ``h r1 r2 t`` (kg-compare: ``attr e1 e2 label``) scores the
answer and ``</a>`` (y = [-1, -1, t, </a>]). Their special tokens <q>, <mask> in the comparison
query are left out. The graph and every split come from ``kg_seed`` alone, so every ensemble member
sees one graph (their data is one fixed file too).

Splits (``meta["splits"]``, per-split metrics in ``groklab.measure.metrics.splits``): atomic_id,
atomic_ood, inferred_train (trained), inferred_id, inferred_ood (held out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from groklab.constraints import reject
from groklab.errors import ConfigError
from groklab.tasks import TaskFamily
from groklab.tasks.base import Table

if TYPE_CHECKING:
    from groklab.tasks import TaskConfig as Config

OOD_FRAC = 0.05          # kg-compose: atomic facts that are OOD (theirs)
ID_ENTITY_FRAC = 0.9     # kg-compare: entities per attribute that are ID (theirs)
COMPARE_TEST_FRAC = 0.1  # kg-compare: ID pairs held out (theirs)
DEFAULT_N_TEST = 600     # held-out inferred facts per split (theirs: 3,000)
SPLITS = ("atomic_id", "atomic_ood", "inferred_train", "inferred_id", "inferred_ood")
MAX_ROWS = 2_000_000


def _rng(c: "Config", part: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([c.kg_seed, 0x6B67, part]))


def _pick(rng: np.random.Generator, idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(k of ``idx`` chosen at random, sorted; the rest)."""
    chosen = np.zeros(idx.size, bool)
    chosen[rng.choice(idx.size, size=min(k, idx.size), replace=False)] = True
    return np.sort(idx[chosen]), idx[~chosen]


def _rows(tokens: np.ndarray, answer_at: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """x [n, 4] from ``tokens`` [n, 3 or 4]; y [n, 4]: the answer at ``answer_at``, then the end token."""
    n = tokens.shape[0]
    x = np.full((n, 4), end, np.int32)
    x[:, :tokens.shape[1]] = tokens
    y = np.full((n, 4), -1, np.int32)
    y[:, answer_at] = x[:, answer_at + 1]
    y[:, answer_at + 1] = end
    return x, y


def _table(name: str, parts: dict[str, tuple[np.ndarray, np.ndarray]], vocab: int, meta: dict) -> Table:
    """One table of the five splits in ``SPLITS`` order; trained on atomic facts and inferred_train."""
    xs, ys, masks, n = [], [], {}, sum(p[0].shape[0] for p in parts.values())
    start = 0
    for s in SPLITS:
        x, y = parts[s]
        xs.append(x)
        ys.append(y)
        masks[s] = np.zeros(n, bool)
        masks[s][start:start + x.shape[0]] = True
        start += x.shape[0]
    train = np.nonzero(masks["atomic_id"] | masks["atomic_ood"] | masks["inferred_train"])[0]
    counts = {s: int(m.sum()) for s, m in masks.items()}
    return Table(name=name, x=np.concatenate(xs), y=np.concatenate(ys), n_classes=vocab, vocab_size=vocab,
                 meta={**meta, "sequence": True, "splits": masks, "counts": counts}, fixed_train_idx=train)


def _n_test(c: "Config") -> int:
    return DEFAULT_N_TEST if c.n_test is None else int(c.n_test)


def _n_phi(c: "Config", n_id_atomic: int, pool: int) -> int:
    k = int(round(c.kg_phi * n_id_atomic))
    if k > pool:
        raise reject("kg_phi", c.kg_phi, f"a ratio up to {pool / n_id_atomic:.3g} for this graph ({pool:,} ID "
                     f"inferred facts beside the held-out ones, {n_id_atomic:,} ID atomic facts)")
    return k


def _parts(atomic: np.ndarray, atomic_id: np.ndarray, inferred: np.ndarray, train: np.ndarray,
           test_id: np.ndarray, test_ood: np.ndarray, end: int) -> dict[str, np.ndarray]:
    """The five row groups of a knowledge-graph table: ID / OOD atomic facts (``atomic_id`` a mask), the
    trained inferred facts and the ID / OOD test ones (index arrays into ``inferred``)."""
    return {"atomic_id": _rows(atomic[atomic_id], 1, end), "atomic_ood": _rows(atomic[~atomic_id], 1, end),
            "inferred_train": _rows(inferred[train], 2, end), "inferred_id": _rows(inferred[test_id], 2, end),
            "inferred_ood": _rows(inferred[test_ood], 2, end)}


def compose_table(c: "Config") -> Table:
    """kg-compose (see the module docstring)."""
    E, R, K = c.kg_entities, c.kg_relations, c.kg_degree
    rng = _rng(c, 1)
    rel = np.argsort(rng.random((E, R)), axis=1)[:, :K]          # (entity, slot) -> relation, distinct per entity
    tail = rng.integers(0, E, size=(E, K))                        # (entity, slot) -> tail entity
    ood = np.zeros(E * K, bool)
    ood[rng.choice(E * K, size=int(round(OOD_FRAC * E * K)), replace=False)] = True
    h = np.repeat(np.arange(E), K)
    r, t = rel.reshape(-1), tail.reshape(-1)
    end = E + R
    atomic = np.stack([h, E + r, t], axis=1)
    # inferred: atomic fact a1 = (h, r1, b) followed by each of b's facts a2 = (b, r2, t)
    a1 = np.repeat(np.arange(E * K), K)
    a2 = t[a1] * K + np.tile(np.arange(K), E * K)
    inferred = np.stack([h[a1], E + r[a1], E + r[a2], t[a2]], axis=1)
    id_pool = np.nonzero(~ood[a1] & ~ood[a2])[0]
    test_id, id_pool = _pick(rng, id_pool, _n_test(c))
    train, _ = _pick(rng, id_pool, _n_phi(c, int((~ood).sum()), id_pool.size))
    test_ood, _ = _pick(rng, np.nonzero(ood[a1] & ood[a2])[0], _n_test(c))
    parts = _parts(atomic, ~ood, inferred, train, test_id, test_ood, end)
    return _table("kg-compose", parts, end + 1, {"entities": E, "relations": R, "degree": K, "phi": c.kg_phi,
                                                 "end_token": end, "first_relation": E})


def compare_table(c: "Config") -> Table:
    """kg-compare (see the module docstring)."""
    E, A, V = c.kg_entities, c.kg_relations, c.kg_degree
    rng = _rng(c, 2)
    value = rng.integers(0, V, size=(E, A))                       # (entity, attribute) -> value
    is_id = np.argsort(rng.random((A, E)), axis=1) < int(round(ID_ENTITY_FRAC * E))   # (attribute, entity)
    first_val, first_label = E + A, E + A + V
    end = first_label + 3 * A
    ent, att = np.repeat(np.arange(E), A), np.tile(np.arange(A), E)
    atomic = np.stack([ent, E + att, first_val + value[ent, att]], axis=1)
    atomic_id = is_id[att, ent]
    e1, e2 = (a.reshape(-1) for a in np.meshgrid(np.arange(E), np.arange(E), indexing="ij"))
    e1, e2 = e1[e1 != e2], e2[e1 != e2]
    pa = np.repeat(np.arange(A), e1.size)                           # every attribute × ordered pair
    p1, p2 = np.tile(e1, A), np.tile(e2, A)
    cmp = np.sign(value[p1, pa] - value[p2, pa]) + 1              # 0: <, 1: =, 2: >
    inferred = np.stack([E + pa, p1, p2, first_label + 3 * pa + cmp], axis=1)
    both_id, both_ood = is_id[pa, p1] & is_id[pa, p2], ~is_id[pa, p1] & ~is_id[pa, p2]
    id_all = np.nonzero(both_id)[0]
    test_id, pool = _pick(rng, id_all, int(round(COMPARE_TEST_FRAC * id_all.size)))
    test_id, _ = _pick(rng, test_id, _n_test(c))
    train, _ = _pick(rng, pool, _n_phi(c, int(atomic_id.sum()), pool.size))
    test_ood, _ = _pick(rng, np.nonzero(both_ood)[0], _n_test(c))
    parts = _parts(atomic, atomic_id, inferred, train, test_id, test_ood, end)
    return _table("kg-compare", parts, end + 1, {"entities": E, "attributes": A, "values": V, "phi": c.kg_phi,
                                                 "end_token": end, "first_relation": E})


def _check(c: "Config") -> None:
    E, R, K = c.kg_entities, c.kg_relations, c.kg_degree
    if not 2 <= E <= 100_000:
        raise reject("kg_entities", E, "an integer in [2, 100000]")
    if not 1 <= R <= 10_000:
        raise reject("kg_relations", R, "an integer in [1, 10000]")
    compose = c.task == "kg-compose"
    if compose and not 1 <= K <= R:
        raise reject("kg_degree", K, f"an integer in [1, kg_relations = {R}] for kg-compose")
    if not compose and not 2 <= K <= 1000:
        raise reject("kg_degree", K, "an integer in [2, 1000] (values per attribute) for kg-compare")
    rows = E * K * K if compose else R * E * E
    if rows > 50 * MAX_ROWS:
        raise ConfigError(f"kg_entities: the graph has {rows:,} candidate inferred facts; allowed at most "
                          f"{50 * MAX_ROWS:,} (fewer entities, relations or a smaller kg_degree)")
    if c.model != "lm":
        raise reject("model", c.model, f"lm for the sequence task {c.task}")
    if c.noise > 0:
        raise reject("noise", c.noise, f"0 for the sequence task {c.task}")
    if c.n_test is not None and c.n_test < 1:
        raise reject("n_test", c.n_test, "an integer >= 1")


def _build(c: "Config") -> Table:
    _check(c)
    return compose_table(c) if c.task == "kg-compose" else compare_table(c)


FAMILIES: list[TaskFamily] = [TaskFamily(
    key="kg",
    names={"kg-compose": "knowledge-graph composition (Wang et al. 2024): (h, r1, r2) -> t over atomic facts, ID/OOD",
           "kg-compare": "knowledge-graph comparison (Wang et al. 2024): (attribute, e1, e2) -> <, =, >, ID/OOD"},
    params=("kg_entities", "kg_relations", "kg_degree", "kg_phi", "kg_seed", "n_test"), check=_check, build=_build)]
