"""Sweeps over the stream: progress while the grid computes, then the same result as POST."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.helpers import CONTRACT_EXAMPLE, open_stream, send, until

SWEEP = {
    "problem": {"name": "himmelblau"},
    "optimizer": "adam",
    "params": {"alpha": 0.05},
    "steps": 2000,
    "x_axis": {"param": "start_x", "count": 96},
    "y_axis": {"param": "start_y", "count": 96},
}


def test_a_streamed_sweep_reports_progress_then_the_post_result(
    http: httpx.Client, live_server: str
) -> None:
    async def scenario() -> list:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "sweep", "id": "s1", "request": SWEEP})
            return await until(ws, "sweep_done", "s1")

    messages = asyncio.run(scenario())
    assert messages[0]["type"] == "sweep_started" and messages[0]["cells"] == 96 * 96
    progress = [m["done"] for m in messages if m["type"] == "progress"]
    assert len(progress) >= 2 and progress == sorted(progress) and progress[-1] == 1.0
    posted = http.post("/api/sweeps", json=SWEEP).json()
    assert messages[-1]["result"] == posted


def test_a_run_replaces_a_sweep_in_flight(live_server: str) -> None:
    async def scenario() -> list:
        async with open_stream(live_server) as ws:
            await send(ws, {"type": "sweep", "id": 1, "request": {**SWEEP, "steps": 5000}})
            await until(ws, "progress", 1)
            await send(ws, {"type": "run", "id": 2, "request": CONTRACT_EXAMPLE})
            return await until(ws, "done", 2)

    messages = asyncio.run(scenario())
    started = next(i for i, m in enumerate(messages) if m["type"] == "started")
    assert all(m["id"] == 2 for m in messages[started:])
    assert not any(m["type"] == "sweep_done" for m in messages)


def test_an_invalid_sweep_is_an_error_naming_the_field(live_server: str) -> None:
    async def scenario() -> list:
        async with open_stream(live_server) as ws:
            bad = {**SWEEP, "x_axis": {"param": "gamma"}}
            await send(ws, {"type": "sweep", "id": 9, "request": bad})
            return await until(ws, "error", 9)

    error = asyncio.run(scenario())[-1]
    assert error["errors"][0]["loc"] == ["request", "x_axis", "param"]
    assert "valid axes" in error["detail"]
