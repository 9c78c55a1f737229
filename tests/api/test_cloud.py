"""POST /api/cloud (docs/API.md): every minibatch's gradient of one epoch at one point,
against a live server and the engine's own runs."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from app.engine import build_simulation, simulate

LINEAR = {"name": "linear_regression", "n_samples": 90, "noise": 0.8}
LOGISTIC = {"name": "logistic_regression", "n_samples": 61, "noise": 0.1}


@pytest.mark.parametrize("problem", [LINEAR, LOGISTIC], ids=["linear", "logistic"])
@pytest.mark.parametrize("batch_size", [1, 7, 16, 61])
def test_the_clouds_weighted_mean_is_the_full_gradient(http: httpx.Client, problem, batch_size):
    body = {"problem": problem, "seed": 4, "batch_size": batch_size, "t": 30, "at": [1.3, -0.4]}
    cloud = http.post("/api/cloud", json=body).raise_for_status().json()
    sizes, gradients = np.array(cloud["sizes"]), np.array(cloud["gradients"])
    n = problem["n_samples"]
    assert sizes.sum() == n and len(sizes) == len(gradients) == -(-n // batch_size)
    assert (sizes[:-1] == batch_size).all()  # the last batch of an epoch may be smaller
    mean = (sizes[:, None] * gradients).sum(axis=0) / n
    np.testing.assert_allclose(mean, cloud["full"], rtol=1e-12, atol=1e-14)
    per_epoch = len(sizes)
    assert (cloud["epoch"], cloud["batch"]) == divmod(30 - 1, per_epoch)


@pytest.mark.parametrize("batch_size", [1, 9, 90])
def test_the_batch_update_t_used_is_the_runs_own_gradient(http: httpx.Client, batch_size):
    # A run with anatomy: its gradient at update t, taken at x_{t−1}, is the cloud's
    # batch at that point.
    run = {
        "problem": LINEAR,
        "steps": 40,
        "seed": 2,
        "runs": [{"optimizer": "momentum", "params": {"alpha": 0.02}, "batch_size": batch_size}],
        "anatomy": True,
    }
    result = simulate(build_simulation(run))
    for t in (1, 11, 25, 40):
        at = result.paths[0][t - 1].tolist()
        body = {"problem": LINEAR, "seed": 2, "batch_size": batch_size, "t": t, "at": at}
        cloud = http.post("/api/cloud", json=body).json()
        used = cloud["gradients"][cloud["batch"]]
        np.testing.assert_allclose(used, result.anatomy[0].grad[t - 1], rtol=1e-12, atol=1e-14)


def test_smaller_batches_scatter_wider(http: httpx.Client) -> None:
    def spread(batch_size):
        body = {"problem": LINEAR, "batch_size": batch_size, "t": 1, "at": [0.0, 0.0]}
        cloud = http.post("/api/cloud", json=body).json()
        gradients = np.array(cloud["gradients"])[:-1]  # batches of the full size
        return np.sqrt(((gradients - cloud["full"]) ** 2).sum(axis=1).mean())

    assert spread(1) > 2 * spread(9) > 0


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"problem": {"name": "rosenbrock"}}, ["body", "problem", "name"]),
        ({"batch_size": 91}, ["body", "batch_size"]),
        ({"problem": {**LINEAR, "batch_size": 100}}, ["body", "problem", "batch_size"]),
        ({"t": 0}, ["body", "t"]),
        ({"t": 2.5}, ["body", "t"]),
        ({"at": [1.0]}, ["body", "at"]),
        ({"at": None}, ["body", "at"]),
        ({"seed": -1}, ["body", "seed"]),
        ({"steps": 3}, ["body", "steps"]),
    ],
)
def test_bad_input_names_the_field(http: httpx.Client, change, loc) -> None:
    body = {"problem": LINEAR, "t": 3, "at": [0.0, 0.0], **change}
    response = http.post("/api/cloud", json=body)
    assert response.status_code == 422, response.text
    assert loc in [item["loc"][: len(loc)] for item in response.json()["detail"]]
