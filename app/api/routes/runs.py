"""``POST /api/runs``: compute whole runs (docs/API.md, POST /api/runs)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from anyio import to_thread
from fastapi import APIRouter, Body, Request
from fastapi.openapi.models import Example
from starlette.responses import Response

from app.api.encoding import JSONBytesResponse, dumps, result_json
from app.api.readiness import WARMING_RESPONSE, engine_warming, warming_response
from app.api.routes.responses import BAD_INPUT
from app.api.schemas import RUNS_EXAMPLE, RunsBody, RunsResponse
from app.engine import Simulation, build_simulation, simulate
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


def _compute(simulation: Simulation) -> bytes:
    return dumps(result_json(simulate(simulation)))


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
        **WARMING_RESPONSE,
    },
)
async def runs(
    body: Annotated[RunsBody, Body(openapi_examples=EXAMPLES)], request: Request
) -> Response:
    """Every run of the request stepped together; `path[t]` is the position after t updates.

    A diverging run is a result (200, `diverged_at` set), not an error. While the
    engine warms up after a start, the answer is 503 with `Retry-After`.
    """
    settings: Settings = request.app.state.settings
    simulation = build_simulation(
        body.engine_body(), max_steps=settings.max_steps, max_runs=settings.max_runs
    )
    if engine_warming(request.app):
        return warming_response()  # the request was valid (else 422): it may come back
    content = await to_thread.run_sync(_compute, simulation)
    return Response(content, media_type="application/json")
