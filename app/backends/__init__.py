"""The two backends that make a batch of runs' updates, side by side.

- ``app.backends.numpy``: the readable reference. Rows with the same optimiser
  share one vectorised update and one gradient call serves every row.
- ``app.backends.compiled``: one numba loop over rows and updates, calling the
  same elementwise rules and gradients on scalars; near the hardware floor at
  classroom sizes, where numpy is all call overhead. Its dispatch is generated
  from the registries (``app.backends.kernel_source``).

Both expose ``advance(inputs, out_path, out_loss, out_gauge, column)`` over the same
plain ``StepInputs``, and tests prove they agree. Given a ``Recording`` they also keep
what each update used and left behind (its anatomy: app/anatomy.py). Neither knows about requests or
``app.engine``: the engine builds the inputs and picks a backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.problems.base import Problem
from app.problems.regression import Batches

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class Recording:
    """What a backend keeps of each update besides the position, written like the
    path: update ``k`` of a call into column ``column + k`` (whole C-contiguous
    float64 buffers, as the path's)."""

    grad: FloatArray  # (B, n, 2): the gradient the rule used, noise included
    at: FloatArray  # (B, n, 2): where it was taken (the look-ahead point, else x_{t−1})
    state: FloatArray  # (B, n, state slots, 2): every state slot after the update
    effective_lr: FloatArray  # (B, n, 2): the rule's effective_lr (its OptimizerSpec)


@dataclass
class StepInputs:
    """What a backend reads to make ``len(rates)`` updates of every row (B rows), and
    the rows' state, which it advances in place. Arrays are C-contiguous float64 or
    int64: the compiled loops are compiled for that layout alone."""

    problem: Problem  # the loss: its gradient, value or per-sample loss
    x: FloatArray  # (B, 2) positions, advanced in place
    state: FloatArray  # (B, state slots, 2): each rule's state, in its signature's order
    diverged_at: IntArray  # (B,) 0 while running, else the update that diverged (set here)
    optimizer_ids: IntArray  # (B,) index into OPTIMIZERS
    hyper: FloatArray  # (B, hyper slots): the hyper-parameters after alpha, in order
    rates: FloatArray  # (count, B): α_t of each update and row
    first_update: int  # t of the first of these updates (1-based)
    noise: FloatArray  # (count, 2): ξ_t, the same for every row
    sigma: float  # the gradient noise's scale
    data_x: FloatArray  # a regression's samples (empty on a surface)
    data_y: FloatArray
    batches: Batches  # which samples each update reads, per batch-size group
    batch_of_row: IntArray  # (B,) index into the batch-size groups
    max_coordinate: float  # a row that leaves ±this, or turns non-finite, diverges
    stopped_at: FloatArray  # (B, 2) where a row that diverged could not go (set here)
    recording: Recording | None = None  # filled in as well, when given
