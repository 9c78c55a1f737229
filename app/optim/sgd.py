"""Plain (stochastic) gradient descent."""

from __future__ import annotations

from app.optim import params
from app.optim.base import OptimizerSpec


def sgd_update(x, g, t, lr):
    r"""$x \leftarrow x - \alpha_t g$"""
    return (x - lr * g,)


def sgd_direction(g, t, lr):
    """SGD steps along the gradient itself ..."""
    return g


def sgd_effective_lr(g, t, lr):
    """... scaled by the scheduled rate alone."""
    return lr


SGD = OptimizerSpec(
    name="sgd",
    label="SGD",
    params=(params.alpha(0.01),),
    update=sgd_update,
    symbols={},
    direction=sgd_direction,
    effective_lr=sgd_effective_lr,
    direction_equation="g",
    effective_lr_equation=r"\alpha_t",
    equations=(r"x \leftarrow x - \alpha_t\, g",),
    description="Step straight down the gradient; with noisy or minibatch gradients, "
    "this is stochastic gradient descent.",
)
