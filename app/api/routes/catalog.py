"""``GET /api/catalog``: everything the page is built from (docs/API.md, GET /api/catalog)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from latex2mathml.converter import convert
from starlette.responses import Response

from app import limits as fixed
from app.api.encoding import JSONBytesResponse, dumps
from app.api.schemas import Catalog
from app.optim.base import OptimizerSpec
from app.optim.registry import OPTIMIZERS
from app.optim.schedules import SCHEDULES
from app.problems.registry import PROBLEMS
from app.settings import Settings

router = APIRouter(tags=["catalog"])


def _mathml(latex: str) -> str:
    return convert(latex, display="block")


def anatomy_info(spec: OptimizerSpec) -> dict[str, Any]:
    """How the rule's anatomy reads (docs/API.md, Anatomy): its state's symbols, the
    direction it steps along, its effective rate and the velocity and weight-decay
    terms of its step (null for a rule without one), as LaTeX and MathML."""
    terms = {
        "direction": spec.direction_equation,
        "effective_lr": spec.effective_lr_equation,
        "velocity_term": spec.velocity_term,
        "decay_term": spec.decay_term,
    }
    info: dict[str, Any] = {"state": [spec.symbols[name] for name in spec.state]}
    for key, latex in terms.items():
        info[key] = latex
        info[f"{key}_mathml"] = None if latex is None else _mathml(latex)
    return info


@lru_cache(maxsize=4)
def build_catalog(max_steps: int, max_runs: int) -> dict[str, Any]:
    """The catalog for these limits (built once: the registries never change)."""
    optimizers = [
        {
            "name": spec.name,
            "label": spec.label,
            "description": spec.description,
            "params": [p.as_json() for p in spec.params],
            "equations": list(spec.equations),
            "equations_mathml": [_mathml(e) for e in spec.equations],
            "anatomy": anatomy_info(spec),
        }
        for spec in OPTIMIZERS.values()
    ]
    schedules = [
        {
            "name": spec.name,
            "label": spec.label,
            "description": spec.description,
            "params": [p.as_json() for p in spec.params],
            "counts": spec.counts,
            "equation": spec.equation,
            "equation_mathml": _mathml(spec.equation),
        }
        for spec in SCHEDULES.values()
    ]
    problems = [
        {**problem.as_json(), "formula_mathml": _mathml(problem.formula)}
        for problem in PROBLEMS.values()
    ]
    limits = {
        "max_steps": max_steps,
        "max_runs": max_runs,
        "max_coordinate": fixed.MAX_COORDINATE,
        "max_seed": fixed.MAX_SEED,
        "max_speed": fixed.MAX_SPEED,
        "max_sample_work": fixed.MAX_SAMPLE_WORK,
        "surface_resolution": {
            "min": fixed.MIN_RESOLUTION,
            "max": fixed.MAX_RESOLUTION,
            "default": fixed.DEFAULT_RESOLUTION,
        },
        "sweep": {
            "max_steps": fixed.MAX_SWEEP_STEPS,
            "default_steps": fixed.DEFAULT_SWEEP_STEPS,
            "max_axis_cells": fixed.MAX_AXIS_CELLS,
            "default_axis_cells": fixed.DEFAULT_AXIS_CELLS,
            "max_cell_updates": fixed.MAX_CELL_UPDATES,
            "max_sample_work": fixed.MAX_SWEEP_SAMPLE_WORK,
        },
    }
    return {
        "optimizers": optimizers,
        "schedules": schedules,
        "problems": problems,
        "limits": limits,
    }


@lru_cache(maxsize=4)
def _catalog_bytes(max_steps: int, max_runs: int) -> bytes:
    return dumps(build_catalog(max_steps, max_runs))


def _example() -> dict[str, Any]:
    """An abridged catalog for the OpenAPI page."""
    full = build_catalog(10_000, 64)
    return {
        "optimizers": full["optimizers"][:1],
        "schedules": full["schedules"][1:2],
        "problems": full["problems"][3:4],
        "limits": full["limits"],
    }


@router.get(
    "/api/catalog",
    summary="Optimisers, schedules, problems and limits",
    response_class=JSONBytesResponse,
    response_model=None,
    responses={200: {"model": Catalog, "content": {"application/json": {"example": _example()}}}},
)
async def catalog(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return Response(
        _catalog_bytes(settings.max_steps, settings.max_runs), media_type="application/json"
    )
