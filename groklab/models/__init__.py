"""Models as pure functions of flat parameter dicts: ``Model.init(key)`` and ``Model.apply(params, x)``.

``build(cfg, dataset)`` picks the architecture and fixes the shapes it needs from the dataset.
Sequence models see the operand tokens followed by an '=' token (id = vocab_size).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from groklab.errors import ConfigError
from groklab.models import mlp, transformer
from groklab.tasks.base import Dataset

Params = dict[str, jax.Array]


@dataclass(frozen=True)
class Model:
    """A model bound to one dataset's shapes."""

    kind: str
    init: Callable[[jax.Array], Params]
    apply: Callable[..., jax.Array]           # (params, x, full=False) -> logits [batch, n_classes]
    neurons: Callable[[Params, jax.Array], jax.Array]  # (params, x) -> [batch, n_neurons]
    prepare: Callable[[jax.Array], jax.Array]  # raw dataset x -> model input
    flops_per_example: float
    n_classes: int


def build(cfg, ds: Dataset) -> Model:
    C = ds.n_classes
    if cfg.model == "transformer":
        if not ds.is_tokens:
            raise ConfigError(f"model: task {ds.name} has real-valued inputs; use model = mlp, input = features")
        V = ds.vocab_size
        T = ds.x.shape[1] + 1
        eq = V

        def prepare(x):
            return jnp.concatenate([x, jnp.full((x.shape[0], 1), eq, x.dtype)], axis=1)

        return Model(
            kind="transformer",
            init=lambda key: transformer.init(key, cfg, V + 1, T, C),
            apply=lambda p, x, full=False: transformer.forward(p, x, cfg, C, full=full),
            neurons=lambda p, x: transformer.mlp_activations(p, x, cfg),
            prepare=prepare,
            flops_per_example=transformer.flops_per_example(cfg, T, C, V + 1),
            n_classes=C,
        )
    if ds.is_tokens and cfg.input == "features":
        vocab = None
    elif not ds.is_tokens:
        if cfg.input != "features":
            raise ConfigError(f"input: task {ds.name} has real-valued inputs; use input = features")
        vocab = None
    else:
        vocab = ds.vocab_size
    T = ds.x.shape[1]
    n_feat = ds.x.shape[1]
    d_in = mlp.input_width(cfg, T, vocab, n_feat)
    return Model(
        kind="mlp",
        init=lambda key: mlp.init(key, cfg, T, vocab, n_feat, C),
        apply=lambda p, x, full=False: mlp.forward(p, x, cfg, vocab),
        neurons=lambda p, x: mlp.hidden(p, x, cfg, vocab),
        prepare=lambda x: x,
        flops_per_example=mlp.flops_per_example(cfg, d_in, C, T),
        n_classes=C,
    )
