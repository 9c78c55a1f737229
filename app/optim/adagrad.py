"""Adagrad: a learning rate per coordinate that shrinks with all past gradients."""

from __future__ import annotations

import numpy as np

from app.optim import params
from app.optim.base import OptimizerSpec
from app.optim.sgd import gradient_direction


def adagrad_update(x, g, sum_sq, t, lr, eps):
    r"""$G \leftarrow G + g^2;\; x \leftarrow x - \alpha_t g / \sqrt{G + \varepsilon}$"""
    sum_sq = sum_sq + g * g
    return x - lr * g / np.sqrt(sum_sq + eps), sum_sq


def adagrad_effective_lr(g, sum_sq, t, lr, eps):
    r"""$\alpha_t / \sqrt{G + \varepsilon}$ along the gradient: it only ever falls."""
    return lr / np.sqrt(sum_sq + eps)


ADAGRAD = OptimizerSpec(
    name="adagrad",
    label="Adagrad",
    params=(params.alpha(0.1), params.eps(1e-8)),
    update=adagrad_update,
    symbols={"sum_sq": "G"},
    direction=gradient_direction,
    effective_lr=adagrad_effective_lr,
    direction_equation="g",
    effective_lr_equation=r"\frac{\alpha_t}{\sqrt{G + \varepsilon}}",
    equations=(
        r"G \leftarrow G + g^2",
        r"x \leftarrow x - \frac{\alpha_t\, g}{\sqrt{G + \varepsilon}}",
        params.EPS_INSIDE_ROOT,
    ),
    description="Divide each coordinate's step by the root of all its past squared "
    "gradients: steep directions slow down, but the rate only ever falls.",
)
