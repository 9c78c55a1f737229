"""The problem ``custom`` in the engine: custom copies of the built-in surfaces take
the built-ins' paths, undefined points stop a run and say why, the gradient rule
decides convergence, the window is fitted, sweeps and grids work on typed formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app import convergence
from app.engine import Execution, build_simulation, loss_grid, simulate
from app.errors import InvalidSpec
from app.optim.registry import OPTIMIZERS
from app.problems.base import Surface
from app.problems.registry import PROBLEMS, resolve_problem
from app.sweeps import Sweep
from tests.engine_helpers import run

BUILT_IN_SURFACES = [name for name, p in PROBLEMS.items() if isinstance(p, Surface)]
EVERY_OPTIMIZER = [{"optimizer": name, "params": {"alpha": 2e-3}} for name in OPTIMIZERS]
# Rows alike (the kernels' block path), a run alone (a block of one), a mix.
SHAPES = {
    "every optimiser": EVERY_OPTIMIZER,
    "adam alike": [{"optimizer": "adam", "params": {"alpha": 0.02}}] * 20,
    "one run": [{"optimizer": "nesterov", "params": {"alpha": 1e-3}}],
}


def copy_of(name: str, noise: float) -> tuple[dict, dict]:
    surface = PROBLEMS[name]
    built_in = {"name": name, "noise": noise}
    copy = {"name": "custom", "expression": surface.expression, "start": list(surface.start)}
    return built_in, {**copy, "noise": noise}


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", BUILT_IN_SURFACES)
def test_a_custom_copy_takes_the_built_in_path_bit_for_bit(name, shape, backend):
    built_in, copy = copy_of(name, noise=0.2)
    expected = run(built_in, SHAPES[shape], steps=300, seed=3, backend=backend)
    actual = run(copy, SHAPES[shape], steps=300, seed=3, backend=backend)
    assert actual.diverged_at == expected.diverged_at
    for ours, theirs in zip(actual.paths, expected.paths, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # The loss is the same function written another way: equal to the last digits.
    for ours, theirs in zip(actual.losses, expected.losses, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
@pytest.mark.parametrize("name", ["rosenbrock", "beale"])
def test_a_custom_copys_anatomy_equals_the_built_ins(name, backend):
    """What each update used and left behind (anatomy), recorded by the typed loop too."""
    built_in, copy = copy_of(name, noise=0.2)
    requests = [
        {"problem": p, "steps": 80, "seed": 2, "runs": EVERY_OPTIMIZER, "anatomy": True}
        for p in (built_in, copy)
    ]
    expected, actual = (
        simulate(build_simulation(request), backend=backend) for request in requests
    )
    for ours, theirs in zip(actual.anatomy, expected.anatomy, strict=True):
        np.testing.assert_array_equal(ours.grad, theirs.grad)
        np.testing.assert_array_equal(ours.effective_lr, theirs.effective_lr)
        assert ours.state.keys() == theirs.state.keys()
        for symbol in ours.state:
            np.testing.assert_array_equal(ours.state[symbol], theirs.state[symbol])
        if theirs.lookahead is not None:
            np.testing.assert_array_equal(ours.lookahead, theirs.lookahead)


@pytest.mark.parametrize("name", BUILT_IN_SURFACES)
def test_a_custom_copys_sweep_equals_the_built_ins(name):
    built_in, copy = copy_of(name, noise=0.0)
    sweep = {
        "optimizer": "momentum",
        "steps": 200,
        "x_axis": {"param": "alpha", "min": 1e-4, "max": 1e-2, "count": 4},
        "y_axis": {"param": "start_x", "min": -1.0, "max": 1.0, "count": 3},
    }
    expected = Sweep({**sweep, "problem": built_in}).run()
    actual = Sweep({**sweep, "problem": copy}).run()
    np.testing.assert_array_equal(actual.diverged_at, expected.diverged_at)
    np.testing.assert_allclose(actual.final_loss, expected.final_loss, rtol=1e-13, atol=1e-13)


def test_the_backends_agree_on_a_typed_formula():
    problem = {
        "name": "custom",
        "expression": "x^3/3 - x + y^2*cosh(x/4) + atan(x*y)",
        "noise": 0.1,
    }
    runs = [*EVERY_OPTIMIZER, {"optimizer": "adam", "start": [2.0, -1.0]}]
    compiled = run(problem, runs, steps=200, seed=2)
    reference = run(problem, runs, steps=200, seed=2, backend="numpy")
    assert compiled.diverged_at == reference.diverged_at
    for a, b in zip(compiled.paths, reference.paths, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# -- where f is not defined ----------------------------------------------------------


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
def test_a_run_stops_where_the_formula_is_not_defined_and_says_why(backend):
    # From (1, 1), plain gradient descent on log(x) + y² with α = 0.3 steps to
    # x = 1 - 0.3 = 0.7, then 0.7 - 0.3/0.7 = 0.271…, then 0.271 - 0.3/0.271 < 0.
    problem = {"name": "custom", "expression": "log(x) + y^2", "start": [1, 1]}
    result = run(
        problem, [{"optimizer": "sgd", "params": {"alpha": 0.3}}], steps=20, backend=backend
    )
    x1 = 1 - 0.3
    x2 = x1 - 0.3 / x1
    x3 = x2 - 0.3 / x2
    assert result.diverged_at == [3]
    np.testing.assert_allclose(result.paths[0][:, 0], [1.0, x1, x2])
    assert np.isfinite(result.losses[0]).all()
    reason = result.diverged_reason[0]
    assert reason.startswith("f is not defined where it went: log of a negative number")
    assert "'log(x)' (column 1)" in reason and f"({x3:.6g}, " in reason


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
def test_an_infinite_slope_stops_a_run_too(backend):
    # The cone's tip: f = 0 is defined there, its gradient is not.
    problem = {"name": "custom", "expression": "sqrt(x^2 + y^2)", "start": [1, 0]}
    result = run(
        problem, [{"optimizer": "sgd", "params": {"alpha": 1.0}}], steps=5, backend=backend
    )
    assert result.diverged_at == [1]
    assert "division by zero in the slope of 'sqrt(x^2 + y^2)'" in result.diverged_reason[0]


def test_every_divergence_says_why():
    steep = run("steep_valley", [{"optimizer": "sgd", "params": {"alpha": 3.0}}], steps=100)
    assert steep.diverged_at[0] is not None
    assert steep.diverged_reason[0].startswith("it left ±1e+06: its next point was (")
    calm = run("steep_valley", [{"optimizer": "sgd"}], steps=10)
    assert calm.diverged_reason == [None]


def test_without_a_start_the_nearest_defined_point_is_taken():
    # (-3, 2) is no start for log(x): the nearest point of the grid with x > 0 is.
    assert resolve_problem({"name": "custom", "expression": "log(x) + y^2"})["start"] == [0.25, 2.0]
    with pytest.raises(InvalidSpec) as caught:
        resolve_problem({"name": "custom", "expression": "log(-1 - x^2)"})
    assert caught.value.loc == ("problem", "start")
    assert "f is not defined anywhere in [-5, 5]²" in caught.value.message


@pytest.mark.parametrize(
    ("problem", "runs", "loc"),
    [
        (
            {"name": "custom", "expression": "log(x)", "start": [-1, 1]},
            [{"optimizer": "sgd"}],
            ("problem", "start"),
        ),
        (
            {"name": "custom", "expression": "log(x)", "start": [1, 1]},
            [{"optimizer": "sgd"}, {"optimizer": "adam", "start": [-1, 0]}],
            ("runs", 1, "start"),
        ),
        (
            {"name": "custom", "expression": "1/x", "start": [0, 1]},
            [{"optimizer": "sgd"}],
            ("problem", "start"),
        ),
    ],
)
def test_a_start_where_f_is_not_defined_is_refused(problem, runs, loc):
    with pytest.raises(InvalidSpec) as caught:
        build_simulation({"problem": problem, "runs": runs})
    assert caught.value.loc == loc
    assert "f is not defined" in caught.value.message


# -- convergence: the gradient rule ------------------------------------------------------


def _by_the_gradient_rule(norms: np.ndarray, tolerance: float, window: int) -> int | None:
    """converged_at computed here from the gradient norms of a path (docs/API.md)."""
    gauges = np.array([norms[max(0, t - window + 1) : t + 1].mean() for t in range(len(norms))])
    inside = gauges <= tolerance
    if not inside[-1]:
        return None
    outside = np.flatnonzero(~inside)
    return int(outside[-1] + 1) if len(outside) else 0


@pytest.mark.parametrize(
    ("noise", "window", "schedule"),
    [(0.0, 1, {}), (0.5, 50, {"name": "inverse_time", "k": 0.05})],  # noise needs a decay
)
def test_a_typed_formula_converges_by_its_gradient(noise, window, schedule):
    # The steep valley's gradient by hand: (0.2 x, 4 y).
    problem = {
        "name": "custom",
        "expression": "0.1*x^2 + 2*y^2",
        "start": [-4.5, 1.5],
        "noise": noise,
    }
    runs = [
        {"optimizer": "sgd", "params": {"alpha": 0.2}, "schedule": schedule},
        {"optimizer": "adam", "params": {"alpha": 0.1}},
    ]
    result = run(problem, runs, steps=3000, seed=1)
    tolerance = math.sqrt(
        2 * (convergence.NOISY_TOLERANCE if noise else convergence.EXACT_TOLERANCE)
    )
    assert convergence.GRADIENT_TOLERANCES[1 if noise else 0] == tolerance
    for path, converged in zip(result.paths, result.converged_at, strict=True):
        norms = np.hypot(0.2 * path[:, 0], 4 * path[:, 1])
        assert converged == _by_the_gradient_rule(norms, tolerance, window)
    assert result.converged_at[0] is not None


def test_a_run_that_settles_on_a_saddle_counts_as_converged():
    # Started exactly on the ridge y = 0, gradient descent walks into the saddle at 0.
    problem = {"name": "custom", "expression": "x^2 - y^2", "start": [2, 0]}
    result = run(problem, [{"optimizer": "sgd", "params": {"alpha": 0.1}}], steps=100)
    assert result.converged_at[0] is not None and result.paths[0][-1][1] == 0


def test_the_stream_and_the_post_agree_on_a_typed_formula():
    request = {
        "problem": {"name": "custom", "expression": "x^2 + 10*sin(y)", "noise": 0.3},
        "steps": 400,
        "runs": [{"optimizer": "adam", "params": {"alpha": 0.1}}, *EVERY_OPTIMIZER],
    }
    whole = simulate(build_simulation(request))
    execution = Execution(build_simulation(request))
    chunks = list(execution.chunks(37))
    for row in range(len(whole.paths)):
        np.testing.assert_array_equal(
            np.concatenate([c.paths[row] for c in chunks]), whole.paths[row]
        )
    assert list(execution.converged_at) == [-1 if c is None else c for c in whole.converged_at]


# -- the window and the grid -----------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "start", "x", "y"),
    [
        ("x^2 + 10*sin(y)", None, (-5, 5), (-5, 5)),
        ("x + y", None, (-5, 5), (-5, 5)),  # no bottom: the plain window
        ("(x - 20)^2 + (y - 20)^2", None, (-10, 25), (-10, 25)),  # the bottom taken in
        ("x^2 + y^2", [30, -2], (-5, 35), (-5, 5)),  # the start taken in
    ],
)
def test_the_window_is_fitted_from_the_start_and_the_values(expression, start, x, y):
    spec = {"name": "custom", "expression": expression}
    if start is not None:
        spec["start"] = start
    window = resolve_problem(spec)["range"]
    assert tuple(window["x"]) == x and tuple(window["y"]) == y


def test_a_given_window_is_kept_and_its_ends_checked():
    spec = {"name": "custom", "expression": "x*y", "range": {"x": [-1, 2], "y": [0, 3]}}
    assert resolve_problem(spec)["range"] == {"x": [-1.0, 2.0], "y": [0.0, 3.0]}
    with pytest.raises(InvalidSpec) as caught:
        resolve_problem({**spec, "range": {"x": [2, 1], "y": [0, 3]}})
    assert caught.value.loc == ("problem", "range", "x", 1)


def test_the_grid_is_null_where_f_is_not_defined():
    xs, ys, z = loss_grid({"name": "custom", "expression": "log(x) + y", "start": [1, 0]}, 0, 11)
    assert (~np.isfinite(z) == (xs[None, :] <= 0)).all()  # NaN below 0, -inf at 0
    defined = xs > 0
    np.testing.assert_allclose(z[:, defined], np.log(xs[defined])[None, :] + ys[:, None])


def test_unknown_fields_of_custom_name_the_valid_ones():
    with pytest.raises(InvalidSpec) as caught:
        resolve_problem({"name": "custom", "formula": "x"})
    assert caught.value.loc == ("problem", "formula")
    assert "valid parameters: expression, start, range, noise" in caught.value.message
