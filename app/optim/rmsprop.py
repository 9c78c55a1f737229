"""RMSProp: Adagrad with a moving average, so the rate can recover."""

from __future__ import annotations

import numpy as np

from app.optim import params
from app.optim.base import OptimizerSpec
from app.optim.sgd import gradient_direction


def rmsprop_update(x, g, avg_sq, t, lr, gamma, eps):
    r"""$s \leftarrow \gamma s + (1-\gamma) g^2;\;
    x \leftarrow x - \alpha_t g / \sqrt{s + \varepsilon}$"""
    avg_sq = gamma * avg_sq + (1 - gamma) * (g * g)
    return x - lr * g / np.sqrt(avg_sq + eps), avg_sq


def rmsprop_effective_lr(g, avg_sq, t, lr, eps):
    r"""$\alpha_t / \sqrt{s + \varepsilon}$ along the gradient: it recovers as s forgets."""
    return lr / np.sqrt(avg_sq + eps)


RMSPROP = OptimizerSpec(
    name="rmsprop",
    label="RMSProp",
    params=(params.alpha(0.01), params.GAMMA, params.eps(1e-8)),
    update=rmsprop_update,
    symbols={"avg_sq": "s"},
    direction=gradient_direction,
    effective_lr=rmsprop_effective_lr,
    direction_equation="g",
    effective_lr_equation=r"\frac{\alpha_t}{\sqrt{s + \varepsilon}}",
    equations=(
        r"s \leftarrow \gamma\, s + (1 - \gamma)\, g^2",
        r"x \leftarrow x - \frac{\alpha_t\, g}{\sqrt{s + \varepsilon}}",
        params.EPS_INSIDE_ROOT,
    ),
    description="Divide each coordinate's step by the root of a moving average of "
    "its squared gradients, which forgets old gradients.",
)
