"""A small client of descentlab's API for scripts and notebooks.

Copy this file next to your notebook; it needs httpx, numpy and websockets, and
plotly for figures. The API's contract is docs/API.md.

    from descentlab_client import fetch_runs, fetch_csv, stream_into_figure

    request = {
        "problem": {"name": "rosenbrock"},
        "steps": 2000,
        "stride": 10,  # every 10th point (and the last) is plenty for a plot
        "runs": [
            {"optimizer": "adam", "params": {"alpha": 0.05}},
            {"optimizer": "momentum", "params": {"alpha": 0.001}},
        ],
    }
    answer = fetch_runs(request)        # numpy arrays, one Run per run
    adam = answer.runs[0]
    adam.t, adam.x, adam.y, adam.loss   # update index, position, loss of each point

    import io, pandas
    table = pandas.read_csv(io.StringIO(fetch_csv(request)))   # long format

Streaming into a figure that grows as the chunks arrive. In Jupyter the notebook
already runs an event loop: ``await`` the coroutine in a cell (``asyncio.run``
would fail there with "cannot be called from a running event loop"):

    import plotly.graph_objects as go
    figure = go.FigureWidget()          # needs ipywidgets; go.Figure() redraws at the end
    figure                              # show it, then in the next cell:
    await stream_into_figure(request, figure)

In a script, run it with ``asyncio.run``:

    figure = asyncio.run(stream_into_figure(request))
    figure.show()
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from websockets.asyncio.client import connect

BASE_URL = "http://127.0.0.1:8000"
RETRIES = 30  # a server that has just started answers 503 for a second or two


@dataclass
class Run:
    """One run of an answer, its points as numpy arrays."""

    settings: dict[str, Any]  # optimizer, params, schedule, start (regression: batch_size, …)
    t: np.ndarray  # the update index of each point
    x: np.ndarray
    y: np.ndarray
    loss: np.ndarray
    alpha_t: np.ndarray | None  # regression: the learning rate of each point's update
    diverged_at: int | None
    converged_at: int | None
    blew_up_at: int | None


@dataclass
class Answer:
    problem: dict[str, Any]
    steps: int
    seed: int
    runs: list[Run]
    data: dict[str, Any] | None  # regression: x, y (arrays), minimum, min_loss, true_params


def _run(body: dict[str, Any]) -> Run:
    points = {"t", "path", "loss", "alpha_t", "diverged_at", "converged_at", "blew_up_at"}
    path = np.asarray(body["path"], dtype=float).reshape(-1, 2)
    return Run(
        settings={key: value for key, value in body.items() if key not in points},
        t=np.asarray(body.get("t", range(len(path))), dtype=int),  # no stride: t = index
        x=path[:, 0],
        y=path[:, 1],
        loss=np.asarray(body["loss"], dtype=float),
        alpha_t=np.asarray(body["alpha_t"], dtype=float) if "alpha_t" in body else None,
        diverged_at=body["diverged_at"],
        converged_at=body["converged_at"],
        blew_up_at=body["blew_up_at"],
    )


def _post(request: dict[str, Any], base_url: str, **options: Any) -> httpx.Response:
    """POST /api/runs, waiting out the 503 of a server still warming up."""
    for _ in range(RETRIES):
        response = httpx.post(f"{base_url}/api/runs", json=request, timeout=120, **options)
        if response.status_code != 503:
            break
        time.sleep(float(response.headers.get("retry-after", 1)))
    if response.status_code == 422:
        raise ValueError(response.json()["detail"])
    return response.raise_for_status()


def fetch_runs(request: dict[str, Any], base_url: str = BASE_URL) -> Answer:
    """The answer of ``POST /api/runs`` for ``request``, with numpy arrays."""
    body = _post(request, base_url).json()
    data = body.get("data")
    if data is not None:
        data = {**data, "x": np.asarray(data["x"]), "y": np.asarray(data["y"])}
    runs = [_run(run) for run in body["runs"]]
    return Answer(body["problem"], body["steps"], body["seed"], runs, data)


def fetch_csv(request: dict[str, Any], base_url: str = BASE_URL) -> str:
    """The same answer as CSV: one row per run and point (docs/API.md, POST /api/runs)."""
    return _post(request, base_url, headers={"accept": "text/csv"}).text


async def stream_runs(
    request: dict[str, Any], base_url: str = BASE_URL, speed: float = 0
) -> AsyncIterator[dict[str, Any]]:
    """The stream's messages for one run of ``request``, from ``started`` to ``done``."""
    url = base_url.replace("http", "ws", 1) + "/api/stream"
    async with connect(url, max_size=None) as socket:
        message = {"type": "run", "id": 1, "request": request, "speed": speed}
        await socket.send(json.dumps(message))
        while True:
            reply = json.loads(await socket.recv())
            if reply["type"] == "error" and reply.get("code") == "warming":
                await asyncio.sleep(reply["retry_after"])  # the server has just started
                await socket.send(json.dumps(message))
                continue
            if reply["type"] == "error":
                raise ValueError(reply["detail"])
            yield reply
            if reply["type"] == "done":
                return


def _values(data: Any) -> np.ndarray:
    return np.zeros(0) if data is None else np.asarray(data, dtype=float)


async def stream_into_figure(
    request: dict[str, Any], figure: Any = None, base_url: str = BASE_URL, speed: float = 0
) -> Any:
    """Draw every run's path in ``figure`` (a new ``go.Figure`` if None) as it arrives.

    A ``go.FigureWidget`` shown in a notebook redraws after every chunk; a plain
    figure holds every point once this returns."""
    if figure is None:
        import plotly.graph_objects as go

        figure = go.Figure()
    traces: list[Any] = []
    async for message in stream_runs(request, base_url, speed):
        if message["type"] == "started":
            for index, run in enumerate(message["runs"]):
                figure.add_scatter(x=[], y=[], mode="lines", name=f"{index} {run['optimizer']}")
                traces.append(figure.data[-1])
        elif message["type"] == "chunk":
            with figure.batch_update():
                for trace, part in zip(traces, message["runs"], strict=True):
                    if part["path"]:
                        path = np.asarray(part["path"], dtype=float)
                        trace.x = np.concatenate([_values(trace.x), path[:, 0]])
                        trace.y = np.concatenate([_values(trace.y), path[:, 1]])
    return figure
