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


def adam_update(x, g, exp_avg, exp_avg_sq, t, lr, beta1, beta2, eps, bias_correction):
    r"""$v \leftarrow \beta_1 v + (1-\beta_1) g;\; s \leftarrow \beta_2 s + (1-\beta_2) g^2;\;
    x \leftarrow x - \alpha_t \hat v / \sqrt{\hat s + \varepsilon}$"""
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


_MOMENTS = (
    r"v \leftarrow \beta_1 v + (1 - \beta_1)\, g",
    r"s \leftarrow \beta_2 s + (1 - \beta_2)\, g^2",
)
_CORRECTED = r"\hat v = \frac{v}{1 - \beta_1^t}, \quad \hat s = \frac{s}{1 - \beta_2^t}"

ADAM = OptimizerSpec(
    name="adam",
    label="Adam",
    params=(*_ADAM_PARAMS, params.BIAS_CORRECTION),
    update=adam_update,
    equations=(
        *_MOMENTS,
        _CORRECTED,
        r"\text{(bias correction off: } \hat v = v,\ \hat s = s \text{)}",
        r"x \leftarrow x - \frac{\alpha_t\, \hat v}{\sqrt{\hat s + \varepsilon}}",
    ),
    description="Momentum and RMSProp together: a moving average of gradients, divided "
    "by the root of a moving average of squared gradients, both bias-corrected.",
)

AMSGRAD = OptimizerSpec(
    name="amsgrad",
    label="AMSGrad",
    params=_ADAM_PARAMS,
    update=amsgrad_update,
    equations=(
        *_MOMENTS,
        r"m \leftarrow \max(m, s)",
        r"\hat v = \frac{v}{1 - \beta_1^t}, \quad \hat s = \frac{m}{1 - \beta_2^t}",
        r"x \leftarrow x - \frac{\alpha_t\, \hat v}{\sqrt{\hat s + \varepsilon}}",
    ),
    description="Adam that never lets its denominator shrink: it divides by the largest "
    "second moment seen so far.",
)

ADAMAX = OptimizerSpec(
    name="adamax",
    label="AdaMax",
    params=(params.alpha(0.002), params.BETA1, params.BETA2, params.eps(1e-8)),
    update=adamax_update,
    equations=(
        _MOMENTS[0],
        r"u \leftarrow \max\left(\beta_2 u,\ |g|\right)",
        r"x \leftarrow x - \frac{\alpha_t}{1 - \beta_1^t} \cdot \frac{v}{u + \varepsilon}",
    ),
    description="Adam with the infinity norm: the denominator is a decaying maximum of "
    "|g| instead of a root mean square.",
)

NADAM = OptimizerSpec(
    name="nadam",
    label="Nadam",
    params=_ADAM_PARAMS,
    update=nadam_update,
    equations=(
        *_MOMENTS,
        _CORRECTED,
        r"x \leftarrow x - \alpha_t\,"
        r" \frac{\beta_1 \hat v + \frac{(1 - \beta_1)\, g}{1 - \beta_1^t}}"
        r"{\sqrt{\hat s + \varepsilon}}",
    ),
    description="Adam with Nesterov's look-ahead folded into the momentum term.",
)
