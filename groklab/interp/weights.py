"""Weight-norm measures (Nanda et al. 2023: the sum of squared weights falls during clean-up)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from groklab.errors import ConfigError


def sum_squared_weights(params: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Sum of squared entries of each parameter tensor, and over all of them (Nanda et al. 2023).

    params: {name: array of any shape} (numpy or JAX). Returns {name: float, …, "total": float},
    summed in float64.
    """
    if "total" in params:
        raise ConfigError("a parameter may not be named 'total': that key holds the sum")
    out = {name: float(np.sum(np.asarray(w, dtype=np.float64) ** 2)) for name, w in params.items()}
    out["total"] = float(sum(out.values()))
    return out
