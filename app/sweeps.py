"""Sweeps: one optimiser over a grid of two settings, every cell a row of one batch.

An axis is either one of the optimiser's hyper-parameters (linear or log
spacing) or a coordinate of the start point (``start_x``, ``start_y``). Every
cell runs the same problem with the same noise and minibatches (common random
numbers), so a cell equals the single run with that configuration, and the
grid says which settings work rather than which got lucky.

Each cell reports its final point and loss, when it diverged, when it converged and when
it blew up (the rules of ``app.convergence``) and which known minimum its final
point lies nearest to, if it is close enough to count as there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from app.engine import (
    Backend,
    Execution,
    Rows,
    build_simulation,
    check_sample_work,
    whole_number,
)
from app.errors import InvalidSpec
from app.limits import (
    DEFAULT_AXIS_CELLS,
    DEFAULT_SWEEP_STEPS,
    MAX_AXIS_CELLS,
    MAX_CELL_UPDATES,
    MAX_COORDINATE,
    MAX_SWEEP_SAMPLE_WORK,
    MAX_SWEEP_STEPS,
)
from app.optim.registry import OPTIMIZERS, hyper_slots
from app.problems.base import Problem, ProgramSurface
from app.problems.registry import problem_of

FloatArray = npt.NDArray[np.float64]

START_AXES = ("start_x", "start_y")
# A final point this close to a known minimum (as a fraction of the plot's
# diagonal) counts as having reached it.
REACHED_FRACTION = 0.01
UPDATES_PER_CHUNK = 250
# Cell·updates one chunk's scratch buffer holds (8 bytes each: the loss, which the
# convergence rules read; positions are not recorded), so a 256 × 256 sweep steps in
# chunks of 45 updates within ~25 MB, not 400 MB: a few concurrent sweeps fit a
# 512 MB container.
MAX_SCRATCH = 3_000_000
# Cell·update·sample units of one chunk of a sweep (a regression cell's update also
# costs a loss over every sample): ≈ 50–100 ms of compute between two chunks, the
# grain at which a sweep yields its worker to other clients and can be stopped.
CHUNK_WORK = 5_000_000
# What a cell holds while the sweep runs (position, state, hyper-parameters, the
# convergence window, its share of the result), in 24-byte points: what a sweep
# reserves of the server's memory in flight (app/api/capacity.py), with its scratch
# buffer (a 256 × 256 sweep peaks at +59 MB: 2.5 million points).
POINTS_PER_CELL = 20


@dataclass(frozen=True)
class Axis:
    param: str
    values: FloatArray
    scale: str

    def as_json(self) -> dict[str, Any]:
        return {"param": self.param, "scale": self.scale, "values": self.values}


@dataclass
class SweepResult:
    request: dict[str, Any]
    x_axis: Axis
    y_axis: Axis
    final_loss: FloatArray  # (ny, nx), NaN where the cell diverged
    final_point: FloatArray  # (ny, nx, 2), NaN where the cell diverged
    diverged_at: npt.NDArray[np.int64]  # 0: did not diverge
    converged_at: npt.NDArray[np.int64]  # -1: did not converge
    blew_up_at: npt.NDArray[np.int64]  # -1: did not blow up
    minimum_index: npt.NDArray[np.int64]  # -1: not at a known minimum
    minima: list[list[float]]
    min_loss: float | None


def _axis(spec: Any, loc: tuple[str | int, ...], optimizer: str, problem: Problem) -> Axis:
    if not isinstance(spec, Mapping):
        raise InvalidSpec(loc, "must be an object with param, min, max and count")
    unknown = sorted(set(spec) - {"param", "min", "max", "count", "scale"})
    if unknown:
        raise InvalidSpec(
            loc + (unknown[0],), "unknown field; valid: param, min, max, count, scale"
        )
    param = spec.get("param")
    hyper = {p.name: p for p in OPTIMIZERS[optimizer].params}
    valid = [*hyper, *START_AXES]
    if param not in valid:
        raise InvalidSpec(
            loc + ("param",),
            f"unknown axis {param!r}; valid axes for {optimizer}: {', '.join(valid)}",
        )
    if param in hyper and hyper[param].kind == "bool":
        raise InvalidSpec(loc + ("param",), f"{param} is on or off; sweep a numeric parameter")
    count = whole_number(spec.get("count", DEFAULT_AXIS_CELLS), loc + ("count",), 2, MAX_AXIS_CELLS)

    if param in hyper:
        # A log(1 − β) slider is a way to move, not a spacing a sweep offers.
        default_scale = "log" if hyper[param].scale == "log" else "linear"
        low_default, high_default = hyper[param].min, hyper[param].max
        bounds = {"min": hyper[param], "max": hyper[param]}
    else:
        axis_bounds = problem.bounds[START_AXES.index(param)]
        default_scale = "linear"
        low_default, high_default = axis_bounds
        bounds = {}
    # null is the same as left out, as for a run's fields.
    scale = default_scale if spec.get("scale") is None else spec["scale"]
    if scale not in ("linear", "log"):
        raise InvalidSpec(loc + ("scale",), "must be 'linear' or 'log'")
    ends = {}
    for end, fallback in (("min", low_default), ("max", high_default)):
        value = fallback if spec.get(end) is None else spec[end]
        if end in bounds:
            value = bounds[end].validate(value, loc + (end,))
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidSpec(loc + (end,), "must be a finite number")
        elif abs(value) > MAX_COORDINATE:
            raise InvalidSpec(loc + (end,), f"must be within ±{MAX_COORDINATE:g}")
        ends[end] = float(value)
    if not ends["min"] < ends["max"]:
        raise InvalidSpec(loc + ("max",), "must be greater than min")
    if scale == "log":
        if ends["min"] <= 0:
            raise InvalidSpec(loc + ("min",), "must be positive on a log axis")
        values = np.geomspace(ends["min"], ends["max"], count)
    else:
        values = np.linspace(ends["min"], ends["max"], count)
    if param in hyper and hyper[param].kind == "int":
        values = np.round(values)
    return Axis(param=param, values=values, scale=scale)


def _check_fields(request: Mapping[str, Any]) -> None:
    allowed = {
        "batch_size",
        "problem",
        "steps",
        "seed",
        "optimizer",
        "params",
        "schedule",
        "start",
        "x_axis",
        "y_axis",
    }
    unknown = sorted(set(request) - allowed)
    if unknown:
        raise InvalidSpec(
            (unknown[0],), f"unknown field; valid fields: {', '.join(sorted(allowed))}"
        )


def _resolve_template(request: dict[str, Any]):
    try:
        return build_simulation(request, max_steps=MAX_SWEEP_STEPS)
    except InvalidSpec as error:
        # The run's fields sit at the top level of a sweep request.
        if error.loc[:2] == ("runs", 0):
            raise InvalidSpec(error.loc[2:], error.message) from None
        raise


class Sweep:
    """A sweep in progress: ``chunks()`` steps it and yields the fraction done."""

    def __init__(self, request: Mapping[str, Any], backend: Backend = "compiled") -> None:
        if not isinstance(request, Mapping):
            raise InvalidSpec((), "must be an object")
        _check_fields(request)
        # Resolve the fixed part exactly as a single run would be resolved.
        template = _resolve_template(
            {
                "problem": request.get("problem"),
                "steps": request.get("steps", DEFAULT_SWEEP_STEPS),
                "seed": request.get("seed", 0),
                "runs": [
                    {
                        "optimizer": request.get("optimizer"),
                        "params": request.get("params"),
                        "schedule": request.get("schedule"),
                        "start": request.get("start"),
                        **(
                            {"batch_size": request["batch_size"]}
                            if request.get("batch_size") is not None
                            else {}
                        ),
                    }
                ],
            }
        )
        run = template.runs[0]
        problem = problem_of(template.problem)
        self.x_axis = _axis(request.get("x_axis"), ("x_axis",), run.optimizer, problem)
        self.y_axis = _axis(request.get("y_axis"), ("y_axis",), run.optimizer, problem)
        if self.x_axis.param == self.y_axis.param:
            raise InvalidSpec(("y_axis", "param"), "must differ from x_axis.param")
        cells = len(self.x_axis.values) * len(self.y_axis.values)
        if cells * template.steps > MAX_CELL_UPDATES:
            raise InvalidSpec(
                ("steps",),
                f"cells × steps must be at most {MAX_CELL_UPDATES:,} (this sweep: "
                f"{cells:,} × {template.steps:,}); use fewer steps or cells",
            )
        check_sample_work(
            cells, template.steps, template.problem, "cells", budget=MAX_SWEEP_SAMPLE_WORK
        )

        self.template = template
        self.backend = backend
        self.cells = cells
        self.typed = isinstance(problem, ProgramSurface)  # a formula typed by a user
        self.request = {
            "problem": template.problem,
            "steps": template.steps,
            "seed": template.seed,
            **run.as_json(),
        }
        if {self.x_axis.param, self.y_axis.param} == set(START_AXES):
            del self.request["start"]  # every cell has its own start

    @property
    def x_slowest(self) -> bool:
        """Whether the cells are stepped x-major: when only the x axis is a setting the
        rule reads (not α, not a start), so that consecutive cells share it and the
        engine takes them through the rule together (app/backends/compiled.py)."""
        rule = OPTIMIZERS[self.template.runs[0].optimizer].hyper_names
        return self.x_axis.param in rule and self.y_axis.param not in rule

    def _grid(self, per_cell: np.ndarray) -> np.ndarray:
        """A per-cell array ``(cells, …)`` as the grid ``(ny, nx, …)``."""
        ny, nx = len(self.y_axis.values), len(self.x_axis.values)
        if self.x_slowest:
            grid = per_cell.reshape(nx, ny, *per_cell.shape[1:]).swapaxes(0, 1)
            return np.ascontiguousarray(grid)
        return per_cell.reshape(ny, nx, *per_cell.shape[1:])

    def _rows(self, template, cells: int) -> Rows:
        run = template.runs[0]
        spec = OPTIMIZERS[run.optimizer]
        grid_x, grid_y = np.meshgrid(self.x_axis.values, self.y_axis.values)  # (ny, nx)
        columns = {
            **{name: np.full(cells, value) for name, value in run.params.items()},
            "start_x": np.full(cells, run.start[0]),
            "start_y": np.full(cells, run.start[1]),
        }
        if self.x_slowest:
            grid_x, grid_y = grid_x.T, grid_y.T
        columns[self.x_axis.param] = grid_x.ravel().astype(np.float64)
        columns[self.y_axis.param] = grid_y.ravel().astype(np.float64)
        hyper = np.zeros((cells, hyper_slots()))
        for slot, name in enumerate(spec.hyper_names):
            hyper[:, slot] = columns[name]
        return Rows(
            optimizer_ids=np.full(cells, list(OPTIMIZERS).index(run.optimizer), dtype=np.int64),
            hyper=hyper,
            alpha=columns["alpha"],
            starts=np.stack([columns["start_x"], columns["start_y"]], axis=1),
            schedules=[run.schedule],
            schedule_of_row=np.zeros(cells, dtype=np.int64),
            batch_sizes=[run.batch_size or 0],
            batch_of_row=np.zeros(cells, dtype=np.int64),
        )

    @cached_property
    def execution(self) -> Execution:
        """The grid's state, made on first use: it evaluates every cell's starting loss
        (for a regression, over every sample), so a sweep is checked at once and this
        work waits for a worker turn like the rest."""
        return Execution(self.template, self.backend, rows=self._rows(self.template, self.cells))

    @property
    def updates_per_chunk(self) -> int:
        """Updates of every cell in one chunk of about CHUNK_WORK units."""
        samples = max(1, int(self.template.problem.get("n_samples", 1)))
        return max(1, CHUNK_WORK // (self.cells * samples))

    @property
    def points(self) -> int:
        """What the sweep holds in memory while it runs, in 24-byte points."""
        width = min(self.updates_per_chunk, self.template.steps)
        # The scratch buffer's 8-byte losses (and, on a typed formula, as many gradient
        # norms), counted as 24-byte points.
        per_update = 2 if self.typed else 1
        return self.cells * POINTS_PER_CELL + min(self.cells * width, MAX_SCRATCH) * per_update // 3

    def chunks(self, updates_per_chunk: int = UPDATES_PER_CHUNK) -> Iterator[float]:
        """Advance the whole grid, yielding the fraction of updates done after each chunk."""
        steps = self.template.steps
        width = max(1, min(updates_per_chunk, steps, MAX_SCRATCH // self.cells))
        # A sweep keeps only each cell's end, so one scratch buffer of losses serves every
        # chunk (no fresh hundreds of MB, and their page faults, per chunk), and no
        # positions are recorded on the way.
        paths = np.empty((self.cells, 0, 2))
        losses = np.empty((self.cells, width))
        while self.execution.updates_done < steps:
            count = min(width, steps - self.execution.updates_done)
            self.execution.step_into(paths, losses, 0, count)
            yield self.execution.updates_done / steps

    def result(self) -> SweepResult:
        execution = self.execution
        final = execution.loss_at(execution.x)
        diverged = execution.diverged_at
        final = np.where(diverged == 0, final, np.nan)
        problem = self.execution.problem
        minima = [list(m) for m in problem.minima]
        if getattr(execution, "best_fit", None):
            minima = [list(execution.best_fit)]
        nearest = np.full(self.cells, -1, dtype=np.int64)
        if minima:
            (x0, x1), (y0, y1) = problem.bounds
            reach = REACHED_FRACTION * math.hypot(x1 - x0, y1 - y0)
            distances = np.linalg.norm(
                execution.x[:, None, :] - np.array(minima)[None, :, :], axis=2
            )
            closest = distances.argmin(axis=1)
            close = (distances.min(axis=1) <= reach) & (diverged == 0)
            nearest[close] = closest[close]
        return SweepResult(
            request=self.request,
            x_axis=self.x_axis,
            y_axis=self.y_axis,
            final_loss=self._grid(final),
            final_point=self._grid(np.where((diverged == 0)[:, None], execution.x, np.nan)),
            diverged_at=self._grid(diverged),
            converged_at=self._grid(execution.converged_at),
            blew_up_at=self._grid(execution.blew_up_at),
            minimum_index=self._grid(nearest),
            minima=minima,
            min_loss=execution.min_loss,
        )

    def run(self) -> SweepResult:
        """Every chunk at once (no progress to report), then the result."""
        for _ in self.chunks():
            pass
        return self.result()


def run_sweep(request: Mapping[str, Any]) -> SweepResult:
    return Sweep(request).run()


def result_as_json(result: SweepResult) -> dict[str, Any]:
    """The response body: grids as nested lists, ``null`` for 'did not'."""

    def nullable(grid, missing):
        return [[None if v == missing else int(v) for v in row] for row in grid.tolist()]

    return {
        **result.request,
        "x_axis": result.x_axis.as_json(),
        "y_axis": result.y_axis.as_json(),
        "final_loss": [
            [None if math.isnan(v) else v for v in row] for row in result.final_loss.tolist()
        ],
        "final_point": [
            [None if math.isnan(point[0]) else point for point in row]
            for row in result.final_point.tolist()
        ],
        "diverged_at": nullable(result.diverged_at, 0),
        "converged_at": nullable(result.converged_at, -1),
        "blew_up_at": nullable(result.blew_up_at, -1),
        "minimum_index": nullable(result.minimum_index, -1),
        "minima": result.minima,
        "min_loss": result.min_loss,
    }
