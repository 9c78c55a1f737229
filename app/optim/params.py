"""Hyper-parameter specs shared by several rules: one vocabulary everywhere."""

from __future__ import annotations

from app.hyperparams import HyperParam


def alpha(default: float) -> HyperParam:
    return HyperParam(
        "alpha",
        r"\alpha",
        default,
        1e-5,
        10.0,
        scale="log",
        step=0.01,
        description="learning rate: how far each update moves",
    )


BETA = HyperParam(
    "beta",
    r"\beta",
    0.9,
    0.0,
    0.999,
    scale="log1m",
    step=0.001,
    description="momentum: how much of the previous velocity is kept",
)
BETA_WARMUP_STEPS = HyperParam(
    "beta_warmup_steps",
    r"N_{\mathrm{warm}}",
    0,
    0,
    10_000,
    step=1,
    kind="int",
    description="updates that use β = 0.5 before switching to β (momentum warm-up)",
)
GAMMA = HyperParam(
    "gamma",
    r"\gamma",
    0.9,
    0.0,
    0.9999,
    scale="log1m",
    step=0.001,
    description="decay of the moving average of squared gradients",
)
BETA1 = HyperParam(
    "beta1",
    r"\beta_1",
    0.9,
    0.0,
    0.999,
    scale="log1m",
    step=0.001,
    description="decay of the moving average of gradients (first moment)",
)
BETA2 = HyperParam(
    "beta2",
    r"\beta_2",
    0.999,
    0.0,
    0.9999,
    scale="log1m",
    step=0.0001,
    description="decay of the moving average of squared gradients (second moment)",
)
RHO = HyperParam(
    "rho",
    r"\rho",
    0.9,
    0.0,
    0.9999,
    scale="log1m",
    step=0.001,
    description="decay of AdaDelta's moving averages",
)
BIAS_CORRECTION = HyperParam(
    "bias_correction",
    r"\mathrm{bc}",
    1,
    0,
    1,
    step=1,
    kind="bool",
    description="divide the moving averages by 1 − βᵗ so early steps are not too short",
)


# Weight decay pulls x towards 0 each update: as L2 (a term of the loss, so it goes
# through the gradient and whatever a rule does with it) or decoupled (apart from it).
L2_WEIGHT_DECAY = HyperParam(
    "weight_decay",
    r"\lambda",
    0.0,
    0.0,
    1.0,
    step=0.001,
    description="L2 weight decay: λx is added to the gradient (the loss gains λ|x|²/2)",
)


def decoupled_weight_decay(default: float) -> HyperParam:
    return HyperParam(
        "weight_decay",
        r"\lambda",
        default,
        0.0,
        1.0,
        step=0.001,
        description="decoupled weight decay: each update also moves x by −α_t λ x, "
        "apart from the gradient",
    )


# Where a rule puts ε, as a line of its equations: frameworks differ, and a reader
# comparing with theirs needs to know (docs/API.md, Update rules).
EPS_INSIDE_ROOT = (
    r"\varepsilon \text{ inside the root (torch.optim: outside, } \sqrt{\cdot} + \varepsilon)"
)
EPS_OUTSIDE_ROOT = r"\varepsilon \text{ outside the root, as torch.optim}"


def eps(default: float) -> HyperParam:
    return HyperParam(
        "eps",
        r"\varepsilon",
        default,
        1e-12,
        1.0,
        scale="log",
        step=0.1,
        description="added under the square root so the step stays finite",
    )
