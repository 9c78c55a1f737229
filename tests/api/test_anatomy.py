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
    "diverged_at", "diverged_reason", "converged_at", "blew_up_at",
}  # fmt: skip
SYMBOLS = {
    "sgd": [], "momentum": ["v"], "nesterov": ["v"], "adagrad": ["G"], "rmsprop": ["s"],
    "adam": ["v", "s"], "adadelta": ["s", "d"], "nadam": ["v", "s"], "adamax": ["v", "u"],
    "amsgrad": ["v", "s", "m"], "adamw": ["v", "s"], "radam": ["v", "s"],
    "adabelief": ["v", "s"], "lion": ["v"],
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
        anatomy = {"alpha_t", "grad", "state", "effective_lr"}
        anatomy |= {"lookahead"} if name == "nesterov" else set()
        assert set(run) == RUN_FIELDS | anatomy, name
        assert list(run["state"]) == SYMBOLS[name]
        # Entry t − 1 is update t: one fewer than the points; α_t is one per point.
        for field in ("grad", "effective_lr", *(["lookahead"] * (name == "nesterov"))):
            assert len(run[field]) == len(run["path"]) - 1 == 60, (name, field)
        assert len(run["alpha_t"]) == len(run["path"])
        # The engine's numbers, every digit (orjson writes float64 exactly).
        expected = result.anatomy[row]
        assert np.array_equal(run["grad"], expected.grad)
        assert np.array_equal(run["effective_lr"], expected.effective_lr)
        assert np.array_equal(run["alpha_t"][1:], expected.alpha_t)
        assert run["alpha_t"][0] == run["alpha_t"][1]  # the start: the first update's
        if name == "sgd":  # α = 0.01, inverse-time decay with k = 0.1, epoch e = t − 1
            expected_rates = [0.01, 0.01, 0.01 / 1.1, 0.01 / 1.2]
            assert run["alpha_t"][:4] == pytest.approx(expected_rates, rel=1e-15)
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


def test_anatomy_comes_with_every_update_so_not_with_a_stride(http: httpx.Client) -> None:
    response = http.post("/api/runs", json={**EVERY, "anatomy": True, "stride": 5})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "anatomy"] and "stride 1" in item["msg"]
    assert http.post("/api/runs", json={**EVERY, "anatomy": True, "stride": 1}).status_code == 200


@pytest.mark.parametrize("value", [1, "true", None, [True]])
def test_the_flag_is_true_or_false(http: httpx.Client, value) -> None:
    response = http.post("/api/runs", json={**EVERY, "anatomy": value})
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert (item["loc"], item["msg"]) == (["body", "anatomy"], "must be true or false")
