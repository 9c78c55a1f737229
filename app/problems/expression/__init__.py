"""Custom surfaces: ``f(x, y)`` typed by a user, parsed, differentiated and compiled.

``compile_expression(text)`` is the one entry point: it parses the text with the
grammar of ``syntax`` (never with Python: no ``eval``, ``exec`` or ``compile``),
checks the limits of ``app.limits`` before each piece of work, differentiates the
tree exactly (``algebra``) and compiles value and gradient into one ``Program``
of instructions, which numpy (``program.evaluate``) and one pre-compiled numba
kernel (``interpreter.evaluate``) run. A bad expression raises
``ExpressionError``: the rule it breaks, the column, the expression quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from app.problems.expression.algebra import Algebra, FoldError, compile_program, lower
from app.problems.expression.latex import to_latex, to_mathml
from app.problems.expression.program import Program
from app.problems.expression.syntax import ExpressionError, Node, parse

__all__ = ["ExpressionError", "Formula", "compile_expression"]


@dataclass(frozen=True)
class Formula:
    """A compiled expression: the text, its tree, its program and its LaTeX."""

    text: str
    tree: Node
    program: Program
    latex: str

    @property
    def mathml(self) -> str:
        return to_mathml(self.latex)


@lru_cache(maxsize=256)
def compile_expression(text: str) -> Formula:
    """The compiled formula of ``text``, or ExpressionError (cached: a slider moved on a
    custom surface sends the same expression again and again)."""
    if not isinstance(text, str):
        raise TypeError("an expression is a string")
    tree = parse(text)
    algebra = Algebra()
    value = lower(algebra, text, tree)
    try:
        # A constant finite in f can overflow in its derivative (1e12^25·x² gives
        # 2e300·x, and folding more factors of it leaves the floats).
        gradient = (algebra.derivative(value, 0), algebra.derivative(value, 1))
    except FoldError as error:
        raise ExpressionError(
            text, f"its gradient is not finite: {error.reason}; use smaller constants", 0, len(text)
        ) from None
    try:
        program = compile_program(algebra, value, gradient)
    except OverflowError:
        raise ExpressionError(
            text, "the expression is too complex to differentiate; write it shorter", 0, len(text)
        ) from None
    return Formula(text=text, tree=tree, program=program, latex=to_latex(tree))
