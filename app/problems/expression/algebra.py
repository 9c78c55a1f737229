"""The parsed expression as algebra: its exact gradient, and the program for both.

The tree is rewritten into a few normal forms (``Algebra``): a sum is a list of
signed terms evaluated left to right, a product a constant coefficient times a
list of factors, ``u^n`` with a whole constant ``n`` an integer power. The
gradient is the symbolic derivative of those forms (``Algebra.derivative``),
simplified as one would by hand: zero terms dropped, constant factors gathered
into the coefficient, a chain rule's inner derivative written first
(``d(u²) = 2·u'·u``). Because of that, a custom copy of a built-in surface
computes its gradient with the very same floating-point operations, in the same
order, as the hand-written one (``tests/test_custom.py``).

Nodes are hash-consed: building the same node twice gives the same object, so
``f`` and its two partial derivatives share every common part, and ``emit``
computes each part once (``(1 − x)`` of Rosenbrock is computed once for ``f``
and ``∂f/∂x``).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import numpy as np

from app.problems.expression import program as programs
from app.problems.expression.program import Origin, Program, apply, why_not_finite
from app.problems.expression.syntax import CONSTANTS, ExpressionError, Node

# Instructions a program may hold: the gradient of a tree is a few nodes per node.
MAX_INSTRUCTIONS = 20_000


class FoldError(ValueError):
    """A constant part of the expression is not a finite number (``1/0``, ``log(-1)``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fold(node: Node, values: list[float]) -> float:
    """The value of ``node`` (an operator or a function) applied to the constants
    ``values``, as the evaluators compute it (``inf`` / ``nan`` when not finite)."""
    if node.kind == "negate":
        return apply("neg", values[0])
    if node.kind == "binary":
        name = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow"}[node.name]
        return apply(name, *values)
    result = values[0]
    for value in values[1:]:
        result = apply(node.name, result, value)
    return result if len(values) > 1 else apply(node.name, result)


class Expr:
    """A node of the algebra: ``kind``, a scalar ``value`` and its ``args``.

    - ``num``: ``value`` the number; ``var``: ``value`` 0 (x) or 1 (y);
    - ``sum``: ``args`` the terms as ``(sign, Expr)``, evaluated left to right;
    - ``prod``: ``value`` the coefficient, ``args`` the factors, evaluated as
      ``((c·f1)·f2)…``, a factor ``u²`` as two factors ``u``;
    - ``quot`` (num, den), ``powi`` (``value`` the whole exponent), ``pow`` (base,
      exponent), ``apply`` (``value`` the function's name), ``min`` / ``max``;
    - ``pick_le`` / ``pick_ge`` ``(a, b, p, q)``: ``p`` if ``a ≤ b`` (``≥``) else ``q``
      (the slope of ``min`` / ``max``).
    """

    __slots__ = ("kind", "value", "args")

    def __init__(self, kind: str, value: Any, args: tuple) -> None:
        self.kind = kind
        self.value = value
        self.args = args

    def __repr__(self) -> str:
        return f"Expr({self.kind}, {self.value!r}, {self.args!r})"


def _key(value: Any) -> Any:
    # 0.0 and -0.0 are equal as floats but not as constants.
    return value.hex() if isinstance(value, float) else value


def _exactly(quotient: float, numerator: float, denominator: float) -> bool:
    return bool(np.isfinite(quotient)) and Fraction(quotient) * Fraction(denominator) == Fraction(
        numerator
    )


class Algebra:
    """Builds hash-consed nodes in normal form, and their derivatives."""

    def __init__(self) -> None:
        self.table: dict[tuple, Expr] = {}
        self.origins: dict[int, Origin] = {}
        self.origin = Origin(0, 0, False)  # given to the nodes built from now on
        self.derivatives: dict[tuple[int, int], Expr] = {}
        self.zero = self.num(0.0)
        self.one = self.num(1.0)

    def make(self, kind: str, value: Any, args: tuple) -> Expr:
        if kind == "sum":
            key = (kind, None, tuple((sign, id(term)) for sign, term in args))
        else:
            key = (kind, _key(value), tuple(id(arg) for arg in args))
        node = self.table.get(key)
        if node is None:
            node = self.table[key] = Expr(kind, value, args)
            self.origins[id(node)] = self.origin
        return node

    def constant(self, name: str, *values: float) -> Expr:
        result = apply(name, *values)
        if not np.isfinite(result):
            raise FoldError(why_not_finite(name, *values))
        return self.num(result)

    # -- normal forms ----------------------------------------------------------------------

    def num(self, value: float) -> Expr:
        return self.make("num", float(value), ())

    def var(self, index: int) -> Expr:
        return self.make("var", index, ())

    def sum(self, terms: Iterable[tuple[int, Expr]]) -> Expr:
        flat: list[tuple[int, Expr]] = []
        for sign, term in terms:
            if term.kind == "num" and term.value == 0:
                continue
            if not flat and term.kind == "sum":
                # A sum that comes first is evaluated first anyway: ((a + b) + c).
                flat.extend((sign * s, t) for s, t in term.args)
                continue
            flat.append((sign, term))
        # Leading constants add up before anything else does: (1 + 2) + x is 3 + x.
        while len(flat) > 1 and flat[0][1].kind == "num" and flat[1][1].kind == "num":
            (s0, a), (s1, b) = flat[0], flat[1]
            flat[:2] = [(1, self.constant("add", s0 * a.value, s1 * b.value))]
        terms_out = []
        for index, (sign, term) in enumerate(flat):
            # A negative coefficient is a subtraction (exact: negation rounds nothing).
            negative = term.kind in ("num", "prod") and term.value < 0
            if (index == 0 and sign < 0 and term.kind in ("num", "prod")) or (
                index > 0 and negative
            ):
                term = self._negated(term)
                sign = -sign
            terms_out.append((sign, term))
        if not terms_out:
            return self.zero
        if len(terms_out) == 1:
            sign, term = terms_out[0]
            return term if sign > 0 else self.neg(term)
        return self.make("sum", None, tuple(terms_out))

    def _negated(self, term: Expr) -> Expr:
        if term.kind == "num":
            return self.num(-term.value)
        return self.make("prod", -term.value, term.args)

    def prod(self, coefficient: float, factors: Iterable[Expr]) -> Expr:
        c = float(coefficient)
        out: list[Expr] = []
        for factor in factors:
            if factor.kind == "num":
                c = self.constant("mul", c, factor.value).value
            elif factor.kind == "prod" and (not out or factor.value != 1.0):
                # A product's constant joins the coefficient, as by hand: 100·(2·u) is 200·u.
                c = self.constant("mul", c, factor.value).value
                out.extend(factor.args)
            else:
                out.append(factor)
        if c == 0:
            return self.zero
        if not out:
            return self.num(c)
        if c == 1 and len(out) == 1:
            return out[0]
        return self.make("prod", c, tuple(out))

    def neg(self, term: Expr) -> Expr:
        return self.prod(-1.0, [term])

    def quot(self, numerator: Expr, denominator: Expr) -> Expr:
        if denominator.kind == "num":
            k = denominator.value
            if k == 0:
                raise FoldError("division by zero")
            if numerator.kind == "num":
                return self.constant("div", numerator.value, k)
            if k == 1:
                return numerator
            if numerator.kind == "prod" and numerator.value != 1:
                # (6·x⁵)/3 is 2·x⁵ when 6/3 is exact, as one would simplify it by hand.
                quotient = numerator.value / k
                if _exactly(quotient, numerator.value, k):
                    return self.prod(quotient, numerator.args)
        if numerator.kind == "num" and numerator.value == 0:
            return self.zero
        return self.make("quot", None, (numerator, denominator))

    def powi(self, base: Expr, n: int) -> Expr:
        if n == 0:
            return self.one
        if n == 1:
            return base
        if base.kind == "num":
            return self.constant("powi", base.value, n)
        return self.make("powi", n, (base,))

    def power(self, base: Expr, exponent: Expr) -> Expr:
        if exponent.kind == "num":
            e = exponent.value
            if e == int(e):
                return self.powi(base, int(e))
            if base.kind == "num":
                return self.constant("pow", base.value, e)
        elif base.kind == "num" and base.value <= 0:
            raise FoldError(
                f"a power with a variable exponent needs a positive base, not {base.value:g}"
            )
        return self.make("pow", None, (base, exponent))

    def apply(self, name: str, argument: Expr) -> Expr:
        if argument.kind == "num":
            return self.constant(name, argument.value)
        return self.make("apply", name, (argument,))

    def extreme(self, name: str, a: Expr, b: Expr) -> Expr:
        if a.kind == "num" and b.kind == "num":
            return self.constant(name, a.value, b.value)
        return self.make(name, None, (a, b))

    def pick(self, name: str, a: Expr, b: Expr, p: Expr, q: Expr) -> Expr:
        if p is q:
            return p
        return self.make(name, None, (a, b, p, q))

    # -- the gradient ---------------------------------------------------------------------

    def derivative(self, node: Expr, wrt: int) -> Expr:
        """∂node/∂(x if wrt == 0 else y), in normal form."""
        key = (id(node), wrt)
        done = self.derivatives.get(key)
        if done is None:
            outer = self.origin
            here = self.origins[id(node)]
            result = self._derivative(node, wrt, Origin(here.start, here.end, True))
            self.origin = outer
            done = self.derivatives[key] = result
        return done

    def _derivative(self, node: Expr, wrt: int, origin: Origin) -> Expr:
        kind, args = node.kind, node.args
        d = self.derivative
        if kind == "num":
            return self.zero
        if kind == "var":
            return self.one if node.value == wrt else self.zero
        if kind == "sum":
            parts = [(sign, d(term, wrt)) for sign, term in args]
            self.origin = origin
            return self.sum(parts)
        if kind == "prod":
            slopes = [d(factor, wrt) for factor in args]
            self.origin = origin
            return self.sum(
                (1, self.prod(node.value, [*args[:i], slope, *args[i + 1 :]]))
                for i, slope in enumerate(slopes)
                if slope is not self.zero
            )
        if kind == "min" or kind == "max":
            da, db = d(args[0], wrt), d(args[1], wrt)
            self.origin = origin
            if da is self.zero and db is self.zero:
                return self.zero
            # At a tie the first argument's slope: min(a, b) is a where a ≤ b.
            return self.pick("pick_le" if kind == "min" else "pick_ge", args[0], args[1], da, db)
        u = args[0]
        du = d(u, wrt)
        if kind == "quot":
            dv = d(args[1], wrt)
            self.origin = origin
            if dv is self.zero:
                return self.quot(du, args[1])
            # (u/v)' = (u' − v'·(u/v)) / v: the quotient itself is shared with f.
            return self.quot(self.sum([(1, du), (-1, self.prod(1.0, [dv, node]))]), args[1])
        if kind == "pow":
            exponent = args[1]
            dw = d(exponent, wrt)
            self.origin = origin
            if exponent.kind == "num":
                if du is self.zero:
                    return self.zero
                lower = self.power(u, self.num(exponent.value - 1.0))
                return self.prod(exponent.value, [du, lower])
            if u.kind == "num":
                return self.prod(np.log(u.value), [dw, node])
            # (u^w)' = u^w · (w'·log u + w·u'/u)
            inner = self.sum(
                [
                    (1, self.prod(1.0, [dw, self.apply("log", u)])),
                    (1, self.prod(1.0, [exponent, self.quot(du, u)])),
                ]
            )
            return self.prod(1.0, [inner, node])
        if du is self.zero:
            return self.zero
        self.origin = origin
        if kind == "powi":
            n = node.value
            return self.prod(n, [du, self.powi(u, n - 1)])
        assert kind == "apply", kind
        name = node.value
        if name == "sin":
            return self.prod(1.0, [du, self.apply("cos", u)])
        if name == "cos":
            return self.prod(-1.0, [du, self.apply("sin", u)])
        if name == "tan":
            return self.prod(1.0, [du, self.sum([(1, self.one), (1, self.powi(node, 2))])])
        if name == "exp":
            return self.prod(1.0, [du, node])
        if name == "log":
            return self.quot(du, u)
        if name == "sqrt":
            return self.quot(du, self.prod(2.0, [node]))
        if name == "abs":
            # sign(0) = 0: at the kink, the slope between the two sides.
            return self.prod(1.0, [du, self.apply("sign", u)])
        if name == "tanh":
            return self.prod(1.0, [du, self.sum([(1, self.one), (-1, self.powi(node, 2))])])
        if name == "sinh":
            return self.prod(1.0, [du, self.apply("cosh", u)])
        if name == "cosh":
            return self.prod(1.0, [du, self.apply("sinh", u)])
        if name == "atan":
            return self.quot(du, self.sum([(1, self.one), (1, self.powi(u, 2))]))
        raise AssertionError(f"no derivative for {name}")


def lower(algebra: Algebra, text: str, node: Node) -> Expr:
    """The algebra of a parsed tree; a constant part that is not finite (``1/0``) is an
    ExpressionError marking that part."""
    args = [lower(algebra, text, arg) for arg in node.args]
    algebra.origin = Origin(node.start, node.end, False)
    try:
        if node.kind == "number":
            return algebra.num(node.value)
        if node.kind == "constant":
            return algebra.num(CONSTANTS[node.name])
        if node.kind == "variable":
            return algebra.var(0 if node.name == "x" else 1)
        if node.kind == "negate":
            return algebra.neg(args[0])
        if node.kind == "binary":
            a, b = args
            if node.name == "+":
                return algebra.sum([(1, a), (1, b)])
            if node.name == "-":
                return algebra.sum([(1, a), (-1, b)])
            if node.name == "*":
                return algebra.prod(1.0, [a, b])
            if node.name == "/":
                return algebra.quot(a, b)
            return algebra.power(a, b)
        if node.name in ("min", "max"):
            result = args[0]
            for arg in args[1:]:
                result = algebra.extreme(node.name, result, arg)
            return result
        return algebra.apply(node.name, args[0])
    except FoldError as error:
        raise ExpressionError(
            text,
            f"{error.reason} in {text[node.start : node.end]!r} at column {node.start + 1}",
            node.start,
            node.end,
        ) from None


class _Emitter:
    """Writes the program: each node once, in the order first needed."""

    CONSTANT, TEMPORARY = 1 << 40, 1 << 41  # placeholders until the file is laid out

    def __init__(self, algebra: Algebra) -> None:
        self.algebra = algebra
        self.code: list[list[int]] = []
        self.origins: list[Origin] = []
        self.constants: dict[str, tuple[int, float]] = {}
        self.registers: dict[int, int] = {}
        self.products: dict[tuple, int] = {}
        self.temporaries = 0

    def constant(self, value: float) -> int:
        key = value.hex()
        if key not in self.constants:
            self.constants[key] = (self.CONSTANT + len(self.constants), value)
        return self.constants[key][0]

    def instruction(self, op: str, origin: Origin, *operands: int) -> int:
        if len(self.code) >= MAX_INSTRUCTIONS:
            raise OverflowError("the program is too long")
        dst = self.TEMPORARY + self.temporaries
        self.temporaries += 1
        self.code.append([programs.OP[op], dst, *operands, *[0] * (4 - len(operands))])
        self.origins.append(origin)
        return dst

    def emit(self, node: Expr) -> int:
        done = self.registers.get(id(node))
        if done is not None:
            return done
        origin = self.algebra.origins[id(node)]
        kind, args = node.kind, node.args
        if kind == "num":
            register = self.constant(node.value)
        elif kind == "var":
            register = node.value
        elif kind == "sum":
            (sign, first), *rest = args
            register = self.emit(first)
            if sign < 0:
                register = self.instruction("neg", origin, register)
            for sign, term in rest:
                operand = self.emit(term)
                register = self.instruction("add" if sign > 0 else "sub", origin, register, operand)
        elif kind == "prod":
            register = self.product(node, origin)
        elif kind == "powi":
            base = self.emit(args[0])
            if node.value == 2:
                register = self.instruction("mul", origin, base, base)
            else:
                register = self.instruction("powi", origin, base, node.value)
        elif kind == "apply":
            register = self.instruction(node.value, origin, self.emit(args[0]))
        else:  # quot, pow, min, max, pick_le, pick_ge
            op = {"quot": "div"}.get(kind, kind)
            register = self.instruction(op, origin, *(self.emit(arg) for arg in args))
        self.registers[id(node)] = register
        return register

    def product(self, node: Expr, origin: Origin) -> int:
        factors: list[int] = []
        for factor in node.args:
            if factor.kind == "powi" and factor.value == 2:
                base = self.emit(factor.args[0])
                factors += [base, base]
            else:
                factors.append(self.emit(factor))
        c = node.value
        register, rest = (
            (factors[0], factors[1:]) if c in (1.0, -1.0) else (self.constant(c), factors)
        )
        # ((c·f1)·f2)…: the partial products are shared between nodes that start alike.
        prefix: tuple = (c if c not in (1.0, -1.0) else None, register)
        for factor in rest:
            prefix = (*prefix, factor)
            done = self.products.get(prefix)
            if done is None:
                done = self.products[prefix] = self.instruction("mul", origin, register, factor)
            register = done
        if c == -1.0:
            register = self.instruction("neg", origin, register)
        return register


def compile_program(algebra: Algebra, value: Expr, gradient: tuple[Expr, Expr]) -> Program:
    """The program that computes ``value`` into register F and ``gradient`` into GX, GY."""
    emitter = _Emitter(algebra)
    rename: dict[int, int] = {}
    preset: dict[int, float] = {}
    value_end = 0
    for output, node in (
        (programs.F, value),
        (programs.GX, gradient[0]),
        (programs.GY, gradient[1]),
    ):
        register = emitter.emit(node)
        if register >= emitter.TEMPORARY and register not in rename:
            rename[register] = output  # the instruction writes the output itself
        elif emitter.CONSTANT <= register < emitter.TEMPORARY:
            preset[output] = next(v for r, v in emitter.constants.values() if r == register)
        else:
            emitter.code.append([programs.OP["mov"], output, register, 0, 0, 0])
            emitter.origins.append(algebra.origins[id(node)])
        if output == programs.F:
            value_end = len(emitter.code)
    first_temporary = programs.FIRST_CONSTANT + len(emitter.constants)
    mapping = {
        r: programs.FIRST_CONSTANT + i for i, (r, _) in enumerate(emitter.constants.values())
    }

    def place(register: int) -> int:
        if register >= emitter.TEMPORARY:
            return rename.get(register, first_temporary + register - emitter.TEMPORARY)
        return mapping.get(register, register)

    code = np.zeros((len(emitter.code), programs.WIDTH), dtype=np.int64)
    for row, (op, dst, *operands) in enumerate(emitter.code):
        powi = op == programs.OP["powi"]
        code[row, 0] = op
        code[row, 1] = place(dst)
        code[row, 2:] = [place(operands[0]), *(operands[1:] if powi else map(place, operands[1:]))]
    registers = np.zeros(first_temporary + emitter.temporaries)
    for register, constant in emitter.constants.values():
        registers[mapping[register]] = constant
    for output, constant in preset.items():
        registers[output] = constant
    return Program(
        code=np.ascontiguousarray(code),
        registers=registers,
        value_end=value_end,
        origins=tuple(emitter.origins),
    )
