"""The stream's messages, the JSON response class and the answers' compression
(zstd or gzip): orjson straight from numpy arrays.

The REST route and the stream encode paths and losses with the same function
(``app.formats.dumps``: orjson's own float formatting of float64), so joined
chunks and a ``POST /api/runs`` response are equal number for number.
"""

from __future__ import annotations

import zlib
from typing import Any

import zstandard
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from app.engine import Chunk, Execution, Simulation, nullable
from app.formats import anatomy_json, contiguous, data_json, dumps, is_regression, run_json

# gzip for answers, wherever they are compressed (the middleware, and the engine's
# answers in their worker turns): one level for both. Level 1: an answer's digits
# compress about as well at 1 as at 9 (2.1× against 2.2×) at a fifth of the CPU of
# level 5 (benchmarks/first_byte.py).
GZIP_LEVEL = 1
# zstd, for the engine's answers when the client takes it (browsers do): at level 1
# ten times faster than gzip at level 1, and smaller.
ZSTD_LEVEL = 1
# Bodies smaller than this go uncompressed.
GZIP_MINIMUM_BYTES = 4096


def accepted(headers: Headers, coding: str) -> bool:
    """Whether ``Accept-Encoding`` names ``coding`` with a quality above 0."""
    for part in headers.get("accept-encoding", "").split(","):
        name, _, parameters = part.partition(";")
        if name.strip().lower() != coding:
            continue
        quality = parameters.strip().lower()
        if not quality.startswith("q="):
            return True
        try:
            return float(quality[2:]) > 0
        except ValueError:
            return False
    return False


class Gzip:
    """A gzip stream compressed piece by piece: each ``compress`` returns bytes the
    client can already inflate (a sync flush), ``finish`` the end of the stream."""

    name = "gzip"

    def __init__(self) -> None:
        self._stream = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def compress(self, piece: bytes) -> bytes:
        return self._stream.compress(piece) + self._stream.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, piece: bytes = b"") -> bytes:
        return self._stream.compress(piece) + self._stream.flush()


class Zstd:
    """``Gzip``'s counterpart in zstd: each ``compress`` ends a block the client can
    already decode, ``finish`` ends the frame."""

    name = "zstd"

    def __init__(self) -> None:
        self._stream = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()

    def compress(self, piece: bytes) -> bytes:
        return self._stream.compress(piece) + self._stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def finish(self, piece: bytes = b"") -> bytes:
        return self._stream.compress(piece) + self._stream.flush()


def compressor_for(headers: Headers) -> type[Gzip] | type[Zstd] | None:
    """How an engine's answer to a request with these headers is compressed: zstd
    where the client takes it, else gzip where it takes that, else not at all."""
    return next((coding for coding in (Zstd, Gzip) if accepted(headers, coding.name)), None)


class JSONBytesResponse(JSONResponse):
    """A JSON response encoded by orjson (numpy arrays serialised natively)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def started_message(run_id: Any, simulation: Simulation, execution: Execution) -> bytes:
    regression = is_regression(simulation)
    per_epoch = execution.updates_per_epoch
    return dumps(
        {
            "type": "started",
            "id": run_id,
            "problem": simulation.problem,
            "steps": simulation.steps,
            "seed": simulation.seed,
            "stride": simulation.stride,
            "runs": [
                run_json(config, regression, per_epoch[row])
                for row, config in enumerate(simulation.runs)
            ],
            "data": data_json(execution.data()),
        }
    )


def chunk_message(run_id: Any, chunk: Chunk) -> bytes:
    """Points ``chunk.first …`` of every run; with a stride, each point's ``t`` too; with
    anatomy, ``α_t`` at each point and the anatomy of the updates that made them."""
    runs = []
    for row, (path, loss, updates) in enumerate(
        zip(chunk.paths, chunk.losses, chunk.updates, strict=True)
    ):
        run = {"t": contiguous(updates)} if chunk.stride > 1 else {}
        run["path"] = contiguous(path).reshape(-1, 2)
        run["loss"] = contiguous(loss)
        if chunk.anatomy is not None and chunk.rates is not None:
            run["alpha_t"] = contiguous(chunk.rates[row])
            run.update(anatomy_json(chunk.anatomy[row]))
        runs.append(run)
    return dumps({"type": "chunk", "id": run_id, "from": chunk.first, "runs": runs})


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
