"""Plain (stochastic) gradient descent."""

from __future__ import annotations

from app.optim import params
from app.optim.base import OptimizerSpec


def sgd_update(x, g, t, lr):
    r"""$x \leftarrow x - \alpha_t g$"""
    return (x - lr * g,)


SGD = OptimizerSpec(
    name="sgd",
    label="SGD",
    params=(params.alpha(0.01),),
    update=sgd_update,
    equations=(r"x \leftarrow x - \alpha_t\, g",),
    description="Step straight down the gradient; with noisy or minibatch gradients, "
    "this is stochastic gradient descent.",
)
