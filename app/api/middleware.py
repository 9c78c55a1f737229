"""Pure ASGI middleware: a request body size limit and security headers.

Pure ASGI (not ``BaseHTTPMiddleware``) so WebSockets pass through untouched and
large responses are not buffered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.encoding import dumps

# The page loads nothing from other origins; Plotly needs inline styles and
# draws images from data:/blob: URLs. Who may frame it is the deployment's choice
# (settings.frame_ancestors: 'none' unless a course embeds it).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors {frame_ancestors}"
)
# Swagger UI (/docs) starts with an inline script (FastAPI's page); its files are
# served from here too (app/api/routes/docs.py), so only the inline part widens.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
    "frame-ancestors {frame_ancestors}"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")


def security_headers(csp: str) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries (docs/API.md, Security headers)."""
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Answer 413 to a request whose body is larger than ``max_bytes``, and 408 to one
    whose body does not arrive whole within ``max_seconds``.

    Checks ``Content-Length`` up front and counts the bytes of chunked bodies
    as they arrive.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, "invalid Content-Length header")
                return
            if int(declared) > self.max_bytes:
                await self._too_large(send)
                return

        received = 0
        answered = False
        started = False
        body_done = False
        deadline = asyncio.get_running_loop().time() + self.max_seconds

        async def limited_receive() -> Message:
            nonlocal received, answered, body_done
            if body_done or answered:
                return await receive()  # after the body: only a disconnect can come
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                answered = True
                if not started:
                    await _send_json(
                        send, 408, f"the request body did not arrive within {self.max_seconds:g} s"
                    )
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > self.max_bytes and not started:
                    answered = True
                    await self._too_large(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the app's answer to a body we cut off
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _too_large(self, send: Send) -> None:
        await _send_json(send, 413, f"request body larger than {self.max_bytes} bytes")


class SecurityHeaders:
    """Add CSP, ``nosniff`` and ``no-referrer`` to every HTTP answer the app writes,
    a WebSocket handshake's refusal included."""

    def __init__(
        self, app: ASGIApp, frame_ancestors: str = "'none'", docs_paths: Iterable[str] = DOCS_PATHS
    ) -> None:
        self.app = app
        self.page = security_headers(PAGE_CSP.format(frame_ancestors=frame_ancestors))
        self.docs = security_headers(DOCS_CSP.format(frame_ancestors=frame_ancestors))
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        added = self.docs if scope["path"] in self.docs_paths else self.page

        async def send_with_headers(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                headers = MutableHeaders(scope=message)
                for name, value in added:
                    headers.setdefault(name.decode(), value.decode())
            await send(message)

        await self.app(scope, receive, send_with_headers)
