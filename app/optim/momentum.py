"""Heavy-ball momentum and Nesterov's look-ahead variant, with optional L2 weight decay."""

from __future__ import annotations

from app.optim import params
from app.optim.base import OptimizerSpec
from app.optim.sgd import L2_DECAY_TERM

WARMUP_BETA = 0.5


def momentum_update(x, g, velocity, t, lr, beta, beta_warmup_steps, weight_decay):
    r"""$v \leftarrow \beta_t v + g + \lambda x;\; x \leftarrow x - \alpha_t v$

    ``β_t`` is 0.5 for ``t ≤ beta_warmup_steps`` and ``beta`` after: a sum in which
    one term is exactly zero, so it is exactly one or the other on arrays and on
    compiled scalars alike (no branch, so one expression serves both). The L2 term
    ``λx`` (x where the update starts, also for Nesterov, whose g comes from its
    look-ahead point) is exactly 0 without weight decay.
    """
    warming = t <= beta_warmup_steps
    beta_t = beta * (1 - warming) + WARMUP_BETA * warming
    velocity = beta_t * velocity + (g + weight_decay * x)
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
    # This update's L2 term: v_{t−1} carries the earlier ones.
    "decay_term": L2_DECAY_TERM,
}
_PARAMS = (params.alpha(0.01), params.BETA, params.BETA_WARMUP_STEPS, params.L2_WEIGHT_DECAY)

MOMENTUM = OptimizerSpec(
    name="momentum",
    label="Momentum",
    params=_PARAMS,
    update=momentum_update,
    **_ANATOMY,
    equations=(
        r"v \leftarrow \beta_t\, v + g + \lambda x",
        r"x \leftarrow x - \alpha_t\, v",
        _WARMUP_NOTE,
    ),
    description="Keep an exponentially weighted sum of past gradients, so steps "
    "build up along a valley and cancel across it. Weight decay λ adds λx to each "
    "gradient (L2).",
)

NESTEROV = OptimizerSpec(
    name="nesterov",
    label="Nesterov",
    params=_PARAMS,
    update=momentum_update,
    **_ANATOMY,
    lookahead=nesterov_lookahead,
    equations=(
        r"g = \nabla f\!\left(x - \alpha_t \beta_t\, v\right)",
        r"v \leftarrow \beta_t\, v + g + \lambda x",
        r"x \leftarrow x - \alpha_t\, v",
        _WARMUP_NOTE,
    ),
    description="Momentum that looks ahead: the gradient is taken where the "
    "velocity is about to carry the point, so it brakes before overshooting. Weight "
    "decay λ adds λx to each gradient (L2, x where the update starts).",
)
