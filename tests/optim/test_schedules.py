"""Each schedule gives the α_t of docs/API.md (Learning-rate schedules), and the engine uses it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.engine_helpers import path_of

ALPHA = 0.1


def warm(t, steps):
    return min(1.0, t / steps)


def wsd(t, T, fraction):
    """1, then linearly to 0 over the last ``fraction·T`` of ``T`` updates."""
    return max(0.0, min(1.0, (T - (t - 1)) / (fraction * T)))


# α_t of update t (1-based) on a surface, written from docs/API.md's table by hand.
CASES = {
    "constant": ({}, lambda t: ALPHA),
    "constant, warm-up": ({"warmup_steps": 5}, lambda t: ALPHA * warm(t, 5)),
    "step": ({"every": 3, "factor": 0.5}, lambda t: ALPHA * 0.5 ** ((t - 1) // 3)),
    "step, warm-up": (
        {"every": 3, "factor": 0.5, "warmup_steps": 4},
        lambda t: warm(t, 4) * ALPHA * 0.5 ** ((t - 1) // 3),
    ),
    "exponential": ({"k": 0.1}, lambda t: ALPHA * math.exp(-0.1 * (t - 1))),
    "inverse_time": ({"k": 0.2}, lambda t: ALPHA / (1 + 0.2 * (t - 1))),
    "cosine": (
        {"T": 8, "alpha_min": 0.01},
        lambda t: 0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * min(t - 1, 8) / 8)),
    ),
    "cosine, restarts": (
        {"T": 5, "restarts": True},
        lambda t: ALPHA * 0.5 * (1 + math.cos(math.pi * ((t - 1) % 5) / 5)),
    ),
    "cosine, warm-up": (
        {"T": 10, "warmup_steps": 3},
        lambda t: warm(t, 3) * ALPHA * 0.5 * (1 + math.cos(math.pi * min(t - 1, 10) / 10)),
    ),
    "wsd": (
        {"T": 10, "decay_fraction": 0.4, "alpha_min": 0.02, "warmup_steps": 3},
        lambda t: warm(t, 3) * (0.02 + 0.08 * wsd(t, 10, 0.4)),
    ),
}


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
@pytest.mark.parametrize("case", list(CASES))
def test_sgd_on_a_bowl_moves_by_the_scheduled_rate(case, backend):
    extra, rate = CASES[case]
    # On ½|x|² the gradient is x, so x_t = x_{t-1}(1 - α_t): α_t can be read off the path.
    path = path_of(
        {"name": "noisy_bowl", "noise": 0.0},
        "sgd",
        {"alpha": ALPHA},
        steps=12,
        backend=backend,
        schedule={"name": case.split(",")[0], **extra},
    )
    rates = 1 - path[1:, 0] / path[:-1, 0]
    np.testing.assert_allclose(rates, [rate(t) for t in range(1, 13)], rtol=1e-12, atol=1e-15)


def test_regression_epochs_count_whole_passes_over_the_data():
    # 40 samples in batches of 10: four updates per epoch share one rate.
    from app.engine import Execution, build_simulation

    request = {
        "problem": {"name": "linear_regression", "n_samples": 40, "batch_size": 10},
        "steps": 12,
        "runs": [{"optimizer": "sgd", "schedule": {"name": "step", "every": 1, "factor": 0.5}}],
    }
    execution = Execution(build_simulation(request))
    rates = execution.rates(1, 12)[:, 0]
    assert rates.tolist() == [0.01] * 4 + [0.005] * 4 + [0.0025] * 4


def test_update_counting_schedules_count_updates_on_a_regression_too():
    # 40 samples in batches of 10: a cosine over T = 8 updates moves every update.
    from app.engine import Execution, build_simulation

    request = {
        "problem": {"name": "linear_regression", "n_samples": 40, "batch_size": 10},
        "steps": 12,
        "runs": [{"optimizer": "sgd", "schedule": {"name": "cosine", "T": 8}}],
    }
    rates = Execution(build_simulation(request)).rates(1, 12)[:, 0]
    expected = [0.005 * (1 + math.cos(math.pi * min(t - 1, 8) / 8)) for t in range(1, 13)]
    np.testing.assert_allclose(rates, expected, rtol=1e-12, atol=1e-15)


def torch_rates(make_scheduler, steps: int) -> list[float]:
    import torch

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=ALPHA)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


TORCH_SCHEDULES = {
    "one_cycle": (
        {"T": 50, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
        lambda o: __import__("torch").optim.lr_scheduler.OneCycleLR(
            o,
            max_lr=ALPHA,
            total_steps=50,
            pct_start=0.3,
            div_factor=25.0,
            final_div_factor=1e4,
            anneal_strategy="cos",
            cycle_momentum=False,
        ),  # fmt: skip
    ),
    "cosine": (
        {"T": 40, "alpha_min": 0.003},
        lambda o: __import__("torch").optim.lr_scheduler.CosineAnnealingLR(
            o, T_max=40, eta_min=0.003
        ),
    ),
}


@pytest.mark.parametrize("name", list(TORCH_SCHEDULES))
def test_schedules_torch_has_give_torchs_rates(name):
    # torch.optim's schedulers over the same updates: the rate in force at each step.
    from app.engine import Execution, build_simulation

    extra, make = TORCH_SCHEDULES[name]
    steps = extra["T"]
    request = {
        "problem": {"name": "noisy_bowl", "noise": 0.0},
        "steps": steps,
        "runs": [
            {"optimizer": "sgd", "params": {"alpha": ALPHA}, "schedule": {"name": name, **extra}}
        ],
    }
    rates = Execution(build_simulation(request)).rates(1, steps)[:, 0]
    np.testing.assert_allclose(rates, torch_rates(make, steps), rtol=1e-12, atol=1e-15)
