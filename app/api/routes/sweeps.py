"""``POST /api/sweeps``: one optimiser over a grid of two settings (an extension of SPEC §4)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Body
from fastapi.openapi.models import Example
from pydantic import ConfigDict, Field
from starlette.responses import Response

from app.api.encoding import dumps
from app.api.routes.responses import BAD_INPUT
from app.api.schemas import Coordinate, ParamValue, ProblemSpec, ScheduleSpec, Seed, _Closed
from app.sweeps import MAX_AXIS_CELLS, MAX_SWEEP_STEPS, Sweep, result_as_json

router = APIRouter(tags=["sweeps"])


class AxisSpec(_Closed):
    param: str = Field(
        description="a hyper-parameter of the optimizer, or start_x / start_y for start points"
    )
    min: float | None = Field(None, allow_inf_nan=False, description="default: the range's low end")
    max: float | None = Field(
        None, allow_inf_nan=False, description="default: the range's high end"
    )
    count: int = Field(32, strict=True, ge=2, le=MAX_AXIS_CELLS, description="cells on this axis")
    scale: Literal["linear", "log"] | None = Field(
        None, description="spacing of the values; default: the parameter's slider scale"
    )


ALPHA_BETA_EXAMPLE: dict[str, Any] = {
    "problem": {"name": "rosenbrock"},
    "optimizer": "momentum",
    "steps": 1000,
    "x_axis": {"param": "alpha", "min": 1e-5, "max": 1e-2, "count": 64, "scale": "log"},
    "y_axis": {"param": "beta", "min": 0.0, "max": 0.99, "count": 64},
}
START_EXAMPLE: dict[str, Any] = {
    "problem": {"name": "himmelblau"},
    "optimizer": "adam",
    "params": {"alpha": 0.05},
    "steps": 1000,
    "x_axis": {"param": "start_x", "count": 48},
    "y_axis": {"param": "start_y", "count": 48},
}


class SweepRequest(_Closed):
    """One optimiser, one problem, a grid over two axes; fixed values for the rest."""

    model_config = ConfigDict(json_schema_extra={"examples": [ALPHA_BETA_EXAMPLE]})

    problem: ProblemSpec
    optimizer: str = Field(description="an optimizer name from GET /api/catalog")
    params: dict[str, ParamValue] | None = Field(
        None, description="fixed values for the hyper-parameters the axes do not sweep"
    )
    schedule: ScheduleSpec | None = None
    start: tuple[Coordinate, Coordinate] | None = Field(
        None, description="fixed start point (axes start_x / start_y override it)"
    )
    batch_size: int | None = Field(None, strict=True, ge=1, le=5000)
    steps: int = Field(1000, strict=True, ge=1, le=MAX_SWEEP_STEPS)
    seed: Seed = 0
    x_axis: AxisSpec
    y_axis: AxisSpec


def _compute(sweep: Sweep) -> bytes:
    for _ in sweep.chunks():
        pass
    return dumps(result_as_json(sweep.result()))


@router.post(
    "/api/sweeps",
    summary="Sweep a grid of two hyper-parameters or start coordinates",
    response_model=None,
    responses=BAD_INPUT,
)
async def sweeps(
    body: Annotated[
        SweepRequest,
        Body(
            openapi_examples={
                "alpha-beta": Example(summary="α × β for momentum", value=ALPHA_BETA_EXAMPLE),
                "start-points": Example(summary="Where each start ends up", value=START_EXAMPLE),
            }
        ),
    ],
) -> Response:
    """Every cell is a row of one batch, with the same noise and minibatches as a single run.

    Grids are `[y][x]` (row j is `y_axis.values[j]`). Per cell: `final_loss` (null
    if it diverged), `diverged_at`, `converged_at` (see docs/API.md, Convergence),
    and `minimum_index`, the known minimum (index into `minima`) its final point
    reached, or null.
    """
    sweep = Sweep(body.model_dump(exclude_unset=True))  # InvalidSpec: 422 before any work
    content = await to_thread.run_sync(_compute, sweep)
    return Response(content, media_type="application/json")
