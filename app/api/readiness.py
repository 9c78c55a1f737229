"""Whether the compiled engine is warm, and the answer to work that needs it before then.

At start-up the server answers at once while numba compiles (or loads from its
cache) the engine in a thread: about a second with the cache the Docker image
carries, ten to thirty without one. Until it is done, a request that runs the
engine (``POST /api/runs``, ``POST /api/sweeps``, a stream ``run`` or ``sweep``)
is answered at once with 503 and ``Retry-After`` (on the stream, an ``error``
with code ``warming`` and ``retry_after``), never held for the compile and never
computed another way: every answer the server gives is the compiled engine's,
so a stream and a POST of the same request agree number for number from the
first request on. Everything else (the page, the catalog, lessons, contour
grids, which are plain numpy) is served meanwhile.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse

from app.api.schemas import MessageError

RETRY_AFTER_SECONDS = 1
WARMING_DETAIL = (
    f"the engine is warming up (compiling at start-up); retry in {RETRY_AFTER_SECONDS} s"
)

WARMING_RESPONSE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": MessageError,
        "description": "The engine is still warming up after the server started; retry after "
        "`Retry-After` seconds",
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        },
        "content": {"application/json": {"example": {"detail": WARMING_DETAIL}}},
    }
}


def engine_warming(app: FastAPI) -> bool:
    """True while the start-up warm-up is still running (never, with warm-up off)."""
    warming = getattr(app.state, "warming", None)
    return warming is not None and not warming.done()


def warming_response() -> JSONResponse:
    return JSONResponse(
        {"detail": WARMING_DETAIL},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
