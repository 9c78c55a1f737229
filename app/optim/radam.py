"""RAdam: Adam with its variance rectified (Liu et al., 2020), as torch.optim.RAdam.

While the approximated length of the second moment's average, ``ρ_t``, is at most 5,
the variance of the adaptive rate is too large to trust and RAdam steps as SGD with
(bias-corrected) momentum; after that it scales Adam's rate by the rectification
``r_t``. Both branches are computed and blended with a 0/1 factor, so one expression
serves arrays and compiled scalars; ``r_t``'s root and quotient are kept finite where
they are not used (0 × NaN would be NaN).
"""

from __future__ import annotations

import numpy as np

from app.optim import params
from app.optim.base import OptimizerSpec

# torch.optim.RAdam rectifies once ρ_t exceeds this.
RECTIFY_ABOVE = 5.0


def radam_rate(exp_avg_sq, t, lr, beta2, eps):
    r"""α_t times $r_t \sqrt{1 - \beta_2^t} / (\sqrt{s} + \varepsilon)$ while
    $\rho_t > 5$, else α_t alone (ε added to √s, as torch.optim)."""
    correction2 = 1 - beta2**t
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / correction2
    rectified = rho_t > RECTIFY_ABOVE
    # Where not rectified the quotient is 1, so neither a zero denominator (ρ_∞ = 2 or 4)
    # nor a negative root leaks a NaN into the blend.
    numerator = (rho_t - 4) * (rho_t - 2) * rho_inf
    denominator = (rho_inf - 4) * (rho_inf - 2) * rho_t
    quotient = (numerator * rectified + (1 - rectified)) / (
        denominator * rectified + (1 - rectified)
    )
    rectification = np.sqrt(np.maximum(quotient, 0.0))
    adaptive = np.sqrt(correction2) / (np.sqrt(exp_avg_sq) + eps)
    return lr * (rectified * rectification * adaptive + (1 - rectified))


def radam_update(x, g, exp_avg, exp_avg_sq, t, lr, beta1, beta2, eps):
    r"""$x \leftarrow x - \hat v \cdot$ (``radam_rate``)."""
    exp_avg = beta1 * exp_avg + (1 - beta1) * g
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * (g * g)
    exp_avg_hat = exp_avg / (1 - beta1**t)
    return x - exp_avg_hat * radam_rate(exp_avg_sq, t, lr, beta2, eps), exp_avg, exp_avg_sq


def radam_direction(g, exp_avg, t, lr, beta1):
    r"""RAdam steps along $\hat v$ ..."""
    return exp_avg / (1 - beta1**t)


def radam_effective_lr(g, exp_avg_sq, t, lr, beta2, eps):
    r"""... by the rectified adaptive rate, or α_t alone while $\rho_t \le 5$."""
    return radam_rate(exp_avg_sq, t, lr, beta2, eps)


RADAM = OptimizerSpec(
    name="radam",
    label="RAdam",
    params=(params.alpha(0.01), params.BETA1, params.BETA2, params.eps(1e-8)),
    update=radam_update,
    symbols={"exp_avg": "v", "exp_avg_sq": "s"},
    direction=radam_direction,
    effective_lr=radam_effective_lr,
    direction_equation=r"\hat v",
    effective_lr_equation=r"\alpha_t\, r_t \frac{\sqrt{1 - \beta_2^t}}{\sqrt{s} + \varepsilon}"
    r" \text{ if } \rho_t > 5, \text{ else } \alpha_t",
    equations=(
        r"v \leftarrow \beta_1 v + (1 - \beta_1)\, g",
        r"s \leftarrow \beta_2 s + (1 - \beta_2)\, g^2",
        r"\hat v = \frac{v}{1 - \beta_1^t}",
        r"\rho_\infty = \frac{2}{1 - \beta_2} - 1, \quad"
        r" \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1 - \beta_2^t}",
        r"r_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\,\rho_\infty}"
        r"{(\rho_\infty - 4)(\rho_\infty - 2)\,\rho_t}}",
        r"x \leftarrow x - \alpha_t\, r_t\, \hat v\, \frac{\sqrt{1 - \beta_2^t}}{\sqrt{s}"
        r" + \varepsilon} \text{ if } \rho_t > 5, \text{ else } x - \alpha_t\, \hat v",
        r"\varepsilon \text{ added to } \sqrt{s} \text{ (before the correction), as torch.optim}",
    ),
    description="Adam that does not trust its second moment until enough gradients are "
    "averaged: SGD with momentum over the first updates, then Adam's rate scaled by a "
    "rectification that grows towards 1, so no warm-up is needed.",
)
