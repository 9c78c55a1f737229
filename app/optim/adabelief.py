"""AdaBelief (Zhuang et al., 2020): Adam whose second moment tracks how far the gradient
strays from its own average, as the paper's Algorithm 2 with bias correction."""

from __future__ import annotations

import numpy as np

from app.optim import params
from app.optim.base import OptimizerSpec


def adabelief_update(x, g, exp_avg, exp_avg_var, t, lr, beta1, beta2, eps):
    r"""$s \leftarrow \beta_2 s + (1-\beta_2)(g - v)^2 + \varepsilon;\;
    x \leftarrow x - \alpha_t \hat v / (\sqrt{\hat s} + \varepsilon)$ (ε in both places,
    as the paper)."""
    exp_avg = beta1 * exp_avg + (1 - beta1) * g
    surprise = g - exp_avg
    exp_avg_var = beta2 * exp_avg_var + (1 - beta2) * (surprise * surprise) + eps
    exp_avg_hat = exp_avg / (1 - beta1**t)
    denominator = np.sqrt(exp_avg_var / (1 - beta2**t)) + eps
    return x - lr * exp_avg_hat / denominator, exp_avg, exp_avg_var


def adabelief_direction(g, exp_avg, t, lr, beta1):
    r"""AdaBelief steps along $\hat v$ ..."""
    return exp_avg / (1 - beta1**t)


def adabelief_effective_lr(g, exp_avg_var, t, lr, beta2, eps):
    r"""... by $\alpha_t / (\sqrt{\hat s} + \varepsilon)$: large where the gradient is
    as expected, small where it surprises."""
    return lr / (np.sqrt(exp_avg_var / (1 - beta2**t)) + eps)


ADABELIEF = OptimizerSpec(
    name="adabelief",
    label="AdaBelief",
    params=(params.alpha(0.01), params.BETA1, params.BETA2, params.eps(1e-8)),
    update=adabelief_update,
    symbols={"exp_avg": "v", "exp_avg_var": "s"},
    direction=adabelief_direction,
    effective_lr=adabelief_effective_lr,
    direction_equation=r"\hat v",
    effective_lr_equation=r"\frac{\alpha_t}{\sqrt{\hat s} + \varepsilon}",
    equations=(
        r"v \leftarrow \beta_1 v + (1 - \beta_1)\, g",
        r"s \leftarrow \beta_2 s + (1 - \beta_2)\, (g - v)^2 + \varepsilon",
        r"\hat v = \frac{v}{1 - \beta_1^t}, \quad \hat s = \frac{s}{1 - \beta_2^t}",
        r"x \leftarrow x - \frac{\alpha_t\, \hat v}{\sqrt{\hat s} + \varepsilon}",
        r"\varepsilon \text{ added to } s \text{ and to } \sqrt{\hat s}"
        r" \text{, as the paper's Algorithm 2}",
    ),
    description="Adam that divides by the spread of the gradient around its own average "
    "(its 'belief') instead of its size: long steps where the gradient is steady, short "
    "ones where it keeps changing.",
)
