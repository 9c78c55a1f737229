"""How the engine's HTTP routes answer: admitted by the compute gate, computed and
encoded in worker turns, sent as they are encoded.

A route calls :func:`admission` with the points its answer will hold; it gets a
:class:`~app.api.capacity.Ticket` whose ``run`` executes work in its turns, or a
503 answer (:class:`Refused`) when the server is at capacity. The admission ends
when the answer is sent (:class:`StreamedAnswer`) or the route's block ends.
Compression (zstd or gzip) happens in the worker turns too, so an answer is never
compressed on the event loop or outside the gate's fair share.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.api.capacity import Busy, ClientGone, ComputeGate, Ticket
from app.api.encoding import GZIP_MINIMUM_BYTES, compressor_for
from app.api.errors import retry_later

T = TypeVar("T")


class Refused(Exception):
    """The request cannot be taken now; ``response`` says why (503, or nothing for a
    client that already left)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def client_of(request: Request) -> str:
    """Whose request this is, for fairness: its remote address (behind a proxy, the
    address the proxy forwards when uvicorn trusts it: FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


def gate_of(request: Request) -> ComputeGate:
    return request.app.state.gate


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone (the body is read: only a disconnect can come)."""
    while (await receive())["type"] != "http.disconnect":
        pass


@asynccontextmanager
async def admission(request: Request, points: int) -> AsyncIterator[Ticket]:
    """Admit the request (see ComputeGate.admit), or raise :class:`Refused`.

    While it waits for its turn, a client that disconnects leaves the queue.
    """
    watch = asyncio.ensure_future(_disconnected(request.receive))
    try:
        async with gate_of(request).admit(client_of(request), points, watch) as ticket:
            watch.cancel()
            yield ticket
    except Busy as busy:
        raise Refused(retry_later(busy.detail, busy.retry_after)) from None
    except ClientGone:
        raise Refused(Response(status_code=499)) from None  # no one reads it
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch


def names_a_formula(problem: Any) -> bool:
    """Whether reading a request's ``problem`` means compiling a typed formula: parsing,
    differentiating and fitting its window (up to ~0.2 s of CPU for a new one)."""
    return isinstance(problem, Mapping) and problem.get("name") == "custom"


async def read_request(request: Request, problem: Any, read: Callable[[], T]) -> T:
    """``read()``, the checks that turn a request into the engine's work: at once when
    they are cheap, in one of the client's worker turns when they compile a typed
    formula, so that no client can keep the event loop busy. Raises :class:`Refused`
    when the server is too busy to take the request, and what ``read`` raises (a 422)."""
    if not names_a_formula(problem):
        return read()
    async with admission(request, 0) as ticket:
        return await ticket.run(read)


async def encoded(
    ticket: Ticket, request: Request, encode: Callable[[], bytes], media_type: str
) -> Response:
    """The answer ``encode()`` makes, encoded (and compressed, if the client takes zstd
    or gzip) in one worker turn."""
    coding = compressor_for(request.headers)

    def work() -> tuple[bytes, bool]:
        body = encode()
        if coding and len(body) >= GZIP_MINIMUM_BYTES:
            return coding().finish(body), True
        return body, False

    body, compressed = await ticket.run(work)
    headers = {"Vary": "Accept-Encoding"}
    if compressed and coding:
        headers["Content-Encoding"] = coding.name
    return Response(body, media_type=media_type, headers=headers)


class StreamedAnswer(Response):
    """An answer sent piece by piece as ``pieces`` yields them, each encoded (and
    compressed, if the client takes it) in a worker turn. Calls ``finished`` once it is
    sent or the client has left, whichever comes first; a client that leaves stops
    the encoding at the next piece."""

    def __init__(
        self,
        ticket: Ticket,
        request: Request,
        pieces: Callable[[], Any],
        media_type: str,
        finished: Callable[[], Awaitable[Any]],
    ) -> None:
        super().__init__(media_type=media_type)
        self.ticket = ticket
        self.pieces = pieces
        self.coding = compressor_for(request.headers)
        self.finished = finished
        self.headers["Vary"] = "Accept-Encoding"
        del self.headers["content-length"]
        if self.coding:
            self.headers["Content-Encoding"] = self.coding.name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.ensure_future(_disconnected(receive))
        iterator = self.pieces()
        stream = self.coding() if self.coding else None

        def next_piece() -> tuple[bytes, bool]:
            piece = next(iterator, None)
            if piece is None:
                return (stream.finish() if stream else b""), True
            return (stream.compress(piece) if stream else piece), False

        # One piece ahead: the next is encoded while this one is sent, so a client
        # that reads at its own pace does not leave the worker idle between pieces.
        upcoming: asyncio.Future[tuple[bytes, bool]] | None = None
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            upcoming = asyncio.ensure_future(self.ticket.run(next_piece))
            last = False
            while not last and not gone.done():
                body, last = await upcoming
                upcoming = None if last else asyncio.ensure_future(self.ticket.run(next_piece))
                await send({"type": "http.response.body", "body": body, "more_body": not last})
        finally:
            for task in (upcoming, gone):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            await self.finished()
