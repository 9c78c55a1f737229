"""Plain (stochastic) gradient descent, with optional L2 weight decay."""

from __future__ import annotations

from app.optim import params
from app.optim.base import OptimizerSpec


def sgd_update(x, g, t, lr, weight_decay):
    r"""$x \leftarrow x - \alpha_t (g + \lambda x)$

    With ``weight_decay`` 0 the sum is ``g`` exactly (``0 · x`` is 0 for the finite
    ``x`` the engine keeps), so a run without decay steps as it always did.
    """
    return (x - lr * (g + weight_decay * x),)


def sgd_direction(g, x, t, lr, weight_decay):
    """SGD steps along the gradient of the loss with its L2 term ..."""
    return g + weight_decay * x


def gradient_direction(g, t, lr):
    """The rules that step along the gradient itself (scaled per coordinate)."""
    return g


def sgd_effective_lr(g, t, lr):
    """... scaled by the scheduled rate alone."""
    return lr


# −α_t λ x_{t−1}: the L2 term's part of a step that nothing rescales (SGD, momentum).
L2_DECAY_TERM = r"-\alpha_t \lambda\, x_{t-1}"

SGD = OptimizerSpec(
    name="sgd",
    label="SGD",
    params=(params.alpha(0.01), params.L2_WEIGHT_DECAY),
    update=sgd_update,
    symbols={},
    direction=sgd_direction,
    effective_lr=sgd_effective_lr,
    direction_equation=r"g + \lambda x",
    effective_lr_equation=r"\alpha_t",
    decay_term=L2_DECAY_TERM,
    equations=(r"x \leftarrow x - \alpha_t\, (g + \lambda x)",),
    description="Step straight down the gradient; with noisy or minibatch gradients, "
    "this is stochastic gradient descent. Weight decay λ adds λx to the gradient (L2).",
)
