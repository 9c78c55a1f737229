"""Every problem by its API name, and the checks a problem spec must pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.errors import InvalidSpec
from app.hyperparams import export_value, resolve
from app.problems.base import Problem
from app.problems.custom import CUSTOM, resolve_custom, surface_of
from app.problems.regression import REGRESSIONS
from app.problems.surfaces import SURFACES

PROBLEMS: dict[str, Problem] = {p.name: p for p in (*SURFACES, *REGRESSIONS, CUSTOM)}


def get_problem(name: Any, loc: tuple[str | int, ...]) -> Problem:
    if not isinstance(name, str) or name not in PROBLEMS:
        raise InvalidSpec(loc, f"unknown problem {name!r}; valid problems: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]


def resolve_problem(given: Mapping[str, Any], loc: tuple[str | int, ...] = ("problem",)) -> dict:
    """The problem spec with its name and every parameter filled in, or InvalidSpec."""
    given = dict(given)
    problem = get_problem(given.pop("name", None), loc + ("name",))
    if problem is CUSTOM:
        return resolve_custom(given, loc)
    # batch_size is checked after n_samples, which bounds it (and sets its default).
    given_batch = problem.kind == "regression" and "batch_size" in given
    batch_size = given.pop("batch_size") if given_batch else None
    values = resolve(problem.params, given, loc, f"problem {problem.name!r}")
    if problem.kind == "regression":
        n_samples = int(values["n_samples"])
        if not given_batch:
            values["batch_size"] = min(16, n_samples)
        else:
            spec = next(p for p in problem.params if p.name == "batch_size")
            values["batch_size"] = spec.validate(batch_size, loc + ("batch_size",))
            if values["batch_size"] > n_samples:
                raise InvalidSpec(loc + ("batch_size",), f"must be at most n_samples ({n_samples})")
    return {
        "name": problem.name,
        **{p.name: export_value(p, values[p.name]) for p in problem.params},
    }


def problem_of(spec: Mapping[str, Any]) -> Problem:
    """The problem a resolved spec runs: the registry's, or for ``custom`` the surface
    its expression defines."""
    problem = PROBLEMS[spec["name"]]
    return surface_of(spec) if problem is CUSTOM else problem
