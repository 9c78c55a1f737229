"""Request and response models: the shapes and limits of docs/API.md (Routes, WebSocket).

Pydantic checks types, shapes and the fixed limits (steps, runs, start
coordinates, finite numbers); the engine's ``build_simulation`` then checks the
names and ranges that depend on the catalog (optimiser, schedule and problem
names, hyper-parameter ranges, ``batch_size ≤ n_samples``) and the routes turn
its ``InvalidSpec`` into the same 422 shape.

Unknown *top-level* fields (of a request body, a run, a stream message) are
rejected, so a typo such as ``"step": 300`` or ``"optimiser"`` is a 422 rather
than a silently ignored field. The keys inside ``problem``, ``params`` and
``schedule`` are open here and checked by the engine, whose message lists the
valid names.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from app.engine import DEFAULT_STEPS, MAX_COORDINATE, MAX_RUNS, MAX_SEED, MAX_STEPS
from app.optim.registry import OPTIMIZERS
from app.optim.schedules import SCHEDULES
from app.problems.registry import PROBLEMS
from app.sweeps import MAX_AXIS_CELLS, MAX_SWEEP_STEPS

MIN_RESOLUTION = 10
MAX_RESOLUTION = 200
DEFAULT_RESOLUTION = 80
MAX_SPEED = 1_000_000.0


def _finite_number(value: Any) -> bool | int | float:
    """A JSON number (finite, representable as a float) or a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        try:
            as_float = float(value)
        except OverflowError:
            as_float = math.inf
        if not math.isfinite(as_float):
            raise PydanticCustomError("finite_number", "must be a finite number")
        return value
    raise PydanticCustomError(
        "number_type", "must be a number or a boolean, got {kind}", {"kind": type(value).__name__}
    )


ParamValue = Annotated[
    bool | int | float,
    PlainValidator(_finite_number),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "boolean"}]}),
]
Coordinate = Annotated[
    float, Field(strict=True, allow_inf_nan=False, ge=-MAX_COORDINATE, le=MAX_COORDINATE)
]
Seed = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)]
# Ids are echoed on every message, so they must survive JSON both ways: integers
# a JavaScript number holds exactly, and short strings.
MAX_ID_INTEGER = 2**53
MAX_ID_LENGTH = 64
MessageId = (
    Annotated[int, Field(strict=True, ge=-MAX_ID_INTEGER, le=MAX_ID_INTEGER)]
    | Annotated[str, Field(max_length=MAX_ID_LENGTH)]
    | None
)


def _name(names: object) -> object:
    """A name the engine checks; the schema lists the valid ones (the engine's 422 does too)."""
    return WithJsonSchema({"type": "string", "enum": list(names)})  # type: ignore[call-overload]


OptimizerName = Annotated[str, _name(OPTIMIZERS)]
ScheduleName = Annotated[str, _name(SCHEDULES)]
ProblemName = Annotated[str, _name(PROBLEMS)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemSpec(BaseModel):
    """``name`` plus the problem's parameters (``noise``, ``n_samples``, ``batch_size``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"name": "rosenbrock", "noise": 0.0}]},
    )
    __pydantic_extra__: dict[str, ParamValue] = Field(init=False)

    name: ProblemName = Field(description="a problem name from GET /api/catalog")


class ScheduleSpec(BaseModel):
    """``name`` (default ``constant``) plus the schedule's parameters."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"name": "step", "every": 100, "factor": 0.5}]},
    )
    __pydantic_extra__: dict[str, ParamValue] = Field(init=False)

    name: ScheduleName = Field("constant", description="a schedule name from GET /api/catalog")


class RunSpec(_Closed):
    optimizer: OptimizerName = Field(description="an optimizer name from GET /api/catalog")
    params: dict[str, ParamValue] | None = Field(
        None, description="hyper-parameters; the ones left out take their defaults"
    )
    schedule: ScheduleSpec | None = Field(None, description="learning-rate schedule")
    start: tuple[Coordinate, Coordinate] | None = Field(
        None, description="[x, y]; the problem's default start when left out"
    )
    batch_size: int | None = Field(
        None, strict=True, ge=1, le=5000,
        description="regression only: this run's minibatch size (default: the problem's)",
    )  # fmt: skip


RUNS_EXAMPLE: dict[str, Any] = {
    "problem": {"name": "rosenbrock", "noise": 0.0},
    "steps": 300,
    "seed": 0,
    "runs": [
        {
            "optimizer": "momentum",
            "params": {"alpha": 0.001, "beta": 0.9},
            "schedule": {"name": "step", "every": 100, "factor": 0.5},
            "start": [-1.5, 2.0],
        }
    ],
}


class RunsRequest(_Closed):
    """The body of ``POST /api/runs`` (and ``request`` of a stream ``run`` message)."""

    model_config = ConfigDict(json_schema_extra={"examples": [RUNS_EXAMPLE]})

    problem: ProblemSpec
    steps: int = Field(DEFAULT_STEPS, strict=True, ge=1, le=MAX_STEPS)
    seed: Seed = 0
    runs: list[RunSpec] = Field(min_length=1, max_length=MAX_RUNS)

    def engine_body(self) -> dict[str, Any]:
        """The request as the engine reads it (fields left out stay out)."""
        return self.model_dump(exclude_unset=True)


class SurfaceRequest(_Closed):
    """The body of ``POST /api/surface``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"problem": {"name": "himmelblau"}, "resolution": 80}]}
    )

    problem: ProblemSpec
    seed: Seed = 0
    resolution: int = Field(
        DEFAULT_RESOLUTION, strict=True, ge=MIN_RESOLUTION, le=MAX_RESOLUTION,
        description="grid points along each axis",
    )  # fmt: skip


# -- responses (documentation; the routes encode with orjson) ----------------------------

Point = Annotated[list[float], Field(min_length=2, max_length=2)]


class RunResult(BaseModel):
    optimizer: str
    params: dict[str, float | int | bool]
    schedule: dict[str, str | float | int]
    start: Point
    batch_size: int | None = Field(None, description="regression runs given their own size")
    path: list[Point] = Field(description="path[t] is the position after t updates")
    loss: list[float] = Field(description="the noiseless objective at every path point")
    diverged_at: int | None = Field(description="the update that diverged, or null")
    converged_at: int | None = Field(
        description="the update from which the run stayed within tolerance of the known "
        "minimum value through its last update, or null (docs/API.md, Convergence)"
    )
    blew_up_at: int | None = Field(
        description="the first update whose loss was more than 1e6 times further from the "
        "minimum than at the start, or null; the run goes on (docs/API.md, Convergence)"
    )


class RegressionData(BaseModel):
    x: list[float]
    y: list[float]
    minimum: Point | None = Field(description="the best (w, b) for this dataset, if it has one")
    min_loss: float | None = Field(description="the loss at minimum")


class RunsResponse(BaseModel):
    problem: dict[str, str | float | int]
    steps: int
    seed: int
    runs: list[RunResult]
    data: RegressionData | None = Field(None, description="regression problems only")


class SurfaceResponse(BaseModel):
    problem: dict[str, str | float | int]
    x: list[float]
    y: list[float]
    z: list[list[float]] = Field(description="z[j][i] is the loss at (x[i], y[j])")
    log_color: bool = Field(description="whether the page should colour by log(loss)")
    bounds: dict[str, Point] = Field(description='{"x": [min, max], "y": [min, max]}')


class ParamInfo(BaseModel):
    name: str
    symbol: str = Field(description="LaTeX")
    default: float | int | bool
    min: float
    max: float
    scale: Literal["linear", "log"]
    step: float
    kind: Literal["float", "int", "bool"]
    description: str


class OptimizerInfo(BaseModel):
    name: str
    label: str
    description: str
    params: list[ParamInfo]
    equations: list[str] = Field(description="the update rule, LaTeX, one line each")
    equations_mathml: list[str] = Field(description="the same lines as MathML")


class ScheduleInfo(BaseModel):
    name: str
    label: str
    description: str
    params: list[ParamInfo]
    equation: str = Field(description="LaTeX")
    equation_mathml: str


class ProblemInfo(BaseModel):
    name: str
    kind: Literal["surface", "regression"]
    label: str
    formula: str = Field(description="LaTeX")
    formula_mathml: str
    bounds: dict[str, Point] = Field(description='plot window {"x": [min, max], "y": [...]}')
    start: Point
    minima: list[Point]
    min_value: float | None
    params: list[ParamInfo]
    log_color: bool
    axes: list[str]
    description: str


class ResolutionLimits(BaseModel):
    min: int
    max: int
    default: int


class Limits(BaseModel):
    max_steps: int
    max_runs: int
    max_coordinate: float
    max_seed: int
    max_speed: float
    max_sample_work: int = Field(
        description="regression: runs (or sweep cells) × steps × n_samples must not exceed it"
    )
    surface_resolution: ResolutionLimits


class Catalog(BaseModel):
    optimizers: list[OptimizerInfo]
    schedules: list[ScheduleInfo]
    problems: list[ProblemInfo]
    limits: Limits


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    detail: list[ErrorItem]


class MessageError(BaseModel):
    detail: str


# -- stream messages --------------------------------------------------------------------


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


class RunMessage(_Closed):
    type: Literal["run"]
    id: MessageId = None
    request: RunsRequest
    speed: float = Field(0.0, strict=True, allow_inf_nan=False, ge=0.0, le=MAX_SPEED)


class SweepMessage(_Closed):
    """Stream a sweep: ``sweep_started``, ``progress`` messages, then ``sweep_done``."""

    type: Literal["sweep"]
    id: MessageId = None
    request: SweepRequest


class StopMessage(_Closed):
    type: Literal["stop"]
    id: MessageId = None
