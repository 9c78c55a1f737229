"""examples/descentlab_client.py, as a notebook user copies it, against a live server."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import io
import sys
from pathlib import Path

import httpx
import numpy as np
import plotly.graph_objects as go
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "descentlab_client.py"
_spec = importlib.util.spec_from_file_location("descentlab_client", EXAMPLE)
assert _spec is not None and _spec.loader is not None
client = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = client  # as `import descentlab_client` beside a notebook would
_spec.loader.exec_module(client)

REGRESSION = {
    "problem": {"name": "linear_regression", "n_samples": 80, "noise": 0.4},
    "steps": 300,
    "seed": 2,
    "stride": 7,
    "runs": [
        {"optimizer": "adam", "params": {"alpha": 0.1}, "batch_size": 8},
        {"optimizer": "sgd", "params": {"alpha": 0.05}, "batch_size": 80},
    ],
}
SURFACE = {
    "problem": {"name": "himmelblau"},
    "steps": 400,
    "runs": [{"optimizer": "adam", "params": {"alpha": 0.1}}, {"optimizer": "nesterov"}],
}


def test_fetch_runs_gives_numpy_arrays_of_the_answer(http: httpx.Client, live_server: str):
    answer = client.fetch_runs(REGRESSION, base_url=live_server)
    posted = http.post("/api/runs", json=REGRESSION).json()
    for run, expected in zip(answer.runs, posted["runs"], strict=True):
        assert run.settings["optimizer"] == expected["optimizer"]
        assert run.settings["updates_per_epoch"] == expected["updates_per_epoch"]
        np.testing.assert_array_equal(run.t, expected["t"])
        np.testing.assert_array_equal(np.stack([run.x, run.y], axis=1), expected["path"])
        np.testing.assert_array_equal(run.loss, expected["loss"])
        np.testing.assert_array_equal(run.alpha_t, expected["alpha_t"])
        assert run.converged_at == expected["converged_at"]
    np.testing.assert_array_equal(answer.data["x"], posted["data"]["x"])
    assert answer.data["true_params"] == [2.0, -1.0]
    # Without a stride, t is each point's index.
    surface = client.fetch_runs(SURFACE, base_url=live_server)
    np.testing.assert_array_equal(surface.runs[0].t, np.arange(401))
    assert surface.runs[0].alpha_t is None


def test_fetch_csv_reads_back_as_the_arrays(live_server: str) -> None:
    answer = client.fetch_runs(REGRESSION, base_url=live_server)
    rows = list(csv.DictReader(io.StringIO(client.fetch_csv(REGRESSION, base_url=live_server))))
    for index, run in enumerate(answer.runs):
        mine = [row for row in rows if row["run"] == str(index)]
        np.testing.assert_array_equal([float(row["loss"]) for row in mine], run.loss)
        np.testing.assert_array_equal([int(row["t"]) for row in mine], run.t)


def test_a_bad_request_raises_with_the_field(live_server: str) -> None:
    with pytest.raises(ValueError, match="valid optimizers"):
        client.fetch_runs({**SURFACE, "runs": [{"optimizer": "adam2"}]}, base_url=live_server)


@pytest.mark.parametrize("request_body", [SURFACE, REGRESSION], ids=["surface", "strided"])
def test_streaming_fills_a_figure_with_the_paths(http: httpx.Client, live_server, request_body):
    posted = http.post("/api/runs", json=request_body).json()

    async def notebook_cell():  # what `await stream_into_figure(...)` runs in Jupyter
        return await client.stream_into_figure(request_body, go.Figure(), base_url=live_server)

    figure = asyncio.run(notebook_cell())
    assert [trace.name for trace in figure.data] == [
        f"{index} {run['optimizer']}" for index, run in enumerate(posted["runs"])
    ]
    for trace, run in zip(figure.data, posted["runs"], strict=True):
        np.testing.assert_array_equal(np.stack([trace.x, trace.y], axis=1), run["path"])
