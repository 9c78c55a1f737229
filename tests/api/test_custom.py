"""The problem ``custom`` over HTTP and the stream, against a live uvicorn: answers,
previews, errors that mark the place, hostile text refused by the parser alone,
and random token strings that never make the server answer 500."""

from __future__ import annotations

import asyncio
import math
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.problems.expression.syntax import FUNCTIONS
from tests.api.helpers import join, open_stream, request, send, until
from tests.problems.test_expression import HOSTILE

RAVINE = {"name": "custom", "expression": "0.05*x^2 + 4*(y - sin(x))^2"}


def test_runs_on_a_typed_formula(http: httpx.Client) -> None:
    body = request(
        {"name": "custom", "expression": "log(x) + y^2", "start": [1, 1]},
        {"optimizer": "adam", "params": {"alpha": 0.05}},
        {"optimizer": "sgd", "params": {"alpha": 0.3}},
        steps=300,
    )
    response = http.post("/api/runs", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["problem"] == {
        "name": "custom",
        "expression": "log(x) + y^2",
        "start": [1.0, 1.0],
        "range": {"x": [-5.0, 5.0], "y": [-5.0, 5.0]},
        "noise": 0.0,
    }
    adam, sgd = result["runs"]
    assert sgd["diverged_at"] == 3 and len(sgd["path"]) == 3
    assert "log of a negative number in 'log(x)' (column 1)" in sgd["diverged_reason"]
    x, y = adam["path"][10]
    assert adam["loss"][10] == pytest.approx(math.log(x) + y * y, rel=1e-12)
    # log(x) has no bottom: Adam's steady steps reach x ≤ 0 too, later.
    assert adam["diverged_at"] > 10 and "'log(x)'" in adam["diverged_reason"]


def test_the_surface_grid_previews_the_formula(http: httpx.Client) -> None:
    problem = {
        "name": "custom",
        "expression": "log(x)*y",
        "start": [1, 1],
        "range": {"x": [-1, 3], "y": [0, 2]},
    }
    body = http.post("/api/surface", json={"problem": problem, "resolution": 11}).json()
    assert body["bounds"] == {"x": [-1.0, 3.0], "y": [0.0, 2.0]}
    assert body["formula"] == r"f(x, y) = \log\left(x\right) \cdot y"
    assert body["formula_mathml"].startswith("<math") and "<mi>log</mi>" in body["formula_mathml"]
    # Undefined where x ≤ 0: null in the grid.
    for i, x in enumerate(body["x"]):
        column = [row[i] for row in body["z"]]
        if x <= 0:
            assert column == [None] * 11
        else:
            assert column == pytest.approx([math.log(x) * y for y in body["y"]], rel=1e-12)


def test_a_bad_expression_is_a_422_that_marks_the_place(http: httpx.Client) -> None:
    problem = {"name": "custom", "expression": "x^2 + z"}
    response = http.post("/api/surface", json={"problem": problem})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "problem", "expression"]
    assert item["msg"] == "unknown name 'z' at column 7; names: x, y, pi, e\n  x^2 + z\n        ^"
    assert item["ctx"] == {
        "column": 7,
        "end": 8,
        "rule": "unknown name 'z' at column 7; names: x, y, pi, e",
    }


@pytest.mark.parametrize("text", HOSTILE[:-1], ids=range(len(HOSTILE) - 1))
def test_hostile_expressions_are_refused(http: httpx.Client, text: str) -> None:
    body = {"problem": {"name": "custom", "expression": text}, "resolution": 10}
    response = http.post("/api/surface", json=body)
    if len(text.encode()) > 256 * 1024:  # the body limit comes first: 413
        assert response.status_code == 413
        return
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "problem", "expression"]
    assert "ctx" in item and len(item["msg"]) < 400
    assert http.get("/healthz").status_code == 200


def test_a_long_expression_under_the_body_limit_is_refused_by_length(http: httpx.Client) -> None:
    text = "x+" * 50_000 + "x"
    response = http.post("/api/surface", json={"problem": {"name": "custom", "expression": text}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"].startswith(
        "the expression is 100,001 characters long; at most 1,000"
    )


def test_a_sweep_over_start_points_on_a_typed_formula(http: httpx.Client) -> None:
    body = {
        "problem": {"name": "custom", "expression": "(x - 20)^2 + (y - 20)^2"},
        "optimizer": "adam",
        "params": {"alpha": 0.5},
        "steps": 200,
        "x_axis": {"param": "start_x", "count": 3},
        "y_axis": {"param": "start_y", "count": 2},
    }
    result = http.post("/api/sweeps", json=body).json()
    # Start axes default to the fitted window, which takes in the bottom at (20, 20).
    assert result["problem"]["range"] == {"x": [-10.0, 25.0], "y": [-10.0, 25.0]}
    assert result["x_axis"]["values"] == [-10.0, 7.5, 25.0]
    assert result["minima"] == [] and result["min_loss"] is None


def test_the_stream_runs_a_typed_formula_as_the_post_does(
    live_server: str, http: httpx.Client
) -> None:
    body = request(
        {**RAVINE, "noise": 0.2},
        {"optimizer": "momentum", "params": {"alpha": 0.01}},
        {"optimizer": "sgd", "params": {"alpha": 0.5}},
        steps=500,
    )
    expected = http.post("/api/runs", json=body).json()

    async def scenario() -> list:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 1, "request": body})
            return await until(ws, "done", 1)

    joined = join(asyncio.run(scenario()), 1)
    for streamed, posted in zip(joined["runs"], expected["runs"], strict=True):
        assert streamed == posted


def test_a_bad_expression_on_the_stream_names_the_field(live_server: str) -> None:
    async def scenario() -> dict:
        async with open_stream(live_server) as ws:
            bad = request({"name": "custom", "expression": "sin x"})
            await send(ws, {"type": "run", "id": 2, "request": bad})
            return (await until(ws, "error", 2))[-1]

    error = asyncio.run(scenario())
    assert error["code"] == "invalid_message"
    assert error["errors"][0]["loc"] == ["request", "problem", "expression"]
    assert error["errors"][0]["ctx"]["column"] == 1


# f is finite but its gradient's constant is not: refused where the formula is read,
# on every route and on the stream (the stream keeps serving).
OVERFLOWING_GRADIENT = "1e12^25*1e8*x^2"


@pytest.mark.parametrize("path", ["/api/runs", "/api/surface", "/api/sweeps"])
def test_a_formula_whose_gradient_overflows_is_a_422(http: httpx.Client, path: str) -> None:
    body = request({"name": "custom", "expression": OVERFLOWING_GRADIENT})
    if path == "/api/surface":
        body = {"problem": body["problem"]}
    elif path == "/api/sweeps":
        body = {
            "problem": body["problem"],
            "optimizer": "adam",
            "x_axis": {"param": "alpha"},
            "y_axis": {"param": "start_x"},
        }
    response = http.post(path, json=body)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "problem", "expression"]
    assert "its gradient is not finite" in item["msg"]


def test_a_formula_whose_gradient_overflows_on_the_stream(live_server: str) -> None:
    async def scenario() -> tuple[dict, dict]:
        async with open_stream(live_server) as ws:
            bad = request({"name": "custom", "expression": OVERFLOWING_GRADIENT})
            await send(ws, {"type": "run", "id": 2, "request": bad})
            error = (await until(ws, "error", 2))[-1]
            await send(ws, {"type": "run", "id": 3, "request": request("rosenbrock")})
            return error, (await until(ws, "done", 3))[-1]

    error, done = asyncio.run(scenario())
    assert error["errors"][0]["loc"] == ["request", "problem", "expression"]
    assert done["id"] == 3


def test_the_catalog_offers_the_examples(http: httpx.Client) -> None:
    problems = {p["name"]: p for p in http.get("/api/catalog").json()["problems"]}
    custom = problems["custom"]
    assert custom["grammar"]["functions"] == list(FUNCTIONS)
    assert custom["grammar"]["max_length"] == 1000
    assert [e["name"] for e in custom["examples"]] == ["ravine", "saddle", "many_minima", "plateau"]
    for example in custom["examples"]:
        body = request(
            {"name": "custom", "expression": example["expression"], "start": example["start"]},
            steps=50,
        )
        assert http.post("/api/runs", json=body).status_code == 200, example["name"]
    # Every built-in surface says how to type it.
    assert problems["rosenbrock"]["expression"] == "(1 - x)^2 + 100*(y - x^2)^2"


PIECES = [*FUNCTIONS, "x", "y", "pi", "e", "z", "(", ")", ",", "+", "-", "*", "/", "^", "**",
          "2", "0.5", "1e12", "1e308", "9", ".", " ", "_", "\x00", "х"]  # fmt: skip


@pytest.mark.timeout(240)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_random_token_strings_never_make_the_server_fail(http: httpx.Client, text: str) -> None:
    problem = {"name": "custom", "expression": text, "start": [0.5, 0.5]}
    surface = http.post("/api/surface", json={"problem": problem, "resolution": 10})
    runs = http.post("/api/runs", json=request(problem, steps=20))
    assert surface.status_code in (200, 422), surface.text
    assert runs.status_code in (200, 422), runs.text
    if runs.status_code == 200:
        for run in runs.json()["runs"]:
            assert all(math.isfinite(v) for v in run["loss"])


def test_a_typed_formula_is_compiled_in_a_worker_turn_never_on_the_event_loop(
    formula_compiles: list[bool],
) -> None:
    """Compiling a new formula costs up to ~0.2 s of CPU: on the event loop, one
    client sending new formulas would stall every other client's health checks and
    streams. Every route reads it in a worker turn instead."""
    from fastapi.testclient import TestClient

    from app import main

    problem = {"name": "custom", "expression": "x^2 + 3*y^2", "start": [1.0, 1.0]}
    with TestClient(main.create_app()) as client:
        for _ in range(600):  # the engine's warm-up, from its cache
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.1)
        assert client.post("/api/runs", json=request(problem, steps=5)).status_code == 200
        assert client.post("/api/surface", json={"problem": problem}).status_code == 200
        sweep = {"problem": problem, "optimizer": "sgd", "steps": 5}
        sweep |= {"x_axis": {"param": "alpha", "count": 2}, "y_axis": {"param": "start_x"}}
        assert client.post("/api/sweeps", json=sweep).status_code == 200
        with client.websocket_connect("/api/stream") as ws:
            ws.send_json({"type": "run", "id": 1, "request": request(problem, steps=5)})
            while ws.receive_json()["type"] != "done":
                pass
    assert formula_compiles and not any(formula_compiles), formula_compiles
