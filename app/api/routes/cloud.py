"""``POST /api/cloud``: every minibatch's gradient of one epoch at one point (docs/API.md)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request
from fastapi.openapi.models import Example
from starlette.responses import Response

from app.api.answers import Refused, admission, encoded
from app.api.encoding import JSONBytesResponse, dumps
from app.api.routes.responses import BAD_INPUT, UNAVAILABLE
from app.api.schemas import CloudBody, CloudResponse
from app.cloud import build_cloud, cloud
from app.settings import Settings

router = APIRouter(tags=["cloud"])

EXAMPLE: dict[str, Any] = {
    "problem": {"name": "linear_regression", "n_samples": 200, "noise": 0.5},
    "seed": 0,
    "batch_size": 16,
    "t": 14,
    "at": [0.5, 0.0],
}
EXAMPLES: dict[str, Example] = {
    "minibatches": Example(
        summary="Batches of 16: update 14 is the first of epoch 1", value=EXAMPLE
    ),
    "stochastic": Example(
        summary="Single samples: 200 gradients around the full one",
        value={**EXAMPLE, "batch_size": 1, "t": 1},
    ),
}


def _response_example() -> dict[str, Any]:
    return orjson.loads(dumps(cloud(build_cloud({**EXAMPLE, "batch_size": 50}))))


@router.post(
    "/api/cloud",
    summary="Every minibatch's gradient of one epoch of a regression run, at one point",
    response_class=JSONBytesResponse,
    response_model=None,
    responses={
        200: {
            "model": CloudResponse,
            "content": {"application/json": {"example": _response_example()}},
        },
        **BAD_INPUT,
        **UNAVAILABLE,
    },
)
async def minibatch_cloud(
    body: Annotated[CloudBody, Body(openapi_examples=EXAMPLES)], request: Request
) -> Response:
    """At update `t` of a run with this `batch_size` (default: the problem's), the
    gradient of each minibatch of t's epoch at `at`, and the full-batch gradient there
    (their mean weighted by `sizes`). `batch` is the one update `t` itself used.

    Plain numpy over at most `n_samples` samples, also while the engine warms up; in
    a worker turn like all the engine's work (503 with `Retry-After` when the server
    is at capacity).
    """
    settings: Settings = request.app.state.settings
    spec = build_cloud(body.model_dump(exclude_unset=True), max_steps=settings.max_steps)
    try:  # a few arrays of n_samples
        async with admission(request, int(spec.problem["n_samples"])) as ticket:
            return await encoded(ticket, request, lambda: dumps(cloud(spec)), "application/json")
    except Refused as refused:
        return refused.response
