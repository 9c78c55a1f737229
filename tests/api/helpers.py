"""Small helpers for the API tests: requests, a stream client, joining chunks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

OPTIMIZERS = [
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop",
    "adam", "adadelta", "nadam", "adamax", "amsgrad",
    "adamw", "radam", "adabelief", "lion",
]  # fmt: skip

CONTRACT_EXAMPLE: dict[str, Any] = {
    "problem": {"name": "rosenbrock", "noise": 0.0},
    "steps": 300,
    "seed": 0,
    "runs": [
        {
            "optimizer": "momentum",
            "params": {"alpha": 0.001, "beta": 0.9},
            "schedule": {"name": "step", "every": 100, "factor": 0.5},
            "start": [-1.5, 2.0],
        }
    ],
}


def request(problem: str | dict[str, Any], *runs: dict[str, Any], **fields: Any) -> dict:
    problem = {"name": problem} if isinstance(problem, str) else problem
    return {"problem": problem, "runs": list(runs) or [{"optimizer": "adam"}], **fields}


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/api/stream"


def open_stream(base_url: str) -> Any:
    return connect(ws_url(base_url), max_size=None, open_timeout=10)


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection, timeout: float = 30.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws: ClientConnection, kind: str, run_id: Any, timeout: float = 60.0) -> list:
    """Every message up to and including the first ``kind`` message of ``run_id``."""
    seen = []
    while True:
        message = await receive(ws, timeout)
        seen.append(message)
        if message["type"] == kind and message.get("id") == run_id:
            return seen


# A run's anatomy fields (docs/API.md, Anatomy): one entry per update, in its chunks
# (its alpha_t has one per point, as path).
ANATOMY_LISTS = ("grad", "lookahead", "effective_lr")


def join(messages: list[dict[str, Any]], run_id: Any) -> dict[str, Any]:
    """The chunks of ``run_id`` joined into POST /api/runs' ``path`` / ``loss`` lists
    (and ``t``, with a stride; ``alpha_t`` and the anatomy's lists, when the run asked
    for its anatomy)."""
    started = next(m for m in messages if m["type"] == "started" and m["id"] == run_id)
    done = next(m for m in messages if m["type"] == "done" and m["id"] == run_id)
    chunks = [m for m in messages if m["type"] == "chunk" and m["id"] == run_id]
    keys = ("t", "path", "loss") if started["stride"] > 1 else ("path", "loss")
    runs: list[dict[str, Any]] = [{key: [] for key in keys} for _ in started["runs"]]
    last_from = -1
    for chunk in chunks:
        assert chunk["from"] > last_from
        last_from = chunk["from"]
        for joined, part in zip(runs, chunk["runs"], strict=True):
            per_point = (*keys, "alpha_t") if "grad" in part else keys
            assert set(part) - {*ANATOMY_LISTS, "state"} == set(per_point)
            assert all(len(part[key]) == len(part["loss"]) for key in per_point)
            if part["path"]:  # points from … from+len-1
                assert len(joined["path"]) == chunk["from"]
            for key in per_point:
                joined[key] = joined.get(key, []) + part[key]
            if "grad" in part:
                # Updates from … from+len−1: point 0 has no update before it.
                updates = len(part["path"]) - (chunk["from"] == 0 and len(part["path"]) > 0)
                for field in (f for f in ANATOMY_LISTS if f in part):
                    assert len(part[field]) == updates, field
                    joined[field] = joined.get(field, []) + part[field]
                joined.setdefault("state", {symbol: [] for symbol in part["state"]})
                for symbol, values in part["state"].items():
                    assert len(values) == updates, symbol
                    joined["state"][symbol] += values
    for joined, config, end in zip(runs, started["runs"], done["runs"], strict=True):
        joined.update(config)
        joined.update(end)  # diverged_at, converged_at
    return {"started": started, "runs": runs}
