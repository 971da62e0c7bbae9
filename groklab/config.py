"""One validated, hashable experiment config, spoken by the CLI, the Python API, sweep files and the store.

A config describes one run (one ensemble member). Fields are flat so that a TOML file, a CLI flag
and a sweep axis all name a field the same way (``--wd 0.3``, ``wd = 0.3``, ``y = "wd=0,0.3"``).
Each field declares its group, what it allows (``groklab.constraints``), whether ensemble members
may differ in it, and a one-line doc; validation, ``MEMBER_FIELDS``, ``--help`` and the fuzz tests'
bad values all come from those declarations. Invalid values fail here, at the edge, with one
``ConfigError`` style: ``"p: got 1; allowed an integer in [2, 2000]"``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from groklab.constraints import Boolean, Constraint, Interval, Options, Pattern, Text, reject, type_invalid
from groklab.errors import ConfigError

GROUPS = ("identity", "task", "model", "optim", "loop", "measure")


@dataclass(frozen=True)
class Spec:
    """A field's declaration: its group, what it allows, whether ensemble members may differ in it, its doc."""

    group: str
    allowed: Constraint
    doc: str
    member: bool = False


@dataclass(frozen=True)
class TaskName(Constraint):
    """Any task the registry knows; checked by ``groklab.tasks.check_task`` among the cross-field rules."""

    def ok(self, value: Any) -> bool:
        return isinstance(value, str)

    def describe(self) -> str:
        return "a task listed by `groklab tasks`"

    def invalid(self) -> list:
        return ["nope", "expr:((((x"]


def _f(default: Any, group: str, allowed: Constraint, doc: str, member: bool = False, added: bool = False) -> Any:
    """A declared field. ``added``: a field newer than the first stores, left out of ``Config.hash()``
    while it holds its default, so configs that do not use it keep the hash they were stored with."""
    meta: dict[str, Any] = {"spec": Spec(group, allowed, doc, member), "added": added}
    if isinstance(allowed, Options):
        meta["choices"] = allowed.values
    return field(default=default, metadata=meta)


_POS_INT = Interval(int, 1, None)               # 1, 2, ...
_COUNT = Interval(int, 0, None)                 # 0, 1, ...
_WIDTH = Interval(int, 1, 65536)
_POSITIVE = Interval(float, 0, None, "neither")
_NONNEG = Interval(float, 0, None)
_UNIT_OPEN_RIGHT = Interval(float, 0, 1, "left")
_UNIT_OPEN_LEFT = Interval(float, 0, 1, "right")
_SEED = Interval(int, 0, 2**32, "left")
_ANY_INT = Interval(int)                         # range checked by the task that reads it


@dataclass(frozen=True)
class Config:
    # --- run identity
    name: str | None = _f(None, "identity", Text(200, no_nul=True), "free-text name shown in listings and reports",
                          member=True)
    preset: str | None = _f(None, "identity", Text(), "the preset this config started from (recorded only)")
    # --- task (groklab.tasks)
    task: str = _f("x+y", "task", TaskName(), "operator (x+y, x/y, ...), expr:..., perm-compose, parity, digits")
    p: int = _f(97, "task", Interval(int, 2, 2000), "modulus for modular tasks")
    frac: float = _f(0.3, "task", Interval(float, 0, 1, "neither"), "fraction of all examples used for training",
                     member=True)
    n_train: int | None = _f(None, "task", _POS_INT, "absolute number of training examples (overrides frac)",
                             member=True)
    n_test: int | None = _f(None, "task", _POS_INT, "held-out examples for sampled tasks (parity)")
    symmetric: bool = _f(False, "task", Boolean(), "modular: only pairs a <= b (as the PAIR explorable)")
    y_nonzero: bool = _f(False, "task", Boolean(), "modular: only equations with y != 0 (Grokfast's x*y data: "
                         "y in 1..p-1)", added=True)
    operands: int | None = _f(None, "task", Interval(int, 2, None), "modular: operands x, y in 0..n-1 only, n <= p "
                              "(none: 0..p-1); with p >= 2n-1 the sum never wraps (Liu et al. 2022's toy: n = 10, "
                              "p = 19)", added=True)
    noise: float = _f(0.0, "task", _UNIT_OPEN_RIGHT, "fraction of training labels replaced by other classes",
                      member=True)
    perm_n: int = _f(5, "task", _ANY_INT, "permutation tasks: the group S_n (range checked by the task)")
    parity_n: int = _f(30, "task", _ANY_INT, "sparse parity: input bits (range checked by the task)")
    parity_k: int = _f(3, "task", _ANY_INT, "sparse parity: bits whose parity is the label (checked by the task)")
    data_seed: int | None = _f(None, "task", _SEED, "seed of split and noise (none: the seed)", member=True)
    subsets: int = _f(0, "task", Interval(int, 0, 4096), "subset ensemble of this many members, each trained on a "
                      "random subset of the training pool (half: each example in half of them; Feldman & Zhang "
                      "2020, Carlini et al. 2022); 0: off. `groklab train --subsets K` makes the K members",
                      added=True)
    subset: int = _f(0, "task", _COUNT, "this member's row of the subset ensemble's inclusion matrix (0..subsets-1)",
                     member=True, added=True)
    subset_scheme: str = _f("half", "task", Options(("half", "leave-one-out")),
                            "subsets: half (each example in exactly half the members, chosen by the data seed) or "
                            "leave-one-out (subsets = pool size + 1: member i lacks example i, the last has all)",
                            added=True)
    canaries: int = _f(0, "task", _COUNT, "canaries (Carlini et al. 2019): training examples whose label is replaced "
                       "by a random secret, chosen by the data seed; their exposure is measured", added=True)
    corpus_vocab: int = _f(512, "task", Interval(int, 300, 8192), "pydoc: byte-level BPE vocabulary size (256 bytes "
                           "plus merges, trained on the training documents)", added=True)
    corpus_context: int = _f(32, "task", Interval(int, 8, 1024), "pydoc: tokens per window (the sequence length T)",
                             added=True)
    corpus_windows: int = _f(2048, "task", Interval(int, 8, 100_000), "pydoc: training windows drawn from the "
                             "training documents by the data seed (held out: an eighth as many)", added=True)
    canary_reps: str = _f("", "task", Text(200, no_nul=True), "pydoc: one canary (Carlini et al. 2019's template and "
                          "a random secret) per entry, inserted that many times, e.g. \"1,10,100\"; \"\": none",
                          added=True)
    canary_digits: int = _f(3, "task", Interval(int, 1, 4), "pydoc: digits of each canary's secret (10^k candidates, "
                            "all ranked at every evaluation)", added=True)
    kg_entities: int = _f(200, "task", _ANY_INT, "knowledge-graph tasks (kg-compose, kg-compare; Wang et al. 2024): "
                          "entities (range checked by the task)", added=True)
    kg_relations: int = _f(20, "task", _ANY_INT, "knowledge-graph tasks: relations (kg-compose) or attributes "
                           "(kg-compare)", added=True)
    kg_degree: int = _f(10, "task", _ANY_INT, "kg-compose: atomic facts per entity (out-degree, distinct relations; "
                        "<= kg_relations); kg-compare: values per attribute", added=True)
    kg_phi: float = _f(7.2, "task", _POSITIVE, "knowledge-graph tasks: inferred ratio phi, trained inferred facts per "
                       "ID atomic fact (Wang et al.: generalization speed follows phi)", added=True)
    kg_seed: int = _f(0, "task", _SEED, "knowledge-graph tasks: seed of the graph and its ID/OOD split (one graph "
                      "for every ensemble member)", added=True)
    # --- model (groklab.models)
    model: str = _f("transformer", "model", Options(("transformer", "mlp", "lm")),
                    "the network (groklab.models): transformer (answer at '='), mlp, or lm (a causal sequence "
                    "transformer trained on next-token loss over a sequence task's tokens)")
    n_layers: int = _f(1, "model", _WIDTH, "transformer blocks, or MLP hidden layers")
    d_model: int = _f(128, "model", _WIDTH, "transformer residual width")
    n_heads: int = _f(4, "model", _WIDTH, "attention heads (d_head = d_model / n_heads; must divide d_model)")
    d_mlp: int = _f(512, "model", _WIDTH, "transformer MLP width; MLP hidden width")
    d_embed: int = _f(128, "model", _WIDTH, "MLP: embedding width per operand (input = embed)")
    act: str = _f("relu", "model", Options(("relu", "gelu", "quadratic", "tanh")), "hidden activation")
    layernorm: bool = _f(False, "model", Boolean(), "transformer: LayerNorm in every block (placed as ln_place says)")
    ln_place: str = _f("pre", "model", Options(("pre", "post", "resid")),
                       "transformer LayerNorm placement: pre (on each branch's input, plus a final LN), post (Power "
                       "et al.: x = LN(x + f(x)), no final LN) or resid (Grokfast: the stream itself, x = LN(x); "
                       "x = x + attn(x), then a pre-LN MLP and a final LN)", added=True)
    op_token: bool = _f(False, "model", Boolean(), "transformer: an operator token between the operands (a o b =), "
                        "as Power et al. and Grokfast", added=True)
    pos: str = _f("learned", "model", Options(("learned", "rope")),
                  "lm: positional scheme, learned absolute embeddings W_pos (GPT-2) or rotary (RoPE, Su et al. 2021, "
                  "on every head's full d_head)", added=True)
    tied: bool = _f(False, "model", Boolean(), "W_U = W_E^T restricted to the classes (transformer); MLP with "
                    "embedded inputs: logits = (h W_out) W_E^T, W_out [d_mlp, d_embed] (PAIR)")
    input: str = _f("embed", "model", Options(("embed", "embed-sum", "onehot", "features")),
                    "MLP input: per-operand embeddings, one summed embedding, one-hot tokens or the task's features")
    embed_table: bool = _f(False, "model", Boolean(), "MLP with input embed: the first layer as rows gathered from "
                           "per-operand tables W_E W_in (half of pair2023's FLOPs; rounds unlike the matmul)",
                           added=True)
    bias: bool = _f(True, "model", Boolean(), "biases in the MLP's hidden and output layers (transformer: in its "
                    "blocks' MLPs; attention never has any)")
    init: str = _f("normal", "model", Options(("normal", "uniform")),
                   "normal: N(0, 1/fan_in) weights, zero biases (transformer: Nanda et al.'s); uniform: PyTorch's "
                   "defaults, U(+-1/sqrt(fan_in)) for linear weights and biases, N(0, 1) for embeddings",
                   added=True)
    embed_from: str | None = _f(None, "model", Text(200, no_nul=True), "GrokTransfer (Xu et al. 2025), transformer: "
                                "a stored run (id, id prefix, name, or config:HASH, the newest finished run of that "
                                "config hash) whose final W_E [vocab, embed_rank] is A in W_E = A B, B [embed_rank, "
                                "d_model] drawn fresh; none: off", member=True, added=True)
    embed_rank: int = _f(4, "model", _WIDTH, "embed_from: the weak run's embedding width (the rank of W_E = A B)",
                         added=True)
    embed_frozen: bool = _f(False, "model", Boolean(), "embed_from: A never changes (no update, no weight decay; Xu et "
                            "al.'s Section 3.3) instead of A and B both training (their method)", added=True)
    init_scale: float = _f(1.0, "model", Interval(float, 0, 1e6, "right"),
                           "every initial weight multiplied by this (Omnigrok's alpha)", member=True)
    init_std: float | None = _f(None, "model", _POSITIVE, "MLP: fixed init std instead of 1/sqrt(fan_in)")
    # --- optimizer (groklab.train.optim) and loss (groklab.train.losses)
    optimizer: str = _f("adamw", "optim", Options(("adamw", "adam", "sgd", "muon")),
                        "the optimizer (muon: optax.contrib.muon on the hidden weight matrices, AdamW on the "
                        "embeddings, unembedding and biases; Tveit et al. 2025)")
    lr: float = _f(1e-3, "optim", _POSITIVE, "peak learning rate (after warm-up)", member=True)
    wd: float = _f(1.0, "optim", _NONNEG, "decoupled (AdamW) or L2 (Adam, SGD) weight decay", member=True)
    beta1: float = _f(0.9, "optim", _UNIT_OPEN_RIGHT, "Adam(W) first-moment decay", member=True)
    beta2: float = _f(0.98, "optim", _UNIT_OPEN_RIGHT, "Adam(W) second-moment decay", member=True)
    eps: float = _f(1e-8, "optim", _POSITIVE, "Adam(W) epsilon")
    momentum: float = _f(0.0, "optim", _UNIT_OPEN_RIGHT, "SGD momentum")
    warmup: int = _f(10, "optim", _COUNT, "linear learning-rate warm-up steps")
    schedule: str = _f("constant", "optim", Options(("constant", "cosine", "one-cycle")),
                       "learning rate after warm-up: constant, cosine (to 0 at `steps`) or one-cycle (PyTorch's "
                       "OneCycleLR: cosine up from lr/25 over the first 0.3 of `steps`, then down to lr/25e4)",
                       added=True)
    grokfast: str = _f("none", "optim", Options(("none", "ema", "ma")), "Grokfast gradient filter (Lee et al. 2024)")
    grokfast_alpha: float = _f(0.98, "optim", _UNIT_OPEN_RIGHT, "EMA momentum (Lee et al. 2024)", member=True)
    grokfast_lamb: float = _f(2.0, "optim", _NONNEG, "amplification of the slow gradient", member=True)
    grokfast_window: int = _f(100, "optim", _POS_INT, "MA window")
    orthograd: bool = _f(False, "optim", Boolean(), "⊥Grad (Prieto et al. 2025) around the optimizer")
    frob_lamb: float = _f(0.0, "optim", _NONNEG, "delayed Frobenius penalty (vuciv/grokfast's delayed compression): "
                          "frob_lamb·Σ‖W‖²_F over weight matrices added to the loss at every step whose minibatch "
                          "train accuracy is >= frob_threshold (0: off)", added=True)
    frob_threshold: float = _f(0.99, "optim", _UNIT_OPEN_LEFT, "minibatch train accuracy that switches the delayed "
                               "Frobenius penalty on for that step", added=True)
    loss: str = _f("ce", "optim", Options(("ce", "stablemax", "mse")), "loss: cross-entropy, StableMax CE or MSE")
    loss_dtype: str = _f("float32", "optim", Options(("float32", "float64")), "dtype the loss is computed in")
    opt_dtype: str = _f("float32", "optim", Options(("float32", "float64")), "dtype of the optimizer's arithmetic "
                        "and state (Adam's moments; the parameters stay float32): float64 keeps second moments "
                        "that float32 flushes to zero on XLA's CPU (subnormals below 1.2e-38), which under a tiny "
                        "eps turns Adam's step from ~lr into m/eps", added=True)
    # --- training loop (groklab.train.loop)
    steps: int = _f(10_000, "loop", Interval(int, 1, 10_000_000), "optimizer updates")
    batch_size: int | None = _f(None, "loop", _POS_INT, "minibatch size (none: full batch)")
    eval_every: int = _f(100, "loop", _POS_INT, "evaluate every k steps (plus a log-spaced early grid)")
    eval_per_decade: int = _f(20, "loop", Interval(int, 0, 1000),
                              "evaluations per decade on that log grid (0: none; checkpoints are always evaluated)")
    ckpt_per_decade: int = _f(10, "loop", Interval(int, 1, 1000),
                              "checkpoints per decade of steps (log grid) plus the last")
    ckpt_dense: float = _f(0.25, "loop", Interval(float, 0, 10),
                           "also checkpoint at an evaluation where a live member's train or test loss or weight "
                           "norm moved by more than this (natural log) since the last checkpoint (0: log grid only)",
                           added=True)
    until: str | None = _f(None, "loop", Pattern(r"generalized(:([1-9][0-9]{0,2}|1000))?",
                                                "generalized or generalized:N with N in [1, 1000]",
                                                ("generalized:0", "generalized:x", "memorized")),
                           "stop early: generalized[:N] ends training once every live member's test accuracy has "
                           "been >= acc_threshold at N consecutive evaluations (N default 3); none: all `steps`",
                           added=True)
    seed: int = _f(0, "loop", _SEED, "initialisation and minibatch order", member=True)
    device: str = _f("auto", "loop", Options(("auto", "cpu", "cuda")), "where to train (auto: an accelerator if any)")
    layout: str = _f("auto", "loop", Options(("auto", "vmap", "groups")),
                     "ensemble layout: vmap (all members as one batch), groups (members a few at a time, each group "
                     "through the whole interval; the same numbers) or auto (on the CPU, groups when the activations "
                     "outgrow the cache)", added=True)
    # --- measures (groklab.measure)
    acc_threshold: float = _f(0.99, "measure", _UNIT_OPEN_LEFT, "t_mem / t_gen: first eval with accuracy >= this")
    phase_threshold: float = _f(0.9, "measure", _UNIT_OPEN_LEFT, "Liu et al.: accuracy that counts as reached")
    phase_gap: int = _f(1000, "measure", _COUNT, "Liu et al.: t_test - t_train above this is grokking")

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> "Config":
        return from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        d = {k: v for k, v in self.to_dict().items()
             if not (FIELDS[k].metadata.get("added") and v == FIELDS[k].default)}
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def split_seed(self) -> int:
        return self.seed if self.data_seed is None else self.data_seed

    def pool_key(self) -> tuple:
        """What fixes the training pool of a run that records per-example measures (subset ensembles,
        canaries): members of one such ensemble must agree on it (``train.subsets.expand_subsets``), and
        sweeps pack only points that do (``sweep.packing``)."""
        return (self.split_seed, self.frac, self.n_train, self.noise, self.canaries, self.subsets, self.subset_scheme)

    def shape_key(self) -> str:
        """Everything but the per-member fields: configs with equal keys train as one ensemble."""
        d = {k: v for k, v in self.to_dict().items() if k not in MEMBER_FIELDS}
        if self.embed_from is not None:    # GrokTransfer's factored W_E: other parameters (the run named may differ)
            d["embed_from"] = True
        return json.dumps(d, sort_keys=True)


FIELDS = {f.name: f for f in fields(Config)}
SPECS: dict[str, Spec] = {f.name: f.metadata["spec"] for f in fields(Config)}
_HINTS = typing.get_type_hints(Config)


def member_fields(group: str | None = None) -> tuple[str, ...]:
    """Fields that may differ between members of one batched ensemble (they keep array shapes), in
    declaration order; with ``group``, only that group's (``member_fields("optim")``: the traced
    hyper-parameters of ``groklab.train.optim``)."""
    return tuple(n for n, s in SPECS.items() if s.member and (group is None or s.group == group))


MEMBER_FIELDS = frozenset(member_fields())


def field_type(name: str) -> tuple[type, bool]:
    """A field's base type and whether it may be None."""
    hint = _HINTS[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    return (args[0] if args else hint), optional


def allowed(name: str) -> str:
    """What a field allows, in words: ``"an integer in [2, 2000]"``, ``"an integer >= 1, or none"``."""
    text = SPECS[name].allowed.describe()
    return text + ", or none" if field_type(name)[1] else text


def _default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def field_help(name: str) -> str:
    """A field's help text: its doc, default and what it allows (``--help`` shows it)."""
    s = SPECS[name]
    member = "; may differ between ensemble members" if s.member else ""
    return f"{s.doc} (default {_default_text(FIELDS[name].default)}; allowed {allowed(name)}{member})"


def invalid_values(name: str) -> list:
    """Values the field rejects, from its declaration: just past each limit, outside its choices, of
    the wrong type (as CLI strings) and none where the field needs a value. Every one of them fails
    ``from_dict({name: value})`` with a ConfigError naming the field."""
    typ, optional = field_type(name)
    return SPECS[name].allowed.invalid() + type_invalid(typ, optional)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
        return False
    raise ValueError


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    if isinstance(value, str):
        v = float(value.replace("_", ""))
        if not v.is_integer():
            raise ValueError
        return int(v)
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    v = float(value)
    if not math.isfinite(v):
        raise ValueError
    return v


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


_CONVERT: dict[type, Callable[[Any], Any]] = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def coerce(name: str, value: Any) -> Any:
    """Turn a CLI string or TOML value into the field's type; ConfigError naming the field if not."""
    if name not in FIELDS:
        raise ConfigError(f"config: unknown key {name!r}; allowed: {', '.join(FIELDS)}")
    typ, optional = field_type(name)
    if optional and (value is None or (isinstance(value, str) and value.lower() in ("none", "null", ""))):
        return None
    if value is not None:
        try:
            return _CONVERT[typ](value)
        except (ValueError, TypeError, OverflowError):
            pass
    raise reject(name, value, allowed(name))


def _heads_divide_width(c: Config) -> None:
    if c.d_model % c.n_heads:
        raise reject("n_heads", c.n_heads, f"a divisor of d_model ({c.d_model})")


def _task_accepts(c: Config) -> None:
    from groklab.tasks import check_task  # late: the registry imports every task module (and NumPy)

    check_task(c)


def _subset_in_range(c: Config) -> None:
    if c.subset >= max(c.subsets, 1):
        raise reject("subset", c.subset, f"an integer in [0, subsets - 1 = {max(c.subsets - 1, 0)}]")


# Rules over several fields, run after every field passed its own declaration.
CROSS_RULES: tuple[Callable[[Config], None], ...] = (_heads_divide_width, _subset_in_range, _task_accepts)


def validate(c: Config) -> Config:
    """Check every field against its declaration, then the cross-field rules; returns the config
    unchanged or raises ConfigError (``"FIELD: got X; allowed ..."``)."""
    for name, s in SPECS.items():
        value = getattr(c, name)
        if value is None and field_type(name)[1]:
            continue
        if not s.allowed.ok(value):
            raise reject(name, value, allowed(name))
    for rule in CROSS_RULES:
        rule(c)
    return c


# Names given now (a new run's or sweep's) must not hold characters a terminal acts on: C0/C1 controls
# (ESC, BEL, CR, NUL...; tab is allowed), line/paragraph separators, bidirectional overrides, and lone
# surrogates (bytes that were not UTF-8). Stored configs of older runs are not held to it, so they still load.
UNSAFE_CHARS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
NAME_RULE = "a string of at most 200 characters without control characters (tab allowed)"


def unsafe_text(text: str) -> bool:
    """Whether ``text`` holds a character a terminal would act on (or a byte that was not UTF-8)."""
    return bool(UNSAFE_CHARS.search(text))


def check_name(value: Any, name: str = "name", required: bool = False) -> None:
    """The rule for a name given now: a run's ``name`` field, a sweep's name. ConfigError naming ``name``."""
    if value is None and not required:
        return
    if not isinstance(value, str) or len(value) > 200 or unsafe_text(value) or (required and not value.strip()):
        raise reject(name, value, ("a non-empty string" if required else "a string") + NAME_RULE[8:])


def check_input(c: Config) -> Config:
    """The rules for configs given now, stricter than those stored configs of older runs are held to
    (``validate``): the name's (``check_name``). Run before a new run or sweep is created."""
    check_name(c.name)
    return c


def from_dict(d: dict[str, Any]) -> Config:
    """Build and validate a config from plain values (TOML, JSON, CLI strings)."""
    values = {k: coerce(k, v) for k, v in d.items()}
    return validate(Config(**values))


MAX_FILE_BYTES = 2**20      # config and sweep files: larger ones are refused unread


def read_toml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """Parse a TOML file of at most ``MAX_FILE_BYTES`` (at most that many bytes plus one are read, so a
    device or a huge file is refused at once); a missing, unreadable, too large or invalid file is a
    ConfigError naming ``what``."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ConfigError(f"{what}: {p} is larger than {MAX_FILE_BYTES // 2**20} MiB; allowed a TOML file of at "
                              f"most {MAX_FILE_BYTES:,} bytes")
        return tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what}: file not found: {p}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{what}: {p} is not valid TOML ({e})") from None
    except OSError as e:
        raise ConfigError(f"{what}: cannot read {p} ({e.strerror})") from None


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into a flat dict of config fields (top-level keys)."""
    p = Path(path)
    data = read_toml(p)
    for k, v in data.items():
        if isinstance(v, dict):
            raise ConfigError(f"config: unknown table [{k}] in {p}; write fields as top-level keys")
        if k not in FIELDS:
            raise ConfigError(f"config: unknown key {k!r} in {p}; allowed: {', '.join(FIELDS)}")
    return data


def resolve(preset: str | None = None, file: str | Path | None = None, **overrides: Any) -> Config:
    """Preset, then config file, then explicit overrides (None values are ignored)."""
    from groklab.presets import preset_values

    d: dict[str, Any] = {}
    if preset is not None:
        d.update(preset_values(preset))
    if file is not None:
        d.update(load_toml(file))
    d.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(d)
