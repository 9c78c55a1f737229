"""POST /api/sweeps: a grid of runs in one request, answered as JSON grids."""

from __future__ import annotations

import httpx
import pytest

from tests.engine_helpers import run

ALPHA_BETA = {
    "problem": {"name": "rosenbrock"},
    "optimizer": "momentum",
    "steps": 300,
    "x_axis": {"param": "alpha", "min": 1e-4, "max": 3e-3, "count": 6},
    "y_axis": {"param": "beta", "min": 0.0, "max": 0.95, "count": 4},
}


def test_sweep_answers_grids_that_match_single_runs(http: httpx.Client) -> None:
    response = http.post("/api/sweeps", json=ALPHA_BETA)
    assert response.status_code == 200
    body = response.json()
    assert len(body["final_loss"]) == 4 and all(len(row) == 6 for row in body["final_loss"])
    assert body["params"] == {
        "alpha": 0.01,
        "beta": 0.9,
        "beta_warmup_steps": 0,
        "weight_decay": 0.0,
    }
    alpha, beta = body["x_axis"]["values"][1], body["y_axis"]["values"][2]
    single = run(
        "rosenbrock",
        [{"optimizer": "momentum", "params": {"alpha": alpha, "beta": beta}}],
        steps=300,
    )
    assert body["final_loss"][2][1] == single.losses[0][-1]
    assert body["final_point"][2][1] == single.paths[0][-1].tolist()  # where it ended
    assert body["converged_at"][2][1] == single.converged_at[0]
    # The biggest steps with the most momentum diverge: null loss and point, an update index.
    assert body["final_loss"][3][5] is None and body["diverged_at"][3][5] > 0
    assert body["final_point"][3][5] is None


def test_start_point_sweep_reports_which_minimum_each_cell_reached(http: httpx.Client) -> None:
    body = http.post(
        "/api/sweeps",
        json={
            "problem": {"name": "himmelblau"},
            "optimizer": "adam",
            "params": {"alpha": 0.05},
            "steps": 1500,
            "x_axis": {"param": "start_x", "count": 16},
            "y_axis": {"param": "start_y", "count": 16},
        },
    ).json()
    reached = {index for row in body["minimum_index"] for index in row if index is not None}
    assert reached == {0, 1, 2, 3} and len(body["minima"]) == 4


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"optimizer": "adam2"}, ["body", "optimizer"]),
        ({"x_axis": {"param": "rho"}}, ["body", "x_axis", "param"]),
        ({"x_axis": {"param": "alpha", "count": 300}}, ["body", "x_axis", "count"]),
        ({"x_axis": {"param": "alpha", "min": 1.0, "max": 0.1}}, ["body", "x_axis", "max"]),
        ({"steps": 5001}, ["body", "steps"]),
        ({"y_axis": {"param": "alpha"}}, ["body", "y_axis", "param"]),
        ({"grid": 3}, ["body", "grid"]),
    ],
)
def test_bad_sweeps_answer_422_naming_the_field(http: httpx.Client, change, loc) -> None:
    response = http.post("/api/sweeps", json={**ALPHA_BETA, **change})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


def test_a_regression_sweep_of_defaults_only_is_accepted(http: httpx.Client) -> None:
    """32 × 32 cells, 1 000 steps, 200 samples: within the sweeps' own budget."""
    body = {
        "problem": {"name": "linear_regression"},
        "optimizer": "sgd",
        "x_axis": {"param": "alpha"},
        "y_axis": {"param": "start_x"},
    }
    response = http.post("/api/sweeps", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["steps"] == 1000 and answer["problem"]["n_samples"] == 200
    assert len(answer["final_loss"]) == len(answer["final_loss"][0]) == 32


def test_nan_in_an_axis_is_refused_not_a_500(http: httpx.Client) -> None:
    text = (
        '{"problem": {"name": "rosenbrock"}, "optimizer": "sgd",'
        ' "x_axis": {"param": "alpha", "min": NaN}, "y_axis": {"param": "start_x"}}'
    )
    response = http.post("/api/sweeps", content=text, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500


def test_lessons_are_listed_with_runnable_scenes(http: httpx.Client) -> None:
    lessons = http.get("/api/lessons").json()
    assert [lesson["number"] for lesson in lessons] == list(range(1, len(lessons) + 1))
    first = lessons[0]
    assert {"slug", "title", "idea", "notice", "try", "scene", "speed"} <= set(first)
    response = http.post("/api/runs", json=lessons[2]["scene"])
    assert response.status_code == 200
