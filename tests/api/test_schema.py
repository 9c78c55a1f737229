"""The OpenAPI schema says exactly what the server accepts (docs/API.md, Errors).

Schemathesis generates requests from ``/openapi.json`` and sends them to a live
uvicorn with every built-in check: no 5xx, every answer as documented (status,
content type, headers, body schema), every schema-valid request accepted and every
schema-violating one refused.

A few rules relate the values of two fields, or need the parser of a typed formula,
which JSON Schema cannot state; the schema writes them in its descriptions and
docs/API.md (Errors) lists them with the field each one's 422 names. A
schema-valid request that breaks one must be that 422: ``broken_rules`` recomputes
them from the catalog, independently of the server's code (a typed formula's
parser and fitted window excepted: they are the definition of those rules).
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.engine import DEFAULT_STEPS
from app.limits import DEFAULT_AXIS_CELLS, DEFAULT_SWEEP_STEPS, MAX_CELL_UPDATES
from app.main import create_app
from app.problems.expression import ExpressionError, compile_expression
from app.problems.expression.program import evaluate
from app.problems.registry import resolve_problem

load_all_checks()
EVERY_CHECK = list(CHECKS.get_all())
START_AXES = {"start_x": "x", "start_y": "y"}

# Every phase for every operation, except the coverage phase of /api/sweeps: its
# 20 variants (optimiser × surface or regression) × every boundary of every axis
# make ~18 000 requests, ten minutes. Sweeps are fuzzed like the rest, and the
# whole coverage phase runs with `schemathesis run --checks all` (docs/API.md, Errors).
# A sweep the budgets admit may take seconds of a core (docs/API.md, Capacity), more
# on a busy CI machine: requests get a minute, not schemathesis's default 10 s.
CONFIG = {
    "seed": 1,
    "request-timeout": 60,
    "operations": [{"include-path": "/api/sweeps", "phases": {"coverage": {"enabled": False}}}],
}


# The document the live server serves (test_the_schema_tested_is_the_one_served).
DOCUMENT = create_app().openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_dict(CONFIG))


@pytest.fixture(scope="module")
def catalog(http: httpx.Client) -> dict[str, Any]:
    return http.get("/api/catalog").json()


def test_the_schema_tested_is_the_one_served(http: httpx.Client) -> None:
    assert http.get("/openapi.json").json() == DOCUMENT


def _named(entries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(entry for entry in entries if entry["name"] == name)


def _given(body: dict[str, Any], key: str, default: Any) -> Any:
    """A field as the server reads it: left out or null is the default."""
    value = body.get(key)
    return default if value is None else value


def _samples(problem: dict[str, Any], catalog: dict[str, Any]) -> int:
    """n_samples of a regression problem (0 on a surface)."""
    spec = _named(catalog["problems"], problem["name"])
    if spec["kind"] != "regression":
        return 0
    return _given(problem, "n_samples", _named(spec["params"], "n_samples")["default"])


def _batch_rule(body: dict[str, Any], run_locs: list[list[Any]], n_samples: int) -> list[list]:
    """batch_size (the problem's, a run's or a sweep's) must be at most n_samples."""
    broken = []
    for loc in [["problem", "batch_size"], *run_locs]:
        value: Any = body
        for key in loc:
            value = value.get(key) if isinstance(value, dict) else value[key]
        if n_samples and value is not None and value > n_samples:
            broken.append(["body", *loc])
    return broken


def _defined_at(program: Any, point: Any) -> bool:
    values = evaluate(program, np.array([point[0]]), np.array([point[1]]))
    return all(np.isfinite(v[0]) for v in values)


def _formula_rules(body: dict[str, Any], run_starts: list[list], catalog: dict[str, Any]) -> list:
    """custom: the expression parses, f is finite at every start, each range's low end is
    below its high end. The grammar is the parser's: it decides the first rule."""
    problem = body["problem"]
    if problem["name"] != "custom":
        return []
    spec = _named(catalog["problems"], "custom")
    broken = []
    for axis in ("x", "y"):
        ends = (problem.get("range") or {}).get(axis)
        if ends is not None and not ends[0] < ends[1]:
            broken.append(["body", "problem", "range", axis, 1])
    try:
        program = compile_expression(problem.get("expression", spec["expression"])).program
    except ExpressionError:
        return [*broken, ["body", "problem", "expression"]]
    if not _defined_at(program, _given(problem, "start", spec["start"])):
        broken.append(["body", "problem", "start"])
    for loc in run_starts:
        point: Any = body
        for key in loc:
            point = point.get(key) if isinstance(point, dict) else point[key]
        if point is not None and not _defined_at(program, point):
            broken.append(["body", *loc])
    return broken


def _axis_range_rule(body: dict[str, Any], axis: str, catalog: dict[str, Any]) -> list[list]:
    """An axis's min must be less than its max; each defaults to its end of the range."""
    spec = body[axis]
    if spec["param"] in START_AXES and body["problem"]["name"] == "custom":
        # A typed formula's window is fitted to it: the server's own fit is the default.
        window = resolve_problem(body["problem"])["range"]
        low, high = window[START_AXES[spec["param"]]]
    elif spec["param"] in START_AXES:
        problem = _named(catalog["problems"], body["problem"]["name"])
        low, high = problem["bounds"][START_AXES[spec["param"]]]
    else:
        param = _named(_named(catalog["optimizers"], body["optimizer"])["params"], spec["param"])
        low, high = param["min"], param["max"]
    if _given(spec, "min", low) < _given(spec, "max", high):
        return []
    return [["body", axis, "max"]]


def broken_rules(path: str, body: Any, catalog: dict[str, Any]) -> list[list]:
    """The ``loc`` of every cross-field rule a schema-valid ``body`` breaks."""
    if not isinstance(body, dict) or path not in (
        "/api/runs", "/api/surface", "/api/sweeps", "/api/cloud"
    ):  # fmt: skip
        return []
    budget = catalog["limits"]["max_sample_work"]
    n_samples = _samples(body["problem"], catalog)
    if path == "/api/surface":
        broken = _batch_rule(body, [], n_samples)
        resolution = _given(body, "resolution", catalog["limits"]["surface_resolution"]["default"])
        if resolution**2 * n_samples > budget:
            broken.append(["body", "resolution"])
        return broken + _formula_rules(body, [], catalog)
    if path == "/api/cloud":
        return _batch_rule(body, [["batch_size"]], n_samples)
    if path == "/api/runs":
        runs = body["runs"]
        broken = _batch_rule(body, [["runs", i, "batch_size"] for i in range(len(runs))], n_samples)
        broken += _formula_rules(body, [["runs", i, "start"] for i in range(len(runs))], catalog)
        if broken and body["problem"]["name"] == "custom":
            return broken  # the other rules need a formula that parses
        steps = _given(body, "steps", DEFAULT_STEPS)
        if len(runs) * (steps + 1) * n_samples > budget:
            broken.append(["body", "steps"])
        return broken
    broken = _batch_rule(body, [["batch_size"]], n_samples)
    broken += _formula_rules(body, [["start"]], catalog)
    if broken and body["problem"]["name"] == "custom":
        return broken  # the other rules need a formula that parses and a start
    broken += _axis_range_rule(body, "x_axis", catalog) + _axis_range_rule(body, "y_axis", catalog)
    cells = _given(body["x_axis"], "count", DEFAULT_AXIS_CELLS)
    cells *= _given(body["y_axis"], "count", DEFAULT_AXIS_CELLS)
    steps = _given(body, "steps", DEFAULT_SWEEP_STEPS)
    sweep_budget = catalog["limits"]["sweep"]["max_sample_work"]
    if cells * steps > MAX_CELL_UPDATES or cells * (steps + 1) * n_samples > sweep_budget:
        broken.append(["body", "steps"])
    return broken


@schema.parametrize()
@settings(
    max_examples=150,
    derandomize=True,  # the same cases on every run
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_server_accepts_exactly_what_the_schema_says(
    case: schemathesis.Case, live_server: str, catalog: dict[str, Any]
) -> None:
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    rules = broken_rules(case.operation.path, case.body, catalog) if positive else []
    if not rules:
        case.call_and_validate(base_url=live_server, checks=EVERY_CHECK)
        return
    response = case.call_and_validate(
        base_url=live_server, checks=EVERY_CHECK, excluded_checks=[positive_data_acceptance]
    )
    assert response.status_code == 422, response.text
    locs = [item["loc"] for item in response.json()["detail"]]
    assert any(loc in rules for loc in locs), (locs, rules)
