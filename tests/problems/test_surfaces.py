"""Analytic gradients and the documented minima of every problem."""

from __future__ import annotations

import numpy as np
import pytest

from app.problems.registry import PROBLEMS
from app.problems.surfaces import SURFACES

SURFACE_NAMES = [s.name for s in SURFACES]


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_gradient_equals_central_differences(name):
    surface = PROBLEMS[name]
    rng = np.random.default_rng(1)
    (x0, x1), (y0, y1) = surface.bounds
    x = rng.uniform(x0, x1, 200)
    y = rng.uniform(y0, y1, 200)
    h = 1e-6
    gx, gy = surface.grad(x, y)
    fd_x = (surface.value(x + h, y) - surface.value(x - h, y)) / (2 * h)
    fd_y = (surface.value(x, y + h) - surface.value(x, y - h)) / (2 * h)
    scale = 1 + np.abs(surface.value(x, y))
    np.testing.assert_allclose(gx, fd_x, atol=1e-6 * scale.max(), rtol=1e-5)
    np.testing.assert_allclose(gy, fd_y, atol=1e-6 * scale.max(), rtol=1e-5)


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_known_minima_are_stationary_with_the_stated_value(name):
    surface = PROBLEMS[name]
    for mx, my in surface.minima:
        gx, gy = surface.grad(np.float64(mx), np.float64(my))
        assert abs(gx) < 1e-6 and abs(gy) < 1e-6
        assert surface.value(mx, my) == pytest.approx(surface.min_value, abs=1e-9)


def test_spec_surfaces_keep_their_formulas():
    f = {name: PROBLEMS[name].value for name in SURFACE_NAMES}
    assert f["steep_valley"](1.0, 1.0) == 0.1 + 2
    assert f["saddle"](1.0, 2.0) == 1 + 16 / 4 - 4 / 2
    assert f["noisy_bowl"](1.0, 2.0) == 2.5
    assert f["rosenbrock"](0.0, 1.0) == 1 + 100
    assert f["himmelblau"](0.0, 0.0) == 121 + 49
    assert PROBLEMS["noisy_bowl"].params[0].default == 1.0
    starts = {n: PROBLEMS[n].start for n in SURFACE_NAMES}
    assert starts["steep_valley"] == (-4.5, 1.5)
    assert starts["saddle"] == (-2.0, 0.01)
    assert starts["noisy_bowl"] == (-3.0, 2.5)
    assert starts["rosenbrock"] == (-1.5, 2.0)
    assert starts["himmelblau"] == (-0.5, -0.5)


def test_every_default_start_lies_inside_the_drawn_bounds():
    for problem in PROBLEMS.values():
        (x0, x1), (y0, y1) = problem.bounds
        assert x0 < problem.start[0] < x1 and y0 < problem.start[1] < y1, problem.name
