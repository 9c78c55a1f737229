"""AdaDelta: the step's units come from a moving average of past steps."""

from __future__ import annotations

import numpy as np

from app.hyperparams import HyperParam
from app.optim import params
from app.optim.base import OptimizerSpec
from app.optim.sgd import gradient_direction


def adadelta_update(x, g, avg_sq_grad, avg_sq_delta, t, lr, rho, eps):
    r"""$s \leftarrow \rho s + (1-\rho) g^2;\;
    \Delta = \sqrt{d+\varepsilon}/\sqrt{s+\varepsilon}\, g;\;
    d \leftarrow \rho d + (1-\rho)\Delta^2;\; x \leftarrow x - \alpha_t \Delta$"""
    avg_sq_grad = rho * avg_sq_grad + (1 - rho) * (g * g)
    delta = np.sqrt(avg_sq_delta + eps) / np.sqrt(avg_sq_grad + eps) * g
    avg_sq_delta = rho * avg_sq_delta + (1 - rho) * (delta * delta)
    return x - lr * delta, avg_sq_grad, avg_sq_delta


def adadelta_effective_lr(g, avg_sq_grad, prev_avg_sq_delta, t, lr, rho, eps):
    r"""$\alpha_t \sqrt{d+\varepsilon}/\sqrt{s+\varepsilon}$ along the gradient, with
    ``d`` as the update found it (before it took in this step's Δ²)."""
    return lr * np.sqrt(prev_avg_sq_delta + eps) / np.sqrt(avg_sq_grad + eps)


ADADELTA = OptimizerSpec(
    name="adadelta",
    label="AdaDelta",
    params=(
        HyperParam(
            "alpha",
            r"\alpha",
            1.0,
            1e-3,
            10.0,
            scale="log",
            step=0.01,
            description="scale of the step (1 is the original AdaDelta)",
        ),
        params.RHO,
        params.eps(1e-6),
    ),
    update=adadelta_update,
    symbols={"avg_sq_grad": "s", "avg_sq_delta": "d"},
    direction=gradient_direction,
    effective_lr=adadelta_effective_lr,
    direction_equation="g",
    effective_lr_equation=(
        r"\alpha_t\, \frac{\sqrt{d_{t-1} + \varepsilon}}{\sqrt{s + \varepsilon}}"
    ),
    equations=(
        r"s \leftarrow \rho\, s + (1 - \rho)\, g^2",
        r"\Delta = \frac{\sqrt{d + \varepsilon}}{\sqrt{s + \varepsilon}}\, g",
        r"d \leftarrow \rho\, d + (1 - \rho)\, \Delta^2",
        r"x \leftarrow x - \alpha_t\, \Delta",
        r"\varepsilon \text{ inside both roots, as torch.optim}",
    ),
    description="Scale each step by the ratio of the RMS of past steps to the RMS of "
    "past gradients, so it needs no learning rate of its own.",
)
