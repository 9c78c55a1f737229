"""Each update's anatomy (docs/API.md, Anatomy) against docs/API.md's rules transcribed
independently (tests/optim/reference.py), on both backends, with schedules, warm-up,
gradient noise and minibatches; and what ties the parts together: the step is
−effective_lr · direction."""

from __future__ import annotations

import numpy as np
import pytest

from app.backends.numpy import evaluate
from app.engine import Execution, build_simulation, simulate
from app.optim.registry import OPTIMIZERS, hyper_slots, state_slots
from app.problems.regression import LINEAR, minibatches
from tests.optim.reference import DEFAULTS, reference_run

BACKENDS = ("compiled", "numpy")
SIGMA, SEED, STEPS = 0.3, 7, 40
START = (-4.5, 1.5)

# Settings away from the defaults, a schedule for every run, warm-up for the two
# rules that have it: each anatomy field is exercised where the rules differ.
SETTINGS = {
    "sgd": {"alpha": 0.05, "weight_decay": 0.2},
    "momentum": {"alpha": 0.04, "beta": 0.8, "beta_warmup_steps": 6, "weight_decay": 0.1},
    "nesterov": {"alpha": 0.04, "beta": 0.95, "beta_warmup_steps": 4, "weight_decay": 0.3},
    "adagrad": {"alpha": 0.3, "eps": 1e-3},
    "rmsprop": {"alpha": 0.02, "gamma": 0.8, "eps": 1e-6},
    "adam": {
        "alpha": 0.05,
        "beta1": 0.8,
        "beta2": 0.99,
        "eps": 1e-6,
        "bias_correction": False,
        "weight_decay": 0.2,
    },
    "amsgrad": {"alpha": 0.05, "beta1": 0.7, "beta2": 0.9, "eps": 1e-7},
    "adamax": {"alpha": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-5},
    "nadam": {"alpha": 0.03, "beta1": 0.85, "beta2": 0.95, "eps": 1e-7},
    "adadelta": {"alpha": 0.8, "rho": 0.8, "eps": 1e-4},
    "adamw": {"alpha": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.2},
    "radam": {"alpha": 0.05, "beta1": 0.8, "beta2": 0.9, "eps": 1e-6},
    "adabelief": {"alpha": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6},
    "lion": {"alpha": 0.03, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.3},
}
SCHEDULE = {"name": "step", "every": 9, "factor": 0.6}
WEIGHT_DECAY = {
    name: {"weight_decay": 0.3}
    for name, spec in OPTIMIZERS.items()
    if "weight_decay" in spec.hyper_names
}


def step_rate(alpha, t):
    return alpha * 0.6 ** ((t - 1) // 9)


def assert_anatomy_equal(actual, expected, rtol=1e-12):
    """An engine run's anatomy against reference_run's lists."""
    close = {"rtol": rtol, "atol": 1e-300}
    np.testing.assert_allclose(actual.grad, expected["grad"], **close)
    np.testing.assert_allclose(actual.alpha_t, expected["alpha_t"], **close)
    np.testing.assert_allclose(actual.effective_lr, expected["effective_lr"], **close)
    assert set(actual.state) == set(expected["state"])
    for symbol, values in expected["state"].items():
        np.testing.assert_allclose(actual.state[symbol], values, err_msg=symbol, **close)
    if "lookahead" in expected:
        np.testing.assert_allclose(actual.lookahead, expected["lookahead"], **close)
    else:
        assert actual.lookahead is None


def test_every_rule_has_its_settings_here():
    assert set(SETTINGS) == set(OPTIMIZERS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_rule_on_a_noisy_surface_with_a_schedule_equals_the_reference(backend):
    runs = [{"optimizer": name, "params": p, "schedule": SCHEDULE} for name, p in SETTINGS.items()]
    body = {"problem": {"name": "steep_valley", "noise": SIGMA}, "steps": STEPS, "seed": SEED}
    result = simulate(build_simulation({**body, "runs": runs, "anatomy": True}), backend)
    noise = SIGMA * np.random.default_rng(SEED).standard_normal((STEPS, 2))

    def gradient(x, y, t):
        return (0.2 * x + noise[t - 1][0], 4.0 * y + noise[t - 1][1])

    for row, name in enumerate(SETTINGS):
        params = {**DEFAULTS[name], **SETTINGS[name]}
        path, expected = reference_run(
            name, params, gradient, START, STEPS, lambda t, a=params["alpha"]: step_rate(a, t)
        )
        np.testing.assert_allclose(result.paths[row], path, rtol=1e-12, atol=1e-300)
        assert_anatomy_equal(result.anatomy[row], expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["nesterov", "adam", "adadelta"])
def test_minibatch_gradients_on_a_regression_equal_the_reference(name, backend):
    n, batch, noise, seed, steps = 30, 7, 0.5, 3, 25
    data_x, data_y = LINEAR.make_data(n, noise, seed)
    body = {
        "problem": {"name": "linear_regression", "n_samples": n, "noise": noise, "batch_size": 4},
        "steps": steps,
        "seed": seed,
        "runs": [{"optimizer": name, "params": SETTINGS[name], "batch_size": batch}],
        "anatomy": True,
    }
    result = simulate(build_simulation(body), backend)

    def gradient(w, b, t):
        batches = minibatches(n, batch, seed, t, 1)
        samples = batches.order[batches.starts[0] : batches.starts[0] + batches.sizes[0]]
        sum_w = sum_b = 0.0
        for i in samples:
            d = 2.0 * (w * float(data_x[i]) + b - float(data_y[i]))
            sum_w += d * float(data_x[i])
            sum_b += d
        return (sum_w / len(samples), sum_b / len(samples))

    params = {**DEFAULTS[name], **SETTINGS[name]}
    path, expected = reference_run(name, params, gradient, LINEAR.start, steps)
    np.testing.assert_allclose(result.paths[0], path, rtol=1e-11)
    assert_anatomy_equal(result.anatomy[0], expected, rtol=1e-11)


def test_a_regressions_alpha_t_counts_its_own_epochs():
    # 30 samples in batches of 7: 5 updates an epoch, so α_t halves every 10 updates.
    body = {
        "problem": {"name": "linear_regression", "n_samples": 30},
        "steps": 24,
        "runs": [
            {
                "optimizer": "sgd",
                "params": {"alpha": 0.01},
                "schedule": {"name": "step", "every": 2, "factor": 0.5},
                "batch_size": 7,
            }
        ],
        "anatomy": True,
    }
    alpha = simulate(build_simulation(body)).anatomy[0].alpha_t
    assert alpha.tolist() == [0.01] * 10 + [0.005] * 10 + [0.0025] * 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_step_is_minus_the_effective_rate_times_the_direction(backend):
    # The registry's own direction functions, on Rosenbrock with noise: whatever a rule
    # added to the registry calls its direction, the anatomy explains its real steps
    # (with weight decay where a rule has it: a direction may read x_{t−1}).
    runs = [
        {"optimizer": name, "params": {"alpha": 1e-3, **WEIGHT_DECAY.get(name, {})}}
        for name in OPTIMIZERS
    ]
    body = {"problem": {"name": "rosenbrock", "noise": 0.5}, "steps": 60, "runs": runs}
    simulation = build_simulation({**body, "anatomy": True})
    result = simulate(simulation, backend)
    for row, spec in enumerate(OPTIMIZERS.values()):
        anatomy = result.anatomy[row]
        slots = np.zeros((1, 60, state_slots(), 2))
        for j, name in enumerate(spec.state):
            slots[0, :, j] = anatomy.state[spec.symbols[name]]
        hyper = np.zeros((1, hyper_slots()))
        params = simulation.runs[row].params
        hyper[0, : len(spec.hyper_names)] = [params[n] for n in spec.hyper_names]
        direction = evaluate(
            spec,
            "direction",
            anatomy.grad[None],
            slots,
            np.zeros((1, state_slots(), 2)),
            1,
            anatomy.alpha_t[None],
            hyper,
            points=result.paths[row][None, :-1],
        )[0]
        step = np.diff(result.paths[row], axis=0)
        np.testing.assert_allclose(step, -anatomy.effective_lr * direction, rtol=1e-9, atol=1e-15)


def test_without_anatomy_nothing_is_kept_and_the_paths_are_the_same():
    runs = [{"optimizer": name} for name in OPTIMIZERS] + [{"optimizer": "adam"}] * 3
    body = {"problem": {"name": "noisy_bowl"}, "steps": 80, "runs": runs}
    plain = simulate(build_simulation(body))
    assert plain.anatomy is None and not build_simulation(body).anatomy
    kept = simulate(build_simulation({**body, "anatomy": True}))
    for a, b in zip(plain.paths, kept.paths, strict=True):
        np.testing.assert_array_equal(a, b)
    alike = {"problem": {"name": "himmelblau"}, "steps": 50, "runs": [{"optimizer": "adam"}] * 2}
    for a, b in zip(
        simulate(build_simulation(alike)).paths,
        simulate(build_simulation({**alike, "anatomy": True})).paths,
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)  # the blocked loop and the recording loop agree


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_diverged_run_has_the_anatomy_of_the_updates_it_kept(backend):
    body = {
        "problem": {"name": "steep_valley"},
        "steps": 50,
        "runs": [{"optimizer": "sgd", "params": {"alpha": 2.0}}, {"optimizer": "adam"}],
        "anatomy": True,
    }
    result = simulate(build_simulation(body), backend)
    assert result.diverged_at[0] is not None
    for path, anatomy in zip(result.paths, result.anatomy, strict=True):
        assert len(anatomy.grad) == len(anatomy.alpha_t) == len(path) - 1
        assert np.isfinite(anatomy.grad).all() and np.isfinite(anatomy.effective_lr).all()


def test_chunks_of_any_size_join_to_the_whole_runs_anatomy():
    runs = [{"optimizer": name} for name in OPTIMIZERS]
    body = {"problem": {"name": "linear_regression", "n_samples": 40}, "steps": 45, "runs": runs}
    simulation = build_simulation({**body, "anatomy": True})
    whole = simulate(simulation)
    execution = Execution(simulation)
    chunks = [next(execution.chunks(1))]
    for count in (1, 16, 13, 15):
        chunks.append(execution.advance(count))
    for row, spec in enumerate(OPTIMIZERS.values()):
        parts = [chunk.anatomy[row] for chunk in chunks]
        assert len(parts[0].grad) == 0  # the start point's chunk: no update yet
        joined = np.concatenate([part.effective_lr for part in parts])
        np.testing.assert_array_equal(joined, whole.anatomy[row].effective_lr)
        for symbol in whole.anatomy[row].state:
            joined = np.concatenate([part.state[symbol] for part in parts])
            np.testing.assert_array_equal(joined, whole.anatomy[row].state[symbol])
        assert spec.name != "nesterov" or np.array_equal(
            np.concatenate([part.lookahead for part in parts]), whole.anatomy[row].lookahead
        )


def test_adams_bias_correction_shows_in_its_first_effective_rates():
    # t = 1: ŝ = g², so the corrected rate is α/√(g² + ε); uncorrected, ŝ = (1 − β2) g².
    runs = [
        {"optimizer": "adam", "params": {"alpha": 0.1, "bias_correction": corrected}}
        for corrected in (True, False)
    ]
    body = {"problem": {"name": "steep_valley"}, "steps": 3, "runs": runs, "anatomy": True}
    corrected, raw = simulate(build_simulation(body)).anatomy
    g = np.abs(corrected.grad[0])
    np.testing.assert_allclose(corrected.effective_lr[0], 0.1 / np.sqrt(g * g + 1e-8), rtol=1e-12)
    uncorrected = 0.1 / np.sqrt((1 - 0.999) * g * g + 1e-8)
    np.testing.assert_allclose(raw.effective_lr[0], uncorrected, rtol=1e-12)
