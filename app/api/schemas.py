"""Request and response models: the shapes and limits of docs/API.md (Routes, WebSocket).

Requests are checked in two steps. The models here check a body's fixed shape: its
fields (an unknown top-level field of a body, a run, an axis or a stream message is
a 422, so a typo such as ``"step": 300`` or ``"optimiser"`` is not silently
ignored), their types and the fixed limits (``app/api/fields.py``, from
``app/limits.py``). The engine's ``build_simulation`` (and ``Sweep``) then checks
everything the registries decide: optimiser, schedule and problem names, which
parameters each one has, their ranges and kinds, and the rules across fields, with
messages that name the field and list the valid names; the routes turn its
InvalidSpec into the same 422.

OpenAPI shows each request body as ``app/api/request_schemas.py`` generates it from
the same registries (``documented_as``), so the schema says exactly what the two
steps accept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.api.fields import (
    RUNS_DESCRIPTION,
    Anatomy,
    AxisCount,
    BatchSize,
    Number,
    Resolution,
    Seed,
    Start,
    Steps,
    Stride,
    SweepSteps,
    Update,
)
from app.api.request_schemas import (
    CloudRequestSchema,
    RunsRequestSchema,
    SurfaceRequestSchema,
    SweepRequestSchema,
    documented_as,
)
from app.limits import (
    DEFAULT_AXIS_CELLS,
    DEFAULT_RESOLUTION,
    DEFAULT_STEPS,
    DEFAULT_SWEEP_STEPS,
    MAX_ID_INTEGER,
    MAX_ID_LENGTH,
    MAX_OBJECT_KEYS,
    MAX_RUNS,
    MAX_SPEED,
)


def message_id(value: Any) -> int | str | None:
    """A stream message's ``id`` as the server echoes it, or the rule it breaks."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_ID_LENGTH:
            raise PydanticCustomError(
                "id", "a string id must be at most {limit} characters", {"limit": MAX_ID_LENGTH}
            )
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("id", "must be a whole number or a string")
    if abs(value) > MAX_ID_INTEGER:
        raise PydanticCustomError("id", "a numeric id must be within ±2**53")
    return value


MessageId = Annotated[
    int | str | None,
    PlainValidator(message_id),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": -MAX_ID_INTEGER, "maximum": MAX_ID_INTEGER},
                {"type": "string", "maxLength": MAX_ID_LENGTH},
                {"type": "null"},
            ]
        }
    ),
]


def few_keys(value: Any) -> Any:
    """Refuse an object of more than MAX_OBJECT_KEYS keys as one error, before each of
    its keys is checked (and, unknown, reported) one by one."""
    if isinstance(value, dict) and len(value) > MAX_OBJECT_KEYS:
        raise PydanticCustomError(
            "too_many_keys",
            "an object may have at most {limit} keys (this one has {count})",
            {"limit": MAX_OBJECT_KEYS, "count": len(value)},
        )
    return value


# ``problem``, ``params``, ``schedule``: objects whose keys and values the engine
# checks against the registries (naming the valid keys when one is unknown).
Entries = Annotated[dict[str, Any], BeforeValidator(few_keys)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _few_keys(cls, data: Any) -> Any:
        return few_keys(data)


class RunSpec(_Closed):
    optimizer: str
    params: Entries | None = None
    schedule: Entries | None = None
    start: Start | None = None
    batch_size: BatchSize | None = None


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

    problem: Entries
    steps: Steps = DEFAULT_STEPS
    seed: Seed = 0
    stride: Stride = 1
    runs: list[RunSpec] = Field(min_length=1, max_length=MAX_RUNS, description=RUNS_DESCRIPTION)
    anatomy: Anatomy = False

    def engine_body(self) -> dict[str, Any]:
        """The request as the engine reads it (fields left out stay out)."""
        return self.model_dump(exclude_unset=True)


class SurfaceRequest(_Closed):
    """The body of ``POST /api/surface``."""

    problem: Entries
    seed: Seed = 0
    resolution: Resolution = DEFAULT_RESOLUTION


class CloudRequest(_Closed):
    """The body of ``POST /api/cloud``."""

    problem: Entries
    seed: Seed = 0
    batch_size: BatchSize | None = None
    t: Update
    at: Start


class AxisSpec(_Closed):
    param: str
    min: Number | None = None
    max: Number | None = None
    count: AxisCount = DEFAULT_AXIS_CELLS
    scale: Literal["linear", "log"] | None = None


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

    problem: Entries
    optimizer: str
    params: Entries | None = None
    schedule: Entries | None = None
    start: Start | None = None
    batch_size: BatchSize | None = None
    steps: SweepSteps = DEFAULT_SWEEP_STEPS
    seed: Seed = 0
    x_axis: AxisSpec
    y_axis: AxisSpec


# The request bodies as the routes (and stream messages) take them: validated by the
# models above, documented by the schemas generated from the registries.
RunsBody = Annotated[RunsRequest, documented_as(RunsRequestSchema)]
SurfaceBody = Annotated[SurfaceRequest, documented_as(SurfaceRequestSchema)]
SweepBody = Annotated[SweepRequest, documented_as(SweepRequestSchema)]
CloudBody = Annotated[CloudRequest, documented_as(CloudRequestSchema)]


# -- responses (documentation; the routes encode with orjson) ----------------------------

Point = Annotated[list[float], Field(min_length=2, max_length=2)]
# A problem as answered: its name and every parameter filled in; a typed formula's
# (`custom`) also its expression, start [x, y] and range {"x": [low, high], "y": …}.
ProblemEcho = dict[str, str | float | int | Point | dict[str, Point]]
# A schedule completed with its defaults: its name, numbers and switches (restarts).
ScheduleEcho = dict[str, str | float | int | bool]


class RunResult(BaseModel):
    optimizer: str
    params: dict[str, float | int | bool]
    schedule: ScheduleEcho
    start: Point
    batch_size: int | None = Field(None, description="regression runs given their own size")
    updates_per_epoch: int | None = Field(
        None,
        description="regression only: the updates of one pass over the data at this run's "
        "batch size, ⌈n_samples / batch_size⌉; the schedule's epoch e of update t is "
        "⌊(t − 1) / updates_per_epoch⌋",
    )
    t: list[int] | None = Field(
        None, description="with a stride > 1 only: the update index of each point"
    )
    path: list[Point] = Field(
        description="path[i] is the position after t[i] updates (t[i] = i without a stride)"
    )
    loss: list[float] = Field(description="the noiseless objective at every path point")
    alpha_t: list[float] | None = Field(
        None,
        description="regression runs, and every run with anatomy: the learning rate of the "
        "update that led to each point (at t = 0, the first update's)",
    )
    diverged_at: int | None = Field(description="the update that diverged, or null")
    diverged_reason: str | None = Field(
        description="why it diverged and where (on a typed formula, the operation that was "
        "not defined there), or null"
    )
    converged_at: int | None = Field(
        description="the update from which the run stayed within tolerance of the known "
        "minimum value (a typed formula: of a zero gradient) through its last update, or "
        "null (docs/API.md, Convergence)"
    )
    blew_up_at: int | None = Field(
        description="the first update whose loss was more than 1e6 times further from the "
        "minimum than at the start, or null; the run goes on (docs/API.md, Convergence)"
    )
    # With "anatomy": true, entry t − 1 of each is update t's (docs/API.md, Anatomy).
    grad: list[Point] | None = Field(None, description="the gradient the rule used")
    lookahead: list[Point] | None = Field(
        None, description="where it was taken (Nesterov only): the look-ahead point"
    )
    state: dict[str, list[Point]] | None = Field(
        None, description="the rule's state after the update, by its symbols (v, G, s, …)"
    )
    effective_lr: list[Point] | None = Field(
        None, description="per coordinate, x_t − x_{t−1} = −effective_lr · direction"
    )


class RegressionData(BaseModel):
    x: list[float]
    y: list[float]
    minimum: Point | None = Field(description="the best (w, b) for this dataset, if it has one")
    min_loss: float | None = Field(description="the loss at minimum")
    true_params: Point = Field(description="the (w, b) the data were drawn from")


class RunsResponse(BaseModel):
    problem: ProblemEcho
    steps: int
    seed: int
    stride: int = Field(description="every stride-th point is answered, and each run's last")
    runs: list[RunResult]
    data: RegressionData | None = Field(None, description="regression problems only")


class SurfaceResponse(BaseModel):
    problem: ProblemEcho
    x: list[float]
    y: list[float]
    z: list[list[float | None]] = Field(
        description="z[j][i] is the loss at (x[i], y[j]); null where a typed formula is "
        "not defined (or not finite)"
    )
    log_color: bool = Field(description="whether the page should colour by log(loss)")
    bounds: dict[str, Point] = Field(description='{"x": [min, max], "y": [min, max]}')
    formula: str | None = Field(None, description="a typed formula as parsed (LaTeX)")
    formula_mathml: str | None = Field(None, description="the same as MathML")


class CloudResponse(BaseModel):
    """The request completed with its defaults, then the cloud."""

    problem: dict[str, str | float | int]
    seed: int
    batch_size: int
    t: int
    at: Point
    epoch: int = Field(description="the epoch of update t, counted from 0")
    batch: int = Field(description="the index (in gradients) of the minibatch update t used")
    sizes: list[int] = Field(description="each minibatch's number of samples")
    gradients: list[Point] = Field(description="each minibatch's gradient at at, in order")
    full: Point = Field(description="the full-batch gradient at at: the size-weighted mean")


class AxisResult(BaseModel):
    param: str
    scale: Literal["linear", "log"]
    values: list[float] = Field(description="the value of every cell along this axis")


class SweepResponse(BaseModel):
    """The request completed with its defaults, then grids of one value per cell:
    ``grid[j][i]`` is the cell at ``x_axis.values[i]``, ``y_axis.values[j]``."""

    problem: ProblemEcho
    optimizer: str
    params: dict[str, float | int | bool]
    schedule: ScheduleEcho
    start: Point | None = Field(None, description="left out when both axes are start axes")
    batch_size: int | None = Field(None, description="regression problems only")
    steps: int
    seed: int
    x_axis: AxisResult
    y_axis: AxisResult
    final_loss: list[list[float | None]] = Field(
        description="the loss after the last update; null where the cell diverged"
    )
    final_point: list[list[Point | None]] = Field(
        description="[x, y] after the last update; null where the cell diverged"
    )
    diverged_at: list[list[int | None]] = Field(description="the update that diverged, or null")
    converged_at: list[list[int | None]] = Field(
        description="the first update from which the cell counts as converged, or null"
    )
    blew_up_at: list[list[int | None]] = Field(
        description="the first update at which the cell blew up (docs/API.md, Convergence), or null"
    )
    minimum_index: list[list[int | None]] = Field(
        description="the index into minima of the known minimum the final point reached, or null"
    )
    minima: list[Point] = Field(description="known minimisers (for a regression, the best fit)")
    min_loss: float | None = Field(description="the minimum loss, if known")


class LessonMark(BaseModel):
    run: int = Field(description="the run's index in the scene")
    t: int = Field(description="the update at which the quoted figure happens")
    text: str = Field(description="its label on the charts")


class Lesson(BaseModel):
    number: int
    slug: str
    title: str
    idea: str
    notice: str = Field(description="what to look at")
    try_this: str = Field(alias="try", description="a thing to change")
    scene: RunsRequestSchema = Field(  # type: ignore[valid-type]
        description="a body for POST /api/runs (or a stream run)"
    )
    speed: int = Field(description="updates per second it is best watched at")
    highlights: list[str] = Field(description="the controls it is about")
    focus: int = Field(description="the index of the run it is about (selected: drawn on top)")
    view: dict[str, str | bool] = Field(
        description='how the page shows the loss chart, e.g. {"lossx": "epochs", "xlog": true}'
    )
    marks: list[LessonMark] = Field(description="the figures it quotes, where they happen")


class ParamInfo(BaseModel):
    name: str
    symbol: str = Field(description="LaTeX")
    default: float | int | bool
    min: float
    max: float
    scale: Literal["linear", "log", "log1m"]
    step: float
    kind: Literal["float", "int", "bool"]
    description: str


class AnatomyInfo(BaseModel):
    """How a rule's anatomy reads (docs/API.md, Anatomy); LaTeX, and the same as MathML."""

    state: list[str] = Field(description="the symbols of its state, as the anatomy names them")
    direction: str = Field(description="what the rule steps along")
    direction_mathml: str
    effective_lr: str = Field(description="x_t − x_{t−1} = −effective_lr · direction")
    effective_lr_mathml: str
    velocity_term: str | None = Field(
        description="the part of the step its velocity carries beside −α_t g, or null"
    )
    velocity_term_mathml: str | None
    decay_term: str | None = Field(
        description="the step's own weight-decay part, −α_t λ x_{t−1} with λ the run's "
        "weight_decay, or null (a rule without one, or whose decay goes through its moments)"
    )
    decay_term_mathml: str | None


class OptimizerInfo(BaseModel):
    name: str
    label: str
    description: str
    params: list[ParamInfo]
    equations: list[str] = Field(description="the update rule, LaTeX, one line each")
    equations_mathml: list[str] = Field(description="the same lines as MathML")
    anatomy: AnatomyInfo


class ScheduleInfo(BaseModel):
    name: str
    label: str
    description: str
    params: list[ParamInfo]
    counts: Literal["epochs", "updates"] = Field(
        description="what the decay's clock u counts: epochs (u = e) or updates (u = t − 1)"
    )
    equation: str = Field(description="LaTeX")
    equation_mathml: str


class GrammarInfo(BaseModel):
    max_length: int = Field(description="characters")
    max_depth: int = Field(description="nested operators, parentheses and functions")
    max_nodes: int = Field(description="numbers, names, operators and functions")
    max_constant: float = Field(description="the magnitude of a number written in it")
    max_exponent: int = Field(description="the magnitude of a constant exponent")
    variables: list[str]
    constants: list[str]
    functions: list[str]


class FormulaExample(BaseModel):
    name: str
    label: str
    expression: str
    start: Point
    description: str


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
    expression: str | None = Field(
        None,
        description="a surface's formula as typed for the problem custom (custom: the "
        "default formula); regressions have none",
    )
    grammar: GrammarInfo | None = Field(None, description="custom only: names and limits")
    examples: list[FormulaExample] | None = Field(None, description="custom only")


class ResolutionLimits(BaseModel):
    min: int
    max: int
    default: int


class SweepLimits(BaseModel):
    max_steps: int
    default_steps: int
    max_axis_cells: int = Field(description="the most cells along one axis")
    default_axis_cells: int
    max_cell_updates: int = Field(description="cells × steps must not exceed it")
    max_sample_work: int = Field(
        description="regression: cells × (steps + 1) × n_samples must not exceed it"
    )


class Limits(BaseModel):
    max_steps: int
    max_runs: int
    max_coordinate: float
    max_seed: int
    max_speed: float
    max_sample_work: int = Field(
        description="regression: runs × (steps + 1) × n_samples, and a surface grid's "
        "resolution² × n_samples, must not exceed it"
    )
    surface_resolution: ResolutionLimits
    sweep: SweepLimits


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
    ctx: dict[str, int | str] | None = Field(
        None,
        description="a custom expression's error: column and end (1-based, end "
        "exclusive) of the part it marks, and the rule alone",
    )


class ValidationErrorResponse(BaseModel):
    detail: list[ErrorItem]


class MessageError(BaseModel):
    detail: str


# -- stream messages --------------------------------------------------------------------


class RunMessage(_Closed):
    type: Literal["run"]
    id: MessageId = None
    request: RunsBody
    speed: float = Field(0.0, strict=True, allow_inf_nan=False, ge=0.0, le=MAX_SPEED)


class SweepMessage(_Closed):
    """Stream a sweep: ``sweep_started``, ``progress`` messages, then ``sweep_done``."""

    type: Literal["sweep"]
    id: MessageId = None
    request: SweepBody


class StopMessage(_Closed):
    type: Literal["stop"]
    id: MessageId = None
