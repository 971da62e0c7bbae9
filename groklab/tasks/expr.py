"""Your own operator: `expr:<expression in x, y>` evaluated mod p over all of Z_p².

Grammar (a recursive-descent parser; nothing is ever passed to eval/exec):

    sum     := product (("+" | "-") product)*
    product := unary ("*" unary)*
    unary   := "-" unary | power
    power   := atom ("^" exponent)?
    exponent:= INTEGER ("^" exponent)?          right-associative, value at most 64
    atom    := INTEGER | "x" | "y" | "(" sum ")"

so -x^2 = -(x^2) and 2^3^2 = 2^9. Integers are evaluated mod p after every operation (int64
arrays, no overflow for the moduli groklab allows). Positions in error messages count
characters of the expression from 0 (the text after "expr:").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from groklab.errors import ConfigError
from groklab.tasks import TaskFamily
from groklab.tasks.base import Table
from groklab.tasks.custom import labelled_pairs

if TYPE_CHECKING:
    from groklab.tasks import TaskConfig as Config

PREFIX = "expr:"
MAX_EXPONENT = 64
MAX_LENGTH = 200
MAX_DEPTH = 50
ALLOWED = "allowed: integers, x, y, + - * ^ ( )"

# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Num:
    value: int


@dataclass(frozen=True)
class Var:
    name: str                 # "x" or "y"


@dataclass(frozen=True)
class Neg:
    arg: "Node"


@dataclass(frozen=True)
class BinOp:
    op: str                   # "+", "-" or "*"
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Pow:
    base: "Node"
    exponent: int             # 0..MAX_EXPONENT


Node = Num | Var | Neg | BinOp | Pow

# --------------------------------------------------------------------------- tokens and parser

_TOKEN = re.compile(r"\s*(?:(?P<int>[0-9]+)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>\*\*|[-+*^()])|(?P<other>\S))")
_UNSUPPORTED = {"/": "unsupported operator '/' (division is the task x/y)", "**": "unsupported operator '**' (use ^)",
                "%": "unsupported operator '%' (everything is already mod p)"}


def _fail(pos: int, why: str) -> ConfigError:
    return ConfigError(f"task: cannot parse expression at position {pos}: {why}; {ALLOWED}")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) triples, ending with ("end", "", len(text))."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    while True:
        m = _TOKEN.match(text, pos)
        if m is None:                       # only whitespace left
            out.append(("end", "", len(text)))
            return out
        kind = m.lastgroup
        tok, start = m.group(kind), m.start(kind)
        if kind == "other" or tok in _UNSUPPORTED:
            raise _fail(start, _UNSUPPORTED.get(tok, f"unexpected character {tok!r}"))
        if kind == "name" and tok not in ("x", "y"):
            raise _fail(start, f"unknown name {tok!r} (variables are x and y; write x*y for a product)")
        out.append((kind, tok, start))
        pos = m.end()


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect_end(self) -> None:
        kind, tok, pos = self.peek()
        if kind != "end":
            raise _fail(pos, f"unexpected {tok!r}")

    def sum(self) -> Node:
        node = self.product()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = BinOp(op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek()[1] == "*":
            self.take()
            node = BinOp("*", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek()[1] == "-":
            self.take()
            with self.nested():
                return Neg(self.unary())
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.peek()[1] != "^":
            return base
        self.take()
        return Pow(base, self.exponent())

    def exponent(self) -> int:
        kind, tok, pos = self.take()
        if kind != "int":
            raise _fail(pos, f"exponent must be a non-negative integer literal, got {tok or 'end of input'!r}")
        value = int(tok)
        if self.peek()[1] == "^":
            self.take()
            with self.nested():
                e = self.exponent()
            value = 1 if e == 0 else value**e if value <= MAX_EXPONENT else MAX_EXPONENT + 1
        if value > MAX_EXPONENT:
            raise _fail(pos, f"exponent must be at most {MAX_EXPONENT}")
        return value

    def atom(self) -> Node:
        kind, tok, pos = self.take()
        if kind == "int":
            return Num(int(tok))
        if kind == "name":
            return Var(tok)
        if tok == "(":
            with self.nested():
                node = self.sum()
            kind, tok, pos = self.take()
            if tok != ")":
                raise _fail(pos, f"expected ')', got {tok or 'end of input'!r}")
            return node
        if kind == "end":
            raise _fail(pos, "empty expression" if self.i == 1 else "expression ends too early")
        raise _fail(pos, f"unexpected {tok!r}")

    def nested(self) -> "_Depth":
        return _Depth(self, self.peek()[2])


class _Depth:
    """Bounds nesting, so that deep parentheses fail with a message, not a RecursionError."""

    def __init__(self, parser: _Parser, pos: int):
        self.parser, self.pos = parser, pos

    def __enter__(self) -> None:
        self.parser.depth += 1
        if self.parser.depth > MAX_DEPTH:
            raise _fail(self.pos, f"nesting deeper than {MAX_DEPTH}")

    def __exit__(self, *exc: object) -> None:
        self.parser.depth -= 1


def parse(text: str) -> Node:
    """The syntax tree of an expression in x and y; ConfigError (with the position) if it is not one."""
    if len(text) > MAX_LENGTH:
        raise _fail(MAX_LENGTH, f"expression longer than {MAX_LENGTH} characters")
    parser = _Parser(text)
    node = parser.sum()
    parser.expect_end()
    return node


# --------------------------------------------------------------------------- printing and evaluation

_PREC = {"+": 1, "-": 1, "*": 2}
_NEG_PREC, _POW_PREC, _ATOM_PREC = 3, 4, 5


def _prec(node: Node) -> int:
    if isinstance(node, BinOp):
        return _PREC[node.op]
    return {Neg: _NEG_PREC, Pow: _POW_PREC}.get(type(node), _ATOM_PREC)


def _wrap(node: Node, min_prec: int) -> str:
    s = to_string(node)
    return f"({s})" if _prec(node) < min_prec else s


def to_string(node: Node) -> str:
    """The normalised text of a tree (minimal parentheses, spaces around + and -); parses back to it."""
    if isinstance(node, Num):
        return str(node.value)
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Neg):
        return "-" + _wrap(node.arg, _NEG_PREC)
    if isinstance(node, Pow):
        return f"{_wrap(node.base, _ATOM_PREC)}^{node.exponent}"
    sep = "*" if node.op == "*" else f" {node.op} "
    return _wrap(node.left, _PREC[node.op]) + sep + _wrap(node.right, _PREC[node.op] + 1)


def _power(a: np.ndarray, e: int, p: int) -> np.ndarray:
    out, base = np.ones_like(a) % p, a % p
    while e:
        if e & 1:
            out = (out * base) % p
        base = (base * base) % p
        e >>= 1
    return out


def evaluate(node: Node, x: np.ndarray, y: np.ndarray, p: int) -> np.ndarray:
    """The expression's value mod p at int64 arrays x, y (same shape), in [0, p)."""
    if isinstance(node, Num):
        return np.full(np.shape(x), node.value % p, dtype=np.int64)
    if isinstance(node, Var):
        return np.asarray(x if node.name == "x" else y, dtype=np.int64) % p
    if isinstance(node, Neg):
        return (-evaluate(node.arg, x, y, p)) % p
    if isinstance(node, Pow):
        return _power(evaluate(node.base, x, y, p), node.exponent, p)
    a, b = evaluate(node.left, x, y, p), evaluate(node.right, x, y, p)
    return {"+": a + b, "-": a - b, "*": a * b}[node.op] % p


# --------------------------------------------------------------------------- the task family


def expr_table(expression: str, p: int, symmetric: bool = False) -> Table:
    """All equations a ∘ b = expression(a, b) mod p (a ≤ b if symmetric)."""
    tree = parse(expression)
    text = to_string(tree)
    return labelled_pairs(PREFIX + text, p, symmetric, lambda a, b: evaluate(tree, a, b, p), meta={"op": text})


def _check(c: "Config") -> None:
    parse(c.task.removeprefix(PREFIX))


def _build(c: "Config") -> Table:
    return expr_table(c.task.removeprefix(PREFIX), c.p, symmetric=c.symmetric)


FAMILIES: list[TaskFamily] = [
    TaskFamily(key="expr", names={"expr:<expression>": "your own expression in x, y mod p (+ - * ^, parentheses)"},
               params=("p", "frac", "symmetric", "noise"), check=_check, build=_build, prefix=PREFIX,
               modular=True),
]
