"""groklab: does this network memorize, or does it generalize, and why?

Train the grokking recipes of the literature (Power et al. 2022; Nanda et al. 2023; the PAIR
explorable; Gromov 2023; Omnigrok; Grokfast; Prieto et al. 2025) as batched JAX ensembles,
measure memorization and generalization, and read the learned algorithm out of the weights.
"""

__version__ = "0.1.0"

from groklab.config import Config, from_dict, resolve  # noqa: E402
from groklab.errors import ConfigError, GroklabError, StoreError  # noqa: E402


def __getattr__(name):  # heavy imports (JAX) only when used
    if name in ("train", "resume", "load_params", "TrainResult"):
        from groklab import api
        return getattr(api, name)
    if name == "Store":
        from groklab.store import Store
        return Store
    raise AttributeError(name)


__all__ = ["Config", "ConfigError", "GroklabError", "StoreError", "from_dict", "resolve", "train", "resume",
           "load_params", "Store", "TrainResult"]
