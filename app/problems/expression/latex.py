"""The parsed expression as LaTeX (and MathML), for the page's preview and the catalog.

It renders the tree the parser built, not the text: what the preview shows is
what will be computed (``2^3^2`` shows as ``2^{3^{2}}``, ``-x^2`` as ``-x^{2}``,
``a/b`` as a fraction), with parentheses wherever the grouping needs them.
"""

from __future__ import annotations

from latex2mathml.converter import convert

from app.problems.expression.syntax import Node

_SUM, _PRODUCT, _NEGATE, _POWER, _ATOM = 1, 2, 3, 4, 5
_FUNCTIONS = {
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "exp": r"\exp",
    "log": r"\log",
    "tanh": r"\tanh",
    "sinh": r"\sinh",
    "cosh": r"\cosh",
    "atan": r"\arctan",
    "min": r"\min",
    "max": r"\max",
}


def _group(latex: str) -> str:
    return rf"\left({latex}\right)"


def _number(text: str) -> tuple[str, int]:
    mantissa, _, exponent = text.lower().partition("e")
    if mantissa.startswith("."):
        mantissa = "0" + mantissa
    if mantissa.endswith("."):
        mantissa = mantissa[:-1]
    if not exponent:
        return mantissa, _ATOM
    power = f"10^{{{int(exponent)}}}"
    return (power, _POWER) if mantissa == "1" else (rf"{mantissa} \cdot {power}", _PRODUCT)


def _render(node: Node) -> tuple[str, int]:
    """The LaTeX of ``node`` and how tightly it binds (to decide on parentheses)."""
    if node.kind == "number":
        return _number(node.text)
    if node.kind == "variable":
        return node.name, _ATOM
    if node.kind == "constant":
        return (r"\pi" if node.name == "pi" else "e"), _ATOM
    if node.kind == "negate":
        inner, binds = _render(node.args[0])
        return "-" + (_group(inner) if binds < _NEGATE else inner), _NEGATE
    if node.kind == "call":
        args = [_render(arg)[0] for arg in node.args]
        if node.name == "sqrt":
            return rf"\sqrt{{{args[0]}}}", _ATOM
        if node.name == "abs":
            return rf"\left|{args[0]}\right|", _ATOM
        return _FUNCTIONS[node.name] + _group(", ".join(args)), _ATOM
    (left, left_binds), (right, right_binds) = (_render(arg) for arg in node.args)
    operator = node.name
    if operator == "/":
        return rf"\frac{{{left}}}{{{right}}}", _PRODUCT
    if operator == "^":
        base = _group(left) if left_binds < _ATOM else left
        return f"{base}^{{{right}}}", _POWER
    if operator in "+-":
        if right_binds in (_SUM, _NEGATE):
            right = _group(right)
        return f"{left} {operator} {right}", _SUM
    # Multiplication: a number before a letter, a function or a bracket reads best
    # without a dot (0.1\,x^{2}); anything else takes \cdot.
    if left_binds == _SUM:
        left = _group(left)
    if right_binds in (_SUM, _NEGATE):
        right = _group(right)
    plain_number = node.args[0].kind == "number" and left_binds == _ATOM
    joiner = r"\," if plain_number and not right[:1].isdigit() else r" \cdot "
    return f"{left}{joiner}{right}", _PRODUCT


def to_latex(tree: Node) -> str:
    """``f(x, y) = …`` for the parsed tree."""
    return "f(x, y) = " + _render(tree)[0]


def to_mathml(latex: str) -> str:
    return convert(latex, display="block")
