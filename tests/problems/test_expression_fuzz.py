"""Random token strings through the parser and both evaluators (hypothesis).

Whatever the text, ``compile_expression`` either compiles it or raises
ExpressionError (never another exception), promptly; a compiled formula
evaluates to plain floats on both evaluators, whatever the point. The pieces are
the grammar's own tokens, their near misses and a few characters from outside
it, so most strings are near-grammatical: the interesting place for a parser.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.problems.expression import ExpressionError, compile_expression
from app.problems.expression.program import diagnose, evaluate
from app.problems.expression.syntax import FUNCTIONS
from tests.problems.test_expression import compiled

PIECES = [
    *FUNCTIONS,
    "x", "y", "pi", "e", "z", "xy", "sinx", "lambda", "__class__", "import",
    "(", ")", ",", "+", "-", "*", "/", "^", "**", "***", ".", "..", "=", ":", ";", "[", "]",
    "0", "1", "2", "9", "0.5", ".5", "5.", "1e3", "1e-9", "1e12", "1e13", "1e308", "2e", "64", "65",
    " ", "\t", "\n", "\x00", "'", '"', "\\", "х", "−", "×", "²", "\u200b", "𝑥",
]  # fmt: skip
TOKEN_STRINGS = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
ANY_TEXT = st.text(max_size=60)
NUMBERS = st.sampled_from(["0", "1", "2", "3", "0.5", "1e-3", "10", "64", "1e12"])
UNARY = [f for f in FUNCTIONS if f not in ("min", "max")]
GRAMMATICAL = st.recursive(
    st.sampled_from(["x", "y", "pi", "e"]) | NUMBERS,
    lambda inner: st.one_of(
        st.builds("-{}".format, inner),
        st.builds("{}({})".format, st.sampled_from(UNARY), inner),
        st.builds("({} {} {})".format, inner, st.sampled_from("+-*/^"), inner),
        st.builds("{}({}, {})".format, st.sampled_from(["min", "max"]), inner, inner),
    ),
    max_leaves=24,
)
# A grammatical expression with one character dropped: the near misses a typist makes.
NEAR_MISSES = st.builds(
    lambda text, at: text[: at % max(1, len(text))] + text[at % max(1, len(text)) + 1 :],
    GRAMMATICAL,
    st.integers(0, 10_000),
)
POINT = st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False))


def check(text: str, point: tuple[float, float]) -> None:
    try:
        formula = compile_expression(text)
    except ExpressionError as error:
        assert error.message and 1 <= error.column <= len(text) + 1
        return
    x, y = np.array([point[0]]), np.array([point[1]])
    for evaluator in (evaluate, compiled):
        values = evaluator(formula.program, x, y)
        assert all(v.dtype == np.float64 and v.shape == (1,) for v in values)
    # Where f or its gradient is not finite, the diagnosis names an operation; else none.
    finite = all(math.isfinite(v[0]) for v in evaluate(formula.program, x, y))
    assert (diagnose(formula.program, *point) is None) == finite
    event("compiled")
    assert formula.mathml.startswith("<math")


FUZZ = settings(max_examples=2_500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.timeout(240)
@FUZZ
@given(TOKEN_STRINGS, POINT)
def test_token_strings_compile_or_fail_cleanly(text, point):
    check(text, point)


@pytest.mark.timeout(120)
@settings(max_examples=1_000, deadline=None)
@given(ANY_TEXT, POINT)
def test_any_text_compiles_or_fails_cleanly(text, point):
    check(text, point)


@pytest.mark.timeout(240)
@FUZZ
@given(GRAMMATICAL | NEAR_MISSES, POINT)
def test_grammatical_expressions_and_near_misses(text, point):
    check(text, point)
