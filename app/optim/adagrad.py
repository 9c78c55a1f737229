"""Adagrad: a learning rate per coordinate that shrinks with all past gradients."""

from __future__ import annotations

import numpy as np

from app.optim import params
from app.optim.base import OptimizerSpec


def adagrad_update(x, g, sum_sq, t, lr, eps):
    r"""$G \leftarrow G + g^2;\; x \leftarrow x - \alpha_t g / \sqrt{G + \varepsilon}$"""
    sum_sq = sum_sq + g * g
    return x - lr * g / np.sqrt(sum_sq + eps), sum_sq


ADAGRAD = OptimizerSpec(
    name="adagrad",
    label="Adagrad",
    params=(params.alpha(0.1), params.eps(1e-8)),
    update=adagrad_update,
    equations=(
        r"G \leftarrow G + g^2",
        r"x \leftarrow x - \frac{\alpha_t\, g}{\sqrt{G + \varepsilon}}",
    ),
    description="Divide each coordinate's step by the root of all its past squared "
    "gradients: steep directions slow down, but the rate only ever falls.",
)
