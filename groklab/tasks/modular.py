"""Binary operations modulo p: the equations `a ∘ b = c` of Power et al. 2022 (openai/grok).

Every operator of their code is here, computed with integer arithmetic (no floats, no eval).
Division is a · b^(p−2) mod p and excludes b = 0 (p must be prime). The three "mixed"
operators pick their branch from the parity of one operand, as in Power et al.'s list.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from groklab.errors import ConfigError
from groklab.tasks.base import Table

Op = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def _pow(a: np.ndarray, e: int, p: int) -> np.ndarray:
    out = np.ones_like(a)
    for _ in range(e):
        out = (out * a) % p
    return out


def _div(a: np.ndarray, b: np.ndarray, p: int) -> np.ndarray:
    inv = np.array([pow(int(v), p - 2, p) for v in range(p)], dtype=np.int64)
    return (a * inv[b]) % p


# name -> (function of (x, y, p) on int64 arrays, one-line description)
OPERATORS: dict[str, tuple[Op, str]] = {
    "x+y": (lambda x, y, p: (x + y) % p, "addition"),
    "x-y": (lambda x, y, p: (x - y) % p, "subtraction"),
    "x*y": (lambda x, y, p: (x * y) % p, "multiplication"),
    "x/y": (_div, "division, x · y^(p−2); y = 0 excluded, p prime"),
    "x^2+y": (lambda x, y, p: (_pow(x, 2, p) + y) % p, "polynomial"),
    "x^3+y": (lambda x, y, p: (_pow(x, 3, p) + y) % p, "polynomial"),
    "x^2+y^2": (lambda x, y, p: (_pow(x, 2, p) + _pow(y, 2, p)) % p, "polynomial"),
    "x^2+xy+y^2": (lambda x, y, p: (_pow(x, 2, p) + x * y + _pow(y, 2, p)) % p, "polynomial"),
    "x^2+xy+y^2+x": (lambda x, y, p: (_pow(x, 2, p) + x * y + _pow(y, 2, p) + x) % p, "polynomial"),
    "x^3+xy": (lambda x, y, p: (_pow(x, 3, p) + x * y) % p, "polynomial"),
    "x^3+xy^2+y": (lambda x, y, p: (_pow(x, 3, p) + (x * _pow(y, 2, p)) % p + y) % p,
                   "polynomial (Power et al.: never generalizes)"),
    "x/y if y odd else x-y": (lambda x, y, p: np.where(y % 2 == 1, _div(x, y, p), (x - y) % p),
                              "mixed: division when y is odd, else subtraction; y = 0 excluded"),
    "x+y if x even else x*y": (lambda x, y, p: np.where(x % 2 == 0, (x + y) % p, (x * y) % p),
                               "mixed: addition when x is even, else multiplication"),
    "x+y if x even else x-y": (lambda x, y, p: np.where(x % 2 == 0, (x + y) % p, (x - y) % p),
                               "mixed: addition when x is even, else subtraction"),
}

ALIASES = {"add": "x+y", "sub": "x-y", "mul": "x*y", "div": "x/y"}

# operators whose y = 0 row is undefined
_EXCLUDES_ZERO_Y = {"x/y", "x/y if y odd else x-y"}


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def modular_table(op: str, p: int, symmetric: bool = False,
                  fn: Callable[[int, int], int] | None = None, y_nonzero: bool = False,
                  operands: int | None = None) -> Table:
    """All equations a ∘ b = c for a, b in Z_p (b ≠ 0 for division; a ≤ b if symmetric).

    ``fn`` supplies a user operator instead of a named one (any callable (x, y) -> int, taken mod p).
    ``y_nonzero`` drops b = 0 for every operator (Grokfast's x·y data: a in 0..p−1, b in 1..p−1);
    ``operands`` n keeps a, b < n (Liu et al. 2022's toy: 10 numbers, p = 19, so a + b never wraps).
    """
    if p < 2:
        raise ConfigError(f"p: must be an integer >= 2, got {p}")
    name = canonical(op)
    if fn is None and name not in OPERATORS:
        raise ConfigError(f"task: unknown operator {op!r}; allowed: {', '.join(OPERATORS)} "
                          f"(aliases {', '.join(ALIASES)})")
    if name in _EXCLUDES_ZERO_Y and not is_prime(p):
        raise ConfigError(f"p: task {name} needs a prime modulus, got {p}")
    if operands is not None and not 2 <= operands <= p:
        raise ConfigError(f"operands: got {operands}; allowed an integer in [2, p = {p}]")
    n = p if operands is None else operands
    a, b = np.meshgrid(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64), indexing="ij")
    a, b = a.ravel(), b.ravel()
    keep = np.ones_like(a, dtype=bool)
    if name in _EXCLUDES_ZERO_Y or y_nonzero:
        keep &= b != 0
    if symmetric:
        keep &= a <= b
    a, b = a[keep], b[keep]
    if fn is not None:
        c = np.array([int(fn(int(u), int(v))) % p for u, v in zip(a, b, strict=True)], dtype=np.int64)
    else:
        c = OPERATORS[name][0](a, b, p)
    x = np.stack([a, b], axis=1).astype(np.int32)
    return Table(name=name, x=x, y=c.astype(np.int32), n_classes=p, vocab_size=p,
                 meta={"p": p, "op": name, "symmetric": symmetric, "modular": True, "y_nonzero": y_nonzero,
                       "operands": operands})
