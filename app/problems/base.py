"""What a problem is: a loss over two parameters that the page can draw."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.errors import InvalidSpec
from app.hyperparams import HyperParam
from app.limits import MAX_COORDINATE

Point = tuple[float, float]


def read_point(value: Any, loc: tuple[str | int, ...], shape: str = "[x, y]") -> Point:
    """Two finite numbers within ±MAX_COORDINATE, or InvalidSpec (a start point, the
    ends ``[low, high]`` of a custom surface's range)."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise InvalidSpec(loc, f"must be a list of two numbers {shape}")
    point = []
    for i, coordinate in enumerate(value):
        if isinstance(coordinate, bool) or not isinstance(coordinate, int | float):
            raise InvalidSpec(loc + (i,), "must be a number")
        try:
            number = float(coordinate)
        except OverflowError:  # an integer of hundreds of digits
            number = math.inf
        if not math.isfinite(number):
            raise InvalidSpec(loc + (i,), "must be a finite number")
        if abs(number) > MAX_COORDINATE:
            raise InvalidSpec(loc + (i,), f"must be within ±{MAX_COORDINATE:g}")
        point.append(number)
    return point[0], point[1]


@dataclass(frozen=True)
class Problem:
    """Shared description of surfaces and regression problems.

    ``bounds`` is the window the page draws, ``minima`` the known minimisers
    (for regression they depend on the data and come with it instead).
    """

    name: str
    label: str
    kind: Literal["surface", "regression"]
    formula: str  # LaTeX
    bounds: tuple[Point, Point]  # ((x_min, x_max), (y_min, y_max))
    start: Point
    minima: tuple[Point, ...]
    min_value: float | None
    params: tuple[HyperParam, ...]
    log_color: bool
    axes: tuple[str, str]
    description: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "formula": self.formula,
            "bounds": {"x": list(self.bounds[0]), "y": list(self.bounds[1])},
            "start": list(self.start),
            "minima": [list(m) for m in self.minima],
            "min_value": self.min_value,
            "params": [p.as_json() for p in self.params],
            "log_color": self.log_color,
            "axes": list(self.axes),
            "description": self.description,
        }


@dataclass(frozen=True)
class Surface(Problem):
    """A closed-form function of (x, y).

    ``value(x, y)`` and ``grad(x, y) -> (gx, gy)`` are elementwise: they run on
    numpy arrays and compile with numba for the step loop. ``expression`` is the
    same function as a user types it for the problem ``custom``.
    """

    value: Callable[..., Any] = None  # type: ignore[assignment]
    grad: Callable[..., Any] = None  # type: ignore[assignment]
    expression: str = ""

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "expression": self.expression}


@dataclass(frozen=True)
class Regression(Problem):
    """A model fitted to a seeded dataset; the loss is a mean over samples.

    ``sample_loss(z, y)`` and ``sample_dloss(z, y)`` are elementwise in the
    model's pre-activation ``z = w·x + b``; the gradient in (w, b) is the mean
    of ``dloss · (x, 1)`` over the samples used.
    """

    sample_loss: Callable[..., Any] = None  # type: ignore[assignment]
    sample_dloss: Callable[..., Any] = None  # type: ignore[assignment]
    make_data: Callable[..., Any] = None  # type: ignore[assignment]
    # The (w, b) ``make_data`` draws the samples from: the line the noise hides.
    true_params: Point = (0.0, 0.0)


@dataclass(frozen=True)
class Interpreted(Problem):
    """A family of surfaces, each given by a program of instructions (a formula a user
    typed) that one compiled interpreter runs, so a new one compiles nothing:
    ``interpreter(code, registers, count)`` computes f and its gradient at ``count``
    points at once."""

    interpreter: Callable[..., Any] = None  # type: ignore[assignment]
    default_expression: str = ""


@dataclass(frozen=True)
class ProgramSurface(Surface):
    """One surface of an ``Interpreted`` family: its ``program`` (the arrays ``code``
    and ``registers`` the interpreter reads) computes f and its gradient together;
    ``value`` and ``grad`` are the same program run with numpy."""

    program: Any = None
