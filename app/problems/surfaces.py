"""Closed-form test functions of two variables, with analytic gradients.

Each ``*_value`` / ``*_grad`` pair is elementwise (arithmetic and numpy ufuncs
only), so it evaluates a whole grid or batch at once and compiles with numba.
"""

from __future__ import annotations

import numpy as np

from app.hyperparams import HyperParam
from app.problems.base import Surface

TWO_PI = 2.0 * np.pi


def noise_param(default: float) -> HyperParam:
    return HyperParam(
        "noise",
        r"\sigma",
        default,
        0.0,
        10.0,
        step=0.05,
        description="standard deviation of the noise added to every gradient",
    )


def steep_valley_value(x, y):
    return 0.1 * x * x + 2.0 * y * y


def steep_valley_grad(x, y):
    return 0.2 * x, 4.0 * y


def saddle_value(x, y):
    return x * x + y**4 / 4.0 - y * y / 2.0


def saddle_grad(x, y):
    return 2.0 * x, y**3 - y


def noisy_bowl_value(x, y):
    return 0.5 * (x * x + y * y)


def noisy_bowl_grad(x, y):
    return 1.0 * x, 1.0 * y


def rosenbrock_value(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def rosenbrock_grad(x, y):
    ridge = y - x * x
    return -2.0 * (1.0 - x) - 400.0 * x * ridge, 200.0 * ridge


def himmelblau_value(x, y):
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def himmelblau_grad(x, y):
    a = x * x + y - 11.0
    b = x + y * y - 7.0
    return 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b


def beale_value(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y**3) ** 2


def beale_grad(x, y):
    a = 1.5 - x + x * y
    b = 2.25 - x + x * y * y
    c = 2.625 - x + x * y**3
    # Each chain rule's inner derivative first (d(a²) = 2·a'·a), as a custom copy
    # differentiates it, so the two compute the same floating-point numbers.
    gx = 2.0 * (y - 1.0) * a + 2.0 * (y * y - 1.0) * b + 2.0 * (y**3 - 1.0) * c
    gy = 2.0 * x * a + 4.0 * x * y * b + 6.0 * x * y * y * c
    return gx, gy


def rastrigin_value(x, y):
    return 20.0 + x * x - 10.0 * np.cos(TWO_PI * x) + y * y - 10.0 * np.cos(TWO_PI * y)


def rastrigin_grad(x, y):
    return 2.0 * x + 10.0 * TWO_PI * np.sin(TWO_PI * x), 2.0 * y + 10.0 * TWO_PI * np.sin(
        TWO_PI * y
    )


def six_hump_camel_value(x, y):
    return (4.0 - 2.1 * x * x + x**4 / 3.0) * x * x + x * y + (-4.0 + 4.0 * y * y) * y * y


def six_hump_camel_grad(x, y):
    return 8.0 * x - 8.4 * x**3 + 2.0 * x**5 + y, x - 8.0 * y + 16.0 * y**3


# Each surface's ``expression`` is its formula as typed for the problem ``custom``;
# the custom copy computes the hand-written gradient's very floating-point numbers
# (tests/problems/test_expression.py), the six-hump camel written expanded as its
# hand-written gradient is.
def _surface(
    name,
    label,
    formula,
    bounds,
    start,
    minima,
    min_value,
    value,
    grad,
    *,
    expression,
    noise=0.0,
    log_color=False,
    description="",
):
    return Surface(
        name=name,
        label=label,
        kind="surface",
        formula=formula,
        bounds=bounds,
        start=start,
        minima=minima,
        min_value=min_value,
        params=(noise_param(noise),),
        log_color=log_color,
        axes=("x", "y"),
        description=description,
        value=value,
        grad=grad,
        expression=expression,
    )


SURFACES: tuple[Surface, ...] = (
    _surface(
        "steep_valley",
        "Steep valley",
        r"f(x, y) = 0.1\,x^2 + 2\,y^2",
        ((-5.0, 5.0), (-2.0, 2.0)),
        (-4.5, 1.5),
        ((0.0, 0.0),),
        0.0,
        steep_valley_value,
        steep_valley_grad,
        expression="0.1*x^2 + 2*y^2",
        description="Twenty times steeper across than along: plain gradient descent "
        "zig-zags across the valley, momentum builds up speed along it.",
    ),
    _surface(
        "saddle",
        "Saddle",
        r"f(x, y) = x^2 + \tfrac{1}{4} y^4 - \tfrac{1}{2} y^2",
        ((-2.5, 2.5), (-2.0, 2.0)),
        (-2.0, 0.01),
        ((0.0, -1.0), (0.0, 1.0)),
        -0.25,
        saddle_value,
        saddle_grad,
        expression="x^2 + y^4/4 - y^2/2",
        description="A saddle at the origin between two minima: starting almost on the "
        "ridge, the gradient there is tiny and some optimisers linger.",
    ),
    _surface(
        "noisy_bowl",
        "Noisy bowl",
        r"f(x, y) = \tfrac{1}{2}\left(x^2 + y^2\right)",
        ((-4.0, 4.0), (-4.0, 4.0)),
        (-3.0, 2.5),
        ((0.0, 0.0),),
        0.0,
        noisy_bowl_value,
        noisy_bowl_grad,
        expression="0.5*(x^2 + y^2)",
        noise=1.0,
        description="A round bowl with noisy gradients, like minibatch SGD: a constant "
        "rate keeps jittering around the bottom, a decaying one settles.",
    ),
    _surface(
        "rosenbrock",
        "Rosenbrock",
        r"f(x, y) = (1 - x)^2 + 100\,(y - x^2)^2",
        ((-2.0, 2.0), (-1.0, 3.0)),
        (-1.5, 2.0),
        ((1.0, 1.0),),
        0.0,
        rosenbrock_value,
        rosenbrock_grad,
        expression="(1 - x)^2 + 100*(y - x^2)^2",
        log_color=True,
        description="A long curved banana-shaped valley: easy to fall into, hard to follow "
        "to the minimum at (1, 1).",
    ),
    _surface(
        "himmelblau",
        "Himmelblau",
        r"f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        ((-5.0, 5.0), (-5.0, 5.0)),
        (-0.5, -0.5),
        (
            (3.0, 2.0),
            (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.283185991286170),
            (3.584428340330492, -1.848126526964404),
        ),
        0.0,
        himmelblau_value,
        himmelblau_grad,
        expression="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        log_color=True,
        description="Four equal minima: which one a run ends in depends on where it "
        "starts and how it moves.",
    ),
    _surface(
        "beale",
        "Beale",
        r"f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        ((-4.5, 4.5), (-4.5, 4.5)),
        (1.0, 1.4),
        ((3.0, 0.5),),
        0.0,
        beale_value,
        beale_grad,
        expression="(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2",
        log_color=True,
        description="Flat plateaus and steep walls, with the minimum at (3, 0.5) in a "
        "narrow curved valley.",
    ),
    _surface(
        "rastrigin",
        "Rastrigin",
        r"f(x, y) = 20 + x^2 - 10\cos 2\pi x + y^2 - 10\cos 2\pi y",
        ((-5.12, 5.12), (-5.12, 5.12)),
        (-4.3, 3.7),
        ((0.0, 0.0),),
        0.0,
        rastrigin_value,
        rastrigin_grad,
        expression="20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)",
        description="A bowl covered in ripples: a grid of local minima that traps small "
        "steps; only the one at the origin is global.",
    ),
    _surface(
        "six_hump_camel",
        "Six-hump camel",
        r"f(x, y) = \left(4 - 2.1x^2 + \tfrac{x^4}{3}\right)x^2 + xy + (4y^2 - 4)\,y^2",
        ((-2.0, 2.0), (-1.2, 1.2)),
        (-1.6, 1.0),
        ((0.08984201368301331, -0.7126564032704135), (-0.08984201368301331, 0.7126564032704135)),
        -1.0316284534898774,
        six_hump_camel_value,
        six_hump_camel_grad,
        expression="4*x^2 - 2.1*x^4 + x^6/3 + x*y - 4*y^2 + 4*y^4",
        description="Six humps and two global minima, with local minima in between.",
    ),
)
