"""Lion (Chen et al., 2023): the sign of an interpolated momentum, so every coordinate
moves by exactly α_t (plus decoupled weight decay)."""

from __future__ import annotations

import dataclasses

import numpy as np

from app.optim import params
from app.optim.base import OptimizerSpec


def lion_update(x, g, exp_avg, t, lr, beta1, beta2, weight_decay):
    r"""$c = \beta_1 v + (1-\beta_1) g;\; x \leftarrow x - \alpha_t (\mathrm{sign}(c) +
    \lambda x);\; v \leftarrow \beta_2 v + (1-\beta_2) g$ (no ε: a sign needs none)."""
    blend = beta1 * exp_avg + (1 - beta1) * g
    new_x = x - lr * (np.sign(blend) + weight_decay * x)
    return new_x, beta2 * exp_avg + (1 - beta2) * g


def lion_direction(g, x, prev_exp_avg, t, lr, beta1, weight_decay):
    r"""Lion steps along $\mathrm{sign}(c) + \lambda x$, c from the momentum before the
    update ..."""
    return np.sign(beta1 * prev_exp_avg + (1 - beta1) * g) + weight_decay * x


def lion_effective_lr(g, t, lr):
    """... by the scheduled rate alone: the sign has no size to adapt."""
    return lr


LION = OptimizerSpec(
    name="lion",
    label="Lion",
    # The paper's α of 1e-4 is for networks (3–10× below AdamW's); on these surfaces, a
    # few units wide, 0.01 moves each coordinate by what Adam's first steps do.
    params=(
        params.alpha(0.01),
        params.BETA1,
        dataclasses.replace(params.BETA2, default=0.99),
        params.decoupled_weight_decay(0.0),
    ),
    update=lion_update,
    symbols={"exp_avg": "v"},
    direction=lion_direction,
    effective_lr=lion_effective_lr,
    direction_equation=r"\mathrm{sign}(c) + \lambda x",
    effective_lr_equation=r"\alpha_t",
    decay_term=r"-\alpha_t \lambda\, x_{t-1}",
    equations=(
        r"c = \beta_1 v + (1 - \beta_1)\, g",
        r"x \leftarrow x - \alpha_t \left(\mathrm{sign}(c) + \lambda x\right)",
        r"v \leftarrow \beta_2 v + (1 - \beta_2)\, g",
        r"\text{no } \varepsilon \text{: the step's size is } \alpha_t \text{, as the paper}",
    ),
    description="Sign descent with momentum, found by program search: each coordinate "
    "moves by exactly α_t, in the direction of a blend of the momentum and the gradient; "
    "the momentum itself is kept with a slower β2.",
)
