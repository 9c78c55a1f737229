"""Custom surfaces: the parser, the exact gradient, both evaluators, the limits, the errors.

Values are checked against the same formula written by hand with numpy
(``expression_corpus.CORPUS``), gradients against central differences of that
hand-written formula, and the custom copies of the built-in surfaces against the
built-ins' hand-written gradients, bit for bit.
"""

from __future__ import annotations

import builtins

import numba
import numpy as np
import pytest

from app.limits import (
    MAX_EXPRESSION_CONSTANT,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_EXPONENT,
    MAX_EXPRESSION_LENGTH,
    MAX_EXPRESSION_NODES,
)
from app.problems import expression as expression_package
from app.problems.base import Surface
from app.problems.expression import ExpressionError, compile_expression, interpreter
from app.problems.expression.program import diagnose, evaluate
from app.problems.registry import PROBLEMS
from tests.problems.expression_corpus import CORPUS

_evaluate_compiled = numba.njit(interpreter.evaluate)


@numba.njit
def _run_compiled(code, registers, count):
    _evaluate_compiled(code, registers, count)


def compiled(program, xs, ys):
    """``(f, gx, gy)`` from the numba interpreter, the compiled engine's evaluator, all
    the points as one block (the engine's blocks hold up to 16)."""
    count = len(xs)
    registers = np.repeat(program.registers[:, None], max(count, 1), axis=1)
    registers[0, :count], registers[1, :count] = xs, ys
    _run_compiled(program.code, registers, count)
    return registers[2, :count].copy(), registers[3, :count].copy(), registers[4, :count].copy()


def numpy(program, xs, ys):
    return evaluate(program, xs, ys)


EVALUATORS = {"numpy": numpy, "compiled": compiled}


def points(box, count=200, seed=0):
    rng = np.random.default_rng(seed)
    (x0, x1), (y0, y1) = box
    return rng.uniform(x0, x1, count), rng.uniform(y0, y1, count)


def test_the_corpus_is_large_and_has_no_repeats():
    texts = [text for text, _, _ in CORPUS]
    assert len(texts) >= 50
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("backend", EVALUATORS)
@pytest.mark.parametrize(("text", "by_hand", "box"), CORPUS, ids=[c[0] for c in CORPUS])
def test_value_equals_the_formula_written_by_hand(text, by_hand, box, backend):
    xs, ys = points(box)
    f, _, _ = EVALUATORS[backend](compile_expression(text).program, xs, ys)
    expected = by_hand(xs, ys)
    np.testing.assert_allclose(f, expected, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("backend", EVALUATORS)
@pytest.mark.parametrize(("text", "by_hand", "box"), CORPUS, ids=[c[0] for c in CORPUS])
def test_gradient_equals_central_differences(text, by_hand, box, backend):
    xs, ys = points(box, seed=1)
    _, gx, gy = EVALUATORS[backend](compile_expression(text).program, xs, ys)
    hx = 1e-6 * np.maximum(1.0, np.abs(xs))
    hy = 1e-6 * np.maximum(1.0, np.abs(ys))
    dx = (by_hand(xs + hx, ys) - by_hand(xs - hx, ys)) / (2 * hx)
    dy = (by_hand(xs, ys + hy) - by_hand(xs, ys - hy)) / (2 * hy)
    scale = 1 + np.abs(by_hand(xs, ys))
    assert np.all(np.abs(gx - dx) <= 1e-6 * scale + 1e-6 * np.abs(dx)), text
    assert np.all(np.abs(gy - dy) <= 1e-6 * scale + 1e-6 * np.abs(dy)), text


@pytest.mark.parametrize(("text", "by_hand", "box"), CORPUS, ids=[c[0] for c in CORPUS])
def test_the_two_evaluators_agree(text, by_hand, box):
    xs, ys = points(box, seed=2)
    program = compile_expression(text).program
    block = compiled(program, xs, ys)
    for ours, theirs in zip(numpy(program, xs, ys), block, strict=True):
        # They differ in the last digits (integer powers, the C library's functions).
        scale = 1 + np.max(np.abs(theirs))
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15 * scale)
    # A block of one point (a run alone in the engine) takes a path of its own.
    for i in range(5):
        one = compiled(program, xs[i : i + 1], ys[i : i + 1])
        assert [v[0] for v in one] == [v[i] for v in block]


BUILT_IN_SURFACES = [name for name, p in PROBLEMS.items() if isinstance(p, Surface)]


@pytest.mark.parametrize("backend", EVALUATORS)
@pytest.mark.parametrize("name", BUILT_IN_SURFACES)
def test_a_custom_copy_of_a_built_in_has_its_gradient_bit_for_bit(name, backend):
    """Same operations in the same order: what makes custom and built-in paths equal."""
    surface = PROBLEMS[name]
    xs, ys = points(surface.bounds, count=20_000, seed=3)
    _, gx, gy = EVALUATORS[backend](compile_expression(surface.expression).program, xs, ys)
    if backend == "numpy":
        expected = surface.grad(xs, ys)
    else:
        gradient = numba.njit(surface.grad)
        expected = np.array([gradient(x, y) for x, y in zip(xs[:2000], ys[:2000], strict=True)]).T
        gx, gy = gx[:2000], gy[:2000]
    np.testing.assert_array_equal(gx, expected[0])
    np.testing.assert_array_equal(gy, expected[1])


def test_shared_parts_are_computed_once():
    # Rosenbrock: (1 - x), x², y - x² serve f and ∂f/∂x: 12 instructions, not 17.
    program = compile_expression("(1 - x)^2 + 100*(y - x^2)^2").program
    assert len(program.code) == 12
    assert program.value_end == 7  # the value alone is the first seven


def test_a_new_expression_compiles_no_new_kernel():
    """Expressions are data for one pre-compiled interpreter."""
    compiled(compile_expression("x^2 + y^2").program, np.zeros(1), np.zeros(1))
    signatures = len(_run_compiled.signatures)
    for text, _, box in CORPUS:
        compiled(compile_expression(text).program, *points(box, count=3))
    assert len(_run_compiled.signatures) == signatures


# -- the grammar and its errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2^3^2", 512.0),  # ^ groups to the right
        ("-2^2", -4.0),  # unary minus below ^
        ("2^-1", 0.5),
        ("-2*-3", 6.0),
        ("8/4/2", 1.0),  # / groups to the left
        ("10-4-3", 3.0),
        ("2**3", 8.0),
        ("min(3, 1, 2) + max(1, 5)", 6.0),
        ("e", np.e),
        ("pi", np.pi),
        (" 1\t+\n2 ", 3.0),
        ("1.5e1 + .5 + 5. + 2E-1", 20.7),
    ],
)
def test_precedence_and_numbers(text, expected):
    f, _, _ = evaluate(compile_expression(text).program, 0.0, 0.0)
    assert f == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("x^2 + z", "unknown name 'z' at column 7; names: x, y, pi, e", 7),
        ("foo(x)", "unknown function 'foo' at column 1; functions: sin, cos,", 1),
        ("2x", "missing operator before 'x' at column 2 (write 2*x, not 2x)", 2),
        ("sin x", "the function 'sin' at column 1 needs its argument in parentheses", 1),
        ("x +", "the expression ends too early at column 4", 4),
        ("(x + 1", "'(' at column 1 is never closed", 1),
        ("x + 1)", "unmatched ')' at column 6", 6),
        ("x, y", "',' at column 2 outside a function's arguments", 2),
        ("sin(x, y)", "sin takes one argument; a second starts at column 6", 6),
        ("min(x)", "min at column 1 takes two arguments or more", 1),
        ("+x", "unexpected unary '+' (only '-' may come before a term) at column 1", 1),
        ("", "the expression is empty", 1),
        ("x $ y", "unexpected character '$' at column 3", 3),
        ("x − y", "unexpected character '−' (U+2212 MINUS SIGN) at column 3; type '-'", 3),
        ("x × y", "unexpected character '×' (U+00D7 MULTIPLICATION SIGN) at column 3", 3),
        ("1/0 + x", "division by zero in '1/0' at column 1", 1),
        ("x + log(0)", "log of zero in 'log(0)' at column 5", 5),
        ("sqrt(-1)*x", "square root of a negative number in 'sqrt(-1)' at column 1", 1),
        ("x/(2-2)", "division by zero in 'x/(2-2)' at column 1", 1),
        ("(-2)^x", "a power with a variable exponent needs a positive base, not -2", 1),
        ("exp(1000)*x", "a number too large for a float (overflow) in 'exp(1000)'", 1),
        # f is finite, its gradient's constant (2·1e308·x) is not.
        ("1e12^25*1e8*x^2", "its gradient is not finite", 1),
        (
            "1e13*x",
            f"the number 1e13 at column 1 is too large; numbers are at most "
            f"{MAX_EXPRESSION_CONSTANT:g}".replace("e+", "e"),
            1,
        ),
        ("x^65", f"constant exponents are at most {MAX_EXPRESSION_EXPONENT} in magnitude", 3),
        ("x^(-65)", "the exponent at column 3 is -65", 3),
        ("9^9^9^9", "the exponent at column 5 is 387,420,489", 5),
    ],
)
def test_errors_say_the_rule_and_mark_the_place(text, message, column):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    error = caught.value
    assert message in error.message
    assert error.column == column
    # The quote shows the expression, and carets under the offending characters.
    quoted, carets = str(error).split("\n")[1:]
    assert quoted.strip() == text.strip() or not text
    assert carets.index("^") == quoted.index(text[:1] or " ") + column - 1 if text else True


def test_the_limits_are_the_documented_numbers():
    assert (MAX_EXPRESSION_LENGTH, MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_NODES) == (1000, 50, 400)
    ok = "+".join(["x"] * 40)
    compile_expression(ok)
    with pytest.raises(ExpressionError, match="nests too deeply"):
        compile_expression("+".join(["x"] * (MAX_EXPRESSION_DEPTH + 2)))
    with pytest.raises(ExpressionError, match="nests too deeply"):
        compile_expression("sin(" * MAX_EXPRESSION_DEPTH + "x" + ")" * MAX_EXPRESSION_DEPTH)
    with pytest.raises(ExpressionError, match="at most 400 numbers, names, operators"):
        # A wide tree: shallow, but too many parts.
        compile_expression("+".join(f"({'*'.join(['x'] * 8)})" for _ in range(30)))
    with pytest.raises(ExpressionError, match="characters long; at most 1,000"):
        compile_expression("x" * (MAX_EXPRESSION_LENGTH + 1))


HOSTILE = [
    "__import__('os')",
    "__import__('os').system('true')",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "lambda: 0",
    "(lambda x: x)(1)",
    "9^9^9^9",
    "2^2^2^2^2^2",
    "(" * 10_000 + "x" + ")" * 10_000,
    "x+" * 500_000 + "x",  # a 1 MB expression
    "х^2",  # Cyrillic ha
    "ｘ^2",  # fullwidth x
    "𝑥^2",  # mathematical italic x
    "ѕin(x)",  # Cyrillic dze
    "x\u200b+y",  # zero-width space
    "x\x00",
    "\x00",
    "x;y",
    "x = 1",
    "x == y",
    "x if y else 1",
    "[x for x in y]",
    "{'a': 1}",
    "'x'",
    "x[0]",
    "exec('1')",
    "eval('1')",
    "1" * 400,
    "1e999999999",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_stops_in_the_parser(text, monkeypatch):
    """Refused by the grammar and the limits alone: nothing past the parser runs, and
    nothing is ever evaluated as Python."""

    def forbidden(*args, **kwargs):
        raise AssertionError("reached past the parser")

    monkeypatch.setattr(expression_package, "lower", forbidden)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    compile_expression.cache_clear()
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    # The message is short even for a megabyte of input, and prints.
    assert len(str(caught.value)) < 400
    assert str(caught.value).isprintable() or "\n" in str(caught.value)


# -- undefined points ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "point", "reason", "part", "slope"),
    [
        ("log(x) + y", (-1.0, 0.0), "log of a negative number", "log(x)", False),
        ("log(x) + y", (0.0, 0.0), "log of zero", "log(x)", False),
        ("x^2 + 1/y", (1.0, 0.0), "division by zero", "1/y", False),
        ("sqrt(x^2 + y^2)", (0.0, 0.0), "division by zero", "sqrt(x^2 + y^2)", True),
        ("sqrt(x) + y", (-4.0, 1.0), "square root of a negative number", "sqrt(x)", False),
        ("x^0.5 + y", (0.0, 1.0), "zero to a negative power", "x^0.5", True),
        ("exp(x*y)", (30.0, 30.0), "overflow", "exp(x*y)", False),
        ("max(x, sqrt(y))", (1.0, 0.0), None, None, None),  # the infinite slope is not picked
    ],
)
def test_diagnose_names_the_operation_and_the_part(text, point, reason, part, slope):
    formula = compile_expression(text)
    failure = diagnose(formula.program, *point)
    if reason is None:
        assert failure is None
        return
    assert failure is not None
    assert reason in failure.reason
    assert text[failure.origin.start : failure.origin.end] == part
    assert failure.origin.slope is slope


# -- the preview ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "latex"),
    [
        ("0.1*x^2 + 2*y^2", r"0.1\,x^{2} + 2\,y^{2}"),
        (
            "(1 - x)^2 + 100*(y - x^2)^2",
            r"\left(1 - x\right)^{2} + 100\,\left(y - x^{2}\right)^{2}",
        ),
        ("x/(1 + y^2)", r"\frac{x}{1 + y^{2}}"),
        ("-x^2", "-x^{2}"),
        ("(-x)^2", r"\left(-x\right)^{2}"),
        ("2^3^x", "2^{3^{x}}"),
        ("(2^3)^x", r"\left(2^{3}\right)^{x}"),
        ("x - (y - 1)", r"x - \left(y - 1\right)"),
        ("x * -y", r"x \cdot \left(-y\right)"),
        ("sqrt(abs(x)) + atan(y)", r"\sqrt{\left|x\right|} + \arctan\left(y\right)"),
        ("max(x, y, 1) * pi", r"\max\left(x, y, 1\right) \cdot \pi"),
        ("1e-3*x", r"10^{-3} \cdot x"),
        ("2.5e3*x", r"2.5 \cdot 10^{3} \cdot x"),
    ],
)
def test_the_preview_renders_the_parsed_tree(text, latex):
    formula = compile_expression(text)
    assert formula.latex == "f(x, y) = " + latex
    assert formula.mathml.startswith("<math")


@pytest.mark.parametrize(("text", "by_hand", "box"), CORPUS, ids=[c[0] for c in CORPUS])
def test_every_corpus_formula_has_a_preview(text, by_hand, box):
    assert "<math" in compile_expression(text).mathml
