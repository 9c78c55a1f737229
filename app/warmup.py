"""Compile (or load from numba's cache) every kernel before the first request needs it.

``warm_up`` runs at start-up, in a thread (app/main.py), and during the Docker
build, which fills the cache the replicas then load.
"""

from __future__ import annotations

from app.backends import compiled
from app.engine import Execution, build_simulation, simulate
from app.optim.registry import OPTIMIZERS
from app.sweeps import Sweep


def warm_up() -> None:
    """Compile (or load from the cache) every kernel, through the entry points the
    routes use (POST /api/runs, the stream, sweeps), on a noisy surface, a
    minibatch regression and a typed formula, mixed rows and rows alike, with and
    without anatomy; then watch for later compiles."""
    problems = (
        {"name": "rosenbrock", "noise": 0.1},
        {"name": "linear_regression", "n_samples": 20, "batch_size": 4},
        {"name": "custom", "noise": 0.1},
    )
    for problem in problems:
        # Mixed optimisers (run_rows), then rows all alike (run_alike).
        for runs in ([{"optimizer": name} for name in OPTIMIZERS], [{"optimizer": "adam"}] * 2):
            for anatomy in (False, True):
                request = {"problem": problem, "steps": 2, "runs": runs, "anatomy": anatomy}
                simulate(build_simulation(request))
                list(Execution(build_simulation(request)).chunks(1))
        sweep = {
            "problem": problem,
            "optimizer": "adam",
            "steps": 2,
            # Enough cells for the vectorised loop of many rows (run_columns).
            "x_axis": {"param": "alpha", "count": 8},
            "y_axis": {"param": "start_x", "count": 8},
        }
        Sweep(sweep).run()
    compiled.watch_compiles()
