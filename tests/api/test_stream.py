"""WebSocket /api/stream over a real socket (the `websockets` client) against live uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.api.helpers import (
    CONTRACT_EXAMPLE,
    OPTIMIZERS,
    join,
    open_stream,
    receive,
    request,
    send,
    until,
)

# A run long enough to still be in flight when the test acts on it (paced: ~100 s).
LONG = request("rosenbrock", {"optimizer": "adam"}, {"optimizer": "sgd"}, steps=10_000)


async def _quiet(ws, seconds: float) -> list[dict[str, Any]]:
    """Whatever arrives within the next ``seconds``."""
    seen = []
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            seen.append(await receive(ws, left))
    except TimeoutError:
        pass
    return seen


STREAMED = {
    "spec example": CONTRACT_EXAMPLE,
    "classroom": request("rosenbrock", *({"optimizer": n} for n in OPTIMIZERS), steps=1000),
    "noisy surface": request(
        {"name": "noisy_bowl", "noise": 2.0},
        {"optimizer": "momentum", "schedule": {"name": "exponential", "k": 0.01}},
        {"optimizer": "sgd", "params": {"alpha": 0.1}}, steps=500, seed=9,
    ),
    "minibatch regression": request(
        {"name": "logistic_regression", "n_samples": 300, "noise": 0.1, "batch_size": 7},
        {"optimizer": "adam", "params": {"alpha": 0.05}},
        {"optimizer": "nesterov", "schedule": {"name": "step", "every": 3, "factor": 0.7}},
        steps=700, seed=2,
    ),
    # Every 7th point and each run's last, one of them cut short by divergence.
    "strided": request(
        "steep_valley", {"optimizer": "sgd", "params": {"alpha": 1.0}}, {"optimizer": "adam"},
        {"optimizer": "momentum", "params": {"alpha": 0.2}}, steps=3000, stride=7,
    ),
    "diverging": request(
        "steep_valley", {"optimizer": "sgd", "params": {"alpha": 1.0}}, {"optimizer": "adam"},
        {"optimizer": "momentum", "params": {"alpha": 0.9, "beta": 0.99}}, steps=400,
    ),
    # Blows up without diverging; touches the minimum and leaves; settles for good.
    "blowing up, leaving, settling": request(
        "steep_valley", {"optimizer": "sgd", "params": {"alpha": 0.52}},
        {"optimizer": "rmsprop", "params": {"alpha": 0.1}},
        {"optimizer": "momentum", "params": {"alpha": 0.45, "beta": 0.5}},
        steps=200,
    ),
    # The stream's joined anatomy is the POST's too (docs/API.md, Anatomy).
    "classroom, anatomy": request(
        "rosenbrock", *({"optimizer": n} for n in OPTIMIZERS), steps=1000, anatomy=True
    ),
    "minibatch regression, anatomy": request(
        {"name": "linear_regression", "n_samples": 150, "batch_size": 9},
        {"optimizer": "nesterov"}, {"optimizer": "adadelta", "batch_size": 1},
        steps=600, seed=4, anatomy=True,
    ),
    "diverging, anatomy": request(
        "steep_valley", {"optimizer": "sgd", "params": {"alpha": 1.0}}, {"optimizer": "amsgrad"},
        steps=300, anatomy=True,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", STREAMED, ids=list(STREAMED))
@pytest.mark.parametrize("speed", [0, 20_000])
def test_joined_chunks_equal_the_post_response(
    http: httpx.Client, live_server: str, case: str, speed: int
) -> None:
    body = STREAMED[case]
    posted = http.post("/api/runs", json=body).json()

    async def scenario() -> list[dict[str, Any]]:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 7, "request": body, "speed": speed})
            return await until(ws, "done", 7)

    messages = asyncio.run(scenario())
    assert messages[0]["type"] == "started" and messages[0]["id"] == 7
    assert messages[1]["type"] == "chunk" and messages[1]["from"] == 0
    assert all(len(run["path"]) == 1 for run in messages[1]["runs"])  # point 0 first
    assert {m["id"] for m in messages} == {7}
    joined = join(messages, 7)
    # Exactly: every float, every diverged_at. Chunks carry no alpha_t (POST does),
    # unless the run asked for its anatomy (docs/API.md, Anatomy).
    expected = (
        posted["runs"]
        if body.get("anatomy")
        else [_without(run, "alpha_t") for run in posted["runs"]]
    )
    assert joined["runs"] == expected
    assert all(("grad" in run) == body.get("anatomy", False) for run in posted["runs"])
    assert joined["started"]["stride"] == posted["stride"]
    assert joined["started"]["data"] == posted.get("data")
    assert joined["started"]["problem"] == posted["problem"]
    if case == "diverging":
        assert posted["runs"][0]["diverged_at"] is not None
    if case == "strided":  # the last point of each run, on the grid or not
        assert posted["runs"][0]["t"][-1] == posted["runs"][0]["diverged_at"] - 1
        assert posted["runs"][1]["t"][-2:] == [2996, 3000]
    if case == "blowing up, leaving, settling":
        outcomes = [(r["blew_up_at"], r["converged_at"]) for r in posted["runs"]]
        assert outcomes[0][0] is not None and outcomes[1] == (None, None)
        assert outcomes[2][1] is not None


@pytest.mark.parametrize(
    ("body", "plan"),
    [
        # A slider moves one run: every update in the chunk after point 0.
        (request("rosenbrock", {"optimizer": "adam"}, steps=1000), [1, 1000]),
        # Longer than one slice: 16 updates first, so the page draws at once.
        (request("rosenbrock", *({"optimizer": n} for n in OPTIMIZERS), steps=1000), [1, 16]),
    ],
    ids=["one run", "classroom"],
)
def test_a_run_that_one_slice_covers_comes_whole_after_point_0(
    live_server: str, body: dict[str, Any], plan: list[int]
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 3, "request": body, "speed": 0})
            return await until(ws, "done", 3)

    chunks = [m for m in asyncio.run(scenario()) if m["type"] == "chunk"]
    assert [max(len(run["path"]) for run in chunk["runs"]) for chunk in chunks[:2]] == plan


def _without(run: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in run.items() if name != key}


def test_a_new_run_replaces_the_one_in_flight(live_server: str) -> None:
    async def scenario() -> tuple[list, list]:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 1, "request": LONG, "speed": 100})
            await until(ws, "chunk", 1)
            await until(ws, "chunk", 1)  # point 0, then paced chunks: it is in flight
            await send(ws, {"type": "run", "id": 2, "request": CONTRACT_EXAMPLE, "speed": 0})
            before_and_new = await until(ws, "done", 2)
            after = await _quiet(ws, 0.5)
            return before_and_new, after

    messages, after = asyncio.run(scenario())
    started = next(i for i, m in enumerate(messages) if m["type"] == "started" and m["id"] == 2)
    # The replaced run's chunks, then its `cancelled`, then only the new run.
    assert messages[started - 1] == {"type": "cancelled", "id": 1}
    assert all(m["id"] == 1 and m["type"] == "chunk" for m in messages[: started - 1])
    assert all(m["id"] == 2 for m in messages[started:])
    assert after == []


def test_paced_stream_arrives_incrementally(live_server: str) -> None:
    body = request("rosenbrock", {"optimizer": "adam"}, steps=50)

    async def scenario() -> list[tuple[float, dict]]:
        async with open_stream(live_server) as ws:
            began = time.perf_counter()
            await send(ws, {"type": "run", "id": "paced", "request": body, "speed": 100})
            timed = []
            while True:
                message = await receive(ws)
                timed.append((time.perf_counter() - began, message))
                if message["type"] == "done":
                    return timed

    timed = asyncio.run(scenario())
    chunks = [(t, m) for t, m in timed if m["type"] == "chunk"]
    total = timed[-1][0]
    # Paced, not sent at once: 50 updates at 100 per second take about 0.5 s (a lower
    # bound only; how much longer a loaded machine takes is not the point).
    assert total >= 0.3
    assert len(chunks[0][1]["runs"][0]["path"]) == 1  # point 0 first, on its own
    assert len(chunks) >= 5
    sizes = [len(m["runs"][0]["path"]) for _, m in chunks[1:]]
    assert max(sizes) <= 20 and sum(sizes) == 50
    assert chunks[len(chunks) // 2][0] > 0.1  # spread out in time, not sent in one go


def test_stop_ends_the_run(live_server: str) -> None:
    async def scenario() -> tuple[list, list]:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 3, "request": LONG, "speed": 100})
            await until(ws, "chunk", 3)
            await send(ws, {"type": "stop"})
            until_stopped = await until(ws, "stopped", 3)
            return until_stopped, await _quiet(ws, 0.4)

    until_stopped, after = asyncio.run(scenario())
    assert until_stopped[-1] == {"type": "stopped", "id": 3}
    assert not any(m["type"] in ("done", "cancelled") for m in until_stopped)
    assert after == []


def test_stop_with_nothing_in_flight_is_acknowledged_with_its_own_id(live_server: str) -> None:
    async def scenario() -> tuple[dict, dict, list]:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "stop", "id": "s"})
            first = await receive(ws)
            await send(ws, {"type": "stop"})
            second = await receive(ws)
            # after a run that finished, a stop has nothing to end either
            await send(ws, {"type": "run", "id": 4, "request": CONTRACT_EXAMPLE})
            await until(ws, "done", 4)
            await send(ws, {"type": "stop", "id": 5})
            return first, second, [await receive(ws)]

    first, second, after_done = asyncio.run(scenario())
    assert first == {"type": "stopped", "id": "s"}
    assert second == {"type": "stopped", "id": None}
    assert after_done == [{"type": "stopped", "id": 5}]


def test_errors_leave_the_socket_open(live_server: str) -> None:
    async def scenario() -> dict[str, Any]:
        replies: dict[str, Any] = {}
        async with open_stream(live_server) as ws:
            await ws.send("{not json")
            replies["bad json"] = await receive(ws)
            await send(ws, {"type": "jump", "id": 4})
            replies["unknown type"] = await receive(ws)
            await ws.send("[1, 2]")
            replies["not an object"] = await receive(ws)
            bad = request("rosenbrock", {"optimizer": "adam2"})
            await send(ws, {"type": "run", "id": 5, "request": bad})
            replies["unknown optimizer"] = await receive(ws)
            await send(ws, {"type": "run", "id": 6, "request": request("rosenbrock", steps=10_001)})
            replies["too many steps"] = await receive(ws)
            await send(ws, {"type": "run", "id": 7, "request": CONTRACT_EXAMPLE, "speed": -1})
            replies["negative speed"] = await receive(ws)
            await ws.send(
                '{"type": "run", "id": 8, "request": {"problem": {"name": "rosenbrock"}, '
                '"runs": [{"optimizer": "sgd", "params": {"alpha": NaN}}]}}'
            )
            replies["NaN"] = await receive(ws)
            await ws.send(b"\x00\x01")
            replies["binary"] = await receive(ws)
            await send(ws, {"type": "run", "id": 9, "request": CONTRACT_EXAMPLE})
            replies["valid"] = await until(ws, "done", 9)
        return replies

    replies = asyncio.run(scenario())
    for name in ("bad json", "unknown type", "not an object", "unknown optimizer",
                 "too many steps", "negative speed", "NaN", "binary"):  # fmt: skip
        assert replies[name]["type"] == "error", name
        assert replies[name]["detail"], name
    assert replies["bad json"]["id"] is None and "JSON" in replies["bad json"]["detail"]
    assert replies["unknown type"]["id"] == 4 and "'jump'" in replies["unknown type"]["detail"]
    unknown = replies["unknown optimizer"]
    assert unknown["id"] == 5
    assert "request.runs.0.optimizer" in unknown["detail"] and "adam" in unknown["detail"]
    assert unknown["errors"][0]["loc"] == ["request", "runs", 0, "optimizer"]
    assert replies["too many steps"]["id"] == 6 and "request.steps" in replies["too many steps"][
        "detail"]  # fmt: skip
    assert replies["negative speed"]["id"] == 7 and "speed" in replies["negative speed"]["detail"]
    assert "request.runs.0.params.alpha" in replies["NaN"]["detail"]
    assert "finite" in replies["NaN"]["detail"]
    assert replies["valid"][0]["type"] == "started" and replies["valid"][-1]["type"] == "done"


def test_an_invalid_run_does_not_cancel_the_one_in_flight(live_server: str) -> None:
    body = request("rosenbrock", {"optimizer": "adam"}, steps=30)

    async def scenario() -> list:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 1, "request": body, "speed": 100})
            await until(ws, "chunk", 1)
            await send(ws, {"type": "run", "id": 2, "request": {"runs": []}})
            return await until(ws, "done", 1)

    messages = asyncio.run(scenario())
    assert any(m["type"] == "error" and m["id"] == 2 for m in messages)


def test_message_flood_is_rate_limited_not_closed(live_server: str) -> None:
    async def scenario() -> tuple[list, list]:
        async with open_stream(live_server) as ws:
            for number in range(150):
                await send(ws, {"type": "stop", "id": number})
            flood = await _quiet(ws, 0.5)
            await asyncio.sleep(1.0)  # the bucket refills
            await send(ws, {"type": "run", "id": 1, "request": CONTRACT_EXAMPLE})
            return flood, await until(ws, "done", 1)

    flood, run = asyncio.run(scenario())
    limited = [m for m in flood if m.get("code") == "rate_limited"]
    assert limited and all(m["type"] == "error" for m in limited)
    # Each refusal names the message it dropped: the burst passed, later ones did not.
    assert all(m["id"] >= 60 for m in limited)
    assert run[-1]["type"] == "done"


def test_the_rate_limit_is_charged_before_a_message_is_parsed(live_server: str) -> None:
    async def scenario() -> tuple[list, list]:
        async with open_stream(live_server) as ws:
            for number in range(60):  # the whole burst, on valid messages
                await send(ws, {"type": "stop", "id": number})
            # Over the limit, even a message that is not JSON is dropped unread: the
            # answer is rate_limited, not invalid_json, and it does not count towards
            # closing the socket (ws_max_invalid).
            for _ in range(30):
                await ws.send("{not json" + "x" * 10_000)
            answers = await _quiet(ws, 0.5)
            await asyncio.sleep(1.0)  # the bucket refills
            await send(ws, {"type": "run", "id": 1, "request": CONTRACT_EXAMPLE})
            return answers, await until(ws, "done", 1)

    answers, run = asyncio.run(scenario())
    dropped = [m for m in answers if m["type"] == "error"]
    assert len(dropped) >= 20 and {m["code"] for m in dropped} == {"rate_limited"}
    assert all(m["id"] is None for m in dropped)  # too long to be read for its id
    assert run[-1]["type"] == "done"


def test_invalid_messages_in_a_row_close_the_socket(live_server: str) -> None:
    async def scenario() -> tuple[list, int | None, list]:
        async with open_stream(live_server) as ws:
            # A valid message between invalid ones starts the count again.
            for _ in range(9):
                await ws.send("{not json")
            await send(ws, {"type": "stop", "id": "ok"})
            before = [await receive(ws) for _ in range(10)]
            for _ in range(10):
                await ws.send("[]")
            answers = []
            with contextlib.suppress(ConnectionClosed):
                while True:
                    answers.append(await receive(ws))
            return before, ws.close_code, answers

    before, code, answers = asyncio.run(scenario())
    assert [m["code"] for m in before[:9]] == ["invalid_json"] * 9
    assert before[9] == {"type": "stopped", "id": "ok"}
    assert len(answers) == 10 and all(m["code"] == "invalid_message" for m in answers)
    assert code == 1008


def test_oversized_message_is_refused_not_closed(live_server: str) -> None:
    async def scenario() -> tuple[dict, list]:
        async with open_stream(live_server) as ws:
            await ws.send(json.dumps({"type": "stop", "pad": "x" * 300_000}))
            refused = await receive(ws)
            await send(ws, {"type": "run", "id": 1, "request": CONTRACT_EXAMPLE})
            return refused, await until(ws, "done", 1)

    refused, run = asyncio.run(scenario())
    assert refused["type"] == "error" and refused["code"] == "too_large"
    assert run[-1]["type"] == "done"


def test_disconnect_mid_stream_leaves_a_healthy_server(http: httpx.Client, live_server: str):
    heavy = request(
        {"name": "linear_regression", "n_samples": 2000, "batch_size": 2000},
        *[{"optimizer": "adam"}] * 16, steps=3_000,  # 9.6e7 loss terms: under the budget
    )  # fmt: skip

    async def drop() -> None:
        ws = await open_stream(live_server)
        await send(ws, {"type": "run", "id": 1, "request": heavy})
        await until(ws, "chunk", 1)
        ws.transport.abort()  # vanish without a closing handshake

    async def fresh() -> list:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 2, "request": CONTRACT_EXAMPLE})
            return await until(ws, "done", 2, timeout=10)

    asyncio.run(drop())
    assert http.get("/healthz").json()["status"] == "ok"
    # That the abandoned work stops is test_disconnect_stops_the_work's (it counts
    # engine calls); here: the server goes on serving after a rude disconnect.
    assert asyncio.run(fresh())[-1]["type"] == "done"


def test_a_long_run_does_not_stall_another_client(live_server: str) -> None:
    heavy = request(
        {"name": "logistic_regression", "n_samples": 2000, "batch_size": 2000},
        *[{"optimizer": "adam"}] * 16, steps=3_000,  # 9.6e7 loss terms: under the budget
    )  # fmt: skip
    light = request("himmelblau", {"optimizer": "sgd"}, steps=100)

    async def scenario() -> bool:
        async with open_stream(live_server) as first, open_stream(live_server) as second:
            await send(first, {"type": "run", "id": "heavy", "request": heavy})
            await until(first, "chunk", "heavy")
            await until(first, "chunk", "heavy")  # it is computing now
            await send(second, {"type": "run", "id": "light", "request": light})
            await until(second, "done", "light")
            still_running = not any(m["type"] == "done" for m in await _quiet(first, 0.05))
            await send(first, {"type": "stop"})
            return still_running

    # The light run is served whole while the heavy one (seconds of compute) is
    # still in flight: it did not queue behind it. No wall-clock bound: shared CI.
    assert asyncio.run(scenario())


def test_connection_closed_by_client_mid_stream_is_clean(live_server: str) -> None:
    async def scenario() -> None:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 1, "request": LONG, "speed": 1000})
            await until(ws, "chunk", 1)
        # closed with a handshake while chunks were flowing
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 2, "request": CONTRACT_EXAMPLE})
            assert (await until(ws, "done", 2))[-1]["type"] == "done"

    try:
        asyncio.run(scenario())
    except ConnectionClosed as exc:  # pragma: no cover - a failure, with its reason
        pytest.fail(f"connection closed: {exc}")


def test_disconnect_stops_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """In process: once the client is gone, the session ends and its run is cancelled,
    so no further chunk is computed."""
    from fastapi.testclient import TestClient

    from app.api import streaming
    from app.main import create_app

    calls = []
    advance = streaming._advance
    two_chunks = threading.Event()

    def counted(*args: Any):
        calls.append(time.monotonic())
        if len(calls) >= 2:
            two_chunks.set()
        return advance(*args)

    sessions: list[streaming.StreamSession] = []
    runs: list[asyncio.Task] = []
    ended = threading.Event()
    serve, replace = streaming.StreamSession.serve, streaming.StreamSession.replace

    async def watched_serve(self) -> None:
        sessions.append(self)
        try:
            await serve(self)
        finally:
            ended.set()

    async def recorded_replace(self, task_id, work) -> None:
        await replace(self, task_id, work)
        runs.append(self.task)

    monkeypatch.setattr(streaming, "_advance", counted)
    monkeypatch.setattr(streaming.StreamSession, "serve", watched_serve)
    monkeypatch.setattr(streaming.StreamSession, "replace", recorded_replace)
    body = request("rosenbrock", {"optimizer": "adam"}, steps=10_000)
    with TestClient(create_app()) as client:
        while client.get("/readyz").status_code != 200:  # runs are refused while warming
            time.sleep(0.05)
        with client.websocket_connect("/api/stream") as ws:
            ws.send_json({"type": "run", "id": 1, "request": body, "speed": 1000})
            assert two_chunks.wait(60)
            ws.close(1000)  # the client leaves
            assert ended.wait(60), "the session did not notice its client left"
            # The run (paced at 1000/s, 10 s long) was stopped and awaited before the
            # session ended: nothing is left that could compute another chunk.
            assert len(runs) == 1 and runs[0].done()
            assert sessions[0].task is None
            assert len(calls) < 100
        assert client.get("/healthz").status_code == 200


def test_an_id_json_cannot_echo_is_an_error_and_the_socket_stays_open(live_server: str) -> None:
    async def scenario() -> tuple[dict, dict, list]:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "run", "id": 10**30, "request": CONTRACT_EXAMPLE})
            huge = await receive(ws)
            await send(ws, {"type": "run", "id": "x" * 65, "request": CONTRACT_EXAMPLE})
            long = await receive(ws)
            await send(ws, {"type": "run", "id": 2**53, "request": CONTRACT_EXAMPLE})
            return huge, long, await until(ws, "done", 2**53)

    huge, long, valid = asyncio.run(scenario())
    assert huge["type"] == "error" and huge["id"] is None and "id" in huge["detail"]
    assert long["type"] == "error" and long["id"] is None
    assert valid[-1]["type"] == "done"


def test_an_id_follows_the_integer_rule_and_its_error_names_the_field(live_server: str) -> None:
    async def scenario() -> tuple[dict, list]:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "stop", "id": 7.5})
            fraction = await receive(ws)
            await send(ws, {"type": "run", "id": 7.0, "request": CONTRACT_EXAMPLE})
            return fraction, await until(ws, "done", 7)

    fraction, whole = asyncio.run(scenario())
    assert fraction["type"] == "error" and fraction["id"] is None
    assert [item["loc"] for item in fraction["errors"]] == [["id"]]
    assert "whole number" in fraction["errors"][0]["msg"]
    # 7.0 is the integer 7, echoed as JSON 7.
    assert all(message["id"] == 7 and type(message["id"]) is int for message in whole)


def _warm_client(**settings: Any):
    """An in-process client of an app with these settings, once its engine is warm."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    client = TestClient(create_app(Settings(**settings)))
    client.__enter__()
    while client.get("/readyz").status_code != 200:
        time.sleep(0.05)
    return client


def test_origins_other_than_the_servers_own_are_refused_unless_listed() -> None:
    from starlette.testclient import WebSocketDenialResponse

    client = _warm_client(allowed_origins=["https://course.example.org"])
    try:
        for origin in (None, "http://testserver", "https://course.example.org"):
            headers = {} if origin is None else {"origin": origin}
            with client.websocket_connect("/api/stream", headers=headers) as ws:
                ws.send_json({"type": "stop", "id": origin})
                assert ws.receive_json() == {"type": "stopped", "id": origin}
        with pytest.raises(WebSocketDenialResponse) as refused:
            with client.websocket_connect(
                "/api/stream", headers={"origin": "https://evil.example"}
            ):
                pass
        assert refused.value.status_code == 403
        assert "https://evil.example" in refused.value.json()["detail"]
        assert "frame-ancestors" in refused.value.headers["content-security-policy"]
    finally:
        client.__exit__(None, None, None)


def test_a_sweep_the_server_has_no_room_for_is_answered_busy() -> None:
    """A stream's sweep reserves its memory like a POST: when the points in flight are
    taken for longer than compute_max_wait, the answer is `busy` with `retry_after`."""
    client = _warm_client(compute_points=100_000, compute_max_wait=0.2)
    gate = client.app.state.gate
    release = threading.Event()

    async def hold() -> None:
        async with gate.admit("someone else", gate.points):
            await asyncio.to_thread(release.wait, 60)

    try:
        holding = client.portal.start_task_soon(hold)
        sweep = {
            "problem": {"name": "rosenbrock"},
            "optimizer": "adam",
            "steps": 10,
            "x_axis": {"param": "alpha", "count": 4},
            "y_axis": {"param": "beta1", "count": 4},
        }
        with client.websocket_connect("/api/stream") as ws:
            ws.send_json({"type": "sweep", "id": "s", "request": sweep})
            busy = ws.receive_json()
            release.set()
            holding.result(60)
            ws.send_json({"type": "sweep", "id": "again", "request": sweep})
            while (message := ws.receive_json())["type"] != "sweep_done":
                assert message["type"] in ("sweep_started", "progress")
        assert busy["type"] == "error" and busy["id"] == "s" and busy["code"] == "busy"
        assert busy["retry_after"] >= 1 and "busy" in busy["detail"]
        assert message["id"] == "again"
    finally:
        release.set()
        client.__exit__(None, None, None)
