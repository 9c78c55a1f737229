"""Heavy-ball momentum and Nesterov's look-ahead variant."""

from __future__ import annotations

from app.optim import params
from app.optim.base import OptimizerSpec

WARMUP_BETA = 0.5


def momentum_update(x, g, velocity, t, lr, beta, beta_warmup_steps):
    r"""$v \leftarrow \beta_t v + g;\; x \leftarrow x - \alpha_t v$

    ``β_t`` is 0.5 for ``t ≤ beta_warmup_steps`` and ``beta`` after: a sum in which
    one term is exactly zero, so it is exactly one or the other on arrays and on
    compiled scalars alike (no branch, so one expression serves both).
    """
    warming = t <= beta_warmup_steps
    beta_t = beta * (1 - warming) + WARMUP_BETA * warming
    velocity = beta_t * velocity + g
    return x - lr * velocity, velocity


def momentum_direction(g, velocity, t, lr):
    """Momentum steps along its velocity (after the update) ..."""
    return velocity


def momentum_effective_lr(g, t, lr):
    """... scaled by the scheduled rate alone."""
    return lr


def nesterov_lookahead(x, velocity, t, lr, beta, beta_warmup_steps):
    r"""The point where Nesterov takes the gradient: $x - \alpha_t \beta_t v$."""
    warming = t <= beta_warmup_steps
    beta_t = beta * (1 - warming) + WARMUP_BETA * warming
    return x - lr * beta_t * velocity


_WARMUP_NOTE = r"\beta_t = 0.5 \text{ for } t \le N_{\mathrm{warm}},\ \text{else } \beta"
# What both rules share beyond the update: v is the velocity; the step −α_t v is
# the gradient term −α_t g plus the velocity term below.
_ANATOMY = {
    "symbols": {"velocity": "v"},
    "direction": momentum_direction,
    "effective_lr": momentum_effective_lr,
    "direction_equation": "v",
    "effective_lr_equation": r"\alpha_t",
    "velocity_term": r"-\alpha_t \beta_t\, v_{t-1}",
}

MOMENTUM = OptimizerSpec(
    name="momentum",
    label="Momentum",
    params=(params.alpha(0.01), params.BETA, params.BETA_WARMUP_STEPS),
    update=momentum_update,
    **_ANATOMY,
    equations=(
        r"v \leftarrow \beta_t\, v + g",
        r"x \leftarrow x - \alpha_t\, v",
        _WARMUP_NOTE,
    ),
    description="Keep an exponentially weighted sum of past gradients, so steps "
    "build up along a valley and cancel across it.",
)

NESTEROV = OptimizerSpec(
    name="nesterov",
    label="Nesterov",
    params=(params.alpha(0.01), params.BETA, params.BETA_WARMUP_STEPS),
    update=momentum_update,
    **_ANATOMY,
    lookahead=nesterov_lookahead,
    equations=(
        r"g = \nabla f\!\left(x - \alpha_t \beta_t\, v\right)",
        r"v \leftarrow \beta_t\, v + g",
        r"x \leftarrow x - \alpha_t\, v",
        _WARMUP_NOTE,
    ),
    description="Momentum that looks ahead: the gradient is taken where the "
    "velocity is about to carry the point, so it brakes before overshooting.",
)
