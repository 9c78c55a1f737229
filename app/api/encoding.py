"""JSON for the engine's results: orjson straight from the numpy arrays.

The REST route and the stream encode paths and losses with the same function
(orjson's own float formatting of float64), so joined chunks and a
``POST /api/runs`` response are equal number for number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from starlette.responses import JSONResponse

from app.engine import Chunk, Execution, Result, Simulation, nullable

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=_OPTIONS)


class JSONBytesResponse(JSONResponse):
    """A JSON response encoded by orjson (numpy arrays serialised natively)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def _array(values: np.ndarray) -> np.ndarray:
    # orjson only serialises C-contiguous arrays; chunk rows are strided views.
    return np.ascontiguousarray(values, dtype=np.float64)


def data_json(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        "x": _array(data["x"]),
        "y": _array(data["y"]),
        "minimum": None if data["minimum"] is None else [float(v) for v in data["minimum"]],
        "min_loss": None if data["min_loss"] is None else float(data["min_loss"]),
    }


def result_json(result: Result) -> dict[str, Any]:
    """The ``POST /api/runs`` response (docs/API.md, POST /api/runs)."""
    simulation = result.simulation
    runs = []
    for row, config in enumerate(simulation.runs):
        run = config.as_json()
        run["path"] = _array(result.paths[row])
        run["loss"] = _array(result.losses[row])
        run["diverged_at"] = result.diverged_at[row]
        run["diverged_reason"] = result.diverged_reason[row]
        run["converged_at"] = result.converged_at[row]
        run["blew_up_at"] = result.blew_up_at[row]
        runs.append(run)
    body: dict[str, Any] = {
        "problem": simulation.problem,
        "steps": simulation.steps,
        "seed": simulation.seed,
        "runs": runs,
    }
    data = data_json(result.data)
    if data is not None:
        body["data"] = data
    return body


def started_message(run_id: Any, simulation: Simulation, execution: Execution) -> bytes:
    return dumps(
        {
            "type": "started",
            "id": run_id,
            "problem": simulation.problem,
            "steps": simulation.steps,
            "seed": simulation.seed,
            "runs": [config.as_json() for config in simulation.runs],
            "data": data_json(execution.data()),
        }
    )


def chunk_message(run_id: Any, chunk: Chunk) -> bytes:
    return dumps(
        {
            "type": "chunk",
            "id": run_id,
            "from": chunk.first,
            "runs": [
                {"path": _array(path).reshape(-1, 2), "loss": _array(loss)}
                for path, loss in zip(chunk.paths, chunk.losses, strict=True)
            ],
        }
    )


def done_message(run_id: Any, execution: Execution) -> bytes:
    diverged = [int(d) if d else None for d in execution.diverged_at]
    reasons = execution.diverged_reasons()
    converged = nullable(execution.converged_at)
    blew_up = nullable(execution.blew_up_at)
    runs = [
        {"diverged_at": d, "diverged_reason": why, "converged_at": c, "blew_up_at": b}
        for d, why, c, b in zip(diverged, reasons, converged, blew_up, strict=True)
    ]
    return dumps({"type": "done", "id": run_id, "runs": runs})
