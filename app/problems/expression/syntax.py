"""The grammar of a custom surface ``f(x, y)``: a tokenizer and a Pratt parser.

The whole language::

    expression := number | x | y | pi | e
                | expression (+ | - | * | / | ^ | **) expression
                | - expression
                | ( expression )
                | function ( expression [, expression …] )
    function   := sin cos tan exp log sqrt abs tanh sinh cosh atan   (one argument)
                | min max                                            (two or more)

``^`` (or ``**``) binds tightest and groups to the right (``2^3^2`` is ``2^9``);
unary minus binds looser than ``^`` and tighter than ``*`` and ``/`` (``-x^2`` is
``-(x^2)``); ``+ - * /`` group to the left. Nothing else is read: no other names,
no attributes, no implicit multiplication (``2x``), no unary plus, no characters
outside printable ASCII. The text is never handed to Python (no ``eval``,
``exec`` or ``compile``): the parser builds a tree of ``Node`` and that tree is
all the rest of the package sees.

Every limit is checked before the work it bounds (``app.limits``): the
length before tokenizing, the depth and the size as the tree grows, the
magnitude of a number as it is read, and a constant exponent as soon as it is
known. A bad expression raises ``ExpressionError``, which says what rule it
breaks and where (``unknown name 'z' at column 7; names: x, y, pi, e``).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from app.limits import (
    MAX_EXPRESSION_CONSTANT,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_EXPONENT,
    MAX_EXPRESSION_LENGTH,
    MAX_EXPRESSION_NODES,
)

VARIABLES = ("x", "y")
CONSTANTS = {"pi": math.pi, "e": math.e}
UNARY_FUNCTIONS = (
    "sin",
    "cos",
    "tan",
    "exp",
    "log",
    "sqrt",
    "abs",
    "tanh",
    "sinh",
    "cosh",
    "atan",
)
VARIADIC_FUNCTIONS = ("min", "max")  # two arguments or more
FUNCTIONS = UNARY_FUNCTIONS + VARIADIC_FUNCTIONS
NAMES = (*VARIABLES, *CONSTANTS)
WHITESPACE = " \t\r\n"
OPERATORS = "+-*/^(),"

# What a pasted formula often holds instead of ASCII, and what to type instead.
_LOOKALIKES = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u00d7": "*",  # multiplication sign
    "\u00b7": "*",  # middle dot
    "\u22c5": "*",  # dot operator
    "\u2217": "*",  # asterisk operator
    "\u00f7": "/",  # division sign
    "\u2044": "/",  # fraction slash
    "\u03c0": "pi",
    "\u00b2": "^2",
    "\u00b3": "^3",
    "\uff08": "(",
    "\uff09": ")",
}

# Binding powers (left, right) of the infix operators: higher binds tighter.
_INFIX = {"+": (10, 11), "-": (10, 11), "*": (20, 21), "/": (20, 21), "^": (41, 40)}
_PREFIX_MINUS = 30  # above * and /, below ^: -x^2 is -(x^2), -x*y is (-x)*y


class ExpressionError(ValueError):
    """A bad expression: the rule it breaks, where, and the expression quoted.

    ``start`` and ``end`` (0-based, end exclusive) mark the offending characters;
    ``column`` is ``start + 1``, as the message says it. ``str()`` is the message
    followed by the quoted expression with the offending part marked.
    """

    def __init__(self, text: str, message: str, start: int, end: int | None = None) -> None:
        self.text = text
        self.start = max(0, min(start, len(text)))
        self.end = max(self.start + 1, end if end is not None else self.start + 1)
        self.message = message
        super().__init__(self.describe())

    @property
    def column(self) -> int:
        return self.start + 1

    def describe(self) -> str:
        return f"{self.message}\n{quote(self.text, self.start, self.end)}"


def quote(text: str, start: int, end: int, width: int = 60) -> str:
    """``text`` on one line (a window of ``width`` characters around ``start`` when it
    is longer) and under it carets under ``start … end``. Characters that do not print
    (NUL, control characters) are shown as ``�``, so the carets stay aligned."""
    low = 0
    if len(text) > width:
        low = max(0, min(start - width // 2, len(text) - width))
    high = min(len(text), low + width)
    shown = "".join(_printable(ch) for ch in text[low:high])
    prefix = "…" if low > 0 else ""
    suffix = "…" if high < len(text) else ""
    carets = max(1, min(end, high + 1) - start)
    offset = len(prefix) + start - low
    return f"  {prefix}{shown}{suffix}\n  {' ' * offset}{'^' * carets}"


def _printable(ch: str) -> str:
    if ch in "\t\r\n":
        return " "
    return ch if ch.isprintable() else "\ufffd"


def shorten(text: str, width: int = 24) -> str:
    """A token as a message quotes it: long ones cut short."""
    return text if len(text) <= width else text[: width - 1] + "…"


def describe_character(ch: str) -> str:
    """``'$'``, or for anything outside printable ASCII its code point and name
    (``'х' (U+0445 CYRILLIC SMALL LETTER HA)``), so a look-alike shows what it is."""
    if " " < ch <= "~":
        return repr(ch)
    name = unicodedata.name(ch, "")
    code = f"U+{ord(ch):04X}{' ' + name if name else ''}"
    return f"{ch!r} ({code})" if ch.isprintable() else code


# -- the tree ---------------------------------------------------------------------------

NodeKind = Literal["number", "variable", "constant", "negate", "binary", "call"]


@dataclass(frozen=True)
class Node:
    """One node of the parsed expression, with the span of text it came from.

    ``number``: ``value`` (and ``text``, the number as typed); ``variable`` and
    ``constant``: ``name``; ``negate``: one argument; ``binary``: ``name`` is the
    operator (``+ - * / ^``; ``**`` is ``^``) and ``at`` its position; ``call``:
    ``name`` is the function. ``start`` / ``end`` are 0-based, end exclusive.
    """

    kind: NodeKind
    start: int
    end: int
    name: str = ""
    value: float = 0.0
    text: str = ""
    args: tuple[Node, ...] = ()
    at: int = 0
    depth: int = field(default=1, compare=False)


@dataclass(frozen=True)
class _Token:
    kind: Literal["number", "name", "operator", "end"]
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _tokens(text: str) -> Iterator[_Token]:
    """The tokens of ``text``, read one at a time (an error is raised where it occurs,
    so the parser's and the tokenizer's errors come in the order of the text)."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in WHITESPACE:
            i += 1
        elif ch.isascii() and (ch.isdigit() or (ch == "." and text[i + 1 : i + 2].isdigit())):
            start = i
            while i < n and text[i].isascii() and text[i].isdigit():
                i += 1
            if i < n and text[i] == ".":
                i += 1
                while i < n and text[i].isascii() and text[i].isdigit():
                    i += 1
            if i < n and text[i] in "eE":
                j = i + 1
                if j < n and text[j] in "+-":
                    j += 1
                if j < n and text[j].isascii() and text[j].isdigit():
                    i = j
                    while i < n and text[i].isascii() and text[i].isdigit():
                        i += 1
            yield _Token("number", text[start:i], start)
        elif ch.isascii() and ch.isalpha():
            start = i
            while i < n and text[i].isascii() and text[i].isalnum():
                i += 1
            yield _Token("name", text[start:i], start)
        elif ch == "*" and text[i + 1 : i + 2] == "*":
            yield _Token("operator", "**", i)
            i += 2
        elif ch in OPERATORS:
            yield _Token("operator", ch, i)
            i += 1
        else:
            hint = _LOOKALIKES.get(ch)
            advice = f"; type {hint!r} instead" if hint else ""
            if not hint and not ch.isascii():
                advice = "; only ASCII letters, digits, spaces and + - * / ^ ( ) , are read"
            raise ExpressionError(
                text, f"unexpected character {describe_character(ch)} at column {i + 1}{advice}", i
            )
    yield _Token("end", "", n)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.token = next(self.tokens)
        self.nodes = 0

    # -- helpers -----------------------------------------------------------------------

    def error(self, message: str, start: int, end: int | None = None) -> ExpressionError:
        return ExpressionError(self.text, message, start, end)

    def advance(self) -> _Token:
        token, self.token = self.token, next(self.tokens)
        return token

    def node(self, kind: NodeKind, start: int, end: int, **fields) -> Node:
        args = fields.get("args", ())
        depth = 1 + max((a.depth for a in args), default=0)
        where = fields.get("at", start)
        if depth > MAX_EXPRESSION_DEPTH:
            raise self.error(
                f"the expression nests too deeply at column {where + 1}; at most "
                f"{MAX_EXPRESSION_DEPTH} levels of operators, parentheses and functions",
                where,
            )
        self.nodes += 1
        if self.nodes > MAX_EXPRESSION_NODES:
            raise self.error(
                f"the expression is too long at column {where + 1}; at most "
                f"{MAX_EXPRESSION_NODES} numbers, names, operators and functions",
                where,
            )
        return Node(kind, start, end, depth=depth, **fields)

    def describe_token(self, token: _Token) -> str:
        return "the end" if token.kind == "end" else repr(shorten(token.text))

    # -- grammar -----------------------------------------------------------------------

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.error("the expression is empty; write a formula in x and y", 0)
        tree = self.expression(0, 0)
        token = self.token
        if token.kind != "end":
            raise self.unexpected_after_operand(token)
        return tree

    def expression(self, min_power: int, nesting: int) -> Node:
        if nesting > MAX_EXPRESSION_DEPTH:
            raise self.error(
                f"the expression nests too deeply at column {self.token.start + 1}; at most "
                f"{MAX_EXPRESSION_DEPTH} levels of operators, parentheses and functions",
                self.token.start,
            )
        left = self.operand(nesting)
        while True:
            token = self.token
            if token.kind != "operator" or token.text in "(),":
                return left
            operator = "^" if token.text == "**" else token.text
            left_power, right_power = _INFIX[operator]
            if left_power < min_power:
                return left
            self.advance()
            right = self.expression(right_power, nesting + 1)
            left = self.node(
                "binary", left.start, right.end, name=operator, args=(left, right), at=token.start
            )
            if operator == "^":
                check_exponent(self.text, left)

    def operand(self, nesting: int) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return self.number(token)
        if token.kind == "name":
            return self.name(token, nesting)
        if token.text == "-":
            self.advance()
            argument = self.expression(_PREFIX_MINUS, nesting + 1)
            return self.node("negate", token.start, argument.end, args=(argument,))
        if token.text == "(":
            self.advance()
            inner = self.expression(0, nesting + 1)
            self.close(token)
            # The span takes in the parentheses, so a message about the group marks them.
            return Node(
                inner.kind,
                token.start,
                self.previous_end,
                name=inner.name,
                value=inner.value,
                text=inner.text,
                args=inner.args,
                at=inner.at,
                depth=inner.depth,
            )
        if token.kind == "end":
            raise self.error(
                f"the expression ends too early at column {token.start + 1}: expected a "
                "number, x, y, a function or '('",
                token.start,
            )
        what = {
            ")": "')' with nothing before it",
            ",": "',' with nothing before it",
            "+": "unary '+' (only '-' may come before a term)",
        }.get(token.text, repr(shorten(token.text)))
        raise self.error(
            f"unexpected {what} at column {token.start + 1}: expected a number, x, y, "
            "a function or '('",
            token.start,
            token.end,
        )

    def close(self, opening: _Token) -> None:
        token = self.token
        if token.kind == "operator" and token.text == ")":
            self.previous_end = token.end
            self.advance()
            return
        if token.kind == "end":
            raise self.error(
                f"'(' at column {opening.start + 1} is never closed", opening.start, opening.end
            )
        raise self.unexpected_after_operand(token)

    def unexpected_after_operand(self, token: _Token) -> ExpressionError:
        if token.kind == "operator" and token.text == ")":
            return self.error(f"unmatched ')' at column {token.start + 1}", token.start)
        if token.kind == "operator" and token.text == ",":
            return self.error(
                f"',' at column {token.start + 1} outside a function's arguments", token.start
            )
        return self.error(
            f"missing operator before {self.describe_token(token)} at column "
            f"{token.start + 1} (write 2*x, not 2x)",
            token.start,
            token.end,
        )

    def number(self, token: _Token) -> Node:
        value = float(token.text)
        limit = MAX_EXPRESSION_CONSTANT
        if not abs(value) <= limit:
            raise self.error(
                f"the number {shorten(token.text)} at column {token.start + 1} is too large; "
                f"numbers are at most {limit:g} in magnitude".replace("e+", "e"),
                token.start,
                token.end,
            )
        return self.node("number", token.start, token.end, value=value, text=token.text)

    def name(self, token: _Token, nesting: int) -> Node:
        self.advance()
        name = token.text
        called = self.token.kind == "operator" and self.token.text == "("
        if name in VARIABLES or name in CONSTANTS:
            kind: NodeKind = "variable" if name in VARIABLES else "constant"
            return self.node(kind, token.start, token.end, name=name)
        if name not in FUNCTIONS:
            if called:
                raise self.error(
                    f"unknown function {shorten(name)!r} at column {token.start + 1}; functions: "
                    f"{', '.join(FUNCTIONS)}",
                    token.start,
                    token.end,
                )
            raise self.error(
                f"unknown name {shorten(name)!r} at column {token.start + 1}; "
                f"names: {', '.join(NAMES)}",
                token.start,
                token.end,
            )
        if not called:
            raise self.error(
                f"the function {name!r} at column {token.start + 1} needs its argument in "
                f"parentheses: {name}(…)",
                token.start,
                token.end,
            )
        opening = self.advance()
        args = [self.expression(0, nesting + 1)]
        while self.token.kind == "operator" and self.token.text == ",":
            comma = self.advance()
            if name in UNARY_FUNCTIONS:
                raise self.error(
                    f"{name} takes one argument; a second starts at column {comma.start + 1}",
                    comma.start,
                )
            args.append(self.expression(0, nesting + 1))
        self.close(opening)
        if name in VARIADIC_FUNCTIONS and len(args) < 2:
            raise self.error(
                f"{name} at column {token.start + 1} takes two arguments or more, as {name}(a, b)",
                token.start,
                self.previous_end,
            )
        return self.node("call", token.start, self.previous_end, name=name, args=tuple(args))


def check_exponent(text: str, power: Node) -> None:
    """A constant exponent must be at most ``max_exponent`` in magnitude: ``9^9^9^9``
    fails at its second ``^`` (its exponent, ``9^9^9``, is ``9^387420489``… whose own
    exponent ``9^9`` is already too large) before anything is computed."""
    exponent = power.args[1]
    value = constant_value(exponent)
    limit = MAX_EXPRESSION_EXPONENT
    if value is not None and not abs(value) <= limit:
        if not math.isfinite(value):
            shown = "too large to compute"
        elif value == int(value) and abs(value) < 1e15:
            shown = f"{int(value):,}"
        else:
            shown = f"{value:g}"
        raise ExpressionError(
            text,
            f"the exponent at column {exponent.start + 1} is {shown}; constant exponents "
            f"are at most {limit:g} in magnitude",
            exponent.start,
            exponent.end,
        )


def constant_value(node: Node) -> float | None:
    """The value of a subtree without x or y (None when it has either), computed only
    as far as it is safe: exponents inside it were checked as the tree grew, and a
    result too large for a float is ``inf`` (the callers then refuse it)."""
    if node.kind == "number":
        return node.value
    if node.kind == "constant":
        return CONSTANTS[node.name]
    if node.kind == "variable":
        return None
    values = [constant_value(arg) for arg in node.args]
    if any(v is None for v in values):
        return None
    from app.problems.expression.algebra import fold  # the one table of operations

    return fold(node, [v for v in values if v is not None])


def parse(text: str) -> Node:
    """The tree of ``text``, or ExpressionError naming the rule broken and where."""
    limit = MAX_EXPRESSION_LENGTH
    if len(text) > limit:
        raise ExpressionError(
            text[: limit + 1],
            f"the expression is {len(text):,} characters long; at most {limit:,}",
            limit,
        )
    return _Parser(text).parse()
