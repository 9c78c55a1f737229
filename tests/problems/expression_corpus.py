"""Expressions with the same formula written by hand in numpy, and where to test them.

Each entry: the expression as a user types it, ``f(x, y)`` written independently
with numpy, and a box ``((x_low, x_high), (y_low, y_high))`` inside which the
function is defined and smooth enough for central differences.
"""

from __future__ import annotations

import numpy as np

PI, E = np.pi, np.e
BOX = ((-2.0, 2.0), (-2.0, 2.0))
POSITIVE = ((0.2, 3.0), (0.2, 3.0))


def _min(*values):
    return np.minimum.reduce(np.broadcast_arrays(*values))


def _max(*values):
    return np.maximum.reduce(np.broadcast_arrays(*values))


def ackley(x, y):
    return (
        -20 * np.exp(-0.2 * np.sqrt(0.5 * (x**2 + y**2)))
        - np.exp(0.5 * (np.cos(2 * PI * x) + np.cos(2 * PI * y)))
        + E
        + 20
    )


CORPUS = [
    ("0.1*x^2 + 2*y^2", lambda x, y: 0.1 * x**2 + 2 * y**2, BOX),
    ("x^2 + y^4/4 - y^2/2", lambda x, y: x**2 + y**4 / 4 - y**2 / 2, BOX),
    ("0.5*(x^2 + y^2)", lambda x, y: 0.5 * (x**2 + y**2), BOX),
    ("(1 - x)^2 + 100*(y - x^2)^2", lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2, BOX),
    (
        "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
        BOX,
    ),
    (
        "(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2",
        lambda x, y: (
            (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2
        ),
        BOX,
    ),
    (
        "20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)",
        lambda x, y: 20 + x**2 - 10 * np.cos(2 * PI * x) + y**2 - 10 * np.cos(2 * PI * y),
        BOX,
    ),
    (
        "4*x^2 - 2.1*x^4 + x^6/3 + x*y - 4*y^2 + 4*y^4",
        lambda x, y: 4 * x**2 - 2.1 * x**4 + x**6 / 3 + x * y - 4 * y**2 + 4 * y**4,
        BOX,
    ),
    ("x^2 + 10*sin(y)", lambda x, y: x**2 + 10 * np.sin(y), BOX),
    ("sin(x)*cos(y)", lambda x, y: np.sin(x) * np.cos(y), BOX),
    ("exp(-(x^2 + y^2))", lambda x, y: np.exp(-(x**2 + y**2)), BOX),
    (
        "-exp(-(x^2 + y^2)/2) - 0.5*exp(-((x-2)^2 + (y-1)^2))",
        lambda x, y: -np.exp(-(x**2 + y**2) / 2) - 0.5 * np.exp(-((x - 2) ** 2 + (y - 1) ** 2)),
        BOX,
    ),
    ("log(1 + x^2 + y^2)", lambda x, y: np.log(1 + x**2 + y**2), BOX),
    ("sqrt(1 + x^2 + y^2)", lambda x, y: np.sqrt(1 + x**2 + y**2), BOX),
    ("tan(x/4) + y^2", lambda x, y: np.tan(x / 4) + y**2, BOX),
    ("tanh(x)*y^2 + x^2", lambda x, y: np.tanh(x) * y**2 + x**2, BOX),
    ("sinh(x/2) + cosh(y/2)", lambda x, y: np.sinh(x / 2) + np.cosh(y / 2), BOX),
    ("atan(x*y) + x^2/10", lambda x, y: np.arctan(x * y) + x**2 / 10, BOX),
    ("abs(x) + abs(y)", lambda x, y: np.abs(x) + np.abs(y), BOX),
    ("min(x^2, y^2) + max(x, y)", lambda x, y: np.minimum(x**2, y**2) + np.maximum(x, y), BOX),
    ("x^3 - 3*x*y^2", lambda x, y: x**3 - 3 * x * y**2, BOX),
    ("x*y", lambda x, y: x * y, BOX),
    ("x^2 - y^2", lambda x, y: x**2 - y**2, BOX),
    ("(x - 1)^4 + (y + 2)^4", lambda x, y: (x - 1) ** 4 + (y + 2) ** 4, BOX),
    ("x/(1 + y^2)", lambda x, y: x / (1 + y**2), BOX),
    ("(x^2 + y^2)/(1 + x^2)", lambda x, y: (x**2 + y**2) / (1 + x**2), BOX),
    ("2^x + 3^(-y)", lambda x, y: 2.0**x + 3.0 ** (-y), BOX),
    ("x^y", lambda x, y: x**y, POSITIVE),
    ("x^0.5 + y^1.5", lambda x, y: x**0.5 + y**1.5, POSITIVE),
    ("x^-2 + y^-1", lambda x, y: x**-2.0 + 1 / y, POSITIVE),
    ("e^(x/3) * pi", lambda x, y: np.exp(x / 3) * PI, BOX),
    ("-x^2 + 3*-y", lambda x, y: -(x**2) - 3 * y, BOX),
    ("2^3^x", lambda x, y: 2.0 ** (3.0**x), BOX),
    ("x**2 + y**2", lambda x, y: x**2 + y**2, BOX),
    ("((x))^((2)) + (y)", lambda x, y: x**2 + y, BOX),
    ("1e-3*x^2 + 1.5E2*y^2/1e4", lambda x, y: 1e-3 * x**2 + 150 * y**2 / 1e4, BOX),
    (".5*x + 2.*y", lambda x, y: 0.5 * x + 2 * y, BOX),
    ("sin(x)^2 + cos(x)^2 + y", lambda x, y: np.sin(x) ** 2 + np.cos(x) ** 2 + y, BOX),
    ("exp(sin(x) * cos(y))", lambda x, y: np.exp(np.sin(x) * np.cos(y)), BOX),
    ("log(exp(x) + exp(y))", lambda x, y: np.logaddexp(x, y), BOX),
    (
        "sqrt((x - 1)^2 + (y - 1)^2 + 0.01)",
        lambda x, y: np.sqrt((x - 1) ** 2 + (y - 1) ** 2 + 0.01),
        BOX,
    ),
    ("x^4 - 2*x^2 + y^2", lambda x, y: x**4 - 2 * x**2 + y**2, BOX),
    (
        "(x^2 + y^2)^2 - 2*(x^2 - y^2)",
        lambda x, y: (x**2 + y**2) ** 2 - 2 * (x**2 - y**2),
        BOX,
    ),
    ("x - y + x*y - x^2*y^2/10", lambda x, y: x - y + x * y - x**2 * y**2 / 10, BOX),
    ("1/(1 + exp(-x)) + y^2", lambda x, y: 1 / (1 + np.exp(-x)) + y**2, BOX),
    ("max(0, x) + min(0, y)*2", lambda x, y: np.maximum(0, x) + 2 * np.minimum(0, y), BOX),
    ("abs(x - y) + (x + y)^2", lambda x, y: np.abs(x - y) + (x + y) ** 2, BOX),
    (
        "sin(3*x) * sin(3*y) + 0.1*(x^2 + y^2)",
        lambda x, y: np.sin(3 * x) * np.sin(3 * y) + 0.1 * (x**2 + y**2),
        BOX,
    ),
    ("cos(x*y)", lambda x, y: np.cos(x * y), BOX),
    (
        "-20*exp(-0.2*sqrt(0.5*(x^2 + y^2))) - exp(0.5*(cos(2*pi*x) + cos(2*pi*y))) + e + 20",
        ackley,
        POSITIVE,
    ),
    (
        "(x + 2*y - 7)^2 + (2*x + y - 5)^2",
        lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2,
        BOX,
    ),
    ("0.26*(x^2 + y^2) - 0.48*x*y", lambda x, y: 0.26 * (x**2 + y**2) - 0.48 * x * y, BOX),
    (
        "2*x^2 - 1.05*x^4 + x^6/6 + x*y + y^2",
        lambda x, y: 2 * x**2 - 1.05 * x**4 + x**6 / 6 + x * y + y**2,
        BOX,
    ),
    (
        "(x^2 + y - 11)^2/100 + sin(x)*sin(y)",
        lambda x, y: (x**2 + y - 11) ** 2 / 100 + np.sin(x) * np.sin(y),
        BOX,
    ),
    ("atan(y/x)", lambda x, y: np.arctan(y / x), POSITIVE),
    ("tanh(x - y)^2", lambda x, y: np.tanh(x - y) ** 2, BOX),
    ("x*exp(-x^2 - y^2)", lambda x, y: x * np.exp(-(x**2) - y**2), BOX),
    ("max(x, y, x + y)", lambda x, y: _max(x, y, x + y), BOX),
    ("min(abs(x), abs(y), 1)", lambda x, y: _min(np.abs(x), np.abs(y), 1.0), BOX),
    ("sqrt(x^2 + 1)*cosh(y/3)", lambda x, y: np.sqrt(x**2 + 1) * np.cosh(y / 3), BOX),
    ("(x-y)/(x+y+10)", lambda x, y: (x - y) / (x + y + 10), BOX),
    ("3", lambda x, y: np.full(np.broadcast(x, y).shape, 3.0), BOX),
    ("x", lambda x, y: x + 0 * y, BOX),
    ("-y", lambda x, y: -y + 0 * x, BOX),
    ("x/y - y/x", lambda x, y: x / y - y / x, POSITIVE),
    ("(x*y)^3 - x^5/5 + 7*y", lambda x, y: (x * y) ** 3 - x**5 / 5 + 7 * y, BOX),
]
