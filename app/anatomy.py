"""A step's anatomy: why each update moved as it did (docs/API.md, Anatomy).

For every update ``t`` of a run asked for with ``"anatomy": true`` the engine
keeps the gradient the rule used, where it was taken (a look-ahead rule's
look-ahead point), the scheduled rate ``α_t``, the rule's state after the
update and its effective learning rate: per coordinate, the factor between the
rule's direction and its step, ``x_t − x_{t−1} = −effective_lr · direction``.

The backends record all but ``α_t`` while they step (``app.backends.Recording``):
the effective rate is each rule's own ``effective_lr`` function (``OptimizerSpec``),
which the compiled loop calls where it holds the state before and after an update
(a numpy pass over a chunk afterwards cost as much again as the whole loop);
``α_t`` is the rates they were given. Nothing here knows a rule: a rule added to
the registry brings its functions and symbols along.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.backends import Recording
from app.optim.base import OptimizerSpec
from app.optim.registry import state_slots

FloatArray = npt.NDArray[np.float64]


@dataclass
class RunAnatomy:
    """One run's anatomy over some updates: entry ``k`` is the ``k``-th of them."""

    grad: FloatArray  # (m, 2): the gradient the rule used
    lookahead: FloatArray | None  # (m, 2): where it was taken, for a rule with a look-ahead
    alpha_t: FloatArray  # (m,): the scheduled learning rate
    state: dict[str, FloatArray]  # the rule's symbol → (m, 2): the state after the update
    effective_lr: FloatArray  # (m, 2)

    @classmethod
    def none(cls, spec: OptimizerSpec) -> RunAnatomy:
        """No updates (the start point's chunk)."""
        return AnatomyBuffers(1, 0).run(0, 0, 0, spec)


class AnatomyBuffers:
    """The anatomy of B rows over ``columns`` updates, laid out as a path buffer: update
    ``k`` of a call into column ``column + k``."""

    def __init__(self, rows: int, columns: int) -> None:
        self.grad = np.empty((rows, columns, 2))
        self.at = np.empty((rows, columns, 2))
        self.state = np.empty((rows, columns, state_slots(), 2))
        self.alpha = np.empty((rows, columns))
        self.effective_lr = np.empty((rows, columns, 2))

    def recording(self) -> Recording:
        """The buffers a backend fills while it steps."""
        return Recording(
            grad=self.grad, at=self.at, state=self.state, effective_lr=self.effective_lr
        )

    def add_rates(self, rates: FloatArray, column: int) -> None:
        """``α_t`` of the updates a backend has just recorded from column ``column`` on
        (``rates``: (count, B), as the backend was given them)."""
        self.alpha[:, column : column + rates.shape[0]] = rates.T

    def run(self, row: int, column: int, count: int, spec: OptimizerSpec) -> RunAnatomy:
        """Row ``row``'s anatomy over columns ``column … column + count − 1`` (views)."""
        columns = slice(column, column + count)
        return RunAnatomy(
            grad=self.grad[row, columns],
            lookahead=self.at[row, columns] if spec.lookahead is not None else None,
            alpha_t=self.alpha[row, columns],
            state={
                spec.symbols[name]: self.state[row, columns, slot]
                for slot, name in enumerate(spec.state)
            },
            effective_lr=self.effective_lr[row, columns],
        )
