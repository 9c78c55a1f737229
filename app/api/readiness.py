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

from fastapi import FastAPI
from starlette.responses import Response

from app.api.errors import retry_later

RETRY_AFTER_SECONDS = 1
WARMING_DETAIL = (
    f"the engine is warming up (compiling at start-up); retry in {RETRY_AFTER_SECONDS} s"
)


def engine_warming(app: FastAPI) -> bool:
    """True while the start-up warm-up is still running (never, with warm-up off)."""
    warming = getattr(app.state, "warming", None)
    return warming is not None and not warming.done()


def warming_response() -> Response:
    return retry_later(WARMING_DETAIL, RETRY_AFTER_SECONDS)
