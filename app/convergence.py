"""When a run counts as converged: the rule behind ``converged_at``.

A run converges at the first update ``t`` whose loss is within a tolerance of
the problem's known minimum value (for regression, the loss at the data's
best fit):

- noiseless problems (surfaces with ``noise = 0``, full-batch regression):
  ``loss_t − min ≤ 1e-6 · max(1, |min|)``;
- noisy problems (gradient noise, minibatches), whose loss never settles:
  the same test on an exponential moving average of the loss,
  ``m_t = 0.99 m_{t−1} + 0.01 loss_t`` (about 100 updates of memory) with
  ``m_0 = loss_0``, and a looser tolerance ``1e-3 · max(1, |min|)``.

``converged_at = 0`` means the start already qualifies. A run that converges
and later diverges keeps its ``converged_at``. Problems with no known minimum
value (separable logistic data) never report convergence.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

EXACT_TOLERANCE = 1e-6
NOISY_TOLERANCE = 1e-3
SMOOTHING = 0.99

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@numba.njit(cache=True, nogil=True)
def _first_hits(losses, kept, first_update, targets, smoothing, smoothed, converged_at):
    for row in range(losses.shape[0]):
        for k in range(kept[row]):
            value = losses[row, k]
            if smoothing[row] > 0.0:
                value = smoothing[row] * smoothed[row] + (1.0 - smoothing[row]) * value
                smoothed[row] = value
            if converged_at[row] < 0 and value <= targets[row]:
                converged_at[row] = first_update + k
                if smoothing[row] == 0.0:
                    break


class Tracker:
    """Follows every row's losses, chunk by chunk, and records the first hit."""

    def __init__(
        self, min_value: float | None, noisy: npt.NDArray[np.bool_], start_losses: FloatArray
    ) -> None:
        """``noisy`` says, per row, whether its gradients are noisy (it may vary by row)."""
        self.enabled = min_value is not None
        scale = max(1.0, abs(min_value)) if min_value is not None else 1.0
        tolerance = np.where(noisy, NOISY_TOLERANCE, EXACT_TOLERANCE)
        self.targets = (min_value or 0.0) + tolerance * scale
        self.smoothing = np.where(noisy, SMOOTHING, 0.0)
        self.smoothed = np.array(start_losses, dtype=np.float64)

    def observe_start(self, converged_at: IntArray) -> None:
        if self.enabled:
            converged_at[self.smoothed <= self.targets] = 0

    def observe(
        self, losses: FloatArray, kept: IntArray, first_update: int, converged_at: IntArray
    ) -> None:
        if self.enabled:
            _first_hits(
                losses,
                kept.astype(np.int64),
                first_update,
                self.targets,
                self.smoothing,
                self.smoothed,
                converged_at,
            )
