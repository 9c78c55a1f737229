"""The limits uvicorn does not set by itself, on its own connection classes.

``descentlab serve`` (and so the Dockerfile) runs uvicorn with these protocols
(``HTTP_PROTOCOL``, ``WEBSOCKET_PROTOCOL``) and its h11 head-size limit, so that
without a proxy in front (docs/DEPLOY.md) no connection can hold the server:

- a request's head must arrive whole within ``http_read_timeout`` seconds of the
  connection opening (or of the previous answer): a client that sends a header
  byte by byte, or half a header and nothing more, is disconnected (uvicorn's
  keep-alive timeout only counts between requests, and any byte resets it);
- a head larger than ``http_max_head_bytes`` is refused (h11's own limit; uvicorn
  answers 400), so no connection buffers megabytes of header;
- a client that takes nothing the server sends for ``send_timeout`` seconds (it
  stopped reading an answer or a stream) is disconnected at once, and what was
  queued for it freed: asyncio's ``close`` would wait for the queue to drain,
  which it never does;
- uvicorn's own 400 (a request it cannot parse) carries the security headers every
  answer of the app carries (app/api/middleware.py).

Its 503 for connections past ``--limit-concurrency`` (``http_max_connections``) is
uvicorn's alone: plain text, without those headers.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from app.api.middleware import PAGE_CSP, security_headers
from app.settings import get_settings

HTTP_PROTOCOL = "app.server:GuardedH11Protocol"
WEBSOCKET_PROTOCOL = "app.server:GuardedWebSocketProtocol"


class _StallGuard:
    """Abort the connection when its peer has not drained the write buffer for
    ``send_timeout`` seconds (asyncio calls pause_writing above the buffer's high-water
    mark and resume_writing once it is below the low one)."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _stall: asyncio.TimerHandle | None = None

    def pause_writing(self) -> None:
        super().pause_writing()  # type: ignore[misc]
        if self._stall is None:
            self._stall = self.loop.call_later(get_settings().send_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()  # type: ignore[misc]
        self._calm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._calm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _calm(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        if not self.transport.is_closing() or self.transport.get_write_buffer_size():
            self.transport.abort()


class GuardedH11Protocol(_StallGuard, H11Protocol):
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:
            self._head_arrived()  # a request's head was read whole

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._head_arrived()  # the connection is the WebSocket protocol's from now on
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        # The next request's head must come in time too. The deadline is armed
        # first: uvicorn reads a pipelined request at once, inside the call below,
        # and that request (running, perhaps for long) must not inherit it.
        if not self.transport.is_closing():
            self._await_head()
        super().on_response_complete()
        if self.transport.is_closing():
            self._head_arrived()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._head_arrived()
        self._head_deadline = self.loop.call_later(
            get_settings().http_read_timeout, self._head_timed_out
        )

    def _head_arrived(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, with the app's security headers."""
        csp = PAGE_CSP.format(frame_ancestors=get_settings().frame_ancestors)
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"connection", b"close"),
            *security_headers(csp),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=msg.encode("ascii")),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()


class GuardedWebSocketProtocol(_StallGuard, WebSocketsSansIOProtocol):
    pass
