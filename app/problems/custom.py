"""The problem ``custom``: a surface ``f(x, y)`` that the user types.

A spec is ``{"name": "custom", "expression": "x^2 + 10*sin(y)", "start": [x, y],
"range": {"x": [low, high], "y": [low, high]}, "noise": σ}``; everything but the
name may be left out. ``resolve_custom`` checks it and fills it in: the
expression is compiled (``app.problems.expression``: parsed, never evaluated as
Python), the start must be a point where ``f`` and its gradient are finite, and
the plot window (``range``) is fitted from the start and from values sampled
around it when not given (``_fitted``). ``surface_for`` turns a resolved spec
into the ``CustomSurface`` the engine runs, whose ``program`` the compiled
kernels interpret and whose ``value`` and ``grad`` the numpy backend calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from app.errors import InvalidSpec
from app.hyperparams import export_value, resolve
from app.limits import (
    MAX_COORDINATE,
    MAX_EXPRESSION_CONSTANT,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_EXPONENT,
    MAX_EXPRESSION_LENGTH,
    MAX_EXPRESSION_NODES,
)
from app.problems.base import Interpreted, Point, ProgramSurface, read_point
from app.problems.expression import ExpressionError, Formula, compile_expression, interpreter
from app.problems.expression.program import Program, diagnose, evaluate
from app.problems.expression.syntax import CONSTANTS, FUNCTIONS, VARIABLES, shorten
from app.problems.surfaces import noise_param

# The window a surface is drawn in when nothing says otherwise: [-5, 5]², as most of
# the built-in surfaces; the start is (-3, 2), up and to the left of the middle.
BASE_HALF_WIDTH = 5.0
DEFAULT_START: Point = (-3.0, 2.0)
# The window widens to take in the lowest value it finds when that lies outside:
# sampled on a grid this many points a side, in windows this many times wider.
SAMPLES = 41
WIDENINGS = (1, 4, 16, 64)
# A surface whose highest sampled value (above its lowest) is more than this many
# times its median one is coloured by log(f − min): a steep rim would otherwise take
# every colour and leave the floor one flat shade. (Of the built-in surfaces this
# picks exactly those marked log_color: Rosenbrock 16×, Himmelblau 7.6×, Beale 415×;
# the others 2–4×.)
LOG_COLOR_SPREAD = 5.0


@dataclass(frozen=True)
class Example:
    name: str
    label: str
    expression: str
    start: Point
    description: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "expression": self.expression,
            "start": list(self.start),
            "description": self.description,
        }


EXAMPLES = (
    Example(
        "ravine",
        "Ravine",
        "0.05*x^2 + 4*(y - sin(x))^2",
        (-4.5, 1.5),
        "A winding ravine: steep walls, a gentle floor that curves down to the origin.",
    ),
    Example(
        "saddle",
        "Saddle",
        "x^2 - y^2 + 0.05*y^4",
        (-3.0, 0.01),
        "A saddle at the origin between two valleys at y = ±√10: from almost on the "
        "ridge, the way down is at first hardly felt.",
    ),
    Example(
        "many_minima",
        "Many minima",
        "0.1*(x^2 + y^2) - cos(2*x)*cos(2*y)",
        (-3.5, 2.8),
        "A bowl of dimples: small steps stop in the nearest one.",
    ),
    Example(
        "plateau",
        "Plateau",
        "-exp(-((x - 1)^2 + (y - 1)^2)/2)",
        (-3.0, -2.5),
        "A well in a flat plain: far from it the slope is almost nothing, and only "
        "steps that do not scale with the slope cross the plain.",
    ),
)
DEFAULT_EXPRESSION = EXAMPLES[0].expression
FIELDS = ("expression", "start", "range")


@dataclass(frozen=True)
class CustomSurfaces(Interpreted):
    """The registry's entry for ``custom``: every surface a user may type.

    Its ``bounds``, ``start`` and ``formula`` are those of the default expression;
    a request's own are in the ``CustomSurface`` that ``surface_for`` builds.
    """

    examples: tuple[Example, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            **super().as_json(),
            "expression": self.default_expression,
            "grammar": {
                "max_length": MAX_EXPRESSION_LENGTH,
                "max_depth": MAX_EXPRESSION_DEPTH,
                "max_nodes": MAX_EXPRESSION_NODES,
                "max_constant": MAX_EXPRESSION_CONSTANT,
                "max_exponent": MAX_EXPRESSION_EXPONENT,
                "variables": list(VARIABLES),
                "constants": list(CONSTANTS),
                "functions": list(FUNCTIONS),
            },
            "examples": [example.as_json() for example in self.examples],
        }


@dataclass(frozen=True)
class CustomSurface(ProgramSurface):
    """One typed surface, as the engine runs it: ``value`` and ``grad`` evaluate the
    program with numpy, the compiled kernels interpret ``program`` themselves."""

    def explain(self, x: float, y: float) -> str | None:
        """Why f or its gradient is not finite at ``(x, y)``, or None."""
        failure = diagnose(self.program, x, y)
        if failure is None:
            return None
        origin = failure.origin
        part = shorten(self.expression[origin.start : origin.end], 40)
        where = f"the slope of {part!r}" if origin.slope else repr(part)
        return (
            f"{failure.reason} in {where} (column {origin.start + 1}) "
            f"at (x, y) = ({x:.6g}, {y:.6g})"
        )


def _fitted(program: Program, start: Point) -> tuple[Point, Point]:
    """The plot window: [-5, 5]² widened to hold the start, then to hold the lowest value
    sampled around it, when that is a low point (inside the sampled window, not on its
    edge: a surface that falls for ever has no bottom to show)."""
    low = [min(-BASE_HALF_WIDTH, c - 1.0) for c in start]
    high = [max(BASE_HALF_WIDTH, c + 1.0) for c in start]
    centre = [(a + b) / 2 for a, b in zip(low, high, strict=True)]
    half = [(b - a) / 2 for a, b in zip(low, high, strict=True)]
    for widening in WIDENINGS:
        axes = [
            np.linspace(c - widening * h, c + widening * h, SAMPLES)
            for c, h in zip(centre, half, strict=True)
        ]
        grid_x, grid_y = np.meshgrid(*axes)
        values, _, _ = evaluate(program, grid_x, grid_y, value_only=True)
        values = np.where(np.isfinite(values), values, np.inf)
        if not np.isfinite(values).any():
            break
        j, i = np.unravel_index(np.argmin(values), values.shape)
        if 0 < i < SAMPLES - 1 and 0 < j < SAMPLES - 1:
            lowest = (axes[0][i], axes[1][j])
            if all(a <= c <= b for a, c, b in zip(low, lowest, high, strict=True)):
                break
            # Take the low point in, with a margin of a fifth of the window.
            for k in range(2):
                low[k], high[k] = min(low[k], lowest[k]), max(high[k], lowest[k])
                margin = (high[k] - low[k]) / 5
                low[k], high[k] = low[k] - margin, high[k] + margin
            break
    return (_nice(low[0], high[0]), _nice(low[1], high[1]))


def _default_start(program: Program) -> Point | None:
    """(-3, 2), or where f is not defined there (log(x)), the nearest point of a
    41 × 41 grid over [-5, 5]² where f and its gradient are finite (None: nowhere)."""
    values = evaluate(program, np.array([DEFAULT_START[0]]), np.array([DEFAULT_START[1]]))
    if all(np.isfinite(v[0]) for v in values):
        return DEFAULT_START
    axis = np.linspace(-BASE_HALF_WIDTH, BASE_HALF_WIDTH, SAMPLES)
    grid_x, grid_y = np.meshgrid(axis, axis)
    defined = np.logical_and.reduce([np.isfinite(v) for v in evaluate(program, grid_x, grid_y)])
    if not defined.any():
        return None
    distance = np.hypot(grid_x - DEFAULT_START[0], grid_y - DEFAULT_START[1])
    j, i = np.unravel_index(np.argmin(np.where(defined, distance, np.inf)), distance.shape)
    return float(grid_x[j, i]), float(grid_y[j, i])


def _nice(low: float, high: float) -> tuple[float, float]:
    """``[low, high]`` widened to round numbers (steps of a twentieth of a power of ten
    near its width), within ±MAX_COORDINATE."""
    step = 10.0 ** math.floor(math.log10(high - low)) / 2
    low = max(-MAX_COORDINATE, math.floor(low / step) * step)
    high = min(MAX_COORDINATE, math.ceil(high / step) * step)
    return float(low), float(high)


def _log_color(program: Program, bounds: tuple[Point, Point]) -> bool:
    axes = [np.linspace(a, b, SAMPLES) for a, b in bounds]
    values, _, _ = evaluate(program, *np.meshgrid(*axes), value_only=True)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return False
    spread = values - values.min()
    return bool(spread.max() > LOG_COLOR_SPREAD * max(float(np.median(spread)), 1e-300))


def _range(value: Any, loc: tuple[str | int, ...]) -> tuple[Point, Point]:
    if not isinstance(value, Mapping) or set(value) != {"x", "y"}:
        raise InvalidSpec(loc, 'must be an object {"x": [low, high], "y": [low, high]}')
    ends = []
    for axis in ("x", "y"):
        low, high = read_point(value[axis], loc + (axis,), "[low, high]")
        if not low < high:
            raise InvalidSpec(loc + (axis, 1), f"must be greater than the low end ({low:g})")
        ends.append((low, high))
    return ends[0], ends[1]


def compile_for(expression: Any, loc: tuple[str | int, ...]) -> Formula:
    """The compiled expression, or InvalidSpec quoting it with the position marked."""
    if not isinstance(expression, str):
        raise InvalidSpec(loc, "must be a string: a formula in x and y, such as 'x^2 + 10*sin(y)'")
    try:
        return compile_expression(expression)
    except ExpressionError as error:
        raise InvalidSpec(
            loc,
            error.describe(),
            context={"column": error.column, "end": error.end + 1, "rule": error.message},
        ) from None


def resolve_custom(given: Mapping[str, Any], loc: tuple[str | int, ...]) -> dict[str, Any]:
    """A ``custom`` spec (without its name) checked and completed, or InvalidSpec."""
    valid = [*FIELDS, *(p.name for p in CUSTOM.params)]
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise InvalidSpec(
            loc + (unknown[0],),
            f"unknown parameter for problem 'custom'; valid parameters: {', '.join(valid)}",
        )
    expression = given.get("expression", DEFAULT_EXPRESSION)
    formula = compile_for(expression, loc + ("expression",))
    values = resolve(CUSTOM.params, {k: given[k] for k in given if k not in FIELDS}, loc, "custom")
    if given.get("start") is None:
        start = _default_start(formula.program)
        if start is None:
            raise InvalidSpec(
                loc + ("start",),
                f"f is not defined anywhere in [{-BASE_HALF_WIDTH:g}, {BASE_HALF_WIDTH:g}]²; "
                "give a start where it is",
            )
    else:
        start = read_point(given["start"], loc + ("start",))
    problem = surface_for(formula.text, start, None)
    reason = problem.explain(*start)
    if reason is not None:
        raise InvalidSpec(
            loc + ("start",),
            f"f is not defined at the start: {reason}; start where it is",
        )
    bounds = (
        problem.bounds if given.get("range") is None else _range(given["range"], loc + ("range",))
    )
    return {
        "name": "custom",
        "expression": formula.text,
        "start": list(start),
        "range": {"x": list(bounds[0]), "y": list(bounds[1])},
        **{p.name: export_value(p, values[p.name]) for p in CUSTOM.params},
    }


def surface_of(spec: Mapping[str, Any]) -> CustomSurface:
    """The surface of a resolved ``custom`` spec."""
    bounds = (tuple(spec["range"]["x"]), tuple(spec["range"]["y"]))
    return surface_for(spec["expression"], tuple(spec["start"]), bounds)  # type: ignore[arg-type]


@lru_cache(maxsize=256)
def surface_for(expression: str, start: Point, bounds: tuple[Point, Point] | None) -> CustomSurface:
    """The surface of ``expression`` (compiled already: it raises nothing), from
    ``start``, drawn over ``bounds`` (None: fitted). Cached: a slider moved on a custom
    surface resolves the same spec again and again."""
    formula = compile_expression(expression)
    program = formula.program
    if bounds is None:
        bounds = _fitted(program, start)
    return CustomSurface(
        name=CUSTOM.name,
        label=CUSTOM.label,
        kind="surface",
        formula=formula.latex,
        bounds=bounds,
        start=start,
        minima=(),
        min_value=None,
        params=CUSTOM.params,
        log_color=_log_color(program, bounds),
        axes=("x", "y"),
        description=CUSTOM.description,
        value=lambda x, y: evaluate(program, x, y, value_only=True)[0],
        grad=lambda x, y: evaluate(program, x, y)[1:],
        expression=expression,
        program=program,
    )


def _default() -> CustomSurfaces:
    formula = compile_expression(DEFAULT_EXPRESSION)
    return CustomSurfaces(
        name="custom",
        label="Your own f(x, y)",
        kind="surface",
        formula=formula.latex,
        bounds=_fitted(formula.program, DEFAULT_START),
        start=DEFAULT_START,
        minima=(),
        min_value=None,
        params=(noise_param(0.0),),
        log_color=False,
        axes=("x", "y"),
        description="Type a formula in x and y: numbers, + - * / ^, sin cos tan exp log "
        "sqrt abs tanh sinh cosh atan min max, pi and e. Its gradient is exact (the "
        "formula is differentiated, not sampled).",
        interpreter=interpreter.evaluate,
        default_expression=DEFAULT_EXPRESSION,
        examples=EXAMPLES,
    )


CUSTOM = _default()
