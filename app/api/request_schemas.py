"""The OpenAPI schema of every request body, generated from the registries.

The engine checks what the registries decide (names, each optimiser's, schedule's
and problem's parameters, their ranges and kinds); the models here say the same in
JSON Schema, from the same ``HyperParam`` specs, so ``/openapi.json`` states exactly
what the server accepts:

- a problem is one variant per problem (``name`` as the discriminator), a run one
  variant per optimiser with exactly its hyper-parameters, a schedule one variant per
  schedule, a sweep one variant per optimiser with that optimiser's axes; every
  object is closed (``additionalProperties: false``);
- only regression problems have ``n_samples`` and ``batch_size``: a runs request or a
  sweep is one variant for surfaces and one for regressions;
- JSON Schema's ``integer`` is the server's integer rule (``8`` or ``8.0``).

Adding an optimiser, a schedule or a problem to its registry changes the schema with
no edit here (``tests/api/test_request_schemas.py`` holds the two equal). The rules
that relate two fields' values, which JSON Schema cannot state (the ``*_RULE``
texts), are written in the descriptions and in docs/API.md, Errors.

These models only document: requests are validated by ``app.api.schemas`` and the
engine, which ``documented_as`` ties to the schema shown here.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, create_model

from app.api.fields import (
    BATCH_SIZE,
    RUNS_DESCRIPTION,
    Anatomy,
    AxisCount,
    Resolution,
    Seed,
    Start,
    Steps,
    Stride,
    SweepSteps,
    Update,
)
from app.hyperparams import HyperParam, export_value
from app.limits import (
    DEFAULT_AXIS_CELLS,
    DEFAULT_RESOLUTION,
    DEFAULT_STEPS,
    DEFAULT_SWEEP_STEPS,
    MAX_CELL_UPDATES,
    MAX_COORDINATE,
    MAX_EXPRESSION_LENGTH,
    MAX_RUNS,
    MAX_SAMPLE_WORK,
    MAX_SWEEP_SAMPLE_WORK,
)
from app.optim.base import OptimizerSpec
from app.optim.registry import OPTIMIZERS
from app.optim.schedules import DEFAULT_SCHEDULE, SCHEDULES
from app.problems.base import Interpreted, Problem
from app.problems.expression.syntax import FUNCTIONS
from app.problems.registry import PROBLEMS
from app.sweeps import START_AXES

_N_SAMPLES = next(
    (p for problem in PROBLEMS.values() for p in problem.params if p.name == "n_samples"), None
)

# The rules JSON Schema cannot state, because they relate the values of two fields;
# a body that breaks one is a 422 (docs/API.md, Errors).
BATCH_RULE = "batch_size (the problem's, a run's or a sweep's) must be at most n_samples" + (
    f" (default {export_value(_N_SAMPLES, _N_SAMPLES.default)})" if _N_SAMPLES else ""
)
SAMPLE_BUDGET_RULE = f"runs × (steps + 1) × n_samples must be at most {MAX_SAMPLE_WORK:,}"
SWEEP_SAMPLE_BUDGET_RULE = (
    f"cells × (steps + 1) × n_samples must be at most {MAX_SWEEP_SAMPLE_WORK:,}"
)
GRID_BUDGET_RULE = (
    f"on a regression problem, resolution² × n_samples must be at most {MAX_SAMPLE_WORK:,}"
)
CELL_BUDGET_RULE = f"x_axis.count × y_axis.count × steps must be at most {MAX_CELL_UPDATES:,}"
# A typed formula (the problem `custom`): what only its parser and its values decide.
EXPRESSION_RULE = (
    "expression: a formula of the grammar in docs/API.md (Problems, custom), with "
    "finite constants; start (the problem's and each run's): a point where f and its "
    "gradient are finite; range: each low end below its high end"
)
AXIS_RANGE_RULE = (
    "min must be less than max, which default to the ends of the parameter's range "
    "(for start_x / start_y, to the problem's plot bounds in GET /api/catalog)"
)


def documented_as(schema_type: Any) -> BeforeValidator:
    """Annotate a validating type so that OpenAPI shows ``schema_type`` instead.

    Validation is unchanged (the value passes through); only the JSON schema of
    the request (validation mode) is taken from ``schema_type``.
    """
    return BeforeValidator(_unchanged, json_schema_input_type=schema_type)


def _unchanged(value: Any) -> Any:
    return value


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _closed(name: str, doc: str, fields: Mapping[str, Any], **schema: Any) -> type[BaseModel]:
    """A documented object: exactly ``fields``, nothing else."""
    config = ConfigDict(extra="forbid", json_schema_extra=schema or None)
    return create_model(name, __config__=config, __doc__=doc, **fields)


def _tagged(models: Sequence[type[BaseModel]], tag: str) -> Any:
    """One of ``models``, told apart by the constant value of their field ``tag``."""
    if len(models) == 1:
        return models[0]
    return Annotated[functools.reduce(operator.or_, models), Field(discriminator=tag)]


# -- parameters ---------------------------------------------------------------------------


def _value_type(param: HyperParam, **bounds: float) -> Any:
    """The JSON type of a parameter's value: its kind and range (``bounds`` may narrow it)."""
    if param.kind == "bool":
        return bool
    # An exclusive bound in ``bounds`` replaces the inclusive one on its side.
    limits = {"ge": param.min, "le": param.max}
    if "gt" in bounds:
        del limits["ge"]
    if "lt" in bounds:
        del limits["le"]
    limits.update(bounds)
    if param.kind == "int":
        return Annotated[int, Field(**{k: int(v) for k, v in limits.items()})]
    return Annotated[float, Field(**limits)]


def _param_fields(params: Iterable[HyperParam], notes: Mapping[str, str] = {}) -> dict:
    return {
        p.name: (
            _value_type(p),
            Field(
                export_value(p, p.default),
                description="; ".join(filter(None, (p.description, notes.get(p.name)))),
            ),
        )
        for p in params
    }


# -- problems -----------------------------------------------------------------------------


def _formula_fields(problem: Interpreted) -> dict[str, Any]:
    """The fields of a typed formula's problem besides its parameters."""
    ends = Annotated[Start, Field(description="[low, high]")]
    window = _closed(
        f"{_camel(problem.name)}Range",
        "The plot window; the low end of each axis below its high end.",
        {"x": (ends, ...), "y": (ends, ...)},
    )
    return {
        "expression": (
            Annotated[str, Field(max_length=MAX_EXPRESSION_LENGTH)],
            Field(
                problem.default_expression,
                description="f(x, y): numbers, x, y, + - * / ^ (or **), unary minus, "
                "parentheses, " + ", ".join(FUNCTIONS) + ", pi, e",
            ),
        ),
        "start": (
            Start | None,
            Field(
                None, description=f"[x, y], the runs' default start; default: {list(problem.start)}"
            ),
        ),
        "range": (window | None, Field(None, description="default: fitted to f around the start")),
    }


def _problem_model(problem: Problem) -> type[BaseModel]:
    notes = {"batch_size": BATCH_RULE} if problem.kind == "regression" else {}
    fields = {"name": (Literal[problem.name], ...), **_param_fields(problem.params, notes)}
    description = f"{problem.label}: {problem.description}"
    if isinstance(problem, Interpreted):
        fields.update(_formula_fields(problem))
        description += f" Rules JSON Schema cannot state: {EXPRESSION_RULE}."
    return _closed(f"{_camel(problem.name)}Problem", description, fields)


PROBLEM_MODELS = {name: _problem_model(problem) for name, problem in PROBLEMS.items()}
KINDS = tuple(dict.fromkeys(problem.kind for problem in PROBLEMS.values()))
PROBLEM_OF_KIND = {
    kind: _tagged(
        [PROBLEM_MODELS[name] for name, problem in PROBLEMS.items() if problem.kind == kind],
        "name",
    )
    for kind in KINDS
}
ProblemSchema = _tagged(list(PROBLEM_MODELS.values()), "name")


# -- schedules ----------------------------------------------------------------------------


def _schedule_model(name: str) -> type[BaseModel]:
    spec = SCHEDULES[name]
    # The default schedule may leave its name out (an empty schedule is constant).
    name_field = (Literal[name], name if name == DEFAULT_SCHEDULE else ...)
    return _closed(
        f"{_camel(name)}Schedule",
        f"{spec.label}: {spec.description}",
        {"name": name_field, **_param_fields(spec.params)},
    )


def _schedule_name(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value.get("name", DEFAULT_SCHEDULE)
    return getattr(value, "name", None)


SCHEDULE_MODELS = {name: _schedule_model(name) for name in SCHEDULES}
ScheduleSchema = Annotated[
    functools.reduce(
        operator.or_, (Annotated[model, Tag(name)] for name, model in SCHEDULE_MODELS.items())
    ),
    Discriminator(_schedule_name),
]


# -- runs ---------------------------------------------------------------------------------


def _params_model(spec: OptimizerSpec) -> type[BaseModel]:
    return _closed(
        f"{_camel(spec.name)}Params",
        f"The hyper-parameters of {spec.label}; those left out take their defaults.",
        _param_fields(spec.params),
    )


PARAMS_MODELS = {name: _params_model(spec) for name, spec in OPTIMIZERS.items()}
_BATCH_SIZE_FIELD = (
    _value_type(BATCH_SIZE) | None,
    Field(None, description="this run's minibatch size (default: the problem's); " + BATCH_RULE),
)


def _run_fields(spec: OptimizerSpec, kind: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "optimizer": (Literal[spec.name], Field(description=spec.label)),
        "params": (PARAMS_MODELS[spec.name] | None, None),
        "schedule": (ScheduleSchema | None, Field(None, description="default: constant")),
        "start": (Start | None, Field(None, description="[x, y]; default: the problem's start")),
    }
    if kind == "regression":
        fields["batch_size"] = _BATCH_SIZE_FIELD
    return fields


def _kind_prefix(kind: str) -> str:
    # Surfaces are the common case and keep the plain names.
    return "" if kind == "surface" else _camel(kind)


RUN_OF_KIND = {
    kind: _tagged(
        [
            _closed(
                f"{_camel(name)}{_kind_prefix(kind)}Run",
                f"One {spec.label} run on a {kind} problem.",
                _run_fields(spec, kind),
            )
            for name, spec in OPTIMIZERS.items()
        ],
        "optimizer",
    )
    for kind in KINDS
}


# ANATOMY_STRIDE_RULE, in JSON Schema: with "anatomy": true, a stride can only be 1.
ANATOMY_NEEDS_STRIDE_1 = {
    "if": {"properties": {"anatomy": {"const": True}}, "required": ["anatomy"]},
    "then": {"properties": {"stride": {"const": 1}}},
}


def _runs_request(kind: str) -> type[BaseModel]:
    rules = f" Rules across fields: {BATCH_RULE}; {SAMPLE_BUDGET_RULE}."
    return _closed(
        f"{_camel(kind)}RunsRequest",
        f"Runs on a {kind} problem, stepped together.{rules if kind == 'regression' else ''}",
        {
            "problem": (PROBLEM_OF_KIND[kind], ...),
            "steps": (Steps, DEFAULT_STEPS),
            "seed": (Seed, 0),
            "stride": (Stride, 1),
            "runs": (
                Annotated[
                    list[RUN_OF_KIND[kind]],  # type: ignore[valid-type]
                    Field(min_length=1, max_length=MAX_RUNS, description=RUNS_DESCRIPTION),
                ],
                ...,
            ),
            "anatomy": (Anatomy, False),
        },
        **ANATOMY_NEEDS_STRIDE_1,
    )


RUNS_REQUEST_MODELS = [_runs_request(kind) for kind in KINDS]
RunsRequestSchema = functools.reduce(operator.or_, RUNS_REQUEST_MODELS)


# -- surface grids ------------------------------------------------------------------------

SurfaceRequestSchema = _closed(
    "SurfaceRequest",
    f"The loss of a problem on a grid over its plot bounds. Rule across fields: "
    f"{GRID_BUDGET_RULE}.",
    {
        "problem": (ProblemSchema, ...),
        "seed": (Seed, 0),
        "resolution": (Resolution, DEFAULT_RESOLUTION),
    },
)


# -- the minibatch cloud ------------------------------------------------------------------

CloudRequestSchema = _closed(
    "CloudRequest",
    "The gradient of every minibatch of one epoch of a regression run at one point. "
    f"Rule across fields: {BATCH_RULE}.",
    {
        "problem": (PROBLEM_OF_KIND["regression"], ...),
        "seed": (Seed, 0),
        "batch_size": _BATCH_SIZE_FIELD,
        "t": (Update, ...),
        "at": (Start, Field(description="[w, b]: where the gradients are taken")),
    },
)


# -- sweeps -------------------------------------------------------------------------------


def _log_needs_positive_min(default_scale: str) -> dict[str, Any]:
    """On a log axis (the given ``scale``, or the default one) ``min`` must be given
    and positive: a range that may reach 0 has no log spacing."""
    log = {"properties": {"scale": {"const": "log"}}, "required": ["scale"]}
    if default_scale == "log":
        log = {"not": {"properties": {"scale": {"const": "linear"}}, "required": ["scale"]}}
    then = {"properties": {"min": {"type": "number", "exclusiveMinimum": 0}}, "required": ["min"]}
    return {"if": log, "then": then}


def _axis_model(
    title: str,
    param: str,
    ends: Any,
    low: float,
    high: float,
    defaults: tuple[str, str],
    default_scale: str,
    doc: str,
) -> type[BaseModel]:
    """An axis over ``[low, high]``; ``ends(**bounds)`` is the type of ``min`` and ``max``."""
    fields = {
        "param": (Literal[param], ...),
        # min < max ≤ high and low ≤ min < max: each end excludes the other's limit.
        "min": (ends(lt=high) | None, Field(None, description=f"default: {defaults[0]}")),
        "max": (ends(gt=low) | None, Field(None, description=f"default: {defaults[1]}")),
        "count": (AxisCount, DEFAULT_AXIS_CELLS),
        "scale": (
            Literal["linear", "log"] | None,
            Field(None, description=f"spacing of the values; default: {default_scale}"),
        ),
    }
    schema = _log_needs_positive_min(default_scale) if low <= 0 else {}
    return _closed(title, f"{doc} Rule across fields: {AXIS_RANGE_RULE}.", fields, **schema)


_HYPER_AXES: dict[tuple, type[BaseModel]] = {}


def _hyper_axis(spec: OptimizerSpec, param: HyperParam) -> type[BaseModel]:
    """The axis of one numeric hyper-parameter, shared by every optimiser with that spec."""
    key = (param.name, param.min, param.max, param.kind, param.scale)
    if key not in _HYPER_AXES:
        named = any(other[0] == param.name for other in _HYPER_AXES)
        _HYPER_AXES[key] = _axis_model(
            f"{_camel(spec.name) if named else ''}{_camel(param.name)}Axis",
            param.name,
            lambda **bounds: _value_type(param, **bounds),
            param.min,
            param.max,
            (f"{param.min:g}", f"{param.max:g}"),
            param.scale,
            f"Sweep {param.name} ({param.description})"
            + ("; the values are rounded to whole numbers." if param.kind == "int" else "."),
        )
    return _HYPER_AXES[key]


# A start coordinate, as a parameter for its axis: any coordinate a run may start at.
START_COORDINATE = HyperParam("start", "x_0", 0.0, -MAX_COORDINATE, MAX_COORDINATE)
START_AXIS_MODELS = [
    _axis_model(
        f"{_camel(name)}Axis",
        name,
        lambda **bounds: _value_type(START_COORDINATE, **bounds),
        -MAX_COORDINATE,
        MAX_COORDINATE,
        ("the plot's low end", "the plot's high end"),
        "linear",
        f"Sweep the start point's {name[-1]} coordinate.",
    )
    for name in START_AXES
]


def _axis_names(spec: OptimizerSpec) -> list[str]:
    """What an axis of a sweep of ``spec`` may be: a numeric hyper-parameter or a start
    coordinate (booleans are on or off, no axis)."""
    return [*(p.name for p in spec.params if p.kind != "bool"), *START_AXES]


def _axes(spec: OptimizerSpec) -> list[type[BaseModel]]:
    numeric = [_hyper_axis(spec, p) for p in spec.params if p.kind != "bool"]
    return [*numeric, *START_AXIS_MODELS]


def _distinct_axes(names: Iterable[str]) -> dict[str, Any]:
    """``y_axis.param`` differs from ``x_axis.param``."""
    same = [
        {
            "properties": {
                "x_axis": {"properties": {"param": {"const": name}}},
                "y_axis": {"properties": {"param": {"const": name}}},
            }
        }
        for name in names
    ]
    return {"not": {"anyOf": same}}


def _sweep_model(spec: OptimizerSpec, kind: str) -> type[BaseModel]:
    axis = _tagged(_axes(spec), "param")
    fields: dict[str, Any] = {
        "problem": (PROBLEM_OF_KIND[kind], ...),
        "optimizer": (Literal[spec.name], Field(description=spec.label)),
        "params": (
            PARAMS_MODELS[spec.name] | None,
            Field(None, description="fixed values for the hyper-parameters no axis sweeps"),
        ),
        "schedule": (ScheduleSchema | None, Field(None, description="default: constant")),
        "start": (
            Start | None,
            Field(None, description="fixed start point (start_x / start_y axes override it)"),
        ),
    }
    rules = [CELL_BUDGET_RULE, AXIS_RANGE_RULE]
    if kind == "regression":
        fields["batch_size"] = _BATCH_SIZE_FIELD
        rules += [BATCH_RULE, SWEEP_SAMPLE_BUDGET_RULE]
    fields.update(
        steps=(SweepSteps, DEFAULT_SWEEP_STEPS),
        seed=(Seed, 0),
        x_axis=(axis, ...),
        y_axis=(axis, Field(description="a different parameter from x_axis's")),
    )
    return _closed(
        f"{_camel(spec.name)}{_kind_prefix(kind)}Sweep",
        f"A grid of {spec.label} runs on a {kind} problem. Rules across fields: "
        + "; ".join(rules)
        + ".",
        fields,
        **_distinct_axes(_axis_names(spec)),
    )


SWEEP_MODELS = [_sweep_model(spec, kind) for spec in OPTIMIZERS.values() for kind in KINDS]
SweepRequestSchema = functools.reduce(operator.or_, SWEEP_MODELS)
