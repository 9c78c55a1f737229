"""Learning-rate schedules (docs/API.md, Learning-rate schedules).

The rate of update ``t`` (``t = 1, 2, …``) is::

    α_t = w_t · (α_min + (α − α_min) · d(u))

- ``d`` is the schedule's decay, 1 at ``u = 0``, a function of ``u`` in the unit the
  schedule counts (its ``counts``): the classic decays (step, exponential, inverse
  time) count **epochs**, ``u = e``, the epoch of update ``t``, as their textbooks do;
  cosine, one-cycle and warmup–stable–decay count **updates**, ``u = t − 1``, as the
  frameworks that made them common do (torch.optim's ``OneCycleLR`` and
  ``CosineAnnealingLR`` count optimiser steps), so ``T`` is a number of updates on a
  regression too. On a surface an epoch is one update and the two agree.
- ``α_min`` is the rate a decay ends at, for the schedules that have ``alpha_min``
  (0 for the others, whose ``α_t`` is ``α · d``).
- ``w_t = min(1, t / W)`` is a linear warm-up over the first ``W = warmup_steps``
  updates, in front of every schedule: from ``α/W`` at the first update to the
  schedule's own rate at update ``W`` (``W = 0``: none). It multiplies whatever the
  schedule gives, so a decay's clock runs from the first update, warm-up or not.

Every decay is elementwise in ``u`` (numpy ufuncs and ``np.where``), evaluated once
per distinct schedule of a request over a chunk's updates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app.errors import InvalidSpec
from app.hyperparams import HyperParam, export_value, resolve
from app.limits import MAX_STEPS
from app.problems.regression import epoch_of_updates

FloatArray = npt.NDArray[np.float64]
Counts = Literal["epochs", "updates"]

# The parameters every schedule (warm-up) or a decaying one (its floor) may have, which
# learning_rates applies itself; the rest are the decay's own.
WARMUP = "warmup_steps"
FLOOR = "alpha_min"


def constant(u: FloatArray) -> FloatArray:
    return np.ones_like(u)


def step(u: FloatArray, every: float, factor: float) -> FloatArray:
    return factor ** np.floor(u / every)


def exponential(u: FloatArray, k: float) -> FloatArray:
    return np.exp(-k * u)


def inverse_time(u: FloatArray, k: float) -> FloatArray:
    return 1.0 / (1.0 + k * u)


def cosine(u: FloatArray, T: float, restarts: float) -> FloatArray:
    """½(1 + cos πp), p = min(u, T)/T; with restarts p = (u mod T)/T (SGDR with a
    constant period)."""
    progress = np.where(restarts > 0, np.mod(u, T), np.minimum(u, T)) / T
    return 0.5 * (1.0 + np.cos(np.pi * progress))


def _anneal(start: FloatArray | float, end: FloatArray | float, pct: FloatArray) -> FloatArray:
    """From ``start`` at pct 0 to ``end`` at pct 1 along half a cosine."""
    return end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1.0)


def one_cycle(
    u: FloatArray, T: float, pct_start: float, div_factor: float, final_div_factor: float
) -> FloatArray:
    """torch.optim's ``OneCycleLR`` (cosine, two phases) over ``T`` updates, as a factor
    of its peak α: up from ``1/div_factor`` to 1 until update ``pct_start·T``, then down
    to ``1/(div_factor·final_div_factor)`` at ``u = T − 1`` and after."""
    rise_end = pct_start * T - 1.0  # the u at which phase 1 ends (torch's end_step)
    fall_end = T - 1.0
    low = 1.0 / div_factor
    floor = low / final_div_factor
    with np.errstate(divide="ignore", invalid="ignore"):
        rising = np.clip(u / rise_end, 0.0, 1.0)
        falling = np.clip((u - rise_end) / (fall_end - rise_end), 0.0, 1.0)
    falling = np.where(fall_end > rise_end, falling, 1.0)  # no fall: already at the floor
    in_rise = (rise_end > 0) & (u <= rise_end)
    return np.where(in_rise, _anneal(low, 1.0, rising), _anneal(1.0, floor, falling))


def warmup_stable_decay(u: FloatArray, T: float, decay_fraction: float) -> FloatArray:
    """1 until the last ``decay_fraction`` of ``T`` updates, then linearly to 0 at
    ``u = T`` (the warm-up in front is ``warmup_steps``')."""
    length = decay_fraction * T
    with np.errstate(divide="ignore", invalid="ignore"):
        linear = np.clip((T - u) / length, 0.0, 1.0)
    return np.where(length > 0, linear, (u < T).astype(np.float64))


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule: its decay ``d(u)`` with the parameters it reads (the decay function's
    own arguments after ``u``, by name), and ``warmup_steps`` / ``alpha_min`` when it
    has them, which ``learning_rates`` applies. ``counts`` is the unit of ``u``."""

    name: str
    label: str
    params: tuple[HyperParam, ...]
    decay: Callable[..., FloatArray]
    counts: Counts
    equation: str
    description: str
    decay_params: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        own = tuple(p.name for p in self.params if p.name not in (WARMUP, FLOOR))
        object.__setattr__(self, "decay_params", own)


# A schedule without a name (or no schedule at all) is this one.
DEFAULT_SCHEDULE = "constant"


def warmup_steps(default: int) -> HyperParam:
    return HyperParam(
        WARMUP,
        "W",
        default,
        0,
        MAX_STEPS,
        step=1,
        kind="int",
        description="updates of linear warm-up: α_t rises from α/W to the schedule's rate "
        "at update W (0: none)",
    )


_W = warmup_steps(0)
_K = HyperParam("k", "k", 0.01, 0.0, 1.0, step=0.001, description="decay rate per epoch")
_T = HyperParam(
    "T",
    "T",
    1000,
    1,
    MAX_STEPS,
    step=1,
    kind="int",
    description="updates the schedule spans",
)
_FLOOR = HyperParam(
    FLOOR,
    r"\alpha_{\min}",
    0.0,
    0.0,
    1.0,
    step=0.0001,
    description="the rate the decay ends at",
)
_WARM = r"w_t = \min(1,\, t/W)"

SCHEDULES: dict[str, ScheduleSpec] = {
    s.name: s
    for s in (
        ScheduleSpec(
            "constant",
            "Constant",
            (_W,),
            constant,
            "epochs",
            r"\alpha_t = w_t\, \alpha, \quad " + _WARM,
            "The same learning rate for every update (after the warm-up, if any).",
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
                _W,
            ),
            step,
            "epochs",
            r"\alpha_t = w_t\, \alpha \cdot \kappa^{\lfloor e / T \rfloor}",
            "Cut the learning rate by a factor every few epochs.",
        ),
        ScheduleSpec(
            "exponential",
            "Exponential decay",
            (_K, _W),
            exponential,
            "epochs",
            r"\alpha_t = w_t\, \alpha\, e^{-k e}",
            "Shrink the learning rate smoothly by a constant ratio per epoch.",
        ),
        ScheduleSpec(
            "inverse_time",
            "Inverse-time decay",
            (_K, _W),
            inverse_time,
            "epochs",
            r"\alpha_t = w_t\, \frac{\alpha}{1 + k e}",
            "Shrink the learning rate like 1/t: fast at first, then slowly.",
        ),
        ScheduleSpec(
            "cosine",
            "Cosine decay",
            (
                _T,
                _FLOOR,
                HyperParam(
                    "restarts",
                    r"\mathrm{restart}",
                    0,
                    0,
                    1,
                    step=1,
                    kind="bool",
                    description="start over from α every T updates (warm restarts)",
                ),
                _W,
            ),
            cosine,
            "updates",
            r"\alpha_t = w_t \left(\alpha_{\min} + \frac{\alpha - \alpha_{\min}}{2}"
            r"\left(1 + \cos \frac{\pi \min(t - 1,\, T)}{T}\right)\right)",
            "Follow half a cosine from α down to α_min over T updates, then stay there; "
            "with restarts, start over every T updates.",
        ),
        ScheduleSpec(
            "one_cycle",
            "One-cycle",
            (
                _T,
                HyperParam(
                    "pct_start",
                    "p",
                    0.3,
                    0.0,
                    1.0,
                    step=0.01,
                    description="share of the T updates spent rising to α",
                ),
                HyperParam(
                    "div_factor",
                    "D",
                    25.0,
                    1.0,
                    1e4,
                    scale="log",
                    step=0.01,
                    description="the first rate is α / D",
                ),
                HyperParam(
                    "final_div_factor",
                    "F",
                    1e4,
                    1.0,
                    1e6,
                    scale="log",
                    step=0.01,
                    description="the last rate is α / (D·F)",
                ),
                _W,
            ),
            one_cycle,
            "updates",
            r"\alpha_t = w_t\, \alpha \cdot \mathrm{cos\,ramp}"
            r"\left(\tfrac{1}{D} \to 1 \to \tfrac{1}{DF}\right),"
            r" \text{ peak at } t = pT",
            "Rise along half a cosine from α/D to α over the first p·T updates, then fall "
            "to α/(D·F) at update T (torch.optim's OneCycleLR).",
        ),
        ScheduleSpec(
            "wsd",
            "Warmup–stable–decay",
            (
                _T,
                HyperParam(
                    "decay_fraction",
                    "f",
                    0.2,
                    0.0,
                    1.0,
                    step=0.01,
                    description="share of the T updates spent decaying, at the end",
                ),
                _FLOOR,
                warmup_steps(100),
            ),
            warmup_stable_decay,
            "updates",
            r"\alpha_t = w_t \left(\alpha_{\min} + (\alpha - \alpha_{\min})"
            r" \min\left(1, \frac{T - (t - 1)}{fT}\right)^{+}\right)",
            "Warm up, hold α, then decay linearly to α_min over the last f·T of T updates.",
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


def schedule_factors(
    schedule: Mapping[str, Any], updates: FloatArray, per_epoch: int
) -> tuple[FloatArray, FloatArray]:
    """Of a resolved schedule over updates ``t`` (1-based): the factor ``f = w_t d`` and
    the addend ``a = w_t α_min (1 − d)`` of ``α_t = α · f + a``, so one evaluation serves
    every run that follows it, whatever its α."""
    spec = SCHEDULES[schedule["name"]]
    u = updates - 1.0 if spec.counts == "updates" else epoch_of_updates(updates, per_epoch)
    decay = spec.decay(u, **{name: float(schedule[name]) for name in spec.decay_params})
    warm = float(schedule.get(WARMUP, 0))
    ramp = np.minimum(1.0, updates / warm) if warm > 0 else np.ones_like(updates)
    floor = float(schedule.get(FLOOR, 0.0))
    return ramp * decay, ramp * floor * (1.0 - decay)


def learning_rates(
    alpha: FloatArray,
    schedules: Sequence[Mapping[str, Any]],
    schedule_of_row: npt.NDArray[np.int64],
    updates: FloatArray,
    per_epoch: int,
) -> FloatArray:
    """``α_t`` for every (update, run), shape ``(len(updates), B)``: ``updates`` are the
    updates' ``t`` and ``per_epoch`` how many make an epoch for these rows.

    ``schedules`` are the distinct schedules of a request and ``schedule_of_row``
    says which one each run follows, so a sweep of thousands of runs that share
    one schedule evaluates its decay once.
    """
    updates = np.asarray(updates, dtype=np.float64)
    factors = np.empty((updates.shape[0], len(schedules)))
    addends = np.empty_like(factors)
    for column, schedule in enumerate(schedules):
        factors[:, column], addends[:, column] = schedule_factors(schedule, updates, per_epoch)
    if len(schedules) == 1:
        # The same sums, without gathering a column B times.
        return alpha[None, :] * factors + addends
    return alpha[None, :] * factors[:, schedule_of_row] + addends[:, schedule_of_row]
