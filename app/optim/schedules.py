"""Learning-rate schedules: ``α_t = alpha · d(e)`` with ``e`` the epoch of update ``t``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.errors import InvalidSpec
from app.hyperparams import HyperParam, export_value, resolve

FloatArray = npt.NDArray[np.float64]


def constant(epoch: FloatArray) -> FloatArray:
    return np.ones_like(epoch)


def step(epoch: FloatArray, every: FloatArray, factor: FloatArray) -> FloatArray:
    return factor ** np.floor(epoch / every)


def exponential(epoch: FloatArray, k: FloatArray) -> FloatArray:
    return np.exp(-k * epoch)


def inverse_time(epoch: FloatArray, k: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + k * epoch)


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    label: str
    params: tuple[HyperParam, ...]
    decay: Callable[..., FloatArray]
    equation: str
    description: str


# A schedule without a name (or no schedule at all) is this one.
DEFAULT_SCHEDULE = "constant"

_K = HyperParam("k", "k", 0.01, 0.0, 1.0, step=0.001, description="decay rate per epoch")

SCHEDULES: dict[str, ScheduleSpec] = {
    s.name: s
    for s in (
        ScheduleSpec(
            "constant",
            "Constant",
            (),
            constant,
            r"\alpha_t = \alpha",
            "The same learning rate for every update.",
        ),
        ScheduleSpec(
            "step",
            "Step decay",
            (
                HyperParam(
                    "every",
                    "T",
                    10,
                    1,
                    10_000,
                    step=1,
                    kind="int",
                    description="epochs between two cuts",
                ),
                HyperParam(
                    "factor",
                    r"\kappa",
                    0.5,
                    0.0,
                    1.0,
                    step=0.01,
                    description="what each cut multiplies the rate by",
                ),
            ),
            step,
            r"\alpha_t = \alpha \cdot \kappa^{\lfloor e / T \rfloor}",
            "Cut the learning rate by a factor every few epochs.",
        ),
        ScheduleSpec(
            "exponential",
            "Exponential decay",
            (_K,),
            exponential,
            r"\alpha_t = \alpha\, e^{-k e}",
            "Shrink the learning rate smoothly by a constant ratio per epoch.",
        ),
        ScheduleSpec(
            "inverse_time",
            "Inverse-time decay",
            (_K,),
            inverse_time,
            r"\alpha_t = \frac{\alpha}{1 + k e}",
            "Shrink the learning rate like 1/t: fast at first, then slowly.",
        ),
    )
}


def resolve_schedule(given: Mapping[str, Any] | None, loc: tuple[str | int, ...]) -> dict[str, Any]:
    """The schedule with its name and every parameter filled in, or InvalidSpec."""
    given = dict(given or {})
    name = given.pop("name", DEFAULT_SCHEDULE)
    if not isinstance(name, str) or name not in SCHEDULES:
        raise InvalidSpec(
            loc + ("name",),
            f"unknown schedule {name!r}; valid schedules: {', '.join(SCHEDULES)}",
        )
    spec = SCHEDULES[name]
    values = resolve(spec.params, given, loc, f"schedule {name!r}")
    return {"name": name, **{p.name: export_value(p, values[p.name]) for p in spec.params}}


def learning_rates(
    alpha: FloatArray,
    schedules: Sequence[Mapping[str, Any]],
    schedule_of_row: npt.NDArray[np.int64],
    epochs: FloatArray,
) -> FloatArray:
    """``α_t`` for every (update, run), shape ``(T, B)``.

    ``schedules`` are the distinct schedules of a request and ``schedule_of_row``
    says which one each run follows, so a sweep of thousands of runs that share
    one schedule evaluates its decay once.
    """
    decays = np.empty((epochs.shape[0], len(schedules)))
    for column, schedule in enumerate(schedules):
        spec = SCHEDULES[schedule["name"]]
        kwargs = {p.name: float(schedule[p.name]) for p in spec.params}
        decays[:, column] = spec.decay(epochs, **kwargs)
    if len(schedules) == 1:
        return alpha[None, :] * decays  # the same products, without gathering a column B times
    return alpha[None, :] * decays[:, schedule_of_row]
