"""What a runs answer carries beyond the path: a stride's thinning, each point's
learning rate and epoch length, the line a regression's data were drawn from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import Execution, build_simulation, simulate

# A run that diverges early (SGD with α = 1 on the steep valley), runs that stay.
MIXED = {
    "problem": {"name": "steep_valley"},
    "steps": 60,
    "runs": [
        {"optimizer": "sgd", "params": {"alpha": 1.0}},
        {"optimizer": "adam", "params": {"alpha": 0.1}},
        {"optimizer": "momentum", "params": {"alpha": 0.05}},
    ],
}
MINIBATCH = {
    "problem": {"name": "linear_regression", "n_samples": 40, "noise": 0.3},
    "steps": 45,
    "seed": 3,
    "runs": [
        {"optimizer": "sgd", "params": {"alpha": 0.05}, "batch_size": 1},
        {"optimizer": "nesterov", "batch_size": 7},
        {"optimizer": "adam", "params": {"alpha": 0.2}, "batch_size": 40},
    ],
}


@pytest.mark.parametrize("body", [MIXED, MINIBATCH], ids=["diverging", "minibatches"])
@pytest.mark.parametrize("stride", [2, 7, 60, 1000])
def test_a_stride_keeps_every_strideth_point_and_the_last(body, stride):
    full = simulate(build_simulation(body))
    thin = simulate(build_simulation({**body, "stride": stride}))
    for row in range(len(body["runs"])):
        points = len(full.paths[row])
        expected = sorted(set(range(0, points, stride)) | {points - 1})
        assert thin.updates[row].tolist() == expected
        np.testing.assert_array_equal(thin.paths[row], full.paths[row][expected])
        np.testing.assert_array_equal(thin.losses[row], full.losses[row][expected])
        np.testing.assert_array_equal(thin.rates[row], full.rates[row][expected])
    # Every update is still computed and judged.
    assert (thin.diverged_at, thin.converged_at, thin.blew_up_at) == (
        full.diverged_at,
        full.converged_at,
        full.blew_up_at,
    )
    assert full.updates[0].tolist() == list(range(len(full.paths[0])))


def test_chunks_of_any_size_join_to_the_thinned_answer():
    """The stream's chunks hold exactly the answer's points, whatever the chunk size —
    also when a run diverges on the first update of a chunk, so that its last point
    (off the stride's grid) came in the chunk before and is held back until then."""
    divergence = simulate(build_simulation(MIXED)).diverged_at[0]
    held_back = 0
    for stride in range(1, 8):
        body = {**MIXED, "stride": stride}
        whole = simulate(build_simulation(body))
        for size in range(1, 14):
            joined = [{"t": [], "path": [], "loss": []} for _ in body["runs"]]
            chunks = Execution(build_simulation(body)).chunks(size)
            for number, chunk in enumerate(chunks):
                first_update = 0 if number == 0 else 1 + (number - 1) * size
                for row, run in enumerate(joined):
                    if len(chunk.updates[row]):
                        assert len(run["t"]) == chunk.first  # `from` is the index
                        held_back += int(chunk.updates[row][0] < first_update)
                    run["t"] += chunk.updates[row].tolist()
                    run["path"] += chunk.paths[row].tolist()
                    run["loss"] += chunk.losses[row].tolist()
            for row, run in enumerate(joined):
                assert run["t"] == whole.updates[row].tolist()
                assert run["path"] == whole.paths[row].tolist()
                assert run["loss"] == whole.losses[row].tolist()
            # A chunk boundary right at the divergence, with the point before off-grid.
            if (divergence - 1) % size == 0 and (divergence - 1) % stride:
                assert joined[0]["t"][-1] == divergence - 1
    assert held_back, "no case held a last point back: the test lost its corner"


def _step_rate(alpha: float, every: int, factor: float, epoch: int) -> float:
    return alpha * factor ** math.floor(epoch / every)


def test_alpha_t_is_the_schedule_at_the_epoch_of_each_points_update():
    schedule = {"name": "step", "every": 2, "factor": 0.5}
    body = {
        **MINIBATCH,
        "runs": [{**run, "schedule": schedule} for run in MINIBATCH["runs"]],
    }
    result = simulate(build_simulation(body))
    n_samples = body["problem"]["n_samples"]
    sizes = [run["batch_size"] for run in body["runs"]]
    assert result.updates_per_epoch == [math.ceil(n_samples / size) for size in sizes]
    assert result.updates_per_epoch == [40, 6, 1]
    for row, run in enumerate(result.simulation.runs):
        per_epoch = result.updates_per_epoch[row]
        expected = [
            _step_rate(run.params["alpha"], 2, 0.5, (max(t, 1) - 1) // per_epoch)
            for t in result.updates[row].tolist()
        ]
        np.testing.assert_allclose(result.rates[row], expected, rtol=1e-15)


def test_alpha_t_is_the_rate_the_update_used():
    """Full-batch gradient descent on a line fit: each step is −α_t times the gradient
    of the mean squared error, computed here from the answer's data."""
    body = {
        "problem": {"name": "linear_regression", "n_samples": 30, "batch_size": 30},
        "steps": 12,
        "seed": 1,
        "runs": [
            {
                "optimizer": "sgd",
                "params": {"alpha": 0.2},
                "schedule": {"name": "exponential", "k": 0.3},
            }
        ],
    }
    result = simulate(build_simulation(body))
    x, y = result.data["x"], result.data["y"]
    path, rates = result.paths[0], result.rates[0]
    for t in range(1, len(path)):
        w, b = path[t - 1]
        residual = w * x + b - y
        gradient = np.array([np.mean(2 * residual * x), np.mean(2 * residual)])
        np.testing.assert_allclose(path[t], path[t - 1] - rates[t] * gradient, rtol=1e-12)
    assert rates[1] == 0.2 and rates[2] == pytest.approx(0.2 * math.exp(-0.3), rel=1e-15)


def test_the_linear_data_lie_on_their_true_line_without_noise():
    body = {
        "problem": {"name": "linear_regression", "noise": 0.0},
        "runs": [{"optimizer": "sgd"}],
        "steps": 1,
    }
    data = simulate(build_simulation(body)).data
    w, b = data["true_params"]
    assert (w, b) == (2.0, -1.0)
    np.testing.assert_allclose(data["y"], w * data["x"] + b, rtol=0, atol=1e-12)


def test_the_logistic_fit_finds_the_true_line_with_enough_samples():
    body = {
        "problem": {"name": "logistic_regression", "n_samples": 5000, "noise": 0.0},
        "runs": [{"optimizer": "sgd"}],
        "steps": 1,
    }
    data = simulate(build_simulation(body)).data
    assert data["true_params"] == [2.5, 0.5]
    # The maximum-likelihood fit of 5 000 labels drawn from σ(2.5x + 0.5).
    np.testing.assert_allclose(data["minimum"], data["true_params"], atol=0.25)
