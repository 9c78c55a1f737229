"""The minibatch cloud (docs/API.md, POST /api/cloud): at update ``t`` of a regression
run, the gradient of every minibatch of that update's epoch at one point ``(w, b)``,
and the full-batch gradient there.

The minibatches are the run's own (the epoch's shuffle from ``(seed, epoch)``, as
``app.engine`` walks them); their mean weighted by size is the full gradient, so the
cloud shows how far a minibatch of that size strays from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.engine import start_point, whole_number
from app.errors import InvalidSpec
from app.limits import MAX_SEED, MAX_STEPS
from app.problems import regression
from app.problems.base import Regression
from app.problems.registry import PROBLEMS, resolve_problem


@dataclass(frozen=True)
class CloudRequest:
    """A request with every default filled in and every value checked."""

    problem: dict[str, Any]
    seed: int
    batch_size: int
    t: int
    at: tuple[float, float]


def build_cloud(request: Mapping[str, Any], *, max_steps: int = MAX_STEPS) -> CloudRequest:
    """Check and complete a request, or raise InvalidSpec naming the field."""
    spec = request.get("problem")
    if not isinstance(spec, Mapping):
        raise InvalidSpec(("problem",), "must be an object with a name")
    problem = resolve_problem(spec)
    if not isinstance(PROBLEMS[problem["name"]], Regression):
        names = [name for name, p in PROBLEMS.items() if isinstance(p, Regression)]
        raise InvalidSpec(
            ("problem", "name"),
            f"minibatches belong to regression problems: {', '.join(names)}",
        )
    batch_size = request.get("batch_size")
    batch_size = whole_number(
        problem["batch_size"] if batch_size is None else batch_size,
        ("batch_size",),
        1,
        problem["n_samples"],
    )
    at = start_point(request.get("at"), None, ("at",))
    if at is None:
        raise InvalidSpec(("at",), "required: the point [w, b] the gradients are taken at")
    return CloudRequest(
        problem=problem,
        seed=whole_number(request.get("seed", 0), ("seed",), 0, MAX_SEED),
        batch_size=batch_size,
        t=whole_number(request.get("t"), ("t",), 1, max_steps),
        at=at,
    )


def cloud(request: CloudRequest) -> dict[str, Any]:
    """The cloud of ``request``: its fields, then ``epoch``, ``batch`` (the index of the
    minibatch update ``t`` itself used), ``sizes``, ``gradients`` and ``full``."""
    problem = PROBLEMS[request.problem["name"]]
    assert isinstance(problem, Regression)
    n_samples = request.problem["n_samples"]
    data_x, data_y = problem.make_data(n_samples, request.problem["noise"], request.seed)
    per_epoch = regression.batches_per_epoch(n_samples, request.batch_size)
    epoch, batch = divmod(request.t - 1, per_epoch)
    batches = regression.batches_of(
        n_samples, request.batch_size, request.seed, epoch * per_epoch + 1, per_epoch
    )
    point = np.array(request.at)
    everything = regression.batches_of(n_samples, n_samples, request.seed, 1, 1)
    return {
        "problem": request.problem,
        "seed": request.seed,
        "batch_size": request.batch_size,
        "t": request.t,
        "at": list(request.at),
        "epoch": epoch,
        "batch": batch,
        "sizes": batches.sizes,
        "gradients": regression.batch_gradients(problem, data_x, data_y, batches, point),
        "full": regression.batch_gradients(problem, data_x, data_y, everything, point)[0],
    }
