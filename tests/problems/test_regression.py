"""Seeded datasets, per-epoch minibatches and the loss in (w, b)."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import Execution, build_simulation, simulate
from app.problems import regression
from app.problems.registry import PROBLEMS


def test_each_epoch_walks_every_sample_once_with_a_short_last_batch():
    batches = regression.minibatches(n_samples=10, batch_size=4, seed=3, first=1, count=6)
    assert batches.sizes.tolist() == [4, 4, 2, 4, 4, 2]
    for epoch in range(2):
        used = np.concatenate(
            [
                batches.order[s : s + n]
                for s, n in zip(
                    batches.starts[3 * epoch : 3 * epoch + 3],
                    batches.sizes[3 * epoch : 3 * epoch + 3],
                    strict=True,
                )
            ]
        )
        assert sorted(used.tolist()) == list(range(10))


def test_epochs_are_shuffled_differently_and_reproducibly():
    a = regression.minibatches(50, 50, seed=0, first=1, count=2)
    b = regression.minibatches(50, 50, seed=0, first=2, count=1)
    assert not np.array_equal(a.order[:50], a.order[50:])
    np.testing.assert_array_equal(a.order[50:], b.order)


def test_a_stretch_of_updates_matches_the_same_updates_of_a_longer_stretch():
    whole = regression.minibatches(37, 5, seed=9, first=1, count=40)
    part = regression.minibatches(37, 5, seed=9, first=17, count=10)
    for k in range(10):
        w0, wn = whole.starts[16 + k], whole.sizes[16 + k]
        p0, pn = part.starts[k], part.sizes[k]
        np.testing.assert_array_equal(whole.order[w0 : w0 + wn], part.order[p0 : p0 + pn])


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
@pytest.mark.parametrize("name", ["linear_regression", "logistic_regression"])
def test_full_batch_gradient_equals_central_differences_of_the_loss(name, backend):
    points = np.array([[0.3, -0.7], [2.5, 1.0], [-1.0, 2.0]])
    alpha = 1e-3
    simulation = build_simulation(
        {
            "problem": {"name": name, "n_samples": 300, "batch_size": 300},
            "steps": 1,
            "runs": [
                {"optimizer": "sgd", "params": {"alpha": alpha}, "start": list(p)} for p in points
            ],
        }
    )
    # One plain gradient step from each point: x_1 = x_0 - α ∇L(x_0).
    result = simulate(simulation, backend=backend)
    gradient = np.array([(path[0] - path[1]) / alpha for path in result.paths])
    execution = Execution(simulation, backend="numpy")
    h = 1e-6
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = h
        fd = (execution.loss_at(points + step) - execution.loss_at(points - step)) / (2 * h)
        np.testing.assert_allclose(gradient[:, axis], fd, rtol=1e-6, atol=1e-8)


def test_linear_data_follows_the_line_and_logistic_labels_are_binary():
    x, y = regression.linear_data(5000, 0.0, seed=4)
    np.testing.assert_allclose(y, 2.0 * x - 1.0)
    _, labels = regression.logistic_data(500, 0.2, seed=4)
    assert set(np.unique(labels)) <= {0.0, 1.0}


def test_logistic_loss_is_the_cross_entropy():
    z, y = np.array([-3.0, 0.5, 15.0]), np.array([1.0, 0.0, 1.0])
    p = 1 / (1 + np.exp(-z))
    expected = -y * np.log(p) - (1 - y) * np.log(1 - p)
    np.testing.assert_allclose(regression.logistic_loss(z, y), expected, rtol=1e-9, atol=1e-15)


def test_best_fit_is_where_the_loss_gradient_vanishes():
    for problem in (regression.LINEAR, regression.LOGISTIC):
        x, y = problem.make_data(400, 0.3 if problem is regression.LINEAR else 0.1, seed=2)
        w, b = regression.best_fit(problem, x, y)
        d = problem.sample_dloss(w * x + b, y)
        assert abs(np.mean(d * x)) < 1e-9 and abs(np.mean(d)) < 1e-9


def test_regression_problems_use_w_and_b_axes():
    assert PROBLEMS["linear_regression"].axes == ("w", "b")


def test_separable_labels_have_no_finite_best_fit():
    x = np.linspace(-3, 3, 20)
    y = (x > 0).astype(float)
    assert regression.best_fit(regression.LOGISTIC, x, y) is None
