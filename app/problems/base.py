"""What a problem is: a loss over two parameters that the page can draw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from app.hyperparams import HyperParam

Point = tuple[float, float]


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
    numpy arrays and compile with numba for the step loop.
    """

    value: Callable[..., Any] = None  # type: ignore[assignment]
    grad: Callable[..., Any] = None  # type: ignore[assignment]


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
