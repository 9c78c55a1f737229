"""After warm_up(), no request compiles: every kernel keeps the one signature warm-up
gave it, whatever route, problem, optimiser mix or chunking a request takes."""

from __future__ import annotations

import logging

import numba
import numpy as np
import pytest

from app import convergence
from app.api import streaming
from app.api.routes import runs as runs_route
from app.api.routes import surface as surface_route
from app.api.routes import sweeps as sweeps_route
from app.backends import compiled
from app.backends.compiled import COMPILED_AFTER_WARM_UP
from app.engine import build_simulation, simulate
from app.formats import csv_blocks, result_pieces
from app.optim.registry import OPTIMIZERS
from app.problems.registry import PROBLEMS
from app.sweeps import Sweep
from app.warmup import warm_up


def dispatchers() -> dict[str, numba.core.registry.CPUDispatcher]:
    """Every numba function of the engine, the kernels and the rules they inline."""
    found = {}
    for module in (compiled.kernels(), convergence):
        for name, value in vars(module).items():
            if isinstance(value, numba.core.registry.CPUDispatcher):
                found[f"{module.__name__}.{name}"] = value
    return found


def representative_requests() -> None:
    """What the routes run: POST /api/runs, the stream's chunks, sweeps (POST and
    stream), surface grids; one run and many, every optimiser, every problem, with
    and without anatomy."""
    every = [{"optimizer": name} for name in OPTIMIZERS]
    for name, problem in PROBLEMS.items():
        spec = {"name": name}
        if problem.kind == "regression":
            spec.update(n_samples=40, batch_size=8)
        bodies = [
            {"problem": spec, "steps": 30, "runs": [{"optimizer": "adam"}]},
            {"problem": spec, "steps": 30, "runs": every},
            {"problem": spec, "steps": 30, "stride": 7, "runs": every},
            {"problem": spec, "steps": 30, "runs": [{"optimizer": "rmsprop"}] * 3},
        ]
        if problem.kind == "regression":
            sizes = [{"optimizer": "sgd", "batch_size": size} for size in (40, 8, 1)]
            bodies.append({"problem": spec, "steps": 30, "runs": sizes})
        bodies += [{**body, "anatomy": True} for body in bodies if "stride" not in body]
        for body in bodies:
            result = simulate(build_simulation(body))  # POST /api/runs, encoded in pieces
            b"".join(result_pieces(result, runs_route.PIECE_POINTS))
            b"".join(csv_blocks(result))  # … answered as CSV
            execution, _ = streaming._begin(1, build_simulation(body), 0)  # the stream
            for count in (1, 16, 13):
                streaming._advance(execution, 1, count)
        sweep = {
            "problem": spec,
            "optimizer": "momentum",
            "steps": 20,
            "x_axis": {"param": "alpha", "count": 3},
            "y_axis": {"param": "beta", "count": 2},
        }
        sweeps_route._compute(Sweep(sweep))  # POST /api/sweeps
        list(Sweep(sweep).chunks(7))  # a sweep over the stream
        surface_route._grid(surface_route.dumps({"name": name}), 0, 12)
    # A diverging row and rows that stay, alike and mixed.
    simulate(
        build_simulation(
            {
                "problem": "steep_valley",
                "steps": 40,
                "runs": [{"optimizer": "sgd", "params": {"alpha": 1.0}}] * 2,
            }
        )
    )


def test_requests_after_warm_up_compile_nothing(caplog: pytest.LogCaptureFixture) -> None:
    warm_up()
    before = {name: list(d.signatures) for name, d in dispatchers().items()}
    with caplog.at_level(logging.WARNING, logger="app.backends.compiled"):
        representative_requests()
    after = {name: list(d.signatures) for name, d in dispatchers().items()}
    assert after == before
    for name, kernel in compiled.dispatchers().items():
        assert len(kernel.signatures) == 1, (name, kernel.signatures)
    assert COMPILED_AFTER_WARM_UP not in caplog.text


def test_a_compile_after_warm_up_is_logged_with_the_kernel(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @numba.njit
    def twice(value):
        return 2 * value

    twice(1.0)
    watch = compiled.CompileWatch({"twice": twice})
    watch.check()  # not armed: compiles before warm-up are expected
    watch.arm()
    twice(np.ones(3))
    with caplog.at_level(logging.WARNING, logger="app.backends.compiled"):
        watch.check()
        watch.check()  # reported once
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert COMPILED_AFTER_WARM_UP in record.getMessage() and "twice" in record.getMessage()
