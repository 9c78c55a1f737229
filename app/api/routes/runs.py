"""``POST /api/runs``: compute whole runs (docs/API.md, POST /api/runs)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request
from fastapi.openapi.models import Example
from starlette.responses import Response

from app.api.answers import Refused, StreamedAnswer, admission
from app.api.encoding import JSONBytesResponse, dumps, result_json, result_pieces
from app.api.readiness import engine_warming, warming_response
from app.api.routes.responses import BAD_INPUT, UNAVAILABLE
from app.api.schemas import RUNS_EXAMPLE, RunsBody, RunsResponse
from app.engine import build_simulation, simulate
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


# Points (runs × updates) encoded in one worker turn: ~3 MB of JSON, a few ms of
# orjson (which holds the GIL while it encodes) and ~0.1 s of gzip.
PIECE_POINTS = 50_000


def _response_example() -> dict[str, Any]:
    request = {**RUNS_EXAMPLE, "steps": 2}
    return orjson.loads(dumps(result_json(simulate(build_simulation(request), backend="numpy"))))


@router.post(
    "/api/runs",
    summary="Compute whole runs",
    response_class=JSONBytesResponse,
    response_model=None,
    responses={
        200: {
            "model": RunsResponse,
            "content": {"application/json": {"example": _response_example()}},
        },
        **BAD_INPUT,
        **UNAVAILABLE,
    },
)
async def runs(
    body: Annotated[RunsBody, Body(openapi_examples=EXAMPLES)], request: Request
) -> Response:
    """Every run of the request stepped together; `path[t]` is the position after t updates.

    A diverging run is a result (200, `diverged_at` set), not an error. While the
    engine warms up after a start, or when the server is at capacity, the answer is
    503 with `Retry-After`.
    """
    settings: Settings = request.app.state.settings
    simulation = build_simulation(
        body.engine_body(), max_steps=settings.max_steps, max_runs=settings.max_runs
    )
    if engine_warming(request.app):
        return warming_response()  # the request was valid (else 422): it may come back
    # The answer's points stay reserved until it is sent, piece by piece.
    admitted = AsyncExitStack()
    try:
        ticket = await admitted.enter_async_context(
            admission(request, len(simulation.runs) * (simulation.steps + 1))
        )
    except Refused as refused:
        return refused.response
    try:
        result = await ticket.run(simulate, simulation)
    except BaseException:
        await admitted.aclose()
        raise
    return StreamedAnswer(
        ticket,
        request,
        lambda: result_pieces(result, PIECE_POINTS),
        media_type="application/json",
        finished=admitted.aclose,
    )
