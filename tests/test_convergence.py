"""The convergence and blow-up rules (docs/API.md, Convergence), against a plain
transcription of their text, chunk by chunk, and on the runs that showed why."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.convergence import Tracker
from app.engine import Execution, build_simulation, loss_grid, simulate
from app.lessons import BY_SLUG
from app.optim.registry import OPTIMIZERS
from app.problems.registry import PROBLEMS
from app.sweeps import run_sweep
from tests.engine_helpers import run


def reference(losses, min_value, noisy, diverged=False):
    """The rules as docs/API.md states them, one loss at a time: (converged_at, blew_up_at)."""
    floor = 0.0 if min_value is None else min_value
    scale = max(1.0, abs(floor))
    tolerance = (1e-3 if noisy else 1e-6) * scale
    window = 50 if noisy else 1
    limit = 1e6 * max(losses[0] - floor, scale)
    converged = blew_up = None
    for t in range(len(losses)):
        recent = losses[max(0, t - window + 1) : t + 1]
        if min_value is not None and math.fsum(recent) / len(recent) - floor <= tolerance:
            converged = t if converged is None else converged
        else:
            converged = None  # left the tolerance: only a later return that stays counts
        if blew_up is None and losses[t] - floor > limit:
            blew_up = t
    return (None if diverged else converged), blew_up


def tracked(losses, min_value, noisy, chunk, compiled=True):
    """Feed one row's losses to the engine's tracker ``chunk`` updates at a time."""
    losses = np.asarray(losses, dtype=np.float64)
    tracker = Tracker(min_value, np.array([noisy]), losses[:1], compiled=compiled)
    for first in range(1, len(losses), chunk):
        part = np.ascontiguousarray(losses[None, first : first + chunk])
        tracker.observe(part, 0, np.array([part.shape[1]]), first)
    (converged,) = tracker.converged_at(np.zeros(1, dtype=np.int64))
    (blew_up,) = tracker.blew_up_at
    return (None if converged < 0 else int(converged)), (None if blew_up < 0 else int(blew_up))


rng = np.random.default_rng(4)
DECAY = 3.0 * 0.8 ** np.arange(120)
SEQUENCES = {
    # min 0, exact tolerance 1e-6
    "settles": (DECAY, 0.0, False),
    "touches, leaves, comes back to stay": (
        np.concatenate([DECAY[:70], [5e-7, 2e-6, 3e-6], DECAY[70:]]),
        0.0,
        False,
    ),
    "touches and leaves for good": (np.concatenate([DECAY, [1e-7, 1e-7, 0.5, 0.4]]), 0.0, False),
    "starts at the minimum": (np.zeros(30), 0.0, False),
    "tolerance scales with |min|": (-50.0 + 3e-4 * 0.5 ** np.arange(40), -50.0, False),
    "no known minimum": (DECAY, None, False),
    "grows steadily past a million times its start": (2.0 * 1.3 ** np.arange(80), 0.0, False),
    "start at the minimum, then runs away": (
        np.concatenate([[0.0], 1e-3 * 2.0 ** np.arange(40)]),
        0.0,
        False,
    ),
    # noisy: a 50-update window of the loss, tolerance 1e-3 · max(1, |min|)
    "noisy, settles": (
        0.2334 + 5.0 * 0.95 ** np.arange(600) + 4e-4 * rng.random(600),
        0.2334,
        True,
    ),
    "noisy, one late burst": (
        np.concatenate(
            [0.2 + 3e-4 * rng.random(300), 0.2 + 0.2 * rng.random(20), 0.2 + 3e-4 * rng.random(100)]
        ),
        0.2,
        True,
    ),
    "noisy, jitters above the tolerance": (0.5 + 2e-3 + 1e-3 * rng.standard_normal(400), 0.5, True),
}


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "python"])
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_the_tracker_follows_the_rules_in_any_chunking(name, compiled):
    losses, min_value, noisy = SEQUENCES[name]
    expected = reference(list(losses), min_value, noisy)
    for chunk in (1, 7, len(losses)):
        assert tracked(losses, min_value, noisy, chunk, compiled) == expected, chunk


def test_the_sequences_cover_every_branch_of_the_rules():
    answers = {name: reference(list(s[0]), s[1], s[2]) for name, s in SEQUENCES.items()}
    assert answers["settles"][0] == int(np.argmax(DECAY <= 1e-6))
    assert answers["touches, leaves, comes back to stay"][0] == 73  # not 67, the first touch
    assert answers["touches and leaves for good"] == (None, None)
    assert answers["starts at the minimum"] == (0, None)
    assert answers["no known minimum"][0] is None
    assert answers["tolerance scales with |min|"][0] == 3  # 3e-4/8 ≤ 50 · 1e-6 < 3e-4/4
    assert answers["grows steadily past a million times its start"][1] == 53  # 1.3^53 > 1e6
    assert answers["start at the minimum, then runs away"][1] == 31  # 1e-3·2^30 > 1e6 · 1
    noisy_settles = answers["noisy, settles"][0]
    raw_touch = int(np.argmax(SEQUENCES["noisy, settles"][0] - 0.2334 <= 1e-3))
    assert raw_touch < noisy_settles <= raw_touch + 50  # the window lags at most 50 updates
    assert answers["noisy, one late burst"][0] > 320  # the burst undid the earlier arrival
    assert answers["noisy, jitters above the tolerance"] == (None, None)


def test_engine_runs_report_what_the_rules_say_of_their_losses():
    cases = [
        ("steep_valley", [{"optimizer": "momentum"}, {"optimizer": "sgd"}], 500),
        ("steep_valley", [{"optimizer": "sgd", "params": {"alpha": 0.52}}], 150),
        (
            {"name": "noisy_bowl", "noise": 0.3},
            [{"optimizer": "adam", "params": {"alpha": 0.05}}],
            800,
        ),
        ({"name": "linear_regression"}, [{"optimizer": name} for name in OPTIMIZERS], 500),
        ({"name": "logistic_regression", "batch_size": 200}, [{"optimizer": "momentum"}], 400),
    ]
    for problem, runs, steps in cases:
        result = run(problem, runs, steps=steps)
        resolved = result.simulation.problem
        if result.data is None:
            min_value, noisy = PROBLEMS[resolved["name"]].min_value, resolved["noise"] > 0
        else:
            min_value = result.data["min_loss"]
            noisy = resolved["batch_size"] < resolved["n_samples"]
        for row in range(len(runs)):
            expected = reference(
                list(result.losses[row]), min_value, noisy, result.diverged_at[row] is not None
            )
            assert (result.converged_at[row], result.blew_up_at[row]) == expected, (problem, row)


@pytest.mark.parametrize("problem", ["steep_valley", "noisy_bowl", "linear_regression"])
def test_chunk_sizes_do_not_change_the_answer(problem):
    runs = [
        {"optimizer": "sgd", "params": {"alpha": 0.52}},
        {"optimizer": "momentum", "params": {"alpha": 0.1}},
        {"optimizer": "rmsprop", "params": {"alpha": 0.1}},
        {"optimizer": "adam", "params": {"alpha": 0.1}},
    ]
    request = {"problem": {"name": problem}, "steps": 400, "runs": runs}
    whole = simulate(build_simulation(request))
    for size in (1, 7, 400):
        execution = Execution(build_simulation(request))
        for _ in execution.chunks(size):
            pass
        assert list(execution.converged_at) == [-1 if c is None else c for c in whole.converged_at]
        assert list(execution.blew_up_at) == [-1 if b is None else b for b in whole.blew_up_at]


def test_a_run_that_diverges_has_not_converged():
    # Two rows with the same losses, within tolerance at the end; the second then
    # diverged (its next point left ±1e6, so it has no loss).
    tracker = Tracker(0.0, np.array([False, False]), np.full(2, DECAY[0]))
    rest = np.ascontiguousarray(np.stack([DECAY[1:], DECAY[1:]]))
    tracker.observe(rest, 0, np.full(2, rest.shape[1]), 1)
    converged = tracker.converged_at(np.array([0, len(DECAY)]))
    assert list(converged) == [reference(list(DECAY), 0.0, False)[0], -1]
    # In the engine: SGD past the steep valley's stable rate blows up, then diverges.
    result = run("steep_valley", [{"optimizer": "sgd", "params": {"alpha": 0.6}}], steps=400)
    assert result.diverged_at[0] is not None and result.converged_at == [None]
    assert 0 < result.blew_up_at[0] < result.diverged_at[0]


def test_the_issues_cases_are_reported_truthfully():
    # RMSProp in the Adagrad lesson: at the bottom by update 70, then hopping for ever.
    assert simulate(build_simulation(BY_SLUG["adagrad-rmsprop"].scene)).converged_at[1] is None
    # Nadam on Rosenbrock arrives at 1 906 and spikes again near 2 550.
    zoo = simulate(build_simulation(BY_SLUG["zoo"].scene))
    assert zoo.converged_at[2] is None and zoo.converged_at[0] is not None
    # AdaDelta on Himmelblau touches a minimum at 376 and climbs away.
    himmelblau = {**BY_SLUG["zoo"].scene, "problem": {"name": "himmelblau"}}
    assert simulate(build_simulation(himmelblau)).converged_at[1] is None
    # Linear regression, SGD: within 1e-3 of the best fit from update 224; the window
    # reports it at most 50 updates later (the old smoothing said 1 019).
    linear = run("linear_regression", [{"optimizer": "sgd"}], steps=1500)
    gap = linear.losses[0] - linear.data["min_loss"]
    arrived = int(np.argmax(gap <= 1e-3))
    assert arrived == 224
    assert arrived < linear.converged_at[0] <= arrived + 50
    # Regression runs converge within 500 updates (none did before).
    for name in ("linear_regression", "logistic_regression"):
        defaults = run(name, [{"optimizer": name} for name in OPTIMIZERS], steps=500)
        assert sum(c is not None for c in defaults.converged_at) >= 3, name
    # SGD with α = 0.52 on the steep valley: loss 4.7e8 by update 120, marked as blown up.
    steep = run("steep_valley", [{"optimizer": "sgd", "params": {"alpha": 0.52}}], steps=120)
    assert steep.losses[0][-1] > 4e8 and steep.diverged_at == [None]
    assert steep.blew_up_at[0] == int(np.argmax(steep.losses[0] > 1e6 * steep.losses[0][0]))


@pytest.mark.parametrize(
    "name", [n for n, p in PROBLEMS.items() if p.kind == "surface" and p.min_value is not None]
)
def test_no_point_of_a_surfaces_plot_window_counts_as_blown_up(name):
    # Even from a start at the minimum, a run wandering inside the plot is not "blown up".
    _, _, z = loss_grid({"name": name}, resolution=200)
    min_value = PROBLEMS[name].min_value
    assert z.max() - min_value < 1e6 * max(1.0, abs(min_value)) / 5


def test_sweep_cells_report_blow_ups_like_single_runs():
    request = {
        "problem": {"name": "steep_valley"},
        "optimizer": "sgd",
        "steps": 150,
        "x_axis": {"param": "alpha", "min": 0.45, "max": 0.55, "count": 5, "scale": "linear"},
        "y_axis": {"param": "start_y", "min": 0.5, "max": 1.5, "count": 2},
    }
    result = run_sweep(request)
    assert (result.blew_up_at >= 0).any() and (result.blew_up_at < 0).any()
    for j, start_y in enumerate(result.y_axis.values):
        for i, alpha in enumerate(result.x_axis.values):
            single = run(
                "steep_valley",
                [{"optimizer": "sgd", "params": {"alpha": alpha}, "start": [-4.5, start_y]}],
                steps=150,
            )
            assert result.blew_up_at[j, i] == (single.blew_up_at[0] or -1)
            assert result.converged_at[j, i] == (
                -1 if single.converged_at[0] is None else single.converged_at[0]
            )
