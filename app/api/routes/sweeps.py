"""``POST /api/sweeps``: one optimiser over a grid of two settings (docs/API.md)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request
from fastapi.openapi.models import Example
from starlette.responses import Response

from app.api.answers import Refused, admission, encoded, read_request
from app.api.encoding import JSONBytesResponse, dumps
from app.api.readiness import engine_warming, warming_response
from app.api.routes.responses import BAD_INPUT, UNAVAILABLE
from app.api.schemas import ALPHA_BETA_EXAMPLE, START_EXAMPLE, SweepBody, SweepResponse
from app.sweeps import Sweep, result_as_json

router = APIRouter(tags=["sweeps"])


def _compute(sweep: Sweep) -> bytes:
    return dumps(result_as_json(sweep.run()))


def _response_example() -> dict[str, Any]:
    """A real answer, kept small: 3 × 2 cells of the α–β example, 20 steps."""
    request = {
        **ALPHA_BETA_EXAMPLE,
        "steps": 20,
        "x_axis": {**ALPHA_BETA_EXAMPLE["x_axis"], "count": 3},
        "y_axis": {**ALPHA_BETA_EXAMPLE["y_axis"], "count": 2},
    }
    return orjson.loads(_compute(Sweep(request, backend="numpy")))


@router.post(
    "/api/sweeps",
    summary="Sweep a grid of two hyper-parameters or start coordinates",
    response_class=JSONBytesResponse,
    response_model=None,
    responses={
        200: {
            "model": SweepResponse,
            "content": {"application/json": {"example": _response_example()}},
        },
        **BAD_INPUT,
        **UNAVAILABLE,
    },
)
async def sweeps(
    body: Annotated[
        SweepBody,
        Body(
            openapi_examples={
                "alpha-beta": Example(summary="α × β for momentum", value=ALPHA_BETA_EXAMPLE),
                "start-points": Example(summary="Where each start ends up", value=START_EXAMPLE),
            }
        ),
    ],
    request: Request,
) -> Response:
    """Every cell is a row of one batch, with the same noise and minibatches as a single run.

    Grids are `[y][x]` (row j is `y_axis.values[j]`). Per cell: `final_loss` (null
    if it diverged), `diverged_at`, `converged_at` and `blew_up_at` (see
    docs/API.md, Convergence), and `minimum_index`, the known minimum (index into
    `minima`) its final point reached, or null. While the engine warms up after a
    start, or when the server is at capacity, the answer is 503 with `Retry-After`.
    """
    spec = body.model_dump(exclude_unset=True)
    try:  # checks it; the grid is made later
        sweep = await read_request(request, spec.get("problem"), lambda: Sweep(spec))
    except Refused as refused:
        return refused.response
    if engine_warming(request.app):
        return warming_response()  # the request was valid (else 422): it may come back
    try:
        async with admission(request, sweep.points) as ticket:
            # One chunk a turn: other clients' work goes between two chunks, and a
            # client that leaves stops the sweep at the next one.
            chunks = sweep.chunks(sweep.updates_per_chunk)
            while await ticket.run(next, chunks, None) is not None:
                if await request.is_disconnected():
                    return Response(status_code=499)  # no one reads it
            return await encoded(
                ticket, request, lambda: dumps(result_as_json(sweep.result())), "application/json"
            )
    except Refused as refused:
        return refused.response
