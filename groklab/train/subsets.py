"""Subset ensembles at the config level: the K member configs that ``subsets = K`` asks for, and
whether a run records per-example measures (no JAX here: the CLI and the API call it before
training; the subsets themselves are drawn in ``groklab.tasks.subsets``, Feldman & Zhang 2020 and
Carlini et al. 2022's scheme)."""

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
    members must share the pool (data seed, noise, canaries).
    """
    if not cfgs or cfgs[0].subsets == 0:
        return cfgs
    k, first = cfgs[0].subsets, cfgs[0]
    if len(cfgs) == 1:
        cfgs = [first.replace(subset=m, seed=first.seed + m, data_seed=first.split_seed) for m in range(k)]
    elif len(cfgs) == k and all(c.subset == 0 for c in cfgs):
        cfgs = [c.replace(subset=m, data_seed=first.split_seed) for m, c in enumerate(cfgs)]
    pool = {(c.split_seed, c.noise, c.canaries, c.subsets, c.subset_scheme) for c in cfgs}
    if len(pool) > 1:
        raise ConfigError("subsets: members of a subset ensemble must share the data seed, noise, canaries, "
                          "subsets and subset_scheme (one training pool)")
    return cfgs
