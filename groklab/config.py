"""One validated, hashable experiment config, spoken by the CLI, the Python API, sweep files and the store.

A config describes one run (one ensemble member). Fields are flat so that a TOML file, a CLI flag
and a sweep axis all name a field the same way (``--wd 0.3``, ``wd = 0.3``, ``y = "wd=0,0.3"``).
Invalid values fail here, at the edge, with a ``ConfigError`` naming the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from groklab.errors import ConfigError


def _choice(*allowed: str) -> dict:
    return {"choices": allowed}


@dataclass(frozen=True)
class Config:
    # --- run identity
    name: str | None = None                 # free-text name shown in listings and reports
    preset: str | None = None               # the preset this config started from (recorded only)
    # --- task (groklab.tasks)
    task: str = "x+y"                       # operator (x+y, x/y, ...), expr:..., perm-compose, parity, digits
    p: int = 97                             # modulus for modular tasks
    frac: float = 0.3                       # fraction of all examples used for training
    n_train: int | None = None              # absolute number of training examples (overrides frac)
    n_test: int | None = None               # held-out examples for sampled tasks (parity)
    symmetric: bool = False                 # modular: only pairs a <= b (as the PAIR explorable)
    noise: float = 0.0                      # fraction of training labels replaced by other classes
    perm_n: int = 5                         # permutation tasks: the group S_n
    parity_n: int = 30                      # sparse parity: input bits
    parity_k: int = 3                       # sparse parity: bits whose parity is the label
    data_seed: int | None = None            # seed of split and noise (default: seed)
    # --- model (groklab.models)
    model: str = field(default="transformer", metadata=_choice("transformer", "mlp"))
    n_layers: int = 1                       # transformer blocks, or MLP hidden layers
    d_model: int = 128                      # transformer residual width
    n_heads: int = 4                        # attention heads (d_head = d_model / n_heads)
    d_mlp: int = 512                        # transformer MLP width; MLP hidden width
    d_embed: int = 128                      # MLP: embedding width per operand (input = "embed")
    act: str = field(default="relu", metadata=_choice("relu", "gelu", "quadratic"))
    layernorm: bool = False                 # transformer: LayerNorm before attention/MLP/unembed
    tied: bool = False                      # transformer: W_U = W_E^T (restricted to the classes)
    input: str = field(default="embed", metadata=_choice("embed", "embed-sum", "onehot", "features"))
    bias: bool = True                       # MLP: biases in hidden and output layers
    init_scale: float = 1.0                 # every initial weight multiplied by this (Omnigrok's alpha)
    init_std: float | None = None           # MLP: fixed init std instead of 1/sqrt(fan_in)
    # --- optimizer (groklab.train.optim)
    optimizer: str = field(default="adamw", metadata=_choice("adamw", "adam", "sgd"))
    lr: float = 1e-3
    wd: float = 1.0                         # decoupled (AdamW) or L2 (Adam, SGD) weight decay
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-8
    momentum: float = 0.0                   # SGD momentum
    warmup: int = 10                        # linear learning-rate warm-up steps
    grokfast: str = field(default="none", metadata=_choice("none", "ema", "ma"))
    grokfast_alpha: float = 0.98            # EMA momentum (Lee et al. 2024)
    grokfast_lamb: float = 2.0              # amplification of the slow gradient
    grokfast_window: int = 100              # MA window
    orthograd: bool = False                 # ⊥Grad (Prieto et al. 2025) around the optimizer
    # --- loss
    loss: str = field(default="ce", metadata=_choice("ce", "stablemax", "mse"))
    loss_dtype: str = field(default="float32", metadata=_choice("float32", "float64"))
    # --- training loop (groklab.train.loop)
    steps: int = 10_000                     # optimizer updates
    batch_size: int | None = None           # None: full batch
    eval_every: int = 100                   # evaluate every k steps (plus a log-spaced early grid)
    eval_per_decade: int = 20               # evaluations per decade on that log grid (0: none; checkpoints
                                            # are always evaluated)
    ckpt_per_decade: int = 10               # checkpoints per decade of steps (log grid) plus the last
    seed: int = 0                           # initialisation and minibatch order
    device: str = field(default="auto", metadata=_choice("auto", "cpu", "cuda"))
    # --- measures (groklab.measure)
    acc_threshold: float = 0.99             # t_mem / t_gen: first eval with accuracy >= this
    phase_threshold: float = 0.9            # Liu et al.: accuracy that counts as "reached"
    phase_gap: int = 1000                   # Liu et al.: t_test - t_train above this is grokking

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> "Config":
        return from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def split_seed(self) -> int:
        return self.seed if self.data_seed is None else self.data_seed

    def shape_key(self) -> str:
        """Everything but the per-member fields: configs with equal keys train as one ensemble."""
        d = {k: v for k, v in self.to_dict().items() if k not in MEMBER_FIELDS}
        return json.dumps(d, sort_keys=True)


# Fields that may differ between members of one batched ensemble (they keep array shapes).
MEMBER_FIELDS = frozenset({"name", "seed", "data_seed", "lr", "wd", "init_scale", "frac", "n_train",
                           "noise", "beta1", "beta2", "grokfast_lamb", "grokfast_alpha"})

FIELDS = {f.name: f for f in fields(Config)}
_HINTS = typing.get_type_hints(Config)


def _base_type(name: str) -> tuple[type, bool]:
    hint = _HINTS[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    return (args[0] if args else hint), optional


def coerce(name: str, value: Any) -> Any:
    """Turn a CLI string or TOML value into the field's type; ConfigError naming the field if not."""
    if name not in FIELDS:
        raise ConfigError(f"config: unknown key {name!r}; allowed: {', '.join(FIELDS)}")
    typ, optional = _base_type(name)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null", "")):
        if optional:
            return None
        raise ConfigError(f"{name}: a value is required ({typ.__name__})")
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if typ is int:
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
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            v = float(value)
            if not math.isfinite(v):
                raise ValueError
            return v
        if typ is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (ValueError, TypeError, OverflowError):
        pass
    kind = {int: "an integer", float: "a number"}.get(typ, typ.__name__)
    raise ConfigError(f"{name}: expected {kind}, got {value!r}")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


def validate(c: Config) -> Config:
    """Check every field's range; returns the config unchanged or raises ConfigError."""
    for f in fields(Config):
        ch = f.metadata.get("choices")
        if ch and getattr(c, f.name) not in ch:
            raise ConfigError(f"{f.name}: must be one of {', '.join(ch)}, got {getattr(c, f.name)!r}")
    _check(c.p >= 2, f"p: must be an integer >= 2, got {c.p}")
    _check(c.p <= 2000, f"p: must be at most 2000, got {c.p}")
    _check(0.0 < c.frac < 1.0, f"frac: must be in (0, 1), got {c.frac}")
    _check(c.n_train is None or c.n_train >= 1, f"n_train: must be >= 1, got {c.n_train}")
    _check(c.n_test is None or c.n_test >= 1, f"n_test: must be >= 1, got {c.n_test}")
    _check(0.0 <= c.noise < 1.0, f"noise: must be in [0, 1), got {c.noise}")
    _check(c.steps >= 1, f"steps: must be a positive integer, got {c.steps}")
    _check(c.steps <= 10_000_000, f"steps: must be at most 10000000, got {c.steps}")
    _check(c.batch_size is None or c.batch_size >= 1, f"batch_size: must be >= 1 or none, got {c.batch_size}")
    _check(c.eval_every >= 1, f"eval_every: must be >= 1, got {c.eval_every}")
    _check(0 <= c.eval_per_decade <= 1000, f"eval_per_decade: must be in [0, 1000], got {c.eval_per_decade}")
    _check(1 <= c.ckpt_per_decade <= 1000, f"ckpt_per_decade: must be in [1, 1000], got {c.ckpt_per_decade}")
    _check(0 <= c.seed < 2**32, f"seed: must be in [0, 2^32), got {c.seed}")
    _check(c.data_seed is None or 0 <= c.data_seed < 2**32, f"data_seed: must be in [0, 2^32), got {c.data_seed}")
    for k in ("n_layers", "d_model", "n_heads", "d_mlp", "d_embed"):
        _check(1 <= getattr(c, k) <= 65536, f"{k}: must be a positive integer, got {getattr(c, k)}")
    _check(c.d_model % c.n_heads == 0, f"n_heads: must divide d_model ({c.d_model}), got {c.n_heads}")
    _check(c.init_scale > 0, f"init_scale: must be > 0, got {c.init_scale}")
    _check(c.init_std is None or c.init_std > 0, f"init_std: must be > 0, got {c.init_std}")
    _check(c.lr > 0, f"lr: must be > 0, got {c.lr}")
    _check(c.wd >= 0, f"wd: must be >= 0, got {c.wd}")
    _check(0 <= c.beta1 < 1, f"beta1: must be in [0, 1), got {c.beta1}")
    _check(0 <= c.beta2 < 1, f"beta2: must be in [0, 1), got {c.beta2}")
    _check(c.eps > 0, f"eps: must be > 0, got {c.eps}")
    _check(0 <= c.momentum < 1, f"momentum: must be in [0, 1), got {c.momentum}")
    _check(c.warmup >= 0, f"warmup: must be >= 0, got {c.warmup}")
    _check(0 <= c.grokfast_alpha < 1, f"grokfast_alpha: must be in [0, 1), got {c.grokfast_alpha}")
    _check(c.grokfast_lamb >= 0, f"grokfast_lamb: must be >= 0, got {c.grokfast_lamb}")
    _check(c.grokfast_window >= 1, f"grokfast_window: must be >= 1, got {c.grokfast_window}")
    _check(0 < c.acc_threshold <= 1, f"acc_threshold: must be in (0, 1], got {c.acc_threshold}")
    _check(0 < c.phase_threshold <= 1, f"phase_threshold: must be in (0, 1], got {c.phase_threshold}")
    _check(c.phase_gap >= 0, f"phase_gap: must be >= 0, got {c.phase_gap}")
    _check(c.name is None or (len(c.name) <= 200 and "\x00" not in c.name),
           "name: must be at most 200 characters without NUL")
    if c.model == "mlp" and c.input == "features":
        pass  # checked against the task when the dataset is built
    from groklab.tasks import check_task  # late import: tasks depend on config's errors only
    check_task(c)
    return c


def from_dict(d: dict[str, Any]) -> Config:
    """Build and validate a config from plain values (TOML, JSON, CLI strings)."""
    values = {k: coerce(k, v) for k, v in d.items()}
    return validate(Config(**values))


def read_toml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or invalid file is a ConfigError naming ``what``."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text())
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
