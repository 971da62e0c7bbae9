"""Models as pure functions of flat parameter dicts: ``Model.init(key)`` and ``Model.apply(params, x)``.

``build(cfg, dataset)`` picks the architecture and fixes the shapes it needs from the dataset.
Sequence models see the operand tokens followed by an '=' token (id = vocab_size); with ``op_token``
a two-operand task reads `a ∘ b =` (the operator token's id is vocab_size + 1). The causal sequence
model (``lm``) reads a sequence task's tokens as they are and predicts the next token at every position.

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
from groklab.models import lm, mlp, transformer
from groklab.tasks.base import Dataset

Params = dict[str, jax.Array]


def _not_applicable(params: Params) -> None:
    return None


@dataclass(frozen=True)
class Model:
    """A model bound to one dataset's shapes."""

    kind: str
    init: Callable[[jax.Array], Params]
    apply: Callable[..., jax.Array]           # (params, x, full=False) -> logits [batch, n_classes] ([batch, pos,
    #                                           vocab] for the lm: one prediction per position)
    neurons: Callable[[Params, jax.Array], jax.Array]  # (params, x) -> [batch, n_neurons]
    prepare: Callable[[jax.Array], jax.Array]  # raw dataset x -> model input
    flops_per_example: float
    n_classes: int
    reads_tokens: bool = True                 # has weights per input token (False: real-valued features)
    # floats per example in the model's widest activation (an MLP's logits or widest layer; a transformer's, see
    # ``transformer.activation_width``; 0: not estimated), which sizes an ensemble's member groups
    # (``train.ensemble.group_size``)
    activation_width: int = 0
    token_weights: Callable[[Params], np.ndarray | None] = _not_applicable  # [vocab, ·]
    neuron_weights: Callable[[Params], np.ndarray | None] = _not_applicable  # [n_neurons, vocab]
    unembedding: Callable[[Params], np.ndarray | None] = _not_applicable  # [n_neurons, n_classes]
    bit_weights: Callable[[Params], np.ndarray | None] = _not_applicable  # [n_neurons, n_bits]


def _build_lm(cfg, ds: Dataset) -> Model:
    """The causal sequence transformer over a sequence task's tokens (``meta["sequence"]``): logits
    [batch, pos, vocab] at every position, inputs as the table holds them."""
    V, T = ds.vocab_size, ds.x.shape[1]
    return Model(
        kind="lm",
        init=lambda key: lm.init(key, cfg, V, T),
        apply=lambda p, x, full=False: lm.forward(p, x, cfg),
        neurons=lambda p, x: lm.mlp_activations(p, x, cfg),
        prepare=lambda x: x,
        flops_per_example=lm.flops_per_example(cfg, T, V),
        n_classes=V,
        activation_width=lm.activation_width(cfg, T, V),
        token_weights=lm.token_weights,
        neuron_weights=lm.neuron_weights,
        unembedding=lambda p: lm.unembedding(p, cfg),
    )


def build(cfg, ds: Dataset) -> Model:
    C = ds.n_classes
    sequence = bool(ds.meta.get("sequence"))
    if cfg.embed_table and (cfg.model != "mlp" or cfg.input != "embed"):
        raise ConfigError(f"embed_table: allowed only with model = mlp and input = embed (got model {cfg.model}, "
                          f"input {cfg.input})")
    if cfg.embed_from is not None and cfg.model != "transformer":
        raise ConfigError(f"embed_from: allowed only with model = transformer (got model {cfg.model}); none turns "
                          "it off")
    if sequence != (cfg.model == "lm"):
        raise ConfigError(f"model: got {cfg.model!r}; allowed lm for the sequence task {ds.name}" if sequence else
                          f"model: got 'lm'; allowed transformer or mlp for task {ds.name}, which is not a sequence "
                          f"task (lm needs one, e.g. kg-compose)")
    if sequence:
        return _build_lm(cfg, ds)
    if cfg.model == "transformer":
        if not ds.is_tokens:
            raise ConfigError(f"model: task {ds.name} has real-valued inputs; use model = mlp, input = features")
        V = ds.vocab_size
        op_token = cfg.op_token and ds.x.shape[1] == 2
        T = ds.x.shape[1] + 1 + op_token
        eq = V                                    # '=' is token V; the operator token (op_token) V + 1

        def prepare(x):
            col = lambda t: jnp.full((x.shape[0], 1), t, x.dtype)  # noqa: E731
            parts = [x[:, :1], col(V + 1), x[:, 1:]] if op_token else [x]
            return jnp.concatenate([*parts, col(eq)], axis=1)

        return Model(
            kind="transformer",
            init=lambda key: transformer.init(key, cfg, V + 1 + op_token, T, C),
            apply=lambda p, x, full=False: transformer.forward(p, x, cfg, C, full=full),
            neurons=lambda p, x: transformer.mlp_activations(p, x, cfg),
            prepare=prepare,
            flops_per_example=transformer.flops_per_example(cfg, T, C, V + 1 + op_token),
            n_classes=C,
            activation_width=transformer.activation_width(cfg, T, C),
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
    if cfg.tied and (cfg.input not in ("embed", "embed-sum") or vocab is None or vocab < C):
        raise ConfigError(f"tied: an MLP ties its output to W_E only with input embed or embed-sum on a task whose "
                          f"classes are tokens (task {ds.name}, input {cfg.input})")
    d_in = mlp.input_width(cfg, T, vocab, n_feat)
    return Model(
        kind="mlp",
        init=lambda key: mlp.init(key, cfg, T, vocab, n_feat, C),
        apply=lambda p, x, full=False: mlp.forward(p, x, cfg, vocab, C),
        neurons=lambda p, x: mlp.hidden(p, x, cfg, vocab),
        prepare=lambda x: x,
        flops_per_example=mlp.flops_per_example(cfg, d_in, C, T),
        n_classes=C,
        reads_tokens=vocab is not None,
        activation_width=max(d_in, cfg.d_mlp, C),
        token_weights=lambda p: mlp.token_weights(p, cfg, T, vocab),
        neuron_weights=lambda p: mlp.neuron_weights(p, cfg, vocab),
        unembedding=lambda p: mlp.unembedding(p, cfg, C),
        bit_weights=lambda p: mlp.bit_weights(p, cfg, T, vocab),
    )
