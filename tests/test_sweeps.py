"""Sweeps: every cell is the single run with that configuration."""

from __future__ import annotations

import numpy as np
import pytest

from app.errors import InvalidSpec
from app.sweeps import Sweep, result_as_json, run_sweep
from tests.engine_helpers import run

ALPHA_BETA = {
    "problem": {"name": "rosenbrock"},
    "optimizer": "momentum",
    "params": {"beta_warmup_steps": 3},
    "steps": 400,
    "x_axis": {"param": "alpha", "min": 1e-4, "max": 3e-3, "count": 7},
    "y_axis": {"param": "beta", "min": 0.0, "max": 0.95, "count": 5},
}


def test_a_cell_equals_the_single_run_with_that_configuration():
    result = run_sweep(ALPHA_BETA)
    for j in (0, 2, 4):
        for i in (0, 3, 6):
            alpha, beta = result.x_axis.values[i], result.y_axis.values[j]
            single = run(
                "rosenbrock",
                [
                    {
                        "optimizer": "momentum",
                        "params": {"alpha": alpha, "beta": beta, "beta_warmup_steps": 3},
                    }
                ],
                steps=400,
            )
            diverged = single.diverged_at[0]
            assert result.diverged_at[j, i] == (diverged or 0)
            if diverged is None:
                assert result.final_loss[j, i] == single.losses[0][-1]
                assert result.final_point[j, i].tolist() == single.paths[0][-1].tolist()
            else:
                assert np.isnan(result.final_loss[j, i])
                assert np.isnan(result.final_point[j, i]).all()
            assert result.converged_at[j, i] == (
                -1 if single.converged_at[0] is None else single.converged_at[0]
            )


def test_log_axis_is_geometric_and_the_grid_is_y_major():
    result = run_sweep(ALPHA_BETA)
    np.testing.assert_allclose(result.x_axis.values, np.geomspace(1e-4, 3e-3, 7))
    assert result.final_loss.shape == (5, 7)


def test_start_point_grid_on_himmelblau_finds_all_four_minima():
    result = run_sweep(
        {
            "problem": {"name": "himmelblau"},
            "optimizer": "adam",
            "params": {"alpha": 0.05},
            "steps": 1500,
            "x_axis": {"param": "start_x", "count": 24},
            "y_axis": {"param": "start_y", "count": 24},
        }
    )
    reached = set(np.unique(result.minimum_index).tolist())
    assert {0, 1, 2, 3} <= reached
    # Each start in the corner quadrant ends at the minimum of that quadrant.
    corner = result.minimum_index[-1, -1]
    assert result.minima[corner][0] > 0 and result.minima[corner][1] > 0


def test_noisy_sweep_cells_share_the_noise_of_single_runs():
    request = {
        "problem": {"name": "noisy_bowl", "noise": 0.5},
        "optimizer": "sgd",
        "steps": 300,
        "seed": 7,
        "x_axis": {"param": "alpha", "min": 0.01, "max": 0.5, "count": 4},
        "y_axis": {"param": "start_y", "min": -2, "max": 2, "count": 3},
    }
    result = run_sweep(request)
    single = run(
        {"name": "noisy_bowl", "noise": 0.5},
        [{"optimizer": "sgd", "params": {"alpha": result.x_axis.values[2]}, "start": [-3.0, 2.0]}],
        steps=300,
        seed=7,
    )
    assert result.final_loss[2, 2] == single.losses[0][-1]


def test_progress_rises_to_one_and_json_uses_null_for_did_not():
    sweep = Sweep(ALPHA_BETA)
    progress = list(sweep.chunks(100))
    assert progress == [0.25, 0.5, 0.75, 1.0]
    body = result_as_json(sweep.result())
    assert body["params"]["beta_warmup_steps"] == 3
    flat = [v for row in body["diverged_at"] for v in row]
    assert None in flat or all(isinstance(v, int) for v in flat)
    assert all(v is None or v >= 0 for row in body["converged_at"] for v in row)


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        ({"optimizer": "adam2"}, ("optimizer",), "valid optimizers"),
        ({"x_axis": {"param": "gamma"}}, ("x_axis", "param"), "valid axes"),
        ({"x_axis": {"param": "alpha", "count": 257}}, ("x_axis", "count"), "between 2 and 256"),
        ({"x_axis": {"param": "alpha", "min": 1e-3, "max": 1e-4}}, ("x_axis", "max"), "greater"),
        ({"x_axis": {"param": "alpha", "min": 0.0}}, ("x_axis", "min"), "between"),
        ({"y_axis": {"param": "alpha"}}, ("y_axis", "param"), "must differ"),
        ({"x_axis": {"param": "beta", "max": 1.5}}, ("x_axis", "max"), "between"),
        ({"steps": 5001}, ("steps",), "between 1 and 5000"),
        ({"params": {"beta1": 0.5}}, ("params", "beta1"), "valid parameters"),
        ({"colour": "red"}, ("colour",), "unknown field"),
    ],
)
def test_bad_sweeps_name_the_field(change, loc, words):
    with pytest.raises(InvalidSpec) as caught:
        Sweep({**ALPHA_BETA, **change})
    assert caught.value.loc == loc
    assert words in caught.value.message


def test_regression_sweeps_past_the_sample_budget_are_refused():
    request = {
        "problem": {"name": "logistic_regression"},
        "optimizer": "momentum",
        "steps": 1000,
        "x_axis": {"param": "alpha", "count": 64},
        "y_axis": {"param": "beta", "count": 64},
    }
    with pytest.raises(InvalidSpec) as caught:
        Sweep(request)
    assert caught.value.loc == ("steps",) and "cells × steps × n_samples" in caught.value.message
