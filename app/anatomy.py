"""A step's anatomy: why each update moved as it did (docs/API.md, Anatomy).

For every update ``t`` of a run asked for with ``"anatomy": true`` the engine
keeps the gradient the rule used, where it was taken (a look-ahead rule's
look-ahead point), the scheduled rate ``α_t``, the rule's state after the
update and its effective learning rate: per coordinate, the factor between the
rule's direction and its step, ``x_t − x_{t−1} = −effective_lr · direction``.

The backends record the first three while they step (``app.backends.Recording``);
``α_t`` is the rates they were given; the effective rate is each rule's own
``effective_lr`` function (``OptimizerSpec``), evaluated here with numpy over a
chunk's rows × updates at once, from the recorded state. Nothing here knows a
rule: a rule added to the registry brings its functions and symbols along.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.backends import Recording
from app.optim.base import PREVIOUS, OptimizerSpec
from app.optim.registry import OPTIMIZERS, state_slots

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


def evaluate(
    spec: OptimizerSpec,
    role: str,
    grad: FloatArray,
    after: FloatArray,
    before: FloatArray,
    first_update: int,
    rates: FloatArray,
    hyper: FloatArray,
) -> FloatArray:
    """``spec``'s ``role`` function (``"direction"`` or ``"effective_lr"``) for r rows over
    n updates, as arrays: ``grad`` (r, n, 2); ``after`` (r, n, slots, 2), the state after
    each update; ``before`` (r, slots, 2), the state before the first; ``rates`` (r, n),
    ``α_t``; ``hyper`` (r, hyper slots). Returns (r, n, 2)."""
    reads = spec.reads[role]
    arguments = [grad]
    for name in reads.state:
        if name.startswith(PREVIOUS):
            slot = spec.state.index(name.removeprefix(PREVIOUS))
            arguments.append(np.concatenate([before[:, None, slot], after[:, :-1, slot]], axis=1))
        else:
            arguments.append(after[:, :, spec.state.index(name)])
    t = np.arange(first_update, first_update + grad.shape[1], dtype=np.float64)
    arguments += [t[None, :, None], rates[:, :, None]]
    arguments += [hyper[:, spec.hyper_names.index(name), None, None] for name in reads.hyper]
    with np.errstate(all="ignore"):  # a diverged row's slots hold whatever they hold
        return np.broadcast_to(getattr(spec, role)(*arguments), grad.shape)


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
        return Recording(grad=self.grad, at=self.at, state=self.state)

    def complete(
        self,
        optimizer_ids: npt.NDArray[np.int64],
        hyper: FloatArray,
        before: FloatArray,
        rates: FloatArray,
        first_update: int,
        column: int,
    ) -> None:
        """A backend has recorded ``len(rates)`` updates from column ``column`` on: add
        ``α_t`` (``rates``: (count, B)) and every rule's effective rate, from its state
        (``before``: (B, slots, 2), the rows' state before these updates)."""
        columns = slice(column, column + rates.shape[0])
        self.alpha[:, columns] = rates.T
        for index, spec in enumerate(OPTIMIZERS.values()):
            rows = np.flatnonzero(optimizer_ids == index)
            if len(rows):
                self.effective_lr[rows, columns] = evaluate(
                    spec,
                    "effective_lr",
                    self.grad[rows, columns],
                    self.state[rows, columns],
                    before[rows],
                    first_update,
                    rates.T[rows],
                    hyper[rows],
                )

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
