"""GrokTransfer's weak embedding read from the store (``embed_from``; Xu et al. 2025, arXiv 2504.13292).

A config with ``embed_from = REF`` trains a transformer whose embedding is W_E = A·B: A is the final W_E
of the stored run REF (a weaker model trained on the same task), B is drawn fresh (``models.transformer``).
REF is what ``Store.resolve`` takes (a run id, a unique id prefix, a run name: the newest with it) or
``config:HASH``, the newest finished run whose config hashes to HASH (``Config.hash()``): a sweep names
its weak runs by the configs it trains them from, before any of them has a run id.

A takes the weak run's rows of the task's tokens (its first ``vocab_size`` rows; an MLP has no '=' token)
and zeros for the target's other tokens ('=', the operator token), whose constant embedding the position
embedding carries anyway. The weak run must have finished on the same task and modulus and its width must
be ``embed_rank``. Every problem is one ConfigError naming ``embed_from`` (exit code 2 on the CLI).
"""

from __future__ import annotations

import numpy as np

from groklab.config import Config, from_dict
from groklab.errors import ConfigError, StoreError
from groklab.store import Store

PREFIX = "config:"


def weak_run(store: Store, ref: str) -> dict:
    """The stored run ``ref`` names (see the module docstring); ConfigError if none, or it has not finished."""
    if ref.startswith(PREFIX):
        h = ref[len(PREFIX):]
        rows = store.finished_of_hash(h)
        if not rows:
            raise ConfigError(f"embed_from: no finished run of config hash {h!r} in {store.root}; allowed a run id, "
                              "an id prefix, a run name or config:HASH of a finished run (train the weak model first)")
        return store.get_run(rows[0])
    try:
        row = store.get_run(ref)
    except StoreError as e:
        raise ConfigError(f"embed_from: {e}".replace("run: ", "", 1)) from None
    if row["status"] != "completed":
        raise ConfigError(f"embed_from: run {row['run_id']} is {row['status']}; allowed a finished run")
    return row


def weak_embedding(store: Store, cfg: Config) -> tuple[str, np.ndarray]:
    """(the weak run's id, A [d_vocab, embed_rank] for ``cfg``'s transformer) from its final checkpoint."""
    from groklab.models import build, transformer
    from groklab.tasks import build_dataset

    row = weak_run(store, cfg.embed_from)
    weak = from_dict(row["config"])
    if (weak.task, weak.p) != (cfg.task, cfg.p):
        raise ConfigError(f"embed_from: run {row['run_id']} trained task {weak.task} mod {weak.p}; allowed a run on "
                          f"this config's task {cfg.task} mod {cfg.p}")
    _, params = store.load_checkpoint(row["run_id"])
    if "W_E" not in params and "W_E_B" not in params:
        raise ConfigError(f"embed_from: run {row['run_id']} has no embedding W_E (model {weak.model}, input "
                          f"{weak.input}); allowed a run with one (an MLP with input embed, a transformer)")
    W = np.asarray(transformer.embedded(params)["W_E"], np.float32)     # a weak run that had factors too: A·B
    ds = build_dataset(cfg)
    V = ds.vocab_size
    (n, width) = W.shape
    if width != cfg.embed_rank:
        raise ConfigError(f"embed_rank: got {cfg.embed_rank}; allowed {width}, the width of run "
                          f"{row['run_id']}'s W_E")
    if n < V:
        raise ConfigError(f"embed_from: run {row['run_id']}'s W_E has {n} rows; allowed a run with a row "
                          f"for each of the task's {V} tokens")
    import jax

    rows = jax.eval_shape(build(cfg, ds).init, jax.random.PRNGKey(0))["W_E_A"].shape[0]
    A = np.zeros((rows, cfg.embed_rank), np.float32)
    A[:V] = W[:V]
    return row["run_id"], A


def embeddings(store: Store | None, cfgs: list[Config]) -> tuple[np.ndarray | None, list[str | None]]:
    """Every member's A stacked [E, d_vocab, embed_rank] and the weak runs' ids (None, [None...] without
    ``embed_from``)."""
    if cfgs[0].embed_from is None:
        return None, [None] * len(cfgs)
    if store is None:
        raise ConfigError("embed_from: needs the store that holds the weak run (give --store)")
    got = [weak_embedding(store, c) for c in cfgs]
    return np.stack([a for _, a in got]), [r for r, _ in got]
