"""groklab: does this network memorize, or does it generalize, and why?

Train the grokking recipes of the literature (Power et al. 2022; Nanda et al. 2023; the PAIR
explorable; Gromov 2023; Omnigrok; Grokfast; Prieto et al. 2025) as batched JAX ensembles,
measure memorization and generalization, and read the learned algorithm out of the weights.
"""

__version__ = "0.1.0"

import os as _os

# XLA's CPU backend routes dots through YNNPACK fusions by default in jaxlib 0.10; on 2-core AMD EPYC
# the nanda2023 step ran 1.26x faster with them off (`groklab bench`, row (d'): 23.2 vs 18.4 steps/s).
# groklab turns them off unless XLA_FLAGS already names the flag or GROKLAB_XLA_DEFAULTS=0. XLA reads
# XLA_FLAGS when its backend starts, so this holds as long as nothing ran on JAX before groklab was
# imported.
XLA_DEFAULT_FLAGS = "--xla_cpu_experimental_ynn_fusion_type="
if _os.environ.get("GROKLAB_XLA_DEFAULTS", "1") != "0" and \
        "xla_cpu_experimental_ynn_fusion_type" not in _os.environ.get("XLA_FLAGS", ""):
    _os.environ["XLA_FLAGS"] = (_os.environ.get("XLA_FLAGS", "") + " " + XLA_DEFAULT_FLAGS).strip()

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
