"""Adam and its relatives: AMSGrad, AdaMax and Nadam.

All four keep a moving average of gradients ``exp_avg`` (v) and of squared
gradients ``exp_avg_sq`` (s), both started at zero, and divide them by
``1 - β^t`` so the early averages are not biased towards zero.
"""

from __future__ import annotations

import numpy as np

from app.optim import params
from app.optim.base import OptimizerSpec

_ADAM_PARAMS = (params.alpha(0.01), params.BETA1, params.BETA2, params.eps(1e-8))


def adam_update(x, g, exp_avg, exp_avg_sq, t, lr, beta1, beta2, eps, bias_correction, weight_decay):
    r"""$v \leftarrow \beta_1 v + (1-\beta_1) g;\; s \leftarrow \beta_2 s + (1-\beta_2) g^2;\;
    x \leftarrow x - \alpha_t \hat v / \sqrt{\hat s + \varepsilon}$, with ``g`` the gradient
    plus the L2 term ``λx`` (exactly ``g`` without weight decay): the decay goes through
    both moments and comes out divided by $\sqrt{\hat s + \varepsilon}$, like the gradient."""
    g = g + weight_decay * x
    exp_avg = beta1 * exp_avg + (1 - beta1) * g
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * (g * g)
    # With bias_correction = 0 both divisors are exactly 1 (one term of each sum is 0).
    correction1 = bias_correction * (1 - beta1**t) + (1 - bias_correction)
    correction2 = bias_correction * (1 - beta2**t) + (1 - bias_correction)
    exp_avg_hat = exp_avg / correction1
    exp_avg_sq_hat = exp_avg_sq / correction2
    return x - lr * exp_avg_hat / np.sqrt(exp_avg_sq_hat + eps), exp_avg, exp_avg_sq


def amsgrad_update(x, g, exp_avg, exp_avg_sq, max_exp_avg_sq, t, lr, beta1, beta2, eps):
    r"""As Adam, with $m \leftarrow \max(m, s)$ and $\hat s = m / (1-\beta_2^t)$."""
    exp_avg = beta1 * exp_avg + (1 - beta1) * g
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * (g * g)
    max_exp_avg_sq = np.maximum(max_exp_avg_sq, exp_avg_sq)
    exp_avg_hat = exp_avg / (1 - beta1**t)
    exp_avg_sq_hat = max_exp_avg_sq / (1 - beta2**t)
    new_x = x - lr * exp_avg_hat / np.sqrt(exp_avg_sq_hat + eps)
    return new_x, exp_avg, exp_avg_sq, max_exp_avg_sq


def adamax_update(x, g, exp_avg, exp_inf, t, lr, beta1, beta2, eps):
    r"""$u \leftarrow \max(\beta_2 u, |g|);\;
    x \leftarrow x - \frac{\alpha_t}{1-\beta_1^t} v/(u+\varepsilon)$"""
    exp_avg = beta1 * exp_avg + (1 - beta1) * g
    exp_inf = np.maximum(beta2 * exp_inf, np.abs(g))
    return x - (lr / (1 - beta1**t)) * exp_avg / (exp_inf + eps), exp_avg, exp_inf


def nadam_update(x, g, exp_avg, exp_avg_sq, t, lr, beta1, beta2, eps):
    r"""$x \leftarrow x - \alpha_t \left(\beta_1 \hat v + \frac{(1-\beta_1) g}{1-\beta_1^t}\right)
    / \sqrt{\hat s + \varepsilon}$"""
    exp_avg = beta1 * exp_avg + (1 - beta1) * g
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * (g * g)
    correction1 = 1 - beta1**t
    exp_avg_hat = exp_avg / correction1
    exp_avg_sq_hat = exp_avg_sq / (1 - beta2**t)
    direction = beta1 * exp_avg_hat + (1 - beta1) * g / correction1
    return x - lr * direction / np.sqrt(exp_avg_sq_hat + eps), exp_avg, exp_avg_sq


def adam_direction(g, exp_avg, t, lr, beta1, bias_correction):
    r"""Adam steps along $\hat v$ ..."""
    return exp_avg / (bias_correction * (1 - beta1**t) + (1 - bias_correction))


def adam_effective_lr(g, exp_avg_sq, t, lr, beta2, eps, bias_correction):
    r"""... by $\alpha_t / \sqrt{\hat s + \varepsilon}$ per coordinate."""
    correction2 = bias_correction * (1 - beta2**t) + (1 - bias_correction)
    return lr / np.sqrt(exp_avg_sq / correction2 + eps)


def corrected_direction(g, exp_avg, t, lr, beta1):
    r"""AMSGrad and AdaMax step along $\hat v = v / (1 - \beta_1^t)$."""
    return exp_avg / (1 - beta1**t)


def amsgrad_effective_lr(g, max_exp_avg_sq, t, lr, beta2, eps):
    r"""$\alpha_t / \sqrt{\hat s + \varepsilon}$ with $\hat s = m / (1 - \beta_2^t)$."""
    return lr / np.sqrt(max_exp_avg_sq / (1 - beta2**t) + eps)


def adamax_effective_lr(g, exp_inf, t, lr, eps):
    r"""$\alpha_t / (u + \varepsilon)$ (the $1/(1 - \beta_1^t)$ is in $\hat v$)."""
    return lr / (exp_inf + eps)


def nadam_direction(g, exp_avg, t, lr, beta1):
    r"""Nadam steps along its blend $\beta_1 \hat v + (1 - \beta_1) g / (1 - \beta_1^t)$ ..."""
    correction1 = 1 - beta1**t
    return beta1 * exp_avg / correction1 + (1 - beta1) * g / correction1


def nadam_effective_lr(g, exp_avg_sq, t, lr, beta2, eps):
    r"""... by $\alpha_t / \sqrt{\hat s + \varepsilon}$, as Adam with its correction."""
    return lr / np.sqrt(exp_avg_sq / (1 - beta2**t) + eps)


_MOMENTS = (
    r"v \leftarrow \beta_1 v + (1 - \beta_1)\, g",
    r"s \leftarrow \beta_2 s + (1 - \beta_2)\, g^2",
)
_CORRECTED = r"\hat v = \frac{v}{1 - \beta_1^t}, \quad \hat s = \frac{s}{1 - \beta_2^t}"
_ADAPTIVE_RATE = r"\frac{\alpha_t}{\sqrt{\hat s + \varepsilon}}"
_MOMENT_SYMBOLS = {"exp_avg": "v", "exp_avg_sq": "s"}

ADAM = OptimizerSpec(
    name="adam",
    label="Adam",
    params=(*_ADAM_PARAMS, params.BIAS_CORRECTION, params.L2_WEIGHT_DECAY),
    update=adam_update,
    symbols=_MOMENT_SYMBOLS,
    direction=adam_direction,
    effective_lr=adam_effective_lr,
    direction_equation=r"\hat v",
    effective_lr_equation=_ADAPTIVE_RATE,
    equations=(
        r"g \leftarrow g + \lambda x",
        *_MOMENTS,
        _CORRECTED,
        r"\text{(bias correction off: } \hat v = v,\ \hat s = s \text{)}",
        r"x \leftarrow x - \frac{\alpha_t\, \hat v}{\sqrt{\hat s + \varepsilon}}",
        params.EPS_INSIDE_ROOT,
    ),
    description="Momentum and RMSProp together: a moving average of gradients, divided "
    "by the root of a moving average of squared gradients, both bias-corrected. Weight "
    "decay λ adds λx to the gradient (L2), so it is divided by √ŝ too.",
)

AMSGRAD = OptimizerSpec(
    name="amsgrad",
    label="AMSGrad",
    params=_ADAM_PARAMS,
    update=amsgrad_update,
    symbols={**_MOMENT_SYMBOLS, "max_exp_avg_sq": "m"},
    direction=corrected_direction,
    effective_lr=amsgrad_effective_lr,
    direction_equation=r"\hat v",
    effective_lr_equation=_ADAPTIVE_RATE,
    equations=(
        *_MOMENTS,
        r"m \leftarrow \max(m, s)",
        r"\hat v = \frac{v}{1 - \beta_1^t}, \quad \hat s = \frac{m}{1 - \beta_2^t}",
        r"x \leftarrow x - \frac{\alpha_t\, \hat v}{\sqrt{\hat s + \varepsilon}}",
        params.EPS_INSIDE_ROOT,
    ),
    description="Adam that never lets its denominator shrink: it divides by the largest "
    "second moment seen so far.",
)

ADAMAX = OptimizerSpec(
    name="adamax",
    label="AdaMax",
    params=(params.alpha(0.002), params.BETA1, params.BETA2, params.eps(1e-8)),
    update=adamax_update,
    symbols={"exp_avg": "v", "exp_inf": "u"},
    direction=corrected_direction,
    effective_lr=adamax_effective_lr,
    direction_equation=r"\hat v",
    effective_lr_equation=r"\frac{\alpha_t}{u + \varepsilon}",
    equations=(
        _MOMENTS[0],
        r"u \leftarrow \max\left(\beta_2 u,\ |g|\right)",
        r"x \leftarrow x - \frac{\alpha_t}{1 - \beta_1^t} \cdot \frac{v}{u + \varepsilon}",
        r"\varepsilon \text{ added to } u \text{ (torch.optim: to } |g| \text{ in the max)}",
    ),
    description="Adam with the infinity norm: the denominator is a decaying maximum of "
    "|g| instead of a root mean square.",
)

NADAM = OptimizerSpec(
    name="nadam",
    label="Nadam",
    params=_ADAM_PARAMS,
    update=nadam_update,
    symbols=_MOMENT_SYMBOLS,
    direction=nadam_direction,
    effective_lr=nadam_effective_lr,
    direction_equation=r"\beta_1 \hat v + \frac{(1 - \beta_1)\, g}{1 - \beta_1^t}",
    effective_lr_equation=_ADAPTIVE_RATE,
    equations=(
        *_MOMENTS,
        _CORRECTED,
        r"x \leftarrow x - \alpha_t\,"
        r" \frac{\beta_1 \hat v + \frac{(1 - \beta_1)\, g}{1 - \beta_1^t}}"
        r"{\sqrt{\hat s + \varepsilon}}",
        params.EPS_INSIDE_ROOT,
    ),
    description="Adam with Nesterov's look-ahead folded into the momentum term.",
)
