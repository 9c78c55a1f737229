"""``GET /healthz`` (liveness) and ``GET /readyz`` (the engine is compiled)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from app import __version__
from app.api.readiness import engine_warming
from app.api.schemas import Health

router = APIRouter(tags=["health"])


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
def healthz() -> Health:
    return Health(status="ok", version=__version__)


@router.get("/readyz", include_in_schema=False)
def readyz(request: Request) -> Response:
    """200 once the compiled engine is warm, 503 while it is still compiling."""
    if engine_warming(request.app):
        return JSONResponse({"status": "warming"}, status_code=503)
    return JSONResponse({"status": "ready"})
