"""One WebSocket connection of ``/api/stream`` (docs/API.md, WebSocket /api/stream).

The receive loop reads messages, checks them and starts or stops the one run
in flight; the run itself is a task that sends ``started``, the ``chunk``s and
``done``. The numpy/numba work of every chunk (and its encoding) happens in a
worker thread, so the event loop only ever waits on I/O.

Replacing a run cancels its task *and waits for it* before the new run's
``started`` is sent, so no message of the old id can follow. A cancelled task
may still be inside a worker thread; the wait covers that too (at most one
chunk's compute, ``stream_chunk_seconds`` by design).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from anyio import to_thread
from pydantic import ValidationError
from pydantic_core import PydanticCustomError
from starlette.websockets import WebSocket, WebSocketState

from app.api import encoding
from app.api.compute import heavy_limiter
from app.api.errors import describe, error_items, spec_items
from app.api.readiness import RETRY_AFTER_SECONDS, WARMING_DETAIL
from app.api.schemas import (
    RunMessage,
    StopMessage,
    SweepMessage,
    message_id,
)
from app.engine import Execution, Simulation, build_simulation
from app.errors import InvalidSpec
from app.settings import Settings
from app.sweeps import Sweep, result_as_json

log = logging.getLogger(__name__)

FIRST_UPDATES = 16  # the first chunk after point 0: small, so the page draws at once
# Row·update·sample units of work in the first chunks, before a measured speed takes
# over: ≈ 20–40 ms of the compiled engine (≈ 11 ns per row·update on a surface,
# ≈ 23 ns per row·update·sample on a regression, whose loss is over the whole dataset).
FIRST_WORK = 1_500_000


def affordable_updates(simulation: Simulation, work: int = FIRST_WORK) -> int:
    """How many updates of ``simulation`` make about ``work`` units."""
    samples = max(1, int(simulation.problem.get("n_samples", 1)))
    return max(1, work // (len(simulation.runs) * samples))


MESSAGE_TYPES = ("run", "sweep", "stop")
# Row·update units of a sweep chunk: ≈ 50–100 ms of compute between progress messages.
SWEEP_CHUNK_WORK = 5_000_000


class TokenBucket:
    """``burst`` messages at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _message_id(message: Any) -> Any:
    """The message's ``id`` if it is one the server may echo (see MessageId), else None."""
    if isinstance(message, dict):
        try:
            return message_id(message.get("id"))
        except PydanticCustomError:
            pass
    return None


class StreamSession:
    def __init__(
        self,
        websocket: WebSocket,
        settings: Settings,
        engine_warming: Callable[[], bool] = lambda: False,
    ) -> None:
        self.websocket = websocket
        self.settings = settings
        self.engine_warming = engine_warming
        self.bucket = TokenBucket(settings.ws_rate, settings.ws_burst)
        self.send_lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None
        self.task_id: Any = None
        self.closed = False

    # -- sending ----------------------------------------------------------------------

    async def send(self, payload: bytes) -> None:
        """Send one JSON text message; a vanished client ends the session quietly."""
        if self.closed:
            return
        async with self.send_lock:
            try:
                await self.websocket.send_text(payload.decode())
            except Exception:  # noqa: BLE001 - any transport failure means the client is gone
                self.closed = True

    async def error(self, message_id: Any, detail: str, **extra: Any) -> None:
        body = {"type": "error", "id": message_id, "detail": detail, **extra}
        await self.send(encoding.dumps(body))

    # -- the receive loop -------------------------------------------------------------

    async def serve(self) -> None:
        try:
            while not self.closed:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self.handle(message)
        finally:
            self.closed = True
            await self.cancel()
            if self.websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.websocket.close()

    async def handle(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if text is None:
            await self.error(
                None, "send JSON text messages, not binary ones", code="invalid_message"
            )
            return
        size = len(text.encode())
        if size > self.settings.ws_max_message_bytes:
            await self.error(
                None,
                f"message of {size} bytes is larger than "
                f"{self.settings.ws_max_message_bytes}; it was dropped",
                code="too_large",
            )
            return
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            await self.error(None, f"not valid JSON: {exc}", code="invalid_json")
            return
        message_id = _message_id(data)
        # Checked after parsing (the size is already bounded) so the error names the
        # dropped message's id: a client can tell its last slider value was lost.
        if not self.bucket.take():
            await self.error(
                message_id,
                f"too many messages: at most {self.settings.ws_rate:g} per second "
                f"(bursts of {self.settings.ws_burst}); this one was dropped",
                code="rate_limited",
            )
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind not in MESSAGE_TYPES:
            detail = (
                "a message must be a JSON object with a type"
                if not isinstance(data, dict)
                else f"unknown message type {kind!r}; valid types: {', '.join(MESSAGE_TYPES)}"
            )
            await self.error(message_id, detail, code="invalid_message")
            return
        model = {"run": RunMessage, "sweep": SweepMessage, "stop": StopMessage}[kind]
        try:
            parsed = model.model_validate(data)
        except ValidationError as exc:
            items = error_items(exc.errors())
            await self.error(message_id, describe(items), code="invalid_message", errors=items)
            return
        if isinstance(parsed, StopMessage):
            await self.stop()
            return
        if isinstance(parsed, SweepMessage):
            try:
                sweep = await to_thread.run_sync(
                    Sweep, parsed.request.model_dump(exclude_unset=True), limiter=heavy_limiter()
                )
            except InvalidSpec as exc:
                items = spec_items(exc, ("request",))
                await self.error(message_id, describe(items), code="invalid_message", errors=items)
                return
            if not await self.refused_while_warming(message_id):
                await self.replace(parsed.id, self.sweep(parsed.id, sweep))
            return
        try:
            simulation = build_simulation(
                parsed.request.engine_body(),
                max_steps=self.settings.max_steps,
                max_runs=self.settings.max_runs,
            )
        except InvalidSpec as exc:
            items = spec_items(exc, ("request",))
            await self.error(message_id, describe(items), code="invalid_message", errors=items)
            return
        if not await self.refused_while_warming(message_id):
            await self.start(parsed.id, simulation, parsed.speed)

    async def refused_while_warming(self, message_id: Any) -> bool:
        """While the engine warms up, a valid run or sweep is answered ``error`` (code
        ``warming``) at once and leaves the one in flight alone (docs/API.md)."""
        if not self.engine_warming():
            return False
        await self.error(
            message_id, WARMING_DETAIL, code="warming", retry_after=RETRY_AFTER_SECONDS
        )
        return True

    # -- runs -------------------------------------------------------------------------

    async def cancel(self) -> bool:
        """Cancel the run in flight and wait until it can send nothing more."""
        task, self.task = self.task, None
        if task is None or task.done():
            return False
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are being cancelled ourselves, not just the run
        return True

    async def stop(self) -> None:
        run_id = self.task_id
        if await self.cancel():
            await self.send(encoding.dumps({"type": "stopped", "id": run_id}))

    async def start(self, run_id: Any, simulation: Simulation, speed: float) -> None:
        await self.replace(run_id, self._run(run_id, simulation, speed))

    async def replace(self, run_id: Any, work: Coroutine[Any, Any, None]) -> None:
        """Make ``work`` the one task in flight (a run or a sweep): latest request wins."""
        await self.cancel()
        self.task_id = run_id
        self.task = asyncio.create_task(self.guarded(run_id, work))

    async def guarded(self, run_id: Any, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream task %r failed", run_id)
            await self.error(run_id, "internal error while computing this request", code="internal")

    async def sweep(self, sweep_id: Any, sweep: Sweep) -> None:
        """``sweep_started``, then ``progress`` after every chunk, then ``sweep_done``."""
        request = sweep.request
        await self.send(
            encoding.dumps(
                {"type": "sweep_started", "id": sweep_id, "cells": sweep.cells, **request}
            )
        )
        # A regression cell's update also costs a loss over every sample.
        samples = max(1, int(sweep.template.problem.get("n_samples", 1)))
        updates = max(1, SWEEP_CHUNK_WORK // (sweep.cells * samples))
        chunks = sweep.chunks(updates)
        while not self.closed:
            done = await to_thread.run_sync(next, chunks, None, limiter=heavy_limiter())
            if done is None:
                break
            await self.send(encoding.dumps({"type": "progress", "id": sweep_id, "done": done}))
        result = await to_thread.run_sync(
            lambda: result_as_json(sweep.result()), limiter=heavy_limiter()
        )
        await self.send(encoding.dumps({"type": "sweep_done", "id": sweep_id, "result": result}))

    async def _run(self, run_id: Any, simulation: Simulation, speed: float) -> None:
        execution, started, first = await to_thread.run_sync(_begin, run_id, simulation)
        await self.send(started)
        await self.send(first)
        steps = simulation.steps
        # At most `stream_max_points` points a message, and (until measured) about
        # one slice of work a chunk; then the measured speed sets the chunk size.
        cap = max(1, self.settings.stream_max_points // len(simulation.runs))
        affordable = min(cap, affordable_updates(simulation))
        loop = asyncio.get_running_loop()
        frame = self.settings.stream_frame_seconds
        budget = self.settings.stream_chunk_seconds
        count = min(FIRST_UPDATES, affordable)
        t0 = next_frame = loop.time()
        while execution.updates_done < steps and not self.closed:
            if (execution.diverged_at > 0).all():
                break  # every later chunk would hold empty lists only
            left = steps - execution.updates_done
            if speed > 0:
                next_frame = max(next_frame + frame, loop.time())
                await asyncio.sleep(next_frame - loop.time())
                due = min(steps, math.floor(speed * (loop.time() - t0))) - execution.updates_done
                if due <= 0:
                    continue
                count = min(due, affordable)
            count = min(count, left)
            began = time.perf_counter()
            message = await to_thread.run_sync(_advance, execution, run_id, count)
            elapsed = time.perf_counter() - began
            if message is not None:
                await self.send(message)
            # Aim the next chunk at the compute budget, growing at most 8× at a time.
            rate = count / max(elapsed, 1e-6)
            affordable = min(cap, max(1, min(8 * count, int(rate * budget))))
            count = affordable
        await self.send(encoding.done_message(run_id, execution))


def _begin(run_id: Any, simulation: Simulation) -> tuple[Execution, bytes, bytes]:
    execution = Execution(simulation)
    chunks = execution.chunks(1)
    first = encoding.chunk_message(run_id, next(chunks))  # point 0 of every run
    return execution, encoding.started_message(run_id, simulation, execution), first


def _advance(execution: Execution, run_id: Any, count: int) -> bytes | None:
    """The next chunk's message, or None when a stride leaves it without points."""
    chunk = execution.advance(count)
    return None if chunk.empty else encoding.chunk_message(run_id, chunk)
