"""WebSocket ``/api/stream``: runs streamed as they are computed (docs/API.md)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from app.api.readiness import engine_warming
from app.api.streaming import StreamSession

router = APIRouter()


@router.websocket("/api/stream")
async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    app = websocket.app
    await StreamSession(websocket, app.state.settings, lambda: engine_warming(app)).serve()
