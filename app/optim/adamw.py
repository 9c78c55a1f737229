"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as torch.optim.AdamW."""

from __future__ import annotations

import numpy as np

from app.optim import params
from app.optim.base import OptimizerSpec


def adamw_update(x, g, exp_avg, exp_avg_sq, t, lr, beta1, beta2, eps, weight_decay):
    r"""$x \leftarrow x - \alpha_t \lambda x$, then Adam's step with ε outside the root:
    $x \leftarrow x - \alpha_t \hat v / (\sqrt{\hat s} + \varepsilon)$. The decay never
    enters the moments, so it is not divided by $\sqrt{\hat s}$ (L2 in Adam is)."""
    exp_avg = beta1 * exp_avg + (1 - beta1) * g
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * (g * g)
    exp_avg_hat = exp_avg / (1 - beta1**t)
    denominator = np.sqrt(exp_avg_sq / (1 - beta2**t)) + eps
    return x - lr * weight_decay * x - lr * exp_avg_hat / denominator, exp_avg, exp_avg_sq


def adamw_direction(g, x, exp_avg, exp_avg_sq, t, lr, beta1, beta2, eps, weight_decay):
    r"""AdamW steps along $\hat v$ plus its decay in the units of the adaptive rate,
    $\lambda (\sqrt{\hat s} + \varepsilon)\, x$ ..."""
    denominator = np.sqrt(exp_avg_sq / (1 - beta2**t)) + eps
    return exp_avg / (1 - beta1**t) + weight_decay * denominator * x


def adamw_effective_lr(g, exp_avg_sq, t, lr, beta2, eps):
    r"""... by Adam's rate $\alpha_t / (\sqrt{\hat s} + \varepsilon)$: the product is
    Adam's step plus the decay term $-\alpha_t \lambda x_{t-1}$, whatever $\hat s$."""
    return lr / (np.sqrt(exp_avg_sq / (1 - beta2**t)) + eps)


ADAMW = OptimizerSpec(
    name="adamw",
    label="AdamW",
    params=(
        params.alpha(0.01),
        params.BETA1,
        params.BETA2,
        params.eps(1e-8),
        params.decoupled_weight_decay(0.01),
    ),
    update=adamw_update,
    symbols={"exp_avg": "v", "exp_avg_sq": "s"},
    direction=adamw_direction,
    effective_lr=adamw_effective_lr,
    direction_equation=r"\hat v + \lambda \left(\sqrt{\hat s} + \varepsilon\right) x",
    effective_lr_equation=r"\frac{\alpha_t}{\sqrt{\hat s} + \varepsilon}",
    decay_term=r"-\alpha_t \lambda\, x_{t-1}",
    equations=(
        r"v \leftarrow \beta_1 v + (1 - \beta_1)\, g",
        r"s \leftarrow \beta_2 s + (1 - \beta_2)\, g^2",
        r"\hat v = \frac{v}{1 - \beta_1^t}, \quad \hat s = \frac{s}{1 - \beta_2^t}",
        r"x \leftarrow x - \alpha_t \lambda x"
        r" - \frac{\alpha_t\, \hat v}{\sqrt{\hat s} + \varepsilon}",
        params.EPS_OUTSIDE_ROOT,
    ),
    description="Adam with decoupled weight decay: each update also shrinks x by α_t λ x, "
    "apart from the gradient, so every coordinate decays at the same rate however large "
    "its gradients (Adam's L2 decay is divided by √ŝ).",
)
