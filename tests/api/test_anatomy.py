"""POST /api/runs with ``"anatomy": true`` (docs/API.md, Anatomy) against a live server:
every rule's fields by its symbols, the engine's numbers, and nothing changed without it."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from app.engine import build_simulation, simulate
from tests.api.helpers import OPTIMIZERS, request

RUN_FIELDS = {
    "optimizer", "params", "schedule", "start", "path", "loss",
    "diverged_at", "converged_at", "blew_up_at",
}  # fmt: skip
SYMBOLS = {
    "sgd": [], "momentum": ["v"], "nesterov": ["v"], "adagrad": ["G"], "rmsprop": ["s"],
    "adam": ["v", "s"], "adadelta": ["s", "d"], "nadam": ["v", "s"], "adamax": ["v", "u"],
    "amsgrad": ["v", "s", "m"],
}  # fmt: skip
EVERY = request(
    {"name": "noisy_bowl", "noise": 0.5},
    *({"optimizer": name, "schedule": {"name": "inverse_time", "k": 0.1}} for name in OPTIMIZERS),
    steps=60,
    seed=5,
)


def test_every_rule_names_its_state_by_its_symbols(http: httpx.Client) -> None:
    response = http.post("/api/runs", json={**EVERY, "anatomy": True})
    assert response.status_code == 200
    result = simulate(build_simulation({**EVERY, "anatomy": True}))
    for row, run in enumerate(response.json()["runs"]):
        name = run["optimizer"]
        anatomy = {"grad", "alpha_t", "state", "effective_lr"}
        anatomy |= {"lookahead"} if name == "nesterov" else set()
        assert set(run) == RUN_FIELDS | anatomy, name
        assert list(run["state"]) == SYMBOLS[name]
        # Entry t − 1 is update t: one fewer than the points.
        for field in ("grad", "alpha_t", "effective_lr", *(["lookahead"] * (name == "nesterov"))):
            assert len(run[field]) == len(run["path"]) - 1 == 60, (name, field)
        # The engine's numbers, every digit (orjson writes float64 exactly).
        expected = result.anatomy[row]
        assert np.array_equal(run["grad"], expected.grad)
        assert np.array_equal(run["effective_lr"], expected.effective_lr)
        assert np.array_equal(run["alpha_t"], expected.alpha_t)
        if name == "sgd":  # α = 0.01, inverse-time decay with k = 0.1, epoch e = t − 1
            assert run["alpha_t"][:3] == pytest.approx([0.01, 0.01 / 1.1, 0.01 / 1.2], rel=1e-15)
        for symbol, values in run["state"].items():
            assert np.array_equal(values, expected.state[symbol]), (name, symbol)


def test_without_the_flag_the_answer_is_as_before(http: httpx.Client) -> None:
    plain = http.post("/api/runs", json=EVERY)
    off = http.post("/api/runs", json={**EVERY, "anatomy": False})
    on = http.post("/api/runs", json={**EVERY, "anatomy": True}).json()
    assert plain.content == off.content  # the same bytes
    for before, after in zip(plain.json()["runs"], on["runs"], strict=True):
        assert set(before) == RUN_FIELDS
        assert {k: v for k, v in after.items() if k in RUN_FIELDS} == before


def test_a_diverged_runs_anatomy_stops_with_its_path(http: httpx.Client) -> None:
    body = request("steep_valley", {"optimizer": "nesterov", "params": {"alpha": 1.5}},
                   steps=100, anatomy=True)  # fmt: skip
    (run,) = http.post("/api/runs", json=body).json()["runs"]
    assert run["diverged_at"] is not None
    assert (
        len(run["grad"])
        == len(run["lookahead"])
        == len(run["state"]["v"])
        == run["diverged_at"] - 1
    )


@pytest.mark.parametrize("value", [1, "true", None, [True]])
def test_the_flag_is_true_or_false(http: httpx.Client, value) -> None:
    response = http.post("/api/runs", json={**EVERY, "anatomy": value})
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert (item["loc"], item["msg"]) == (["body", "anatomy"], "must be true or false")
