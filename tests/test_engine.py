"""The run loop: batches, backends, common random numbers, divergence, chunks."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import Execution, build_simulation, loss_grid, simulate
from app.errors import InvalidSpec
from app.optim.registry import OPTIMIZERS
from app.problems.registry import PROBLEMS
from tests.engine_helpers import run

MIXED_RUNS = [
    {"optimizer": "sgd", "params": {"alpha": 0.002}},
    {"optimizer": "momentum", "params": {"alpha": 0.001, "beta_warmup_steps": 10}},
    {"optimizer": "nesterov", "params": {"alpha": 0.001}, "start": [0.5, -0.5]},
    {"optimizer": "adagrad", "schedule": {"name": "inverse_time", "k": 0.05}},
    {"optimizer": "rmsprop", "params": {"gamma": 0.99}},
    {"optimizer": "adam", "params": {"bias_correction": False}},
    {"optimizer": "adadelta"},
    {"optimizer": "nadam", "schedule": {"name": "step", "every": 7, "factor": 0.7}},
    {"optimizer": "adamax", "schedule": {"name": "exponential", "k": 0.02}},
    {"optimizer": "amsgrad", "params": {"alpha": 0.05}},
    {"optimizer": "adam", "params": {"alpha": 0.05}, "start": [1.0, -1.0]},
]


def _problem(name):
    if name == "linear_regression":
        return {"name": name, "n_samples": 60, "batch_size": 7}
    if name == "logistic_regression":
        return {"name": name, "n_samples": 45, "batch_size": 4, "noise": 0.1}
    return {"name": name, "noise": 0.3}


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_compiled_loop_equals_the_numpy_reference(problem):
    compiled = run(_problem(problem), MIXED_RUNS, steps=150)
    reference = run(_problem(problem), MIXED_RUNS, steps=150, backend="numpy")
    assert compiled.diverged_at == reference.diverged_at
    for a, b in zip(compiled.paths, reference.paths, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
    for a, b in zip(compiled.losses, reference.losses, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
@pytest.mark.parametrize("problem", ["noisy_bowl", "rosenbrock", "linear_regression"])
def test_a_batch_equals_its_runs_one_at_a_time(problem, backend):
    together = run(_problem(problem), MIXED_RUNS, steps=120, seed=5, backend=backend)
    for i, spec in enumerate(MIXED_RUNS):
        alone = run(_problem(problem), [spec], steps=120, seed=5, backend=backend)
        np.testing.assert_allclose(together.paths[i], alone.paths[0], rtol=1e-14, atol=0)
        assert together.diverged_at[i] == alone.diverged_at[0]


@pytest.mark.parametrize("problem", ["noisy_bowl", "logistic_regression"])
def test_a_runs_path_does_not_change_when_other_runs_join(problem):
    # Common random numbers: the noise and minibatches depend on the seed only.
    lone = run(_problem(problem), [MIXED_RUNS[5]], steps=200, seed=11)
    crowd = run(
        _problem(problem), [MIXED_RUNS[0], MIXED_RUNS[3], MIXED_RUNS[5]], steps=200, seed=11
    )
    np.testing.assert_array_equal(crowd.paths[2], lone.paths[0])
    other_seed = run(_problem(problem), [MIXED_RUNS[5]], steps=200, seed=12)
    assert not np.array_equal(other_seed.paths[0], lone.paths[0])


def test_noise_is_the_seeded_gaussian_sequence_added_to_every_gradient():
    sigma = 0.7
    result = run({"name": "noisy_bowl", "noise": sigma}, [{"optimizer": "sgd"}], steps=5, seed=3)
    xi = np.random.default_rng(3).standard_normal((5, 2))
    x = np.array([-3.0, 2.5])
    for t in range(5):
        x = x - 0.01 * (x + sigma * xi[t])
        np.testing.assert_allclose(result.paths[0][t + 1], x, rtol=1e-15)


def test_every_optimizer_with_its_defaults_settles_in_the_steep_valley():
    result = run("steep_valley", [{"optimizer": name} for name in OPTIMIZERS], steps=10_000)
    start_loss = result.losses[0][0]
    for name, path, loss in zip(OPTIMIZERS, result.paths, result.losses, strict=True):
        assert loss[-1] < 1e-3 * start_loss, name
        assert np.all(np.abs(path[-1]) < 0.05), name


def test_divergence_stops_the_row_at_the_update_that_leaves_the_finite_box():
    # y_t = 1.5·(1 - 4α)^t = 1.5·(-5)^t first exceeds 1e6 at t = 9.
    result = run(
        "steep_valley",
        [{"optimizer": "sgd", "params": {"alpha": 1.5}}, {"optimizer": "sgd"}],
        steps=30,
    )
    assert result.diverged_at == [9, None]
    assert len(result.paths[0]) == 9 and len(result.losses[0]) == 9
    assert np.abs(result.paths[0]).max() <= 1e6
    assert len(result.paths[1]) == 31


def test_overflow_to_infinity_counts_as_divergence_not_an_error():
    result = run("rosenbrock", [{"optimizer": "sgd", "params": {"alpha": 10.0}}], steps=100)
    assert result.diverged_at[0] is not None
    assert np.isfinite(result.paths[0]).all() and np.isfinite(result.losses[0]).all()


def test_full_batch_regression_is_gradient_descent_on_the_mean_loss():
    request = {"name": "linear_regression", "n_samples": 80, "batch_size": 80, "noise": 0.4}
    result = run(request, [{"optimizer": "sgd", "params": {"alpha": 0.05}}], steps=40, seed=2)
    x, y = result.data["x"], result.data["y"]
    w, b = -1.0, 2.0
    for t in range(40):
        residual = w * x + b - y
        w, b = w - 0.05 * np.mean(2 * residual * x), b - 0.05 * np.mean(2 * residual)
        np.testing.assert_allclose(result.paths[0][t + 1], [w, b], rtol=1e-12)
    expected_loss = np.mean((w * x + b - y) ** 2)
    assert result.losses[0][-1] == pytest.approx(expected_loss, rel=1e-12)


def test_sgd_with_batch_size_one_is_noisier_than_full_batch():
    problem = {"name": "linear_regression", "n_samples": 100}
    sgd = run({**problem, "batch_size": 1}, [{"optimizer": "sgd"}], steps=2000)
    full = run({**problem, "batch_size": 100}, [{"optimizer": "sgd"}], steps=2000)
    assert np.std(np.diff(sgd.losses[0][-500:])) > 10 * np.std(np.diff(full.losses[0][-500:]))


def test_chunks_join_to_the_whole_run():
    request = {
        "problem": {"name": "logistic_regression"},
        "steps": 333,
        "seed": 4,
        "runs": [{"optimizer": "adam"}, {"optimizer": "sgd", "params": {"alpha": 10.0}}],
    }
    whole = simulate(build_simulation(request))
    chunks = list(Execution(build_simulation(request)).chunks(50))
    assert [c.first for c in chunks] == [0, 1, 51, 101, 151, 201, 251, 301]
    for row in range(2):
        joined = np.concatenate([c.paths[row] for c in chunks])
        np.testing.assert_array_equal(joined, whole.paths[row])


def test_defaults_fill_every_field():
    simulation = build_simulation(
        {"problem": {"name": "linear_regression"}, "runs": [{"optimizer": "momentum"}]}
    )
    assert simulation.steps == 200 and simulation.seed == 0
    assert simulation.problem == {
        "name": "linear_regression",
        "n_samples": 200,
        "noise": 0.5,
        "batch_size": 16,
    }
    run_json = simulation.runs[0].as_json()
    assert run_json["params"] == {
        "alpha": 0.01,
        "beta": 0.9,
        "beta_warmup_steps": 0,
        "weight_decay": 0.0,
    }
    assert run_json["schedule"] == {"name": "constant", "warmup_steps": 0}
    assert run_json["start"] == list(PROBLEMS["linear_regression"].start)


@pytest.mark.parametrize(
    ("request_body", "loc", "words"),
    [
        (
            {"problem": {"name": "nope"}, "runs": [{"optimizer": "sgd"}]},
            ("problem", "name"),
            "valid problems",
        ),
        (
            {"problem": "rosenbrock", "runs": [{"optimizer": "adam2"}]},
            ("runs", 0, "optimizer"),
            "valid optimizers",
        ),
        (
            {"problem": "rosenbrock", "runs": [{"optimizer": "adam", "params": {"beta": 0.9}}]},
            ("runs", 0, "params", "beta"),
            "valid parameters",
        ),
        (
            {"problem": "rosenbrock", "runs": [{"optimizer": "adam", "params": {"beta1": 1.5}}]},
            ("runs", 0, "params", "beta1"),
            "between",
        ),
        (
            {
                "problem": "rosenbrock",
                "runs": [{"optimizer": "sgd", "schedule": {"name": "sawtooth"}}],
            },
            ("runs", 0, "schedule", "name"),
            "valid schedules",
        ),
        (
            {"problem": "rosenbrock", "steps": 10_001, "runs": [{"optimizer": "sgd"}]},
            ("steps",),
            "between",
        ),
        ({"problem": "rosenbrock", "runs": []}, ("runs",), "between 1 and 64"),
        (
            {"problem": "rosenbrock", "runs": [{"optimizer": "sgd", "start": [1.0, 2e6]}]},
            ("runs", 0, "start", 1),
            "within",
        ),
        (
            {
                "problem": {"name": "linear_regression", "n_samples": 20, "batch_size": 21},
                "runs": [{"optimizer": "sgd"}],
            },
            ("problem", "batch_size"),
            "at most n_samples",
        ),
        (
            {
                "problem": {"name": "rosenbrock", "noise": float("nan")},
                "runs": [{"optimizer": "sgd"}],
            },
            ("problem", "noise"),
            "finite",
        ),
    ],
)
def test_bad_requests_name_the_field_and_the_rule(request_body, loc, words):
    with pytest.raises(InvalidSpec) as caught:
        build_simulation(request_body)
    assert caught.value.loc == loc
    assert words in caught.value.message


def test_regression_converges_to_the_best_fit_loss():
    problem = {"name": "linear_regression", "batch_size": 200}
    result = run(problem, [{"optimizer": "sgd", "params": {"alpha": 0.1}}], steps=400)
    t = result.converged_at[0]
    assert t is not None
    assert result.losses[0][t] - result.data["min_loss"] <= 1e-6
    assert result.losses[0][t - 1] - result.data["min_loss"] > 1e-6


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
def test_runs_with_their_own_batch_sizes_equal_runs_of_problems_with_that_batch_size(backend):
    problem = {"name": "logistic_regression", "n_samples": 50, "noise": 0.1}
    runs = [
        {"optimizer": "sgd", "params": {"alpha": 0.5}, "batch_size": 50},
        {"optimizer": "momentum", "batch_size": 16},
        {"optimizer": "adam", "batch_size": 1, "schedule": {"name": "step", "every": 1}},
    ]
    together = run(problem, runs, steps=300, seed=3, backend=backend)
    for i, spec in enumerate(runs):
        alone_problem = {**problem, "batch_size": spec["batch_size"]}
        solo_spec = {k: v for k, v in spec.items() if k != "batch_size"}
        alone = run(alone_problem, [solo_spec], steps=300, seed=3, backend=backend)
        np.testing.assert_allclose(together.paths[i], alone.paths[0], rtol=1e-13, atol=1e-15)
    assert [r.as_json()["batch_size"] for r in together.simulation.runs] == [50, 16, 1]


def test_per_run_batch_sizes_on_a_surface_are_rejected():
    with pytest.raises(InvalidSpec) as caught:
        build_simulation({"problem": "rosenbrock", "runs": [{"optimizer": "sgd", "batch_size": 4}]})
    assert caught.value.loc == ("runs", 0, "batch_size")


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_rows_that_share_a_rule_step_exactly_like_rows_alone(optimizer):
    # Rows with one optimiser and one setting take the engine's blocked loop.
    starts = [[-1.5, 2.0], [0.5, -0.5], [1.2, 1.3], [-0.3, 0.1]] * 5
    runs = [{"optimizer": optimizer, "params": {"alpha": 1e-3}, "start": s} for s in starts]
    together = run("rosenbrock", runs, steps=300)
    for i in (0, 1, 2, 3, 17):
        alone = run("rosenbrock", [runs[i]], steps=300)
        np.testing.assert_array_equal(together.paths[i], alone.paths[0])
        assert together.diverged_at[i] == alone.diverged_at[0]


@pytest.mark.parametrize("optimizer", ["nesterov", "adam", "amsgrad"])
def test_regression_rows_that_share_a_rule_step_exactly_like_rows_alone(optimizer):
    # The blocked loop on minibatches: rows with their own batch sizes (so their own
    # sample groups), more rows than one block, and for Nesterov one row whose rate
    # makes it diverge.
    problem = {"name": "linear_regression", "n_samples": 40, "batch_size": 8}
    sizes = [1, 8, 40, 5]
    runs = [
        {"optimizer": optimizer, "params": {"alpha": 0.01}, "start": [0.2 * i, -0.1 * i],
         "batch_size": sizes[i % 4]}
        for i in range(18)
    ]  # fmt: skip
    runs[5] = {**runs[5], "params": {"alpha": 1.0}}
    together = run(problem, runs, steps=200, seed=6)
    if optimizer == "nesterov":
        assert together.diverged_at[5] is not None
    for i in (0, 1, 2, 3, 5, 17):
        alone = run(problem, [runs[i]], steps=200, seed=6)
        np.testing.assert_array_equal(together.paths[i], alone.paths[0])
        np.testing.assert_array_equal(together.losses[i], alone.losses[0])
        assert together.diverged_at[i] == alone.diverged_at[0]


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_loss_grid_is_the_loss_a_run_reports_at_that_point(problem):
    spec = {"name": problem, "n_samples": 40} if PROBLEMS[problem].kind == "regression" else problem
    xs, ys, z = loss_grid(spec if isinstance(spec, dict) else {"name": spec}, seed=4, resolution=12)
    assert z.shape == (12, 12)
    point = [float(xs[7]), float(ys[3])]
    result = run(spec, [{"optimizer": "sgd", "start": point}], steps=1, seed=4)
    assert result.losses[0][0] == pytest.approx(z[3, 7], rel=1e-12)


def test_regression_requests_past_the_sample_budget_are_refused_with_the_figures():
    request = {
        "problem": {"name": "logistic_regression", "n_samples": 5000},
        "steps": 10_000,
        "runs": [{"optimizer": "sgd"}] * 3,
    }
    with pytest.raises(InvalidSpec) as caught:
        build_simulation(request)
    assert caught.value.loc == ("steps",)
    assert "3 × 10,000 × 5,000" in caught.value.message
    build_simulation({**request, "steps": 9_999, "runs": [{"optimizer": "sgd"}] * 2})  # 1e8
