"""The request schemas of /openapi.json are the registries, written in JSON Schema.

Read from the document the server serves (walking from each route's body, not by
component names), every name, property, range and kind must equal the registries';
and a registry grown by a toy optimiser, schedule and problem grows the schema with
no edit to the schema code.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import TypeAdapter

from app.api import request_schemas
from app.hyperparams import HyperParam, export_value
from app.limits import MAX_EXPRESSION_LENGTH
from app.main import create_app
from app.optim.registry import OPTIMIZERS
from app.optim.schedules import SCHEDULES
from app.problems.base import Interpreted
from app.problems.custom import FIELDS as FORMULA_FIELDS
from app.problems.registry import PROBLEMS
from app.sweeps import START_AXES

DOCUMENT = create_app().openapi()
JSON_TYPES = {"float": "number", "int": "integer", "bool": "boolean"}


class Schemas:
    """Follows ``$ref``s and unions through one JSON Schema document."""

    def __init__(self, document: dict[str, Any], defs: str) -> None:
        self.document = document
        self.defs = defs

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.document[self.defs][schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def variants(self, schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The objects a value may be: unions flattened, ``null`` left out."""
        schema = self.resolve(schema)
        union = schema.get("oneOf") or schema.get("anyOf")
        if union is None:
            if schema.get("type") != "null":
                yield schema
            return
        for branch in union:
            yield from self.variants(branch)

    def by_const(self, schema: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
        found = {}
        for variant in self.variants(schema):
            assert variant["additionalProperties"] is False, variant["title"]
            found[variant["properties"][key]["const"]] = variant
        return found


def _served() -> tuple[Schemas, dict[str, dict[str, Any]]]:
    schemas = Schemas(DOCUMENT["components"], "schemas")
    bodies = {
        path: operation["post"]["requestBody"]["content"]["application/json"]["schema"]
        for path, operation in DOCUMENT["paths"].items()
        if "post" in operation
    }
    return schemas, bodies


def assert_params_match(
    schemas: Schemas, schema: dict[str, Any], params: tuple, fields: frozenset = frozenset()
) -> None:
    """An object of exactly ``params`` (and ``fields``), each parameter with its kind,
    range and default."""
    (variant,) = schemas.variants(schema)
    properties = variant["properties"]
    assert variant["additionalProperties"] is False
    assert set(properties) - {"name"} == {p.name for p in params} | fields
    for param in params:
        field = properties[param.name]
        assert field["type"] == JSON_TYPES[param.kind], param.name
        assert field["default"] == export_value(param, param.default)
        if param.kind != "bool":
            assert (field["minimum"], field["maximum"]) == (param.min, param.max), param.name


def test_problems_are_the_registrys_each_with_its_parameters() -> None:
    schemas, bodies = _served()
    problems = schemas.by_const(
        schemas.resolve(bodies["/api/surface"])["properties"]["problem"], "name"
    )
    assert list(problems) == list(PROBLEMS)
    for name, problem in PROBLEMS.items():
        typed = isinstance(problem, Interpreted)
        fields = frozenset(FORMULA_FIELDS if typed else ())
        assert_params_match(schemas, problems[name], problem.params, fields)
        assert problems[name]["required"] == ["name"]
        if typed:
            expression = problems[name]["properties"]["expression"]
            assert expression["maxLength"] == MAX_EXPRESSION_LENGTH
            assert expression["default"] == problem.default_expression


def test_runs_are_one_variant_per_problem_kind_and_optimizer() -> None:
    schemas, bodies = _served()
    kinds = {problem.kind for problem in PROBLEMS.values()}
    requests = list(schemas.variants(bodies["/api/runs"]))
    assert len(requests) == len(kinds)
    for request in requests:
        problems = schemas.by_const(request["properties"]["problem"], "name")
        (kind,) = {PROBLEMS[name].kind for name in problems}
        assert list(problems) == [n for n, p in PROBLEMS.items() if p.kind == kind]
        anatomy = request["properties"]["anatomy"]
        assert (anatomy["type"], anatomy["default"]) == ("boolean", False)
        runs = schemas.by_const(request["properties"]["runs"]["items"], "optimizer")
        assert list(runs) == list(OPTIMIZERS)
        for name, run in runs.items():
            # Only a regression run has a batch size.
            fields = {"optimizer", "params", "schedule", "start"}
            assert set(run["properties"]) == fields | (
                {"batch_size"} if kind == "regression" else set()
            )
            assert_params_match(schemas, run["properties"]["params"], OPTIMIZERS[name].params)
            schedules = schemas.by_const(run["properties"]["schedule"], "name")
            assert list(schedules) == list(SCHEDULES)
            for schedule, spec in SCHEDULES.items():
                assert_params_match(schemas, schedules[schedule], spec.params)


def test_sweeps_are_one_variant_per_optimizer_with_its_axes() -> None:
    schemas, bodies = _served()
    sweeps = list(schemas.variants(bodies["/api/sweeps"]))
    kinds = {problem.kind for problem in PROBLEMS.values()}
    assert len(sweeps) == len(OPTIMIZERS) * len(kinds)
    for sweep in sweeps:
        name = sweep["properties"]["optimizer"]["const"]
        spec = OPTIMIZERS[name]
        assert_params_match(schemas, sweep["properties"]["params"], spec.params)
        numeric = {p.name: p for p in spec.params if p.kind != "bool"}
        for axis in ("x_axis", "y_axis"):
            axes = schemas.by_const(sweep["properties"][axis], "param")
            assert list(axes) == [*numeric, *START_AXES]
            for param_name, param in numeric.items():
                ends = axes[param_name]["properties"]
                low = next(schemas.variants(ends["min"]))
                high = next(schemas.variants(ends["max"]))
                assert (low["minimum"], low["exclusiveMaximum"]) == (param.min, param.max)
                assert (high["exclusiveMinimum"], high["maximum"]) == (param.min, param.max)


# -- a grown registry ------------------------------------------------------------------


def toy_update(x, g, t, lr, weight_decay, lam):
    """A rule that takes the extra parameter (a spec's params must match its rule's)."""
    return (x - lr * lam * (g + weight_decay * x),)


@pytest.fixture
def grown(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The schema module rebuilt over registries with one more optimiser, schedule and
    problem (each with a parameter of its own), then rebuilt again as it was."""
    lam = HyperParam("lam", r"\lambda", 3, 0, 7, step=1, kind="int")
    period = HyperParam("period", "P", 20, 1, 100, step=1, kind="int")
    tilt = HyperParam("tilt", "c", 0.0, -1.0, 1.0)
    toy = dataclasses.replace(
        OPTIMIZERS["sgd"], name="toy", params=(*OPTIMIZERS["sgd"].params, lam), update=toy_update
    )
    monkeypatch.setitem(OPTIMIZERS, "toy", toy)
    monkeypatch.setitem(
        SCHEDULES,
        "sawtooth",
        dataclasses.replace(SCHEDULES["step"], name="sawtooth", params=(period,)),
    )
    saddle = PROBLEMS["saddle"]
    monkeypatch.setitem(
        PROBLEMS,
        "tilted",
        dataclasses.replace(saddle, name="tilted", params=(*saddle.params, tilt)),
    )
    try:
        yield importlib.reload(request_schemas)
    finally:
        monkeypatch.undo()
        importlib.reload(request_schemas)


def test_a_grown_registry_grows_the_schema(grown: Any) -> None:
    document = TypeAdapter(grown.RunsRequestSchema).json_schema()
    schemas = Schemas(document, "$defs")
    (surface,) = (
        r
        for r in schemas.variants(document)
        if "tilted" in schemas.by_const(r["properties"]["problem"], "name")
    )
    problem = schemas.by_const(surface["properties"]["problem"], "name")["tilted"]
    assert_params_match(schemas, problem, PROBLEMS["tilted"].params)
    run = schemas.by_const(surface["properties"]["runs"]["items"], "optimizer")["toy"]
    assert_params_match(schemas, run["properties"]["params"], OPTIMIZERS["toy"].params)
    sawtooth = schemas.by_const(run["properties"]["schedule"], "name")["sawtooth"]
    assert_params_match(schemas, sawtooth, SCHEDULES["sawtooth"].params)

    sweeps = TypeAdapter(grown.SweepRequestSchema).json_schema()
    schemas = Schemas(sweeps, "$defs")
    toy_sweeps = [
        s for s in schemas.variants(sweeps) if s["properties"]["optimizer"]["const"] == "toy"
    ]
    assert toy_sweeps
    for sweep in toy_sweeps:
        axes = schemas.by_const(sweep["properties"]["x_axis"], "param")
        assert list(axes) == ["alpha", "weight_decay", "lam", *START_AXES]
