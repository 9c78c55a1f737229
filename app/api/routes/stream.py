"""WebSocket ``/api/stream``: runs streamed as they are computed (docs/API.md).

Before the handshake is accepted: a browser page of another origin is refused
(403), and so is any connection once the process has ``max_streams`` open, or its
remote address ``max_streams_per_address`` (503 with the compute gate's
``Retry-After``), both as plain HTTP answers (the WebSocket denial response).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from starlette.datastructures import Headers

from app.api.encoding import JSONBytesResponse
from app.api.readiness import engine_warming
from app.api.streaming import StreamSession

router = APIRouter()


def origin_allowed(headers: Headers, allowed: list[str]) -> bool:
    """Whether a page of the request's ``Origin`` may open the stream: the server's own
    (the origin's host:port is the request's ``Host``), one of ``allowed``, or any with
    ``*``. A client that sends no ``Origin`` is not a browser page: it may."""
    origin = headers.get("origin")
    if origin is None or "*" in allowed or origin.rstrip("/") in allowed:
        return True
    host = headers.get("host")
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


async def deny(websocket: WebSocket, status: int, detail: str, **headers: str) -> None:
    """Refuse the handshake with an HTTP answer (or, where the server cannot send one,
    by closing: the client sees 403)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        response = JSONBytesResponse({"detail": detail}, status_code=status, headers=headers)
        await websocket.send_denial_response(response)
    else:
        await websocket.close(1008 if status == 403 else 1013, detail)


@router.websocket("/api/stream")
async def stream(websocket: WebSocket) -> None:
    app = websocket.app
    settings = app.state.settings
    if not origin_allowed(websocket.headers, settings.allowed_origins):
        await deny(websocket, 403, f"origin {websocket.headers['origin']} may not open the stream")
        return
    address = websocket.client.host if websocket.client else "unknown"
    per_address = app.state.streams_by_address
    full = (
        f"the server has {settings.max_streams} streams open"
        if app.state.open_streams >= settings.max_streams
        else f"{address} has {settings.max_streams_per_address} streams open"
        if per_address[address] >= settings.max_streams_per_address
        else None
    )
    if full is not None:
        retry_after = app.state.gate.retry_after
        await deny(
            websocket,
            503,
            f"{full}; retry in {retry_after} s",
            **{"Retry-After": str(retry_after)},
        )
        return
    # Counted before the handshake's await, so two handshakes at once cannot both
    # take the last place.
    app.state.open_streams += 1
    per_address[address] += 1
    try:
        await websocket.accept()
        await StreamSession(
            websocket, settings, app.state.gate, lambda: engine_warming(app)
        ).serve()
    finally:
        app.state.open_streams -= 1
        per_address[address] -= 1
        if not per_address[address]:
            del per_address[address]
