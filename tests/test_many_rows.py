"""Many rows of one rule take the vectorised loop (run_columns), split between threads:
every figure of every row is bit for bit what the row-by-row loop gives it."""

from __future__ import annotations

import numpy as np
import pytest

from app.backends import compiled, threads
from app.engine import Execution, build_simulation, simulate
from app.optim.registry import OPTIMIZERS
from app.sweeps import run_sweep
from tests.engine_helpers import run

ROWS = 300  # more than two blocks of the loop (128 rows), and a part block


def _hyper_values(optimizer: str, count: int, rng: np.random.Generator) -> list[dict]:
    """``count`` settings of the rule's hyper-parameters, each drawn in its range."""
    drawn = []
    for _ in range(count):
        values = {}
        for p in OPTIMIZERS[optimizer].params:
            if p.name == "alpha":
                continue
            if p.kind == "bool":
                values[p.name] = bool(rng.integers(2))
            elif p.kind == "int":
                values[p.name] = int(rng.integers(p.min, min(p.max, 40) + 1))
            else:
                values[p.name] = float(rng.uniform(p.min, p.max))
        drawn.append(values)
    return drawn


def many_runs(optimizer: str, seed: int = 0) -> list[dict]:
    """Rows in runs that share their setting (longer and shorter than the loop's
    MIN_SHARED), ten rows that each have their own, rates from tiny to diverging,
    scattered starts. Most rows share, as in a sweep: the engine takes them through
    the vectorised loop."""
    rng = np.random.default_rng(seed)
    shared = _hyper_values(optimizer, 3, rng)
    own = _hyper_values(optimizer, ROWS, rng)
    low = max(1e-4, next(p.min for p in OPTIMIZERS[optimizer].params if p.name == "alpha"))
    runs = []
    for row in range(ROWS):
        if row < 40:
            params = shared[0]
        elif row < 50:
            params = shared[1]
        elif row < 60:
            params = own[row]
        else:
            params = shared[2]
        alpha = float(10 ** rng.uniform(np.log10(low), 0.5))  # the largest diverge on Rosenbrock
        start = [float(rng.uniform(-2, 2)), float(rng.uniform(-1, 3))]
        runs.append({"optimizer": optimizer, "params": {**params, "alpha": alpha}, "start": start})
    return runs


def simulate_rows(problem, runs, steps, seed=0):
    body = {"problem": problem, "steps": steps, "seed": seed, "runs": runs}
    return simulate(build_simulation(body, max_runs=len(runs)))


def assert_same_rows(together, reference, rows):
    for i in rows:
        np.testing.assert_array_equal(together.paths[i], reference.paths[i])
        np.testing.assert_array_equal(together.losses[i], reference.losses[i])
    assert together.diverged_at[: len(rows)] == reference.diverged_at[: len(rows)]
    # The reason names the point a diverging row could not take: the same point.
    assert together.diverged_reason[: len(rows)] == reference.diverged_reason[: len(rows)]
    assert together.converged_at[: len(rows)] == reference.converged_at[: len(rows)]
    assert together.blew_up_at[: len(rows)] == reference.blew_up_at[: len(rows)]


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_many_rows_of_one_rule_step_exactly_like_the_row_by_row_loop(optimizer):
    problem = {"name": "rosenbrock", "noise": 0.2}
    runs = many_runs(optimizer)
    together = simulate_rows(problem, runs, steps=80, seed=3)
    # One row of another rule makes the batch mixed: the row-by-row loop runs it all,
    # and a row's path never depends on the others (tests/test_engine.py).
    other = "sgd" if optimizer != "sgd" else "adam"
    reference = simulate_rows(problem, [*runs, {"optimizer": other}], steps=80, seed=3)
    assert_same_rows(together, reference, range(ROWS))
    # The scene reaches what the loop must get right: rows that diverge (the plain
    # rules, whose steps grow with the gradient; adaptive steps stay near α) beside
    # rows that do not.
    diverged = [d is not None for d in together.diverged_at]
    assert not all(diverged)
    assert any(diverged) or optimizer not in ("sgd", "momentum", "nesterov")


@pytest.mark.parametrize("optimizer", ["nesterov", "adam", "adadelta"])
def test_many_regression_rows_step_exactly_like_the_row_by_row_loop(optimizer):
    problem = {"name": "logistic_regression", "n_samples": 30, "batch_size": 6, "noise": 0.1}
    shared = many_runs(optimizer, seed=1)
    runs = [
        {**run, "start": [run["start"][0], run["start"][1] - 1.0], "batch_size": [1, 6, 30][i % 3]}
        for i, run in enumerate(shared[:40] + shared[60:100])
    ]
    together = simulate_rows(problem, runs, steps=60, seed=9)
    reference = simulate_rows(problem, [*runs, {"optimizer": "sgd"}], steps=60, seed=9)
    assert_same_rows(together, reference, range(len(runs)))


def test_rows_split_between_threads_give_the_same_figures(monkeypatch):
    runs = many_runs("amsgrad", seed=2)
    one_thread = simulate_rows("rosenbrock", runs, steps=60)
    monkeypatch.setattr(threads, "MIN_PARALLEL_WORK", 1)
    threads.configure(3)
    try:
        calls = []
        kernel = compiled.kernels().run_columns
        monkeypatch.setattr(
            compiled.kernels(),
            "run_columns",
            lambda *args: calls.append(args[-2:]) or kernel(*args),
        )
        split = simulate_rows("rosenbrock", runs, steps=60)
    finally:
        threads.configure(0)
    # Stretches of whole blocks (128 rows), one a thread, that cover every row once.
    assert sorted(calls) == [(0, 128), (128, 256), (256, ROWS)]
    assert_same_rows(split, one_thread, range(ROWS))


ALPHA_AXIS = {"param": "alpha", "min": 1e-3, "max": 3.0, "count": 40}
BETA1_AXIS = {"param": "beta1", "min": 0.0, "max": 0.99, "count": 30}


@pytest.mark.parametrize("x_axis, y_axis", [(ALPHA_AXIS, BETA1_AXIS), (BETA1_AXIS, ALPHA_AXIS)])
def test_a_cell_of_a_large_sweep_is_the_single_run(x_axis, y_axis):
    # Blocks cut where β₁ changes, whichever axis it is on (the engine steps the cells
    # with β₁ the slower axis); the grid answers (y, x) either way.
    request = {
        "problem": {"name": "rosenbrock"},
        "optimizer": "adam",
        "steps": 150,
        "x_axis": x_axis,
        "y_axis": y_axis,
    }
    result = run_sweep(request)
    assert result.final_loss.shape == (y_axis["count"], x_axis["count"])
    for j, i in ((0, 0), (17, 5), (29, 29), (20, 11), (3, 27)):
        x, y = result.x_axis.values[i], result.y_axis.values[j]
        params = {x_axis["param"]: x, y_axis["param"]: y}
        single = run("rosenbrock", [{"optimizer": "adam", "params": params}], steps=150)
        assert result.final_loss[j, i] == single.losses[0][-1]
        converged = single.converged_at[0]
        assert result.converged_at[j, i] == (-1 if converged is None else converged)
        np.testing.assert_array_equal(result.final_point[j, i], single.paths[0][-1])


def test_many_rows_streamed_in_chunks_join_to_the_whole_run():
    runs = many_runs("momentum", seed=4)
    body = {"problem": "rosenbrock", "steps": 90, "runs": runs}
    whole = simulate(build_simulation(body, max_runs=ROWS))
    chunks = list(Execution(build_simulation(body, max_runs=ROWS)).chunks(7))
    for row in range(ROWS):
        joined = np.concatenate([chunk.paths[row] for chunk in chunks])
        np.testing.assert_array_equal(joined, whole.paths[row])
    assert any(d is not None and d < 80 for d in whole.diverged_at)  # rows dead for chunks
