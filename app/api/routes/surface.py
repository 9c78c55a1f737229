"""``POST /api/surface`` : the loss on a grid, for the page's contours."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter, Body, Request
from fastapi.openapi.models import Example
from starlette.responses import Response

from app.api.answers import Refused, admission, encoded, read_request
from app.api.encoding import JSONBytesResponse, dumps
from app.api.routes.responses import BAD_INPUT, UNAVAILABLE
from app.api.schemas import SurfaceBody, SurfaceResponse
from app.engine import check_grid_work, loss_grid
from app.problems.custom import CustomSurface
from app.problems.expression.latex import to_mathml
from app.problems.registry import problem_of, resolve_problem

router = APIRouter(tags=["surface"])

EXAMPLES: dict[str, Example] = {
    "himmelblau": Example(
        summary="Himmelblau's function, 80 × 80",
        value={"problem": {"name": "himmelblau"}, "resolution": 80},
    ),
    "custom": Example(
        summary="A formula of your own, x² + 10 sin y, 60 × 60",
        value={"problem": {"name": "custom", "expression": "x^2 + 10*sin(y)"}, "resolution": 60},
    ),
    "regression": Example(
        summary="The loss of a logistic regression over (w, b), for the dataset of seed 3",
        value={
            "problem": {"name": "logistic_regression", "n_samples": 200, "noise": 0.1},
            "seed": 3,
            "resolution": 40,
        },
    ),
}


@lru_cache(maxsize=64)
def _grid(shaping_key: bytes, seed: int, resolution: int):
    """The grid for the fields that shape it; cached, since it is all the cost."""
    return loss_grid(orjson.loads(shaping_key), seed, resolution)


def _surface(problem: dict[str, Any], shaping_key: bytes, seed: int, resolution: int) -> bytes:
    xs, ys, z = _grid(shaping_key, seed, resolution)
    spec = problem_of(problem)
    (x_min, x_max), (y_min, y_max) = spec.bounds
    body = {
        "problem": problem,
        "x": xs,
        "y": ys,
        # Where a typed formula is not defined (log of a negative number…), null.
        "z": np.ascontiguousarray(z),
        "log_color": spec.log_color,
        "bounds": {"x": [x_min, x_max], "y": [y_min, y_max]},
    }
    if isinstance(spec, CustomSurface):
        # The page previews the formula as it was parsed.
        body.update(formula=spec.formula, formula_mathml=_mathml(spec.formula))
    return dumps(body)


@lru_cache(maxsize=256)
def _mathml(latex: str) -> str:
    return to_mathml(latex)


def _response_example() -> dict[str, Any]:
    problem = resolve_problem({"name": "himmelblau"})
    return orjson.loads(_surface(problem, dumps({"name": "himmelblau"}), 0, 10))


@router.post(
    "/api/surface",
    summary="The loss on a grid over the problem's plot bounds",
    response_class=JSONBytesResponse,
    response_model=None,
    responses={
        200: {
            "model": SurfaceResponse,
            "content": {"application/json": {"example": _response_example()}},
        },
        **BAD_INPUT,
        **UNAVAILABLE,
    },
)
async def surface(
    body: Annotated[SurfaceBody, Body(openapi_examples=EXAMPLES)], request: Request
) -> Response:
    """`z[j][i]` is the noiseless loss at `(x[i], y[j])` (Plotly's contour layout).

    For regression problems the loss is over the dataset that `seed` draws, the
    same dataset a run with that seed fits; `resolution² × n_samples` is at most the
    regression budget. When the server is at capacity, the answer is 503 with
    `Retry-After`.
    """

    def read() -> dict:
        problem = resolve_problem(body.problem)
        check_grid_work(body.resolution, problem)
        return problem

    try:
        problem = await read_request(request, body.problem, read)
    except Refused as refused:
        return refused.response
    # The grid is the noiseless loss: gradient noise and batch size do not change
    # it, so they stay out of the cache key (a noise or batch-size slider move
    # reuses the grid), and a surface's grid does not depend on the seed either.
    is_regression = problem_of(problem).kind == "regression"
    seed = body.seed if is_regression else 0
    shaping = {"name": problem["name"]}
    if is_regression:
        shaping.update(n_samples=problem["n_samples"], noise=problem["noise"])
    elif "expression" in problem:  # a typed formula: its window is part of its shape
        shaping.update({key: problem[key] for key in ("expression", "start", "range")})
    key = orjson.dumps(shaping, option=orjson.OPT_SORT_KEYS)
    try:
        async with admission(request, body.resolution**2) as ticket:
            return await encoded(
                ticket,
                request,
                lambda: _surface(problem, key, seed, body.resolution),
                "application/json",
            )
    except Refused as refused:
        return refused.response
