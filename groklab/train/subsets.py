"""Subset ensembles at the config level: the K member configs that ``subsets = K`` asks for, whether
a run records per-example measures, and the rows their training sets pad to (no JAX here: the CLI
and the API call it before training; the subsets themselves are drawn in ``groklab.tasks.subsets``,
Feldman & Zhang 2020 and Carlini et al. 2022's scheme)."""

from __future__ import annotations

from groklab.config import Config
from groklab.errors import ConfigError


def records_examples(cfg: Config) -> bool:
    """Whether a run records per-example measures: a subset ensemble's member, or a run with canaries."""
    return cfg.subsets > 0 or cfg.canaries > 0


def expand_subsets(cfgs: list[Config]) -> list[Config]:
    """The members of a subset ensemble asked for by ``subsets = K``.

    One config: K members, member k with ``subset = k`` and seed ``seed + k``. K configs all at
    ``subset = 0`` (e.g. from ``--seeds``): numbered 0..K-1, seeds kept. Every member gets the data
    seed of the first, so they share one training pool. Anything else is taken as given, but the
    members of any group that records per-example measures (canaries too) must share the pool.
    """
    if not cfgs or not records_examples(cfgs[0]):
        return cfgs
    k, first = cfgs[0].subsets, cfgs[0]
    if k and len(cfgs) == 1:
        cfgs = [first.replace(subset=m, seed=first.seed + m, data_seed=first.split_seed) for m in range(k)]
    elif k and len(cfgs) == k and all(c.subset == 0 for c in cfgs):
        cfgs = [c.replace(subset=m, data_seed=first.split_seed) for m, c in enumerate(cfgs)]
    elif k and all(c.subset == 0 for c in cfgs):
        raise ConfigError(f"subsets: got {k} with {len(cfgs)} members; give one config (its {k} members follow) "
                          f"or exactly {k} seeds")
    if len({c.pool_key() for c in cfgs}) > 1:
        field = "subsets" if k else "canaries"
        raise ConfigError(f"{field}: the members of one ensemble with per-example measures must share one training "
                          "pool (data seed, frac, noise, canaries, subsets, subset_scheme); give --data-seed to "
                          "train several seeds on one pool")
    return cfgs


def padded_rows(cfg: Config, n_trains: list[int]) -> int:
    """The training rows an ensemble pads its members to: its largest member's; for the members of a
    subset ensemble, the largest of all K (not only of the members in this ensemble), so that an atlas
    split into several ensembles (``groklab.atlas``) trains each member as the one ensemble would: the
    same padded full-batch sums, and the same minibatch draws, which depend on the padded length."""
    n = max(n_trains)
    if not cfg.subsets:
        return n
    from groklab.tasks import build_table
    from groklab.tasks.base import split
    from groklab.tasks.subsets import inclusion_matrix

    train_idx, _ = split(build_table(cfg), None if cfg.n_train is not None else cfg.frac, cfg.split_seed,
                         cfg.n_train)
    inc = inclusion_matrix(len(train_idx), cfg.subsets, cfg.split_seed, cfg.subset_scheme)
    return max(n, int(inc.sum(1).max()))
