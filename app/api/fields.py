"""The types of the API's fixed fields, shared by the validating models (``schemas``)
and the documented ones (``request_schemas``), so the two cannot disagree.

Integers follow JSON Schema's ``integer`` everywhere (docs/API.md, Errors): any
number without a fractional part, ``8`` or ``8.0``, answered as ``8``; never a
string (``"8"``) or a boolean. The engine reads the integers inside ``problem``,
``params`` and ``schedule`` by the same rule (``HyperParam.validate``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from app.hyperparams import HyperParam
from app.limits import (
    MAX_AXIS_CELLS,
    MAX_COORDINATE,
    MAX_RESOLUTION,
    MAX_RUNS,
    MAX_SEED,
    MAX_STEPS,
    MAX_SWEEP_STEPS,
    MIN_RESOLUTION,
)
from app.problems.registry import PROBLEMS


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        # The engine's words for the same rule (app.engine.whole_number).
        raise PydanticCustomError("int_type", "must be a whole number")
    return value


def whole_number(low: int, high: int, description: str | None = None) -> Any:
    """An integer field from ``low`` to ``high`` (the bounds sit inside, so the JSON
    schema says ``minimum`` / ``maximum``)."""
    return Annotated[int, Field(ge=low, le=high, description=description), BeforeValidator(_whole)]


Coordinate = Annotated[
    float, Field(strict=True, allow_inf_nan=False, ge=-MAX_COORDINATE, le=MAX_COORDINATE)
]
Start = tuple[Coordinate, Coordinate]
# A number that is not a boolean or a string: the ends of a sweep axis.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]

Seed = whole_number(0, MAX_SEED, "draws the noise and the regression data")
Steps = whole_number(
    1,
    MAX_STEPS,
    f"updates per run; at most {MAX_STEPS:,} (a server may set a lower limit: "
    "limits.max_steps in GET /api/catalog)",
)
Stride = whole_number(
    1,
    MAX_STEPS,
    "answer with every stride-th point of each run (updates 0, stride, 2·stride, …) and "
    "its last; every update is still computed and judged",
)
SweepSteps = whole_number(1, MAX_SWEEP_STEPS, "updates per cell")
Resolution = whole_number(MIN_RESOLUTION, MAX_RESOLUTION, "grid points along each axis")
AxisCount = whole_number(2, MAX_AXIS_CELLS, "cells on this axis")


def _switch(value: Any) -> Any:
    if not isinstance(value, bool):
        # The engine's words for the same rule (HyperParam.validate of a bool).
        raise PydanticCustomError("bool_type", "must be true or false")
    return value


Anatomy = Annotated[
    bool,
    BeforeValidator(_switch),
    Field(
        description="also send every update's anatomy: the gradient the rule used, the "
        "look-ahead point (Nesterov), α_t, the rule's state after the update and its "
        "effective learning rate (docs/API.md, Anatomy); with stride 1 only",
    ),
]
Update = whole_number(
    1,
    MAX_STEPS,
    "the update t (1, 2, …): its epoch's minibatches, with t's own among them",
)
RUNS_DESCRIPTION = (
    f"1 … {MAX_RUNS} runs (a server may set a lower limit: limits.max_runs in GET /api/catalog)"
)


def _batch_size() -> HyperParam:
    """The regression problems' ``batch_size`` parameter, which a run (or a sweep) may
    also carry: one spec, so a run's batch size is documented once."""
    specs = {
        param
        for problem in PROBLEMS.values()
        if problem.kind == "regression"
        for param in problem.params
        if param.name == "batch_size"
    }
    if len(specs) != 1:
        raise RuntimeError(f"regression problems must share one batch_size parameter: {specs}")
    return specs.pop()


BATCH_SIZE = _batch_size()
BatchSize = whole_number(int(BATCH_SIZE.min), int(BATCH_SIZE.max))
