"""Each schedule gives the α_t of docs/API.md (Learning-rate schedules), and the engine uses it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.engine_helpers import path_of

CASES = {
    "constant": ({}, lambda e: 1.0),
    "step": ({"every": 3, "factor": 0.5}, lambda e: 0.5 ** (e // 3)),
    "exponential": ({"k": 0.1}, lambda e: math.exp(-0.1 * e)),
    "inverse_time": ({"k": 0.2}, lambda e: 1 / (1 + 0.2 * e)),
}


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
@pytest.mark.parametrize("name", list(CASES))
def test_sgd_on_a_bowl_moves_by_the_scheduled_rate(name, backend):
    extra, decay = CASES[name]
    # On ½|x|² the gradient is x, so x_t = x_{t-1}(1 - α_t): α_t can be read off the path.
    path = path_of(
        {"name": "noisy_bowl", "noise": 0.0},
        "sgd",
        {"alpha": 0.1},
        steps=12,
        backend=backend,
        schedule={"name": name, **extra},
    )
    rates = 1 - path[1:, 0] / path[:-1, 0]
    expected = [0.1 * decay(t - 1) for t in range(1, 13)]  # surfaces: epoch e = t - 1
    np.testing.assert_allclose(rates, expected, rtol=1e-12)


def test_regression_epochs_count_whole_passes_over_the_data():
    # 40 samples in batches of 10: four updates per epoch share one rate.
    from app.engine import Execution, build_simulation

    request = {
        "problem": {"name": "linear_regression", "n_samples": 40, "batch_size": 10},
        "steps": 12,
        "runs": [{"optimizer": "sgd", "schedule": {"name": "step", "every": 1, "factor": 0.5}}],
    }
    execution = Execution(build_simulation(request))
    from app.optim.schedules import learning_rates
    from app.problems.regression import epoch_of_updates

    epochs = epoch_of_updates(1, 12, execution.per_epoch[0])
    rates = learning_rates(execution.alpha, execution.schedules, execution.schedule_of_row, epochs)[
        :, 0
    ]
    assert rates.tolist() == [0.01] * 4 + [0.005] * 4 + [0.0025] * 4
