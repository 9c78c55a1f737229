"""One WebSocket connection of ``/api/stream`` (docs/API.md, WebSocket /api/stream).

The receive loop reads messages, checks them and starts or stops the one task
in flight (a run or a sweep); the task sends ``started``, the ``chunk``s and
``done`` (or ``sweep_started``, ``progress``, ``sweep_done``). Every chunk's
numpy/numba work and encoding runs in a worker turn of the compute gate
(app/api/capacity.py), which serves this connection in turn with every other
client, so the event loop only ever waits on I/O.

Replacing a task cancels it *and waits for it* before the new one starts, so no
message of the old id follows the new one's first message; the old id gets a
``cancelled``. A cancelled task may still be inside a worker turn; the wait
covers that too (at most one chunk's compute, ``stream_chunk_seconds`` by design).

What a client cannot do to the server through its socket: flood it (a token
bucket, charged before a message is parsed), keep it busy with invalid messages
(``ws_max_invalid`` in a row close the socket), or make it hold what it sends
while it does not read (a send that waits longer than ``send_timeout`` ends the
session and frees its task).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Coroutine, Hashable
from functools import partial
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError
from starlette.websockets import WebSocket, WebSocketState

from app.api import encoding
from app.api.answers import names_a_formula
from app.api.capacity import Busy, ComputeGate
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
from app.formats import ANATOMY_POINT_WEIGHT, POINT_WEIGHT
from app.settings import Settings
from app.sweeps import Sweep, result_as_json

log = logging.getLogger(__name__)

FIRST_UPDATES = 16  # a long run's first chunk after point 0: small, so the page draws at once
# Row·update·sample units of work in the first chunks, before a measured speed takes
# over: ≈ 20–40 ms of the compiled engine (≈ 11 ns per row·update on a surface,
# ≈ 23 ns per row·update·sample on a regression, whose loss is over the whole dataset).
FIRST_WORK = 1_500_000


def affordable_updates(simulation: Simulation, work: int = FIRST_WORK) -> int:
    """How many updates of ``simulation`` make about ``work`` units."""
    samples = max(1, int(simulation.problem.get("n_samples", 1)))
    return max(1, work // (len(simulation.runs) * samples))


MESSAGE_TYPES = ("run", "sweep", "stop")
# A message the rate limit drops is parsed only if it is this short, to name its id
# in the answer (a page's `run` is well under it); a flood of long ones costs nothing.
ID_PEEK_CHARACTERS = 4096
# The close code for a client that keeps sending invalid messages (RFC 6455: policy).
POLICY_VIOLATION = 1008


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


def _peeked_id(text: str) -> Any:
    """The ``id`` of a short message (see ID_PEEK_CHARACTERS), else None."""
    if len(text) > ID_PEEK_CHARACTERS:
        return None
    try:
        return _message_id(json.loads(text))
    except (ValueError, RecursionError):
        return None


class StreamSession:
    def __init__(
        self,
        websocket: WebSocket,
        settings: Settings,
        gate: ComputeGate,
        engine_warming: Callable[[], bool] = lambda: False,
    ) -> None:
        self.websocket = websocket
        self.settings = settings
        self.gate = gate
        self.engine_warming = engine_warming
        self.bucket = TokenBucket(settings.ws_rate, settings.ws_burst)
        self.send_lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None
        self.task_id: Any = None
        self.invalid_in_a_row = 0
        self.receiving: asyncio.Future[Any] | None = None
        self.closed = False
        # This connection, as one client of the compute gate.
        self.client: Hashable = object()

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: str | bytes) -> None:
        """Send one JSON text message; a vanished client, or one that has not taken a
        message for ``send_timeout`` s (it stopped reading), ends the session.

        Chunks come as text, decoded in their worker turn: a client that stops
        reading holds one copy of a chunk here, not the JSON bytes as well."""
        if self.closed:
            return
        text = message if isinstance(message, str) else message.decode()
        del message
        async with self.send_lock:
            try:
                # asyncio.timeout, not wait_for: wait_for's inner task and its exception
                # hold each other (and the message) until a garbage collection.
                async with asyncio.timeout(self.settings.send_timeout):
                    await self.websocket.send_text(text)
            except TimeoutError:
                log.info(
                    "stream closed: its client read nothing for %g s", self.settings.send_timeout
                )
                self.end()
            except Exception:  # noqa: BLE001 - any transport failure means the client is gone
                self.end()

    def end(self) -> None:
        """Stop serving this connection: the receive loop returns, the task is cancelled."""
        self.closed = True
        if self.receiving is not None:
            self.receiving.cancel()

    async def error(self, message_id: Any, detail: str, code: str, **extra: Any) -> None:
        body = {"type": "error", "id": message_id, "detail": detail, "code": code, **extra}
        await self.send(encoding.dumps(body))

    async def invalid(self, message_id: Any, detail: str, code: str, **extra: Any) -> None:
        """Answer a message the client should not have sent; close the socket when too
        many come in a row."""
        await self.error(message_id, detail, code, **extra)
        self.invalid_in_a_row += 1
        if self.invalid_in_a_row >= self.settings.ws_max_invalid:
            await self.close(f"{self.invalid_in_a_row} invalid messages in a row")

    async def refuse(self, message_id: Any, items: list[dict[str, Any]]) -> None:
        """The one answer to a message whose fields break the rules: ``invalid_message``
        naming each field (``errors``, as in the HTTP 422)."""
        await self.invalid(message_id, describe(items), "invalid_message", errors=items)

    async def close(self, reason: str) -> None:
        self.end()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.settings.send_timeout):
                await self.websocket.close(POLICY_VIOLATION, reason)

    # -- the receive loop -------------------------------------------------------------

    async def serve(self) -> None:
        try:
            while not self.closed:
                self.receiving = asyncio.ensure_future(self.websocket.receive())
                try:
                    message = await self.receiving
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if self.closed and not (current and current.cancelling()):
                        break  # end() stopped the loop, nobody cancelled us
                    raise
                if message["type"] == "websocket.disconnect":
                    break
                await self.handle(message)
        finally:
            self.closed = True
            if self.receiving is not None:
                self.receiving.cancel()
                self.receiving = None  # a cancelled task's error refers back to this frame
            await self.cancel()
            if self.websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.settings.send_timeout):
                        await self.websocket.close()

    async def handle(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if text is None:
            await self.invalid(None, "send JSON text messages, not binary ones", "invalid_message")
            return
        # Charged before parsing: a flood costs the server a token check per message.
        if not self.bucket.take():
            await self.error(
                _peeked_id(text),
                f"too many messages: at most {self.settings.ws_rate:g} per second "
                f"(bursts of {self.settings.ws_burst}); this one was dropped",
                "rate_limited",
            )
            return
        size = len(text.encode())
        if size > self.settings.ws_max_message_bytes:
            await self.invalid(
                None,
                f"message of {size} bytes is larger than "
                f"{self.settings.ws_max_message_bytes}; it was dropped",
                "too_large",
            )
            return
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            await self.invalid(None, f"not valid JSON: {exc}", "invalid_json")
            return
        message_id = _message_id(data)
        kind = data.get("type") if isinstance(data, dict) else None
        if kind not in MESSAGE_TYPES:
            detail = (
                "a message must be a JSON object with a type"
                if not isinstance(data, dict)
                else f"unknown message type {kind!r}; valid types: {', '.join(MESSAGE_TYPES)}"
            )
            await self.invalid(message_id, detail, "invalid_message")
            return
        model = {"run": RunMessage, "sweep": SweepMessage, "stop": StopMessage}[kind]
        try:
            parsed = model.model_validate(data)
        except ValidationError as exc:
            await self.refuse(message_id, error_items(exc.errors()))
            return
        if isinstance(parsed, StopMessage):
            self.invalid_in_a_row = 0
            await self.stop(parsed.id)
            return
        if isinstance(parsed, SweepMessage):
            spec = parsed.request.model_dump(exclude_unset=True)
            # Only checks the request: the grid is made in the sweep's first turn.
            read: Callable[[], Any] = partial(Sweep, spec)
        else:
            spec = parsed.request.engine_body()
            read = partial(
                build_simulation,
                spec,
                max_steps=self.settings.max_steps,
                max_runs=self.settings.max_runs,
            )
        try:
            # A typed formula is compiled in one of this client's worker turns, never
            # on the event loop (app/api/answers.py, read_request).
            checked = (
                await self.gate.run(self.client, read)
                if names_a_formula(spec.get("problem"))
                else read()
            )
        except InvalidSpec as exc:
            await self.refuse(message_id, spec_items(exc, ("request",)))
            return
        self.invalid_in_a_row = 0
        if await self.refused_while_warming(message_id):
            return
        if isinstance(parsed, SweepMessage):
            await self.replace(parsed.id, lambda: self.sweep(parsed.id, checked))
        else:
            await self.replace(parsed.id, lambda: self.run(parsed.id, checked, parsed.speed))

    async def refused_while_warming(self, message_id: Any) -> bool:
        """While the engine warms up, a valid run or sweep is answered ``error`` (code
        ``warming``) at once and leaves the one in flight alone (docs/API.md)."""
        if not self.engine_warming():
            return False
        await self.error(message_id, WARMING_DETAIL, "warming", retry_after=RETRY_AFTER_SECONDS)
        return True

    # -- the task in flight -----------------------------------------------------------

    async def cancel(self) -> bool:
        """Cancel the task in flight and wait until it can send nothing more."""
        task, self.task = self.task, None
        if task is None or task.done():
            return False
        task.cancel()
        # Waits without raising the task's CancelledError: only our own cancellation
        # (the server shutting down) interrupts it, and propagates as it came.
        await asyncio.wait({task})
        return True

    async def stop(self, stop_id: Any) -> None:
        """``stopped`` with the id of the task it ended, or, when nothing was in
        flight, with the ``stop`` message's own id."""
        task_id = self.task_id
        ended = await self.cancel()
        await self.send(encoding.dumps({"type": "stopped", "id": task_id if ended else stop_id}))

    async def replace(self, task_id: Any, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Make ``work()`` the one task in flight (a run or a sweep): latest request wins.
        The coroutine is made only once the old task is gone, so it always runs."""
        replaced_id = self.task_id
        if await self.cancel():
            await self.send(encoding.dumps({"type": "cancelled", "id": replaced_id}))
        if self.closed:
            return
        self.task_id = task_id
        self.task = asyncio.create_task(self.guarded(task_id, work))

    async def guarded(self, task_id: Any, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream task %r failed", task_id)
            await self.error(task_id, "internal error while computing this request", "internal")

    async def sweep(self, sweep_id: Any, sweep: Sweep) -> None:
        """``sweep_started``, then ``progress`` after every chunk, then ``sweep_done``.

        A sweep holds its grid in memory while it runs, so it is admitted like a POST
        (app/api/capacity.py); a server at capacity answers ``error`` (code ``busy``,
        with ``retry_after``) instead."""
        try:
            async with self.gate.admit(self.client, sweep.points) as ticket:
                await self.send(
                    encoding.dumps(
                        {"type": "sweep_started", "id": sweep_id, "cells": sweep.cells}
                        | sweep.request
                    )
                )
                chunks = sweep.chunks(sweep.updates_per_chunk)
                while not self.closed:
                    done = await ticket.run(next, chunks, None)
                    if done is None:
                        break
                    progress = {"type": "progress", "id": sweep_id, "done": done}
                    await self.send(encoding.dumps(progress))
                if self.closed:
                    return  # its client left: no result to compute
                await self.send(await ticket.run(_sweep_done, sweep_id, sweep))
        except Busy as busy:
            await self.error(sweep_id, busy.detail, "busy", retry_after=busy.retry_after)

    async def run(self, run_id: Any, simulation: Simulation, speed: float) -> None:
        steps = simulation.steps
        # At most `stream_max_points` points a message, and (until measured) about
        # one slice of work a chunk; then the measured speed sets the chunk size.
        # An anatomy point carries about three times the numbers of a plain one.
        weight = ANATOMY_POINT_WEIGHT // POINT_WEIGHT if simulation.anatomy else 1
        cap = max(1, self.settings.stream_max_points // (len(simulation.runs) * weight))
        affordable = min(cap, affordable_updates(simulation))
        # A run that one slice of work covers is computed whole in its first worker turn
        # and sent in one chunk after point 0 (a slider's run: one wait for a turn among
        # the other clients', not one per chunk); a longer one starts small, so the page
        # has something to draw at once.
        whole = speed <= 0 and steps <= affordable
        execution, messages = await self.gate.run(
            self.client, _begin, run_id, simulation, steps if whole else 0
        )
        for message in messages:
            await self.send(message)
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
            message, elapsed = await self.gate.run(self.client, _advance, execution, run_id, count)
            if message is not None:
                await self.send(message)
            # Aim the next chunk at the compute budget, growing at most 8× at a time.
            rate = count / max(elapsed, 1e-6)
            affordable = min(cap, max(1, min(8 * count, int(rate * budget))))
            count = affordable
        await self.send(encoding.done_message(run_id, execution))


def _begin(run_id: Any, simulation: Simulation, updates: int) -> tuple[Execution, list[str]]:
    """The run's ``started`` message and point 0, then its first ``updates`` updates
    (none: 0) as a chunk message."""
    execution = Execution(simulation)
    chunks = execution.chunks(1)
    first = encoding.chunk_message(run_id, next(chunks))  # point 0 of every run
    started = encoding.started_message(run_id, simulation, execution)
    messages = [started.decode(), first.decode()]
    if updates:
        message, _ = _advance(execution, run_id, updates)
        messages += [] if message is None else [message]
    return execution, messages


def _advance(execution: Execution, run_id: Any, count: int) -> tuple[str | None, float]:
    """The next ``count`` updates as a chunk message (None when a stride leaves it
    without points), and the seconds they took to compute (timed in the worker: a
    wait for a turn is not the engine's speed)."""
    began = time.perf_counter()
    chunk = execution.advance(count)
    message = None if chunk.empty else encoding.chunk_message(run_id, chunk).decode()
    return message, time.perf_counter() - began


def _sweep_done(sweep_id: Any, sweep: Sweep) -> str:
    result = result_as_json(sweep.result())
    return encoding.dumps({"type": "sweep_done", "id": sweep_id, "result": result}).decode()
