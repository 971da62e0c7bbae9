"""Handwritten digits: scikit-learn's bundled 8×8 digits, the offline stand-in for Omnigrok's MNIST.

Omnigrok (Liu, Michaud, Tegmark 2022) groks MNIST with 1,000 training points, an MLP and a
large initialisation. MNIST cannot be downloaded here; the 1,797 8×8 images that ship with
scikit-learn can. Inputs are the 64 pixel intensities scaled from 0..16 to [0, 1], so only an
MLP on real-valued features can read them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from groklab.errors import ConfigError
from groklab.tasks import TaskFamily
from groklab.tasks.base import Table

if TYPE_CHECKING:
    from groklab.tasks import TaskConfig as Config

N_PIXELS = 64
MAX_INTENSITY = 16.0


def _data_file() -> Path:
    # The file sklearn.datasets.load_digits reads (pixels, then the digit in the last column);
    # reading it directly skips importing scikit-learn, which takes seconds.
    spec = importlib.util.find_spec("sklearn")
    path = None if spec is None else Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if path is None or not path.is_file():
        raise ConfigError("task: task digits needs scikit-learn installed (it ships the digits data)")
    return path


def digits_table() -> Table:
    """All 1,797 images: float32 features [N, 64] in [0, 1], labels 0..9."""
    data = np.loadtxt(_data_file(), delimiter=",")
    x = (data[:, :N_PIXELS] / MAX_INTENSITY).astype(np.float32)
    y = data[:, -1].astype(np.int32)
    return Table(name="digits", x=x, y=y, n_classes=10, vocab_size=None,
                 meta={"n_features": N_PIXELS, "image_shape": [8, 8], "modular": False})


def _check(c: "Config") -> None:
    if c.model != "mlp" or c.input != "features":
        raise ConfigError("input: task digits needs model = mlp and input = features")


def _build(c: "Config") -> Table:
    return digits_table()


FAMILIES: list[TaskFamily] = [
    TaskFamily(key="digits",
               names={"digits": "scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes), MLP on features"},
               params=("frac", "n_train", "noise"), check=_check, build=_build),
]
