"""Models as pure functions of flat parameter dicts: ``Model.init(key)`` and ``Model.apply(params, x)``.

``build(cfg, dataset)`` picks the architecture and fixes the shapes it needs from the dataset.
Sequence models see the operand tokens followed by an '=' token (id = vocab_size).

Each model also owns its interpretability readouts, numpy float64 arrays read off a parameter dict
(None where the readout does not apply to that model): ``token_weights`` (one row per input token),
``neuron_weights`` [n_neurons, vocab] (how a token in the first position feeds each first-layer
neuron), ``unembedding`` [n_neurons, n_classes] (the last hidden layer → logits) and ``bit_weights``
[n_neurons, n_bits] (bit inputs: the weight each first-layer neuron puts on each bit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from groklab.errors import ConfigError
from groklab.models import mlp, transformer
from groklab.tasks.base import Dataset

Params = dict[str, jax.Array]


def _not_applicable(params: Params) -> None:
    return None


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
    reads_tokens: bool = True                 # has weights per input token (False: real-valued features)
    token_weights: Callable[[Params], np.ndarray | None] = _not_applicable  # [vocab, ·]
    neuron_weights: Callable[[Params], np.ndarray | None] = _not_applicable  # [n_neurons, vocab]
    unembedding: Callable[[Params], np.ndarray | None] = _not_applicable  # [n_neurons, n_classes]
    bit_weights: Callable[[Params], np.ndarray | None] = _not_applicable  # [n_neurons, n_bits]


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
            token_weights=lambda p: transformer.token_weights(p, V),
            neuron_weights=lambda p: transformer.neuron_weights(p, V),
            unembedding=lambda p: transformer.unembedding(p, cfg, C),
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
        reads_tokens=vocab is not None,
        token_weights=lambda p: mlp.token_weights(p, cfg, T, vocab),
        neuron_weights=lambda p: mlp.neuron_weights(p, cfg, vocab),
        unembedding=mlp.unembedding,
        bit_weights=lambda p: mlp.bit_weights(p, cfg, T, vocab),
    )
