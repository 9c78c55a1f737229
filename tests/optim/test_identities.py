"""Where theory says two rules coincide, the engine's paths coincide exactly."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine_helpers import path_of
from tests.optim.reference import DEFAULTS, reference_path, rosenbrock_grad

BACKENDS = ("compiled", "numpy")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["momentum", "nesterov"])
def test_momentum_and_nesterov_with_zero_beta_are_sgd(variant, backend):
    sgd = path_of("rosenbrock", "sgd", {"alpha": 1e-3}, steps=200, backend=backend)
    other = path_of("rosenbrock", variant, {"alpha": 1e-3, "beta": 0.0}, steps=200, backend=backend)
    np.testing.assert_array_equal(other, sgd)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adam_with_zero_beta1_and_no_bias_correction_is_rmsprop(backend):
    adam = path_of(
        "rosenbrock",
        "adam",
        {"alpha": 1e-3, "beta1": 0.0, "beta2": 0.95, "bias_correction": False},
        steps=300,
        backend=backend,
    )
    rmsprop = path_of(
        "rosenbrock", "rmsprop", {"alpha": 1e-3, "gamma": 0.95}, steps=300, backend=backend
    )
    np.testing.assert_array_equal(adam, rmsprop)


@pytest.mark.parametrize("backend", BACKENDS)
def test_amsgrad_equals_adam_while_the_second_moment_never_falls(backend):
    steps = 60
    params = {"alpha": 1e-3}
    # Check the premise independently: s_t never decreases over these updates.
    s_values = []
    x, y = -1.5, 2.0
    s = [0.0, 0.0]
    path = reference_path("adam", {**DEFAULTS["adam"], **params}, rosenbrock_grad, (x, y), steps)
    for px, py in path[:-1]:
        g = rosenbrock_grad(px, py)
        s = [0.999 * s[i] + 0.001 * g[i] ** 2 for i in range(2)]
        s_values.append(tuple(s))
    assert all(b[0] >= a[0] and b[1] >= a[1] for a, b in zip(s_values, s_values[1:], strict=False))

    adam = path_of("rosenbrock", "adam", params, steps=steps, backend=backend)
    amsgrad = path_of("rosenbrock", "amsgrad", params, steps=steps, backend=backend)
    np.testing.assert_array_equal(amsgrad, adam)


def test_amsgrad_differs_from_adam_once_the_second_moment_falls():
    # Long runs on Rosenbrock pass through flat stretches where s shrinks.
    adam = path_of("rosenbrock", "adam", {"alpha": 0.02}, steps=2000)
    amsgrad = path_of("rosenbrock", "amsgrad", {"alpha": 0.02}, steps=2000)
    assert np.max(np.abs(adam - amsgrad)) > 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
def test_lion_with_zero_betas_is_sign_descent(backend):
    # c = g and v = g: x ← x − α sign(g), transcribed here in plain floats.
    lion = path_of(
        "rosenbrock",
        "lion",
        {"alpha": 1e-3, "beta1": 0.0, "beta2": 0.0},
        steps=200,
        backend=backend,
    )
    x = [-1.5, 2.0]
    expected = [tuple(x)]
    for _ in range(200):
        g = rosenbrock_grad(*x)
        x = [x[i] - 1e-3 * ((g[i] > 0) - (g[i] < 0)) for i in range(2)]
        expected.append(tuple(x))
    np.testing.assert_array_equal(lion, expected)
