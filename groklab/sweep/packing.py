"""Packing: points whose configs share ``Config.shape_key()`` differ only in ``config.MEMBER_FIELDS``
(seed, lr, wd, frac...) and can train as one vmapped ensemble; each such group is cut into packs of at
most ``max_members``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from groklab.config import from_dict
from groklab.errors import ConfigError

MAX_MEMBERS = 64


@dataclass
class Pack:
    """Points that train together: one ensemble (or a single member)."""

    points: list[int]
    configs: list[dict]


def _key(c) -> str:
    """The pack key: the shape key, and for runs that record per-example measures (subset ensembles,
    canaries) their training pool too, since the members of one such ensemble must share it
    (``train.subsets.expand_subsets``): two atlases on different pools are two packs."""
    if not (c.subsets or c.canaries):
        return c.shape_key()
    return c.shape_key() + json.dumps(c.pool_key())


def pack(points: list[tuple[int, dict]], max_members: int = MAX_MEMBERS) -> list[Pack]:
    """Group (point, config) pairs by ``Config.shape_key()`` and cut each group into balanced chunks
    of at most ``max_members`` (70 points -> 35 + 35, not 64 + 6). Groups keep first-seen order."""
    if max_members < 1:
        raise ConfigError(f"max_members: must be >= 1, got {max_members}")
    groups: dict[str, list[tuple[int, dict]]] = {}
    for i, cfg in points:
        groups.setdefault(_key(from_dict(cfg)), []).append((i, cfg))
    packs = []
    for members in groups.values():
        k = math.ceil(len(members) / max_members)
        for chunk in np.array_split(np.arange(len(members)), k):
            sel = [members[j] for j in chunk]
            packs.append(Pack(points=[i for i, _ in sel], configs=[c for _, c in sel]))
    return packs
