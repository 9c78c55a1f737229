"""Fitting a line or a logistic curve to a seeded dataset, one minibatch at a time.

The parameters are ``(w, b)``. A dataset is drawn from ``seed`` alone, so every
run of a request (and every client that sends the same request) sees the same
samples. Each epoch shuffles the samples and walks them in batches in order;
the shuffle of epoch ``e`` comes from ``(seed, e)``, so any stretch of updates
can be produced without generating the epochs before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.hyperparams import HyperParam
from app.limits import MAX_SAMPLES
from app.problems.base import Regression

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LINEAR_TRUE = (2.0, -1.0)
LOGISTIC_TRUE = (2.5, 0.5)
# Spawn keys keep the dataset's random stream apart from the shuffles' and the noise's.
_DATA_STREAM = 1
_SHUFFLE_STREAM = 2


def linear_loss(z, y):
    residual = z - y
    return residual * residual


def linear_dloss(z, y):
    return 2.0 * (z - y)


def logistic_loss(z, y):
    # softplus(z) - y·z is -y·log σ(z) - (1-y)·log(1-σ(z)) without overflow.
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z


def logistic_dloss(z, y):
    return 1.0 / (1.0 + np.exp(-z)) - y


def _rng(seed: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *more])


def linear_data(n_samples: int, noise: float, seed: int) -> tuple[FloatArray, FloatArray]:
    rng = _rng(seed, _DATA_STREAM)
    x = rng.uniform(-2.0, 2.0, n_samples)
    w, b = LINEAR_TRUE
    return x, w * x + b + noise * rng.standard_normal(n_samples)


def logistic_data(n_samples: int, noise: float, seed: int) -> tuple[FloatArray, FloatArray]:
    rng = _rng(seed, _DATA_STREAM)
    x = rng.uniform(-3.0, 3.0, n_samples)
    w, b = LOGISTIC_TRUE
    labels = (rng.uniform(size=n_samples) < 1.0 / (1.0 + np.exp(-(w * x + b)))).astype(float)
    flipped = rng.uniform(size=n_samples) < noise
    return x, np.where(flipped, 1.0 - labels, labels)


def _params(noise_default: float, noise_max: float, noise_text: str) -> tuple[HyperParam, ...]:
    return (
        HyperParam(
            "n_samples",
            "n",
            200,
            10,
            MAX_SAMPLES,
            step=1,
            kind="int",
            description="number of samples in the dataset",
        ),
        HyperParam(
            "noise", r"\sigma", noise_default, 0.0, noise_max, step=0.01, description=noise_text
        ),
        HyperParam(
            "batch_size",
            "m",
            16,
            1,
            MAX_SAMPLES,
            step=1,
            kind="int",
            description="samples per update: 1 is SGD, n is full-batch gradient descent",
        ),
    )


LINEAR = Regression(
    name="linear_regression",
    label="Linear regression",
    kind="regression",
    formula=r"L(w, b) = \frac{1}{n}\sum_i \left(w x_i + b - y_i\right)^2",
    bounds=((-2.0, 6.0), (-5.0, 3.0)),
    start=(-1.0, 2.0),
    minima=(),
    min_value=None,
    params=_params(0.5, 10.0, "standard deviation of the noise in the targets"),
    log_color=False,
    axes=("w", "b"),
    description="Fit a line to noisy points. The batch size sets how noisy each "
    "gradient is: 1 is stochastic, n is full-batch gradient descent.",
    sample_loss=linear_loss,
    sample_dloss=linear_dloss,
    make_data=linear_data,
    true_params=LINEAR_TRUE,
)

LOGISTIC = Regression(
    name="logistic_regression",
    label="Logistic regression",
    kind="regression",
    formula=r"L(w, b) = \frac{1}{n}\sum_i -y_i \log p_i - (1 - y_i)\log(1 - p_i),"
    r"\quad p_i = \sigma(w x_i + b)",
    bounds=((-2.0, 7.0), (-4.0, 4.0)),
    start=(-1.5, -3.0),
    minima=(),
    min_value=None,
    params=_params(0.05, 0.5, "probability that a label is flipped"),
    log_color=False,
    axes=("w", "b"),
    description="Fit a logistic curve to 0/1 labels. The loss has no closed-form "
    "minimum; with flipped labels it is flatter.",
    sample_loss=logistic_loss,
    sample_dloss=logistic_dloss,
    make_data=logistic_data,
    true_params=LOGISTIC_TRUE,
)

REGRESSIONS = (LINEAR, LOGISTIC)


@dataclass(frozen=True)
class Batches:
    """Which samples update ``t`` uses: ``order[starts[t-1]:starts[t-1] + sizes[t-1]]``."""

    order: IntArray
    starts: IntArray
    sizes: IntArray


def batches_per_epoch(n_samples: int, batch_size: int) -> int:
    return math.ceil(n_samples / batch_size)


def epoch_of_updates(updates: FloatArray, per_epoch: int) -> FloatArray:
    """The epoch index ``⌊(t-1)/per_epoch⌋`` of updates ``t`` (1-based)."""
    return np.floor((np.asarray(updates, dtype=np.float64) - 1.0) / per_epoch)


def minibatches(n_samples: int, batch_size: int, seed: int, first: int, count: int) -> Batches:
    """The minibatches of updates ``first … first+count-1`` (``first`` ≥ 1)."""
    per_epoch = batches_per_epoch(n_samples, batch_size)
    first_epoch = (first - 1) // per_epoch
    last_epoch = (first + count - 2) // per_epoch
    order = np.concatenate(
        [
            _rng(seed, _SHUFFLE_STREAM, epoch).permutation(n_samples)
            for epoch in range(first_epoch, last_epoch + 1)
        ]
    )
    updates = np.arange(first, first + count)
    epoch = (updates - 1) // per_epoch
    index_in_epoch = (updates - 1) % per_epoch
    starts = (epoch - first_epoch) * n_samples + index_in_epoch * batch_size
    sizes = np.minimum(batch_size, n_samples - index_in_epoch * batch_size)
    return Batches(order=order.astype(np.int64), starts=starts, sizes=sizes)


def batches_of(n_samples: int, batch_size: int, seed: int, first: int, count: int) -> Batches:
    """``minibatches``; a full batch (every sample, whatever the shuffle) walks the
    samples in their own order and draws no shuffle."""
    if batch_size == n_samples:
        return Batches(
            order=np.arange(n_samples, dtype=np.int64),
            starts=np.zeros(count, dtype=np.int64),
            sizes=np.full(count, n_samples, dtype=np.int64),
        )
    return minibatches(n_samples, batch_size, seed, first, count)


def batch_gradients(
    problem: Regression, x: FloatArray, y: FloatArray, batches: Batches, point: FloatArray
) -> FloatArray:
    """The gradient at ``point`` (w, b) of each batch that ``batches`` lists in order,
    consecutive in its ``order`` (one epoch's): (batches, 2)."""
    samples = batches.order
    w, b = point
    dloss = problem.sample_dloss(w * x[samples] + b, y[samples])
    sums = np.add.reduceat(np.stack([dloss * x[samples], dloss], axis=1), batches.starts)
    return sums / batches.sizes[:, None]


def best_fit(problem: Regression, x: FloatArray, y: FloatArray) -> tuple[float, float] | None:
    """The minimiser of the full-data loss (least squares, or Newton for logistic).

    None when there is none: separable 0/1 labels push the logistic optimum to infinity.
    """
    design = np.stack([x, np.ones_like(x)], axis=1)
    if problem is LINEAR:
        solution, *_ = np.linalg.lstsq(design, y, rcond=None)
        return float(solution[0]), float(solution[1])
    params = np.zeros(2)
    with np.errstate(all="ignore"):
        for _ in range(100):
            p = 1.0 / (1.0 + np.exp(-(design @ params)))
            gradient = design.T @ (p - y) / len(x)
            hessian = (design.T * (p * (1 - p))) @ design / len(x) + 1e-12 * np.eye(2)
            step = np.linalg.solve(hessian, gradient)
            params -= step
            if not np.isfinite(params).all() or np.abs(params).max() > 1e3:
                return None
            if np.max(np.abs(step)) < 1e-13:
                return float(params[0]), float(params[1])
    return None
