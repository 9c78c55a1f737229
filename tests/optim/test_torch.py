"""The rules and schedules torch.optim also has, against torch.optim itself: float64
tensors fed the same gradients of the same smooth problems, each path to 1e-10.

Where a rule here puts ε inside the square root and torch outside (Adam: docs/API.md,
Update rules), both take ε = 1e-12: over these runs ŝ stays above 1e-6, so the two
denominators differ by less than 1e-12 relative and the paths by far less than 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.engine_helpers import path_of

STEPS = 300
STARTS = {"steep_valley": (-4.5, 1.5), "himmelblau": (-1.0, -1.5)}
TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}


def steep_valley_grad(p: torch.Tensor) -> torch.Tensor:
    return torch.stack((0.2 * p[0], 4.0 * p[1]))


def himmelblau_grad(p: torch.Tensor) -> torch.Tensor:
    x, y = p[0], p[1]
    a, b = x * x + y - 11.0, x + y * y - 7.0
    return torch.stack((4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b))


GRADIENTS = {"steep_valley": steep_valley_grad, "himmelblau": himmelblau_grad}


def torch_path(problem, make_optimizer, steps=STEPS):
    """The positions after 0 … ``steps`` updates of a torch.optim optimiser on ``problem``."""
    point = torch.nn.Parameter(torch.tensor(STARTS[problem], dtype=torch.float64))
    optimizer = make_optimizer([point])
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        with torch.no_grad():
            point.grad = GRADIENTS[problem](point.detach())
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path).numpy()


CASES = {
    "sgd with weight decay": (
        "sgd",
        {"alpha": 0.01, "weight_decay": 0.1},
        lambda p: torch.optim.SGD(p, lr=0.01, weight_decay=0.1),
    ),
    "momentum with weight decay": (
        "momentum",
        {"alpha": 0.004, "beta": 0.8, "weight_decay": 0.3},
        lambda p: torch.optim.SGD(p, lr=0.004, momentum=0.8, weight_decay=0.3),
    ),
    "adam with weight decay": (
        "adam",
        {"alpha": 0.01, "eps": 1e-12, "weight_decay": 0.05},
        lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-12, weight_decay=0.05),
    ),
    # The new rules put ε where torch.optim does: its default ε, no adjustment.
    "adamw": (
        "adamw",
        {"alpha": 0.01, "weight_decay": 0.05},
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05),
    ),
    "adamw, other betas": (
        "adamw",
        {"alpha": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.3},
        lambda p: torch.optim.AdamW(p, lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.3),
    ),
    # AdamW without decay is Adam with torch.optim's ε convention.
    "adamw without decay is torch's adam": (
        "adamw",
        {"alpha": 0.01, "weight_decay": 0.0},
        lambda p: torch.optim.Adam(p, lr=0.01),
    ),
    "radam": ("radam", {"alpha": 0.01}, lambda p: torch.optim.RAdam(p, lr=0.01)),
    "radam, other betas": (
        "radam",
        {"alpha": 0.02, "beta1": 0.8, "beta2": 0.9, "eps": 1e-6},
        lambda p: torch.optim.RAdam(p, lr=0.02, betas=(0.8, 0.9), eps=1e-6),
    ),
}


def max_differences(actual, expected):
    absolute = np.abs(actual - expected)
    return absolute.max(), (absolute / np.maximum(np.abs(expected), 1e-300)).max()


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
@pytest.mark.parametrize("problem", list(STARTS))
@pytest.mark.parametrize("case", list(CASES))
def test_the_rule_steps_as_torch_optim(case, problem, backend):
    name, params, make = CASES[case]
    ours = path_of(problem, name, params, steps=STEPS, backend=backend, start=STARTS[problem])
    theirs = torch_path(problem, make)
    assert np.abs(ours[-1] - ours[0]).max() > 0.5  # the runs go somewhere
    np.testing.assert_allclose(ours, theirs, **TOLERANCE)
