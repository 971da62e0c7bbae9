"""Formatting shared by the analysis: arrays rounded for the cached JSON, verdicts as sentences."""

from __future__ import annotations

import numpy as np

# significant digits kept in the large arrays (heatmap, stars, clock, spectra, bit weights)
DIGITS = 4


def sig(a: np.ndarray, digits: int = DIGITS) -> list:
    """Array rounded to a few significant digits, as nested lists (keeps the cached JSON small)."""
    a = np.asarray(a, np.float64)
    mag = np.floor(np.log10(np.where(a == 0, 1.0, np.abs(a))))
    scale = 10.0 ** (digits - 1 - mag)
    return (np.round(a * scale) / scale).tolist()


def sentence(s: str) -> str:
    """Capitalized, with one final period."""
    s = s.strip()
    return (s[:1].upper() + s[1:]).rstrip(".") + "."


__all__ = ["DIGITS", "sentence", "sig"]
