"""The answer to a runs request, as JSON and as CSV, from one ``Result``.

``POST /api/runs`` and ``descentlab run`` both answer with these, so the two agree
byte for byte (docs/API.md, POST /api/runs). Numbers are written by orjson, whose
float format is the shortest text that reads back as the same float64: a CSV read
back holds exactly the numbers of the JSON answer, and the stream's chunks (which
use the same ``dumps``) join into exactly the POST answer.

No web framework is imported here: the command line starts without one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

from app.anatomy import RunAnatomy
from app.engine import Result, RunConfig, Simulation
from app.optim.registry import OPTIMIZERS
from app.problems.base import Regression
from app.problems.registry import PROBLEMS

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=_OPTIONS)


def contiguous(values: np.ndarray) -> np.ndarray:
    """``values`` as orjson serialises them: C-contiguous (chunk rows are strided views)."""
    return np.ascontiguousarray(values)


def is_regression(simulation: Simulation) -> bool:
    return isinstance(PROBLEMS[simulation.problem["name"]], Regression)


def data_json(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        "x": contiguous(data["x"]),
        "y": contiguous(data["y"]),
        "minimum": None if data["minimum"] is None else [float(v) for v in data["minimum"]],
        "min_loss": None if data["min_loss"] is None else float(data["min_loss"]),
        "true_params": [float(v) for v in data["true_params"]],
    }


def run_json(config: RunConfig, regression: bool, updates_per_epoch: int) -> dict[str, Any]:
    """A run's settings as answered: the request's, completed, and on a regression how
    many updates make an epoch (what its schedule's ``e`` counts)."""
    body = config.as_json()
    if regression:
        body["updates_per_epoch"] = updates_per_epoch
    return body


def anatomy_json(anatomy: RunAnatomy) -> dict[str, Any]:
    """A run's anatomy (docs/API.md, Anatomy), entry k the k-th update's; its ``α_t``
    travels as ``alpha_t``, one per point, as on a regression."""
    body: dict[str, Any] = {"grad": contiguous(anatomy.grad).reshape(-1, 2)}
    if anatomy.lookahead is not None:
        body["lookahead"] = contiguous(anatomy.lookahead).reshape(-1, 2)
    body["state"] = {
        symbol: contiguous(values).reshape(-1, 2) for symbol, values in anatomy.state.items()
    }
    body["effective_lr"] = contiguous(anatomy.effective_lr).reshape(-1, 2)
    return body


def _run_answer(result: Result, row: int, regression: bool) -> dict[str, Any]:
    simulation = result.simulation
    run = run_json(simulation.runs[row], regression, result.updates_per_epoch[row])
    if simulation.stride > 1:
        run["t"] = contiguous(result.updates[row])
    run["path"] = contiguous(result.paths[row])
    run["loss"] = contiguous(result.losses[row])
    if regression or result.anatomy is not None:
        run["alpha_t"] = contiguous(result.rates[row])
    if result.anatomy is not None:
        run.update(anatomy_json(result.anatomy[row]))
    run["diverged_at"] = result.diverged_at[row]
    run["diverged_reason"] = result.diverged_reason[row]
    run["converged_at"] = result.converged_at[row]
    run["blew_up_at"] = result.blew_up_at[row]
    return run


def _head_answer(simulation: Simulation) -> dict[str, Any]:
    return {
        "problem": simulation.problem,
        "steps": simulation.steps,
        "seed": simulation.seed,
        "stride": simulation.stride,
    }


def result_json(result: Result) -> dict[str, Any]:
    """The ``POST /api/runs`` response (docs/API.md, POST /api/runs)."""
    regression = is_regression(result.simulation)
    body = _head_answer(result.simulation)
    body["runs"] = [
        _run_answer(result, row, regression) for row in range(len(result.simulation.runs))
    ]
    data = data_json(result.data)
    if data is not None:
        body["data"] = data
    return body


def result_pieces(result: Result, points_per_piece: int) -> Iterator[bytes]:
    """``dumps(result_json(result))``, byte for byte, as consecutive pieces of about
    ``points_per_piece`` points each: encoding one piece at a time keeps neither the
    whole text in memory nor the GIL for long (orjson holds it while it encodes)."""
    regression = is_regression(result.simulation)
    pending = [dumps(_head_answer(result.simulation))[:-1], b',"runs":[']
    size = 0
    for row in range(len(result.simulation.runs)):
        if row:
            pending.append(b",")
        pending.append(dumps(_run_answer(result, row, regression)))
        size += len(result.paths[row])
        if size >= points_per_piece:
            yield b"".join(pending)
            pending, size = [], 0
    pending.append(b"]")
    data = data_json(result.data)
    if data is not None:
        pending += [b',"data":', dumps(data)]
    pending.append(b"}")
    yield b"".join(pending)


# What one point of an answer holds while it is computed and sent, in 24-byte units
# (x, y and loss): its update index and α_t besides (≈ 2), and with anatomy the
# gradient, look-ahead point, state and effective rate of its update (≈ 6). What a
# runs request reserves of the server's memory in flight (app/api/capacity.py).
POINT_WEIGHT = 2
ANATOMY_POINT_WEIGHT = 6


def answer_points(simulation: Simulation) -> int:
    """The memory a runs request's answer holds, in 24-byte points: the engine keeps
    every update's point while it computes, whatever the stride."""
    weight = ANATOMY_POINT_WEIGHT if simulation.anatomy else POINT_WEIGHT
    return len(simulation.runs) * (simulation.steps + 1) * weight


# -- CSV ----------------------------------------------------------------------------------


def _cell(value: Any) -> bytes:
    """One setting's cell: numbers and booleans as in the JSON answer, names bare
    (quoted as RFC 4180 says when they hold a comma, a quote or a line break)."""
    if value is None:
        return b""
    if isinstance(value, str):
        if any(c in value for c in ',"\r\n'):
            value = '"' + value.replace('"', '""') + '"'
        return value.encode()
    return dumps(value)


def _cells(values: np.ndarray) -> list[bytes]:
    """Every value of a 1-D array, formatted as the JSON answer formats it."""
    if len(values) == 0:
        return []
    return dumps(contiguous(values))[1:-1].split(b",")


def csv_columns(simulation: Simulation) -> tuple[list[str], list[str]]:
    """The hyper-parameter and schedule-parameter columns of a request: every one any
    of its runs has, in the order the runs name them (so runs can be told apart)."""
    params: dict[str, None] = {}
    schedule: dict[str, None] = {}
    for config in simulation.runs:
        params.update(dict.fromkeys(p.name for p in OPTIMIZERS[config.optimizer].params))
        schedule.update(dict.fromkeys(key for key in config.schedule if key != "name"))
    return list(params), list(schedule)


def csv_blocks(result: Result) -> Iterator[bytes]:
    """The answer in long format, one row per run and point: the header, then one
    block of rows per run (each run's rows are made only when it is its turn).

    Columns: ``run`` (its index in ``runs``), ``optimizer``, every hyper-parameter,
    ``schedule`` and its parameters (``lr.<name>``), ``batch_size`` on a regression,
    then per point ``t``, ``epoch`` (of the update that led to the point; 0 at
    ``t = 0``), ``x``, ``y``, ``loss`` and ``alpha_t`` (the learning rate of that
    update; at ``t = 0``, the first update's). A cell a run has no value for is empty.
    """
    simulation = result.simulation
    regression = is_regression(simulation)
    params, schedule = csv_columns(simulation)
    header = ["run", "optimizer", *params, "schedule", *(f"lr.{name}" for name in schedule)]
    if regression:
        header.append("batch_size")
    header += ["t", "epoch", "x", "y", "loss", "alpha_t"]
    yield ",".join(header).encode() + b"\n"
    for row, config in enumerate(simulation.runs):
        # The settings as the JSON answer has them (counts as integers, switches as booleans).
        answered = config.as_json()
        settings = [row, config.optimizer, *(answered["params"].get(name) for name in params)]
        settings += [answered["schedule"]["name"], *map(answered["schedule"].get, schedule)]
        if regression:
            settings.append(answered["batch_size"])
        prefix = b",".join(_cell(value) for value in settings) + b","
        updates = result.updates[row]
        if len(updates) == 0:
            continue
        epochs = (np.maximum(updates, 1) - 1) // result.updates_per_epoch[row]
        path = result.paths[row]
        columns = (
            _cells(updates),
            _cells(epochs),
            _cells(path[:, 0]),
            _cells(path[:, 1]),
            _cells(result.losses[row]),
            _cells(result.rates[row]),
        )
        lines = [b",".join(cells) for cells in zip(*columns, strict=True)]
        yield prefix + (b"\n" + prefix).join(lines) + b"\n"
