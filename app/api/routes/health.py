"""``GET /healthz`` (liveness) and ``GET /readyz`` (the engine is compiled).

Both run on the event loop and touch nothing else: no worker thread, no engine,
so they answer at once however busy the server is (app/api/capacity.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from app import __version__
from app.api.readiness import engine_warming
from app.api.schemas import Health

router = APIRouter(tags=["health"])


@router.head("/healthz", include_in_schema=False)
@router.get(
    "/healthz",
    summary="Liveness",
    response_model=Health,
    responses={
        200: {
            "content": {"application/json": {"example": {"status": "ok", "version": __version__}}}
        }
    },
)
async def healthz() -> Health:
    return Health(status="ok", version=__version__)


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response:
    """200 once the compiled engine is warm, 503 while it is still compiling."""
    if engine_warming(request.app):
        return JSONResponse({"status": "warming"}, status_code=503)
    return JSONResponse({"status": "ready"})
