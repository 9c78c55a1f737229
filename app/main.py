"""The ASGI application: ``app.main:app``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from app import __version__, memory
from app.api import errors, openapi
from app.api.capacity import ComputeGate
from app.api.encoding import GZIP_LEVEL, GZIP_MINIMUM_BYTES
from app.api.middleware import BodySizeLimit, SecurityHeaders
from app.api.routes import ROUTERS, api_router
from app.api.routes import docs as docs_route
from app.classes.service import Classes
from app.settings import Settings, get_settings

log = logging.getLogger("uvicorn.error")  # shown by uvicorn's default logging

DESCRIPTION = """
Watch optimisers descend 2-D loss surfaces. `POST /api/runs` computes whole runs,
the WebSocket `/api/stream` streams them chunk by chunk (see docs/API.md, not shown
here: OpenAPI does not describe WebSockets), `GET /api/catalog` lists every
optimiser, schedule and problem with its parameters and equations.
"""


def _warm_up() -> float:
    from app.warmup import warm_up

    began = time.perf_counter()
    warm_up()
    return time.perf_counter() - began


async def _warm(app: FastAPI) -> None:
    try:
        seconds = await to_thread.run_sync(_warm_up)
    except Exception:
        # The engine compiles on first use instead; requests still work.
        log.exception("warming the compiled engine failed")
        return
    app.state.warm_seconds = seconds
    log.info("compiled engine ready in %.2f s", seconds)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The server answers at once; numba compiles (or loads its cache) in a thread
    # meanwhile. Work that needs the engine before then is refused at once with a
    # retry hint (app/api/readiness.py), never held for the compile.
    if app.state.settings.warm_up:
        app.state.warming = asyncio.create_task(_warm(app))
    trimming = asyncio.create_task(memory.trim_every())
    # Class mode's database is migrated before the first request is served.
    classes = app.state.classes = Classes(app.state.settings)
    await classes.start()
    try:
        yield
    finally:
        trimming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trimming
        await classes.close()
        warming = getattr(app.state, "warming", None)
        if warming is not None:
            await warming  # a thread cannot be interrupted; it is short


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="descentlab",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        docs_url=None,  # app/api/routes/docs.py serves it without a CDN
    )
    app.state.settings = settings
    # Where every request's engine work runs (app/api/capacity.py), and the streams open.
    app.state.gate = ComputeGate(
        slots=settings.compute_slots,
        points=settings.compute_points,
        max_queued=settings.compute_max_queued,
        max_queued_per_client=settings.compute_max_queued_per_client,
        max_wait=settings.compute_max_wait,
    )
    app.state.open_streams = 0
    app.state.streams_by_address = Counter()
    errors.install(app)
    app.include_router(api_router)
    openapi.install(app, ROUTERS)
    # Before /static: the more specific mount must match first.
    app.mount(docs_route.ASSETS_URL, StaticFiles(directory=docs_route.ASSETS_DIR), name="swagger")
    if settings.static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    # The catalog, pages and scripts shrink ~3× gzipped. The engine's answers (runs,
    # surfaces, sweeps) are compressed in their own worker turns (app/api/answers.py)
    # and Plotly once by its own route: the middleware passes both through.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        max_seconds=settings.http_read_timeout,
    )
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)
    return app


app = create_app()
