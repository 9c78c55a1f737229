"""``POST /api/runs``: compute whole runs (docs/API.md, POST /api/runs), answered as
JSON or, for ``Accept: text/csv`` or ``?format=csv``, as CSV in long format."""

from __future__ import annotations

import math
from contextlib import AsyncExitStack
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Query, Request
from fastapi.openapi.models import Example
from starlette.responses import Response

from app.api.answers import Refused, StreamedAnswer, admission, read_request
from app.api.encoding import JSONBytesResponse
from app.api.readiness import engine_warming, warming_response
from app.api.routes.responses import BAD_INPUT, UNAVAILABLE
from app.api.schemas import RUNS_EXAMPLE, RunsBody, RunsResponse
from app.engine import build_simulation, simulate
from app.formats import (
    CSV_MEDIA_TYPE,
    answer_points,
    csv_blocks,
    dumps,
    result_json,
    result_pieces,
)
from app.optim.registry import OPTIMIZERS
from app.settings import Settings

router = APIRouter(tags=["runs"])

EXAMPLES: dict[str, Example] = {
    "momentum": Example(summary="Momentum with a step schedule on Rosenbrock", value=RUNS_EXAMPLE),
    "classroom": Example(
        summary="Every optimiser, defaults, 1000 steps",
        value={
            "problem": {"name": "rosenbrock"},
            "steps": 1000,
            "runs": [{"optimizer": name} for name in OPTIMIZERS],
        },
    ),
    "minibatch": Example(
        summary="Minibatch SGD against full-batch gradient descent on a regression",
        value={
            "problem": {"name": "linear_regression", "n_samples": 200, "noise": 0.5},
            "steps": 100,
            "seed": 3,
            "runs": [
                {"optimizer": "sgd", "params": {"alpha": 0.05}},
                {"optimizer": "adam", "params": {"alpha": 0.05, "bias_correction": False}},
            ],
        },
    ),
    "diverging": Example(
        summary="A learning rate too large: the run diverges (still 200)",
        value={
            "problem": {"name": "steep_valley"},
            "steps": 50,
            "runs": [{"optimizer": "sgd", "params": {"alpha": 1.0}}],
        },
    ),
}


MEDIA_TYPES = {"json": "application/json", "csv": "text/csv"}
Format = Literal["json", "csv"]


def _quality(accept: str, media_type: str) -> float:
    """The ``q`` an ``Accept`` header gives ``media_type``: that of its most specific
    matching range (``text/csv`` over ``text/*`` over ``*/*``), 0 when none matches."""
    kind = media_type.split("/")[0]
    ranks = {media_type: 2, f"{kind}/*": 1, "*/*": 0}
    best, best_rank = 0.0, -1
    for part in accept.split(","):
        media_range, *parameters = (piece.strip() for piece in part.split(";"))
        rank = ranks.get(media_range.lower(), -1)
        if rank < 0 or rank < best_rank:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        quality = min(max(quality, 0.0), 1.0) if math.isfinite(quality) else 0.0
        best = quality if rank > best_rank else max(best, quality)
        best_rank = rank
    return best


def answer_format(query: Format | None, accept: str | None) -> Format:
    """``?format=`` if given, else CSV when ``Accept`` prefers it to JSON; JSON otherwise
    (also for ``*/*`` and no ``Accept`` at all)."""
    if query is not None:
        return query
    if not accept:
        return "json"
    quality = {name: _quality(accept, media) for name, media in MEDIA_TYPES.items()}
    return "csv" if quality["csv"] > quality["json"] else "json"


# Points (runs × updates) encoded in one worker turn: ~3 MB of JSON, a few ms of
# orjson (which holds the GIL while it encodes) and ~0.1 s of gzip.
PIECE_POINTS = 50_000


def _example_result():
    return simulate(build_simulation({**RUNS_EXAMPLE, "steps": 2}), backend="numpy")


def _response_example() -> dict[str, Any]:
    return orjson.loads(dumps(result_json(_example_result())))


def _csv_example() -> str:
    return b"".join(csv_blocks(_example_result())).decode()


@router.post(
    "/api/runs",
    summary="Compute whole runs",
    response_class=JSONBytesResponse,
    response_model=None,
    responses={
        200: {
            "model": RunsResponse,
            "content": {
                "application/json": {"example": _response_example()},
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": _csv_example(),
                },
            },
        },
        **BAD_INPUT,
        **UNAVAILABLE,
    },
)
async def runs(
    body: Annotated[RunsBody, Body(openapi_examples=EXAMPLES)],
    request: Request,
    format: Annotated[
        Format | None,
        Query(
            description="`csv` for CSV (as `Accept: text/csv` asks), `json` for JSON; "
            "left out, the `Accept` header decides and JSON is the default"
        ),
    ] = None,
) -> Response:
    """Every run of the request stepped together; `path[i]` is the position after
    `t[i]` updates (`t[i] = i` without a `stride`).

    A diverging run is a result (200, `diverged_at` set), not an error. While the
    engine warms up after a start, or when the server is at capacity, the answer is
    503 with `Retry-After`. With
    `Accept: text/csv` (or `?format=csv`) the answer is CSV: one row per run and
    point, with the run's settings, `t`, `epoch`, `x`, `y`, `loss` and `alpha_t`.
    """
    settings: Settings = request.app.state.settings
    spec = body.engine_body()
    try:
        simulation = await read_request(
            request,
            spec["problem"],
            lambda: build_simulation(
                spec, max_steps=settings.max_steps, max_runs=settings.max_runs
            ),
        )
    except Refused as refused:
        return refused.response
    if engine_warming(request.app):
        return warming_response()  # the request was valid (else 422): it may come back
    csv = answer_format(format, request.headers.get("accept")) == "csv"
    # The answer's points stay reserved until it is sent, piece by piece.
    admitted = AsyncExitStack()
    try:
        ticket = await admitted.enter_async_context(admission(request, answer_points(simulation)))
    except Refused as refused:
        return refused.response
    try:
        result = await ticket.run(simulate, simulation)
    except BaseException:
        await admitted.aclose()
        raise
    if csv:  # one run's rows a piece
        pieces, media_type = (lambda: csv_blocks(result)), CSV_MEDIA_TYPE
    else:
        pieces, media_type = (lambda: result_pieces(result, PIECE_POINTS)), "application/json"
    return StreamedAnswer(ticket, request, pieces, media_type, finished=admitted.aclose)
