"""POST /api/runs as CSV (``Accept: text/csv`` or ``?format=csv``): read back, the same
numbers as the JSON answer, one row per run and point."""

from __future__ import annotations

import csv
import io
import math

import httpx
import pytest

from tests.api.helpers import request

SURFACE = request(
    "steep_valley",
    {"optimizer": "adam", "params": {"alpha": 0.1}},
    {"optimizer": "adam", "params": {"alpha": 0.1, "bias_correction": False}},
    {"optimizer": "sgd", "params": {"alpha": 1.0}},  # diverges
    {"optimizer": "momentum", "schedule": {"name": "step", "every": 4, "factor": 0.5}},
    steps=40,
)
REGRESSION = request(
    {"name": "logistic_regression", "n_samples": 50, "noise": 0.1},
    {"optimizer": "sgd", "params": {"alpha": 0.5}, "batch_size": 1},
    {"optimizer": "rmsprop", "schedule": {"name": "inverse_time", "k": 0.5}, "batch_size": 8},
    steps=30,
    seed=4,
    stride=4,
)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _csv(http: httpx.Client, body: dict) -> httpx.Response:
    response = http.post("/api/runs", json=body, headers={"accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return response


@pytest.mark.parametrize("body", [SURFACE, REGRESSION], ids=["surface", "regression"])
def test_the_csv_read_back_equals_the_json_answer(http: httpx.Client, body: dict) -> None:
    answer = http.post("/api/runs", json=body).json()
    rows = _rows(_csv(http, body).text)
    expected = []
    for index, run in enumerate(answer["runs"]):
        updates = run.get("t", range(len(run["loss"])))
        for i, t in enumerate(updates):
            expected.append((index, run["optimizer"], t, *run["path"][i], run["loss"][i]))
    # Number for number: the text reads back as the very same floats.
    got = [
        (int(r["run"]), r["optimizer"], int(r["t"]), float(r["x"]), float(r["y"]), float(r["loss"]))
        for r in rows
    ]
    assert got == expected
    header = list(rows[0])
    settings = header[header.index("optimizer") + 1 : header.index("t")]
    for row in rows:
        run = answer["runs"][int(row["run"])]
        given = {**run["params"], **{f"lr.{k}": v for k, v in run["schedule"].items()}}
        given |= {"schedule": run["schedule"]["name"], "batch_size": run.get("batch_size")}
        for name in settings:  # a cell is empty exactly where the run has no such setting
            value = given.get(name)
            if value is None:
                assert row[name] == "", name
            elif isinstance(value, bool):
                assert row[name] == ("true" if value else "false")
            elif isinstance(value, str | int):  # names and counts as they are
                assert row[name] == str(value)
            else:
                assert float(row[name]) == value


def test_two_runs_of_one_optimizer_are_told_apart(http: httpx.Client) -> None:
    rows = _rows(_csv(http, SURFACE).text)
    first, second = ({r["bias_correction"] for r in rows if r["run"] == i} for i in "01")
    assert (first, second) == ({"true"}, {"false"})
    assert {r["beta1"] for r in rows if r["optimizer"] == "sgd"} == {""}


def test_alpha_t_and_epoch_follow_the_schedule(http: httpx.Client) -> None:
    """On a surface an epoch is one update: e = t − 1; on a regression it is
    ⌈n_samples / batch_size⌉ updates; α_t is the schedule at e (at t = 0, e = 0)."""
    surface = [r for r in _rows(_csv(http, SURFACE).text) if r["optimizer"] == "momentum"]
    for row in surface:
        t = int(row["t"])
        assert int(row["epoch"]) == max(t - 1, 0)
        assert float(row["alpha_t"]) == 0.01 * 0.5 ** (max(t - 1, 0) // 4)
    answer = http.post("/api/runs", json=REGRESSION).json()
    regression = _rows(_csv(http, REGRESSION).text)
    for index, run in enumerate(answer["runs"]):
        assert run["updates_per_epoch"] == math.ceil(50 / run["batch_size"])
        rows = [r for r in regression if r["run"] == str(index)]
        assert [float(r["alpha_t"]) for r in rows] == run["alpha_t"]
        assert [int(r["batch_size"]) for r in rows] == [run["batch_size"]] * len(rows)
        assert [int(r["epoch"]) for r in rows] == [
            (max(t, 1) - 1) // run["updates_per_epoch"] for t in run["t"]
        ]
    rmsprop = answer["runs"][1]
    epochs = [(max(t, 1) - 1) // 7 for t in rmsprop["t"]]
    assert rmsprop["alpha_t"] == pytest.approx([0.01 / (1 + 0.5 * e) for e in epochs], rel=1e-15)


@pytest.mark.parametrize(
    ("accept", "query", "csv_answer"),
    [
        ("text/csv", None, True),
        ("text/csv;q=0.9, application/json;q=0.5", None, True),
        ("text/*", None, True),
        ("application/json", None, False),
        ("*/*", None, False),
        (None, None, False),
        ("text/csv;q=0.5, application/json", None, False),
        ("text/html", None, False),
        (None, "csv", True),
        ("text/csv", "json", False),
    ],
)
def test_the_format_query_or_the_accept_header_picks_csv(
    http: httpx.Client, accept, query, csv_answer
) -> None:
    headers = {"accept": accept} if accept else {}
    params = {"format": query} if query else {}
    body = request("rosenbrock", steps=3)
    response = http.post("/api/runs", json=body, headers=headers, params=params)
    assert response.status_code == 200
    kind = response.headers["content-type"]
    assert kind == ("text/csv; charset=utf-8" if csv_answer else "application/json")
    assert response.text.startswith("run,optimizer,") == csv_answer


def test_an_unknown_format_is_a_422_naming_it(http: httpx.Client) -> None:
    response = http.post(
        "/api/runs", json=request("rosenbrock", steps=3), params={"format": "xlsx"}
    )
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["query", "format"] and "'csv'" in item["msg"]


def test_bad_input_is_still_a_json_422(http: httpx.Client) -> None:
    body = request("rosenbrock", {"optimizer": "adam2"})
    response = http.post("/api/runs", json=body, headers={"accept": "text/csv"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "runs", 0, "optimizer"]


def test_a_large_answer_arrives_in_pieces(http: httpx.Client) -> None:
    """64 runs × 2 000 updates: the CSV is written run by run as it is read."""
    body = request("rosenbrock", *[{"optimizer": "adam"}] * 64, steps=2000)
    with http.stream("POST", "/api/runs", json=body, headers={"accept": "text/csv"}) as answer:
        assert "content-length" not in answer.headers  # sent as it is made
        lines = sum(piece.count(b"\n") for piece in answer.iter_bytes())
    assert lines == 1 + 64 * 2001
