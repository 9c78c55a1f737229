"""Small helpers to run the engine the way the API does."""

from __future__ import annotations

import numpy as np

from app.engine import build_simulation, simulate


def run(problem, runs, steps=50, seed=0, backend="compiled"):
    if isinstance(problem, str):
        problem = {"name": problem}
    request = {"problem": problem, "steps": steps, "seed": seed, "runs": runs}
    return simulate(build_simulation(request), backend=backend)


def path_of(problem, optimizer, params=None, steps=50, backend="compiled", **run_extra):
    result = run(
        problem,
        [{"optimizer": optimizer, "params": params or {}, **run_extra}],
        steps=steps,
        backend=backend,
    )
    return result.paths[0]


def assert_paths_close(actual, expected, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=1e-300)
