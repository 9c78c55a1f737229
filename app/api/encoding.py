"""JSON for the engine's results: orjson straight from the numpy arrays.

The REST route and the stream encode paths and losses with the same function
(orjson's own float formatting of float64), so joined chunks and a
``POST /api/runs`` response are equal number for number.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from app.engine import Chunk, Execution, Result, Simulation, nullable

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
# gzip for answers, wherever they are compressed (the middleware, and the engine's
# answers in their worker turns): one level for both.
GZIP_LEVEL = 5
# Bodies smaller than this go uncompressed.
GZIP_MINIMUM_BYTES = 4096


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


def _run_json(result: Result, row: int) -> dict[str, Any]:
    run = result.simulation.runs[row].as_json()
    run["path"] = _array(result.paths[row])
    run["loss"] = _array(result.losses[row])
    run["diverged_at"] = result.diverged_at[row]
    run["converged_at"] = result.converged_at[row]
    run["blew_up_at"] = result.blew_up_at[row]
    return run


def _head_json(result: Result) -> dict[str, Any]:
    simulation = result.simulation
    return {"problem": simulation.problem, "steps": simulation.steps, "seed": simulation.seed}


def result_json(result: Result) -> dict[str, Any]:
    """The ``POST /api/runs`` response (docs/API.md, POST /api/runs)."""
    body = _head_json(result)
    body["runs"] = [_run_json(result, row) for row in range(len(result.simulation.runs))]
    data = data_json(result.data)
    if data is not None:
        body["data"] = data
    return body


def result_pieces(result: Result, points_per_piece: int) -> Iterator[bytes]:
    """``dumps(result_json(result))``, byte for byte, as consecutive pieces of about
    ``points_per_piece`` points each: encoding one piece at a time keeps neither the
    whole text in memory nor the GIL for long (orjson holds it while it encodes)."""
    head = dumps(_head_json(result))
    pending = [head[:-1], b',"runs":[']
    size = 0
    for row in range(len(result.simulation.runs)):
        if row:
            pending.append(b",")
        pending.append(dumps(_run_json(result, row)))
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


def accepts_gzip(headers: Headers) -> bool:
    """Whether the client takes gzip (Starlette's GZipMiddleware reads it the same way)."""
    return "gzip" in headers.get("accept-encoding", "")


class Gzip:
    """A gzip stream compressed piece by piece: each ``compress`` returns bytes the
    client can already inflate (a sync flush), ``finish`` the end of the stream."""

    def __init__(self) -> None:
        self._stream = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def compress(self, piece: bytes) -> bytes:
        return self._stream.compress(piece) + self._stream.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, piece: bytes = b"") -> bytes:
        return self._stream.compress(piece) + self._stream.flush()


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
    converged = nullable(execution.converged_at)
    blew_up = nullable(execution.blew_up_at)
    runs = [
        {"diverged_at": d, "converged_at": c, "blew_up_at": b}
        for d, c, b in zip(diverged, converged, blew_up, strict=True)
    ]
    return dumps({"type": "done", "id": run_id, "runs": runs})
