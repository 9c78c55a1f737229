"""POST /api/surface: the contour grid the page draws."""

from __future__ import annotations

import math

import httpx
import pytest


def test_surface_grid_matches_the_formula(http: httpx.Client) -> None:
    response = http.post("/api/surface", json={"problem": {"name": "rosenbrock"}, "resolution": 11})
    assert response.status_code == 200
    body = response.json()
    assert body["problem"] == {"name": "rosenbrock", "noise": 0.0}
    assert len(body["x"]) == len(body["y"]) == 11
    assert len(body["z"]) == 11 and all(len(row) == 11 for row in body["z"])
    assert body["log_color"] is True
    assert body["bounds"]["x"] == [body["x"][0], body["x"][-1]]
    j, i = 3, 7
    x, y = body["x"][i], body["y"][j]
    assert body["z"][j][i] == pytest.approx((1 - x) ** 2 + 100 * (y - x * x) ** 2)


def test_regression_surface_is_the_loss_over_the_runs_dataset(http: httpx.Client) -> None:
    problem = {"name": "linear_regression", "n_samples": 30, "noise": 0.2}
    grid = http.post("/api/surface", json={"problem": problem, "seed": 5, "resolution": 10}).json()
    run = http.post(
        "/api/runs",
        json={"problem": problem, "seed": 5, "steps": 1,
              "runs": [{"optimizer": "sgd", "start": [grid["x"][2], grid["y"][4]]}]},
    ).json()  # fmt: skip
    assert run["runs"][0]["loss"][0] == pytest.approx(grid["z"][4][2])


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"problem": {"name": "rosenbrock"}, "resolution": 5}, ["body", "resolution"]),
        ({"problem": {"name": "rosenbrock"}, "resolution": 201}, ["body", "resolution"]),
        ({"problem": {"name": "nowhere"}}, ["body", "problem", "name"]),
        ({"problem": {"name": "rosenbrock", "noise": -1}}, ["body", "problem", "noise"]),
        (  # 200² × 5 000 loss terms: past the regression budget
            {"problem": {"name": "logistic_regression", "n_samples": 5000}, "resolution": 200},
            ["body", "resolution"],
        ),
    ],
)
def test_bad_surface_requests(http: httpx.Client, body: dict, loc: list) -> None:
    response = http.post("/api/surface", json=body)
    assert response.status_code == 422
    assert any(item["loc"] == loc for item in response.json()["detail"])


def test_noise_and_batch_size_do_not_change_the_grid_but_are_echoed(http: httpx.Client) -> None:
    base = {"name": "linear_regression", "n_samples": 50, "noise": 0.3}
    one = http.post("/api/surface", json={"problem": {**base, "batch_size": 1}, "resolution": 12})
    all_ = http.post("/api/surface", json={"problem": {**base, "batch_size": 50}, "resolution": 12})
    assert one.json()["z"] == all_.json()["z"]
    assert one.json()["problem"]["batch_size"] == 1 and all_.json()["problem"]["batch_size"] == 50
    quiet = http.post("/api/surface", json={"problem": {"name": "noisy_bowl", "noise": 0.0}})
    loud = http.post("/api/surface", json={"problem": {"name": "noisy_bowl", "noise": 2.0}})
    assert quiet.json()["z"] == loud.json()["z"] and loud.json()["problem"]["noise"] == 2.0


def test_a_regression_grid_at_the_budget_is_served_and_past_it_refused(http: httpx.Client) -> None:
    budget = http.get("/api/catalog").json()["limits"]["max_sample_work"]
    problem = {"name": "linear_regression", "n_samples": 5000}
    resolution = math.isqrt(budget // 5000)  # 141: the largest grid of 5 000 samples
    served = http.post("/api/surface", json={"problem": problem, "resolution": resolution})
    assert served.status_code == 200 and len(served.json()["z"]) == resolution
    refused = http.post("/api/surface", json={"problem": problem, "resolution": resolution + 1})
    assert refused.status_code == 422
    item = refused.json()["detail"][0]
    assert item["loc"] == ["body", "resolution"]
    assert f"{resolution + 1}² × 5,000" in item["msg"] and f"{budget:,}" in item["msg"]
