"""POST /api/runs against a live server: the contract's example, defaults, every bad-input rule."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from tests.api.helpers import CONTRACT_EXAMPLE, OPTIMIZERS, request


def _finite(values) -> bool:
    return all(math.isfinite(v) for v in values)


def test_spec_example_comes_back_complete(http: httpx.Client) -> None:
    response = http.post("/api/runs", json=CONTRACT_EXAMPLE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["problem"] == {"name": "rosenbrock", "noise": 0.0}
    assert (body["steps"], body["seed"]) == (300, 0)
    assert "data" not in body  # surfaces carry no dataset
    (run,) = body["runs"]
    assert run["optimizer"] == "momentum"
    assert run["params"] == {
        "alpha": 0.001,
        "beta": 0.9,
        "beta_warmup_steps": 0,
        "weight_decay": 0.0,
    }
    assert isinstance(run["params"]["beta_warmup_steps"], int)
    assert run["schedule"] == {"name": "step", "every": 100, "factor": 0.5, "warmup_steps": 0}
    assert run["start"] == [-1.5, 2.0]
    assert run["diverged_at"] is None
    assert len(run["path"]) == len(run["loss"]) == 301
    assert run["path"][0] == [-1.5, 2.0]
    assert run["loss"][0] == pytest.approx(12.5)  # (1 + 1.5)² + 100 (2 − 2.25)²
    assert all(len(point) == 2 and _finite(point) for point in run["path"])
    assert run["loss"][-1] < run["loss"][0]


def test_defaults_fill_everything_left_out(http: httpx.Client) -> None:
    response = http.post("/api/runs", json=request("rosenbrock", {"optimizer": "adam"}))
    body = response.json()
    assert (body["steps"], body["seed"]) == (200, 0)
    (run,) = body["runs"]
    assert run["params"] == {
        "alpha": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "bias_correction": True,
        "weight_decay": 0.0,
    }  # fmt: skip
    assert run["schedule"] == {"name": "constant", "warmup_steps": 0}
    assert run["start"] == [-1.5, 2.0]
    assert len(run["path"]) == 201


def test_every_optimizer_in_one_request(http: httpx.Client) -> None:
    runs = [{"optimizer": name} for name in OPTIMIZERS]
    body = http.post("/api/runs", json=request("himmelblau", *runs, steps=50)).json()
    assert [run["optimizer"] for run in body["runs"]] == OPTIMIZERS
    assert all(len(run["path"]) == 51 for run in body["runs"])


def test_a_runs_path_does_not_depend_on_its_neighbours(http: httpx.Client) -> None:
    """Common random numbers: the same run alone or among others, on a noisy surface."""
    mine = {"optimizer": "momentum", "params": {"alpha": 0.05}}
    alone = http.post("/api/runs", json=request("noisy_bowl", mine, steps=40)).json()
    crowd = http.post(
        "/api/runs",
        json=request("noisy_bowl", {"optimizer": "adam"}, {"optimizer": "sgd"}, mine, steps=40),
    ).json()
    assert crowd["runs"][2]["path"] == alone["runs"][0]["path"]


def test_regression_returns_its_dataset(http: httpx.Client) -> None:
    problem = {"name": "linear_regression", "n_samples": 50, "noise": 0.3, "batch_size": 5}
    response = http.post(
        "/api/runs", json=request(problem, {"optimizer": "sgd", "params": {"alpha": 0.05}},
                                  steps=100, seed=4),
    )  # fmt: skip
    body = response.json()
    assert body["problem"] == problem
    data = body["data"]
    assert len(data["x"]) == len(data["y"]) == 50
    assert len(data["minimum"]) == 2
    assert data["min_loss"] <= min(body["runs"][0]["loss"]) + 1e-12
    again = http.post("/api/runs", json=request(problem, steps=1, seed=4)).json()
    assert again["data"] == data  # the dataset is drawn from the seed alone


def test_diverging_run_is_a_result_with_finite_numbers(http: httpx.Client) -> None:
    body = http.post(
        "/api/runs",
        json=request("steep_valley", {"optimizer": "sgd", "params": {"alpha": 1.0}}, steps=50),
    ).json()
    (run,) = body["runs"]
    assert isinstance(run["diverged_at"], int) and 1 <= run["diverged_at"] <= 50
    assert len(run["path"]) == len(run["loss"]) == run["diverged_at"]
    assert all(_finite(point) for point in run["path"]) and _finite(run["loss"])


# -- bad input: 422 naming the field and the rule -------------------------------------

BAD_REQUESTS = {
    "unknown optimizer": (
        request("rosenbrock", {"optimizer": "adam2"}),
        ["body", "runs", 0, "optimizer"], "valid optimizers: sgd",
    ),
    "unknown schedule": (
        request("rosenbrock", {"optimizer": "sgd", "schedule": {"name": "sawtooth"}}),
        ["body", "runs", 0, "schedule", "name"], "valid schedules: constant",
    ),
    "unknown problem": (
        request("bowl", {"optimizer": "sgd"}),
        ["body", "problem", "name"], "valid problems: steep_valley",
    ),
    "unknown hyper-parameter": (
        request("rosenbrock", {"optimizer": "adam", "params": {"lr": 0.1}}),
        ["body", "runs", 0, "params", "lr"], "valid parameters: alpha, beta1",
    ),
    "unknown schedule parameter": (
        request("rosenbrock", {"optimizer": "sgd", "schedule": {"name": "step", "gamma": 2}}),
        ["body", "runs", 0, "schedule", "gamma"], "valid parameters: every, factor",
    ),
    "unknown problem parameter": (
        request({"name": "rosenbrock", "n_samples": 10}),
        ["body", "problem", "n_samples"], "valid parameters: noise",
    ),
    "hyper-parameter out of range": (
        request("rosenbrock", {"optimizer": "momentum", "params": {"beta": 1.5}}),
        ["body", "runs", 0, "params", "beta"], "between",
    ),
    "negative learning rate": (
        request("rosenbrock", {"optimizer": "sgd", "params": {"alpha": -0.1}}),
        ["body", "runs", 0, "params", "alpha"], "between",
    ),
    "problem parameter out of range": (
        request({"name": "logistic_regression", "noise": 0.7}),
        ["body", "problem", "noise"], "between",
    ),
    "hyper-parameter not a number": (
        request("rosenbrock", {"optimizer": "sgd", "params": {"alpha": "fast"}}),
        ["body", "runs", 0, "params", "alpha"], "number",
    ),
    "start with three coordinates": (
        request("rosenbrock", {"optimizer": "sgd", "start": [1, 2, 3]}),
        ["body", "runs", 0, "start"], "at most 2",
    ),
    "start not a list": (
        request("rosenbrock", {"optimizer": "sgd", "start": "origin"}),
        ["body", "runs", 0, "start"], "",
    ),
    "start out of range": (
        request("rosenbrock", {"optimizer": "sgd", "start": [2e6, 0]}),
        ["body", "runs", 0, "start", 0], "less than or equal to 1000000",
    ),
    "runs not a list": (
        {"problem": {"name": "rosenbrock"}, "runs": {"optimizer": "sgd"}},
        ["body", "runs"], "valid list",
    ),
    "params not an object": (
        request("rosenbrock", {"optimizer": "sgd", "params": [0.1]}),
        ["body", "runs", 0, "params"], "dictionary",
    ),
    "problem missing": (
        {"runs": [{"optimizer": "sgd"}]}, ["body", "problem"], "required",
    ),
    "optimizer missing": (
        request("rosenbrock", {"params": {"alpha": 0.1}}), ["body", "runs", 0, "optimizer"],
        "required",
    ),
    "too many steps": (
        request("rosenbrock", steps=10_001), ["body", "steps"], "less than or equal to 10000",
    ),
    "no steps": (request("rosenbrock", steps=0), ["body", "steps"], "greater than or equal to 1"),
    "fractional steps": (request("rosenbrock", steps=2.5), ["body", "steps"], "whole number"),
    "too many runs": (
        {"problem": {"name": "rosenbrock"}, "runs": [{"optimizer": "sgd"}] * 65},
        ["body", "runs"], "at most 64",
    ),
    "no runs": (
        {"problem": {"name": "rosenbrock"}, "runs": []}, ["body", "runs"], "at least 1",
    ),
    "negative seed": (request("rosenbrock", seed=-1), ["body", "seed"], "greater than"),
    "batch larger than the dataset": (
        request({"name": "linear_regression", "n_samples": 20, "batch_size": 21}),
        ["body", "problem", "batch_size"], "at most n_samples (20)",
    ),
    "unknown top-level field": (
        request("rosenbrock", step=300), ["body", "step"], "not permitted",
    ),
    "misspelt run field": (
        request("rosenbrock", {"optimiser": "adam"}), ["body", "runs", 0, "optimiser"],
        "not permitted",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_input_names_the_field(http: httpx.Client, case: str) -> None:
    body, loc, message = BAD_REQUESTS[case]
    response = http.post("/api/runs", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(item["loc"] == loc and message in item["msg"] for item in detail), detail
    assert all(set(item) == {"loc", "msg", "type"} for item in detail)


# JSON text with NaN / Infinity, which json.dumps would refuse to write.
NON_FINITE = {
    "NaN learning rate": (
        '{"problem": {"name": "rosenbrock"}, "runs": [{"optimizer": "sgd", '
        '"params": {"alpha": NaN}}]}',
        ["body", "runs", 0, "params", "alpha"],
    ),
    "infinite start": (
        '{"problem": {"name": "rosenbrock"}, "runs": [{"optimizer": "sgd", '
        '"start": [Infinity, 0]}]}',
        ["body", "runs", 0, "start", 0],
    ),
    "negative infinite noise": (
        '{"problem": {"name": "noisy_bowl", "noise": -Infinity}, "runs": [{"optimizer": "sgd"}]}',
        ["body", "problem", "noise"],
    ),
    "NaN schedule parameter": (
        '{"problem": {"name": "rosenbrock"}, "runs": [{"optimizer": "sgd", '
        '"schedule": {"name": "exponential", "k": NaN}}]}',
        ["body", "runs", 0, "schedule", "k"],
    ),
    "huge integer": (
        '{"problem": {"name": "rosenbrock"}, "runs": [{"optimizer": "sgd", '
        '"params": {"alpha": 1' + "0" * 400 + "}}]}",
        ["body", "runs", 0, "params", "alpha"],
    ),
}


@pytest.mark.parametrize("case", NON_FINITE, ids=list(NON_FINITE))
def test_non_finite_numbers_are_rejected(http: httpx.Client, case: str) -> None:
    text, loc = NON_FINITE[case]
    response = http.post("/api/runs", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(item["loc"] == loc and "finite" in item["msg"] for item in detail), detail


# -- integers and booleans: one rule everywhere (docs/API.md, Errors) -------------------

WHOLE = {
    "problem": {"name": "linear_regression", "n_samples": 40, "noise": 0.5, "batch_size": 8},
    "steps": 3,
    "seed": 2,
    "runs": [
        {
            "optimizer": "momentum",
            "params": {"beta_warmup_steps": 2},
            "schedule": {"name": "step", "every": 2},
            "batch_size": 4,
        }
    ],
}
# Every integer of WHOLE, wherever it is checked: by the request's shape or by the
# registries (a problem's, an optimiser's or a schedule's parameter).
INTEGERS = [
    ["problem", "n_samples"],
    ["problem", "batch_size"],
    ["steps"],
    ["seed"],
    ["runs", 0, "params", "beta_warmup_steps"],
    ["runs", 0, "schedule", "every"],
    ["runs", 0, "batch_size"],
]


def _with(body: dict, loc: list, value) -> dict:
    body = json.loads(json.dumps(body))
    *path, last = loc
    target = body
    for key in path:
        target = target[key]
    target[last] = value(target[last]) if callable(value) else value
    return body


def test_a_whole_number_may_be_written_as_a_float(http: httpx.Client) -> None:
    as_floats = WHOLE
    for loc in INTEGERS:
        as_floats = _with(as_floats, loc, float)
    assert "8.0" in json.dumps(as_floats)
    answer = http.post("/api/runs", json=as_floats)
    assert answer.status_code == 200, answer.text
    exact = http.post("/api/runs", json=WHOLE).json()
    assert answer.json() == exact
    for loc in INTEGERS:  # answered as JSON integers, as docs/API.md says
        value = exact
        for key in loc:
            value = value[key]
        assert isinstance(value, int) and not isinstance(value, bool), loc


NOT_WHOLE = [
    (loc, value)
    for loc in INTEGERS
    for value in (2.5, "3", True, None)
    if not (value is None and loc == ["runs", 0, "batch_size"])  # null: left out
]


@pytest.mark.parametrize(
    ("loc", "value"), NOT_WHOLE, ids=[f"{'.'.join(map(str, loc))}={v!r}" for loc, v in NOT_WHOLE]
)
def test_an_integer_field_refuses_anything_but_a_whole_number(http: httpx.Client, loc, value):
    response = http.post("/api/runs", json=_with(WHOLE, loc, value))
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", *loc]
    assert "whole number" in item["msg"] or "must be a number" in item["msg"], item


def test_a_switch_is_true_or_false_not_a_number(http: httpx.Client) -> None:
    body = request("rosenbrock", {"optimizer": "adam", "params": {"bias_correction": 0}})
    response = http.post("/api/runs", json=body)
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "runs", 0, "params", "bias_correction"]
    assert item["msg"] == "must be true or false"


# -- the body itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "got"),
    [
        ({"content-type": "text/plain"}, "Content-Type 'text/plain'"),
        ({"content-type": "application/x-www-form-urlencoded"}, "x-www-form-urlencoded"),
        ({}, "no Content-Type"),
    ],
)
def test_a_body_not_sent_as_json_is_a_422_that_says_so(http: httpx.Client, headers, got) -> None:
    text = json.dumps(request("rosenbrock", steps=2))
    response = http.post("/api/runs", content=text, headers=headers)
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body"] and item["type"] == "content_type"
    assert "must be JSON sent with Content-Type: application/json" in item["msg"]
    assert got in item["msg"]


def test_malformed_json_is_a_client_error(http: httpx.Client) -> None:
    response = http.post(
        "/api/runs", content='{"problem": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_body_over_the_limit_is_413(http: httpx.Client) -> None:
    runs = [{"optimizer": "sgd", "params": {"alpha": 0.01}}] * 20_000
    text = json.dumps({"problem": {"name": "rosenbrock"}, "runs": runs})
    assert len(text) > 256 * 1024
    response = http.post("/api/runs", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_chunked_body_over_the_limit_is_413(http: httpx.Client) -> None:
    def pieces():
        yield b'{"problem": {"name": "rosenbrock"}, "runs": ['
        for _ in range(20_000):
            yield b'{"optimizer": "sgd"},'
        yield b'{"optimizer": "sgd"}]}'

    response = http.post(
        "/api/runs", content=pieces(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("case", ["surface", "regression", "diverging"])
def test_the_answer_sent_in_pieces_is_byte_for_byte_the_whole_answer(case: str) -> None:
    """POST /api/runs encodes its answer a piece at a time (app/api/encoding.py)."""
    import gzip

    import zstandard

    from app.api.encoding import Gzip, Zstd
    from app.engine import build_simulation, simulate
    from app.formats import dumps, result_json, result_pieces

    body = {
        "surface": request("rosenbrock", *({"optimizer": n} for n in OPTIMIZERS), steps=300),
        "regression": request({"name": "linear_regression"}, {"optimizer": "adam"}, steps=40),
        "diverging": request("steep_valley", {"optimizer": "sgd", "params": {"alpha": 1.0}}),
    }[case]
    result = simulate(build_simulation(body), backend="numpy")
    whole = dumps(result_json(result))
    for points in (1, 500, 10**9):  # a piece per run, a few runs a piece, one piece
        pieces = list(result_pieces(result, points))
        assert b"".join(pieces) == whole
        stream = Gzip()
        assert gzip.decompress(b"".join(map(stream.compress, pieces)) + stream.finish()) == whole
        # zstd: each piece ends a block, so what has arrived decodes as far as it goes.
        stream = Zstd()
        sent = [stream.compress(piece) for piece in pieces]
        reader = zstandard.ZstdDecompressor().decompressobj()
        assert reader.decompress(sent[0]) == pieces[0]
        assert pieces[0] + b"".join(map(reader.decompress, sent[1:])) == whole
        assert (
            zstandard.ZstdDecompressor()
            .decompressobj()
            .decompress(b"".join(sent) + stream.finish())
            == whole
        )
