"""When a run counts as converged, and when it blew up: the rules behind
``converged_at`` and ``blew_up_at`` (docs/API.md, Convergence).

Both read the run's losses ``loss_0, loss_1, …`` (the noiseless objective at
each point) against ``min``, the problem's known minimum value (for a
regression, the loss at the data's best fit).

**Converged.** Update ``t`` is *within tolerance* when its gauge ``g_t`` is:

- noiseless problems (surfaces with ``noise = 0``, full-batch regression):
  ``g_t = loss_t`` and ``g_t − min ≤ 1e-6 · max(1, |min|)``;
- noisy problems (gradient noise, minibatches), whose loss jitters for ever:
  ``g_t`` is the mean of the last ``WINDOW`` (50) losses, ``loss_{t−49} … loss_t``
  (fewer at the start: ``loss_0 … loss_t``), and ``g_t − min ≤ 1e-3 · max(1, |min|)``.
  A plain window forgets the steep start after 50 updates, so the gauge tracks
  the raw loss with a lag of at most 50 updates, and averages 50 updates of jitter.

``converged_at`` is the first update from which every later update, through the
run's last, is within tolerance (``0``: from the start); a run that leaves the
tolerance again has not converged (until it comes back to stay), and a run that
diverged has not converged. Problems with no known minimum value (separable
logistic data) never converge.

**Blew up.** ``blew_up_at`` is the first update ``t`` with
``loss_t − min > 1e6 · max(loss_0 − min, max(1, |min|))``: the run is a million
times further from the minimum than where it started (or than the problem's
scale, for a start at the minimum). That is beyond any loss inside a surface's
plot window, so only a run that runs away counts; it keeps running (unlike a
divergence, which stops it when a coordinate leaves ±1e6 or turns non-finite).
With no known minimum, ``min = 0`` here (every loss is at least 0).

Both rules see one update at a time, with a little state per row between
chunks (the window, the update the run last entered the tolerance), so any
chunking of a run gives the same answer. ``scan`` is written once, in plain
Python: the numpy backend runs it as it is, the compiled backend compiles it
with numba.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from app.backends import threads

EXACT_TOLERANCE = 1e-6
NOISY_TOLERANCE = 1e-3
# A typed formula has no known minimum: its gauge is the gradient's norm ‖∇f‖, within
# tolerance below these. They are the loss rule's on the bowl ½‖x‖², where
# ‖∇f‖ = √(2 (f − min)): √(2·10⁻⁶) ≈ 1.4·10⁻³ and √(2·10⁻³) ≈ 0.045.
GRADIENT_TOLERANCES = (math.sqrt(2 * EXACT_TOLERANCE), math.sqrt(2 * NOISY_TOLERANCE))
WINDOW = 50
BLOW_UP_FACTOR = 1e6

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def scan(
    losses,
    column,
    kept,
    first_update,
    targets,
    limits,
    windows,
    ring,
    slots,
    filled,
    sums,
    inside_since,
    blew_up_at,
):
    """Feed row ``r``'s losses ``losses[r, column : column + kept[r]]`` (updates
    ``first_update …``) to both rules, updating the per-row state in place:
    ``inside_since`` (the update the run last entered the tolerance, −1 while
    outside) and ``blew_up_at`` (−1 until it blows up); ``ring``, ``slots``,
    ``filled``, ``sums`` hold the last ``windows[r]`` losses and their sum."""
    for row in range(losses.shape[0]):
        width = windows[row]
        target = targets[row]
        limit = limits[row]
        since = inside_since[row]
        blew = blew_up_at[row]
        slot = slots[row]
        count = filled[row]
        total = sums[row]
        for k in range(kept[row]):
            value = losses[row, column + k]
            t = first_update + k
            if blew < 0 and value > limit:
                blew = t
            if width == 1:
                gauge = value
            else:
                total += value - ring[row, slot]
                ring[row, slot] = value
                slot += 1
                if count < width:
                    count += 1
                if slot == width:
                    # Once a lap, the sum is added up afresh: the running sum never drifts.
                    slot = 0
                    total = 0.0
                    for j in range(width):
                        total += ring[row, j]
                gauge = total / count
            if gauge <= target:
                if since < 0:
                    since = t
            else:
                since = -1
        inside_since[row] = since
        blew_up_at[row] = blew
        slots[row] = slot
        filled[row] = count
        sums[row] = total


# nogil: a sweep scans millions of losses, and the event loop keeps running meanwhile.
compiled_scan = numba.njit(cache=True, nogil=True)(scan)


class Tracker:
    """Follows every row's losses, chunk by chunk, for ``converged_at`` and ``blew_up_at``."""

    def __init__(
        self,
        min_value: float | None,
        noisy: npt.NDArray[np.bool_],
        start_losses: FloatArray,
        compiled: bool = True,
        tolerances: tuple[float, float] = (EXACT_TOLERANCE, NOISY_TOLERANCE),
    ) -> None:
        """``noisy`` says, per row, whether its gradients are noisy (it may vary by row).
        ``compiled``: scan with the numba kernel (else the plain Python function).
        ``tolerances``: (noiseless, noisy), before the scale max(1, |min|); the gradient
        rule of a typed formula gives its own (``GRADIENT_TOLERANCES``) and its gauges
        (‖∇f‖ at each point) in place of the losses."""
        count = len(start_losses)
        floor = 0.0 if min_value is None else float(min_value)
        scale = max(1.0, abs(floor))
        exact, noisy_tolerance = tolerances
        tolerance = np.where(noisy, noisy_tolerance, exact) * scale
        # No known minimum: no update is ever within tolerance.
        self.targets = floor + tolerance if min_value is not None else np.full(count, -np.inf)
        start = np.asarray(start_losses, dtype=np.float64).reshape(count)
        self.limits = floor + BLOW_UP_FACTOR * np.maximum(start - floor, scale)
        self.windows = np.where(noisy, WINDOW, 1).astype(np.int64)
        self.ring = np.zeros((count, WINDOW if noisy.any() else 1))
        self.slots = np.zeros(count, dtype=np.int64)
        self.filled = np.zeros(count, dtype=np.int64)
        self.sums = np.zeros(count)
        self.inside_since = np.full(count, -1, dtype=np.int64)
        self.blew_up = np.full(count, -1, dtype=np.int64)
        self.scan_rows = compiled_scan if compiled else scan
        # What scan reads and updates per row, in its argument order.
        self._per_row = (
            self.targets,
            self.limits,
            self.windows,
            self.ring,
            self.slots,
            self.filled,
            self.sums,
            self.inside_since,
            self.blew_up,
        )
        # Update 0 is scanned with the first chunk: building a tracker (as the surface
        # route's numpy-only Execution does) never waits for the compiled kernel.
        self._start: FloatArray | None = start.reshape(count, 1).copy()

    def observe(self, losses: FloatArray, column: int, kept: IntArray, first_update: int) -> None:
        """Scan ``losses[r, column : column + kept[r]]``, the losses of updates
        ``first_update …`` of row ``r``. ``losses`` is a C-contiguous (B, n) float64 buffer."""
        self._observe_start()
        self._scan(losses, column, kept, first_update)

    def converged_at(self, diverged_at: IntArray) -> IntArray:
        """Per row, the update from which it stayed within tolerance, or −1."""
        self._observe_start()
        return np.where(diverged_at == 0, self.inside_since, -1)

    @property
    def blew_up_at(self) -> IntArray:
        """Per row, the first update whose loss broke the blow-up limit, or −1."""
        self._observe_start()
        return self.blew_up

    def _observe_start(self) -> None:
        if self._start is not None:
            start, self._start = self._start, None
            self._scan(start, 0, np.ones(len(start), dtype=np.int64), 0)

    def _scan(self, losses: FloatArray, column: int, kept: IntArray, first_update: int) -> None:
        kept = np.ascontiguousarray(kept, dtype=np.int64)

        def rows(low: int, high: int) -> None:
            # Row slices of C-contiguous arrays: the one layout the kernel is compiled for.
            self.scan_rows(
                losses[low:high],
                int(column),
                kept[low:high],
                int(first_update),
                *(array[low:high] for array in self._per_row),
            )

        if self.scan_rows is scan:
            rows(0, len(kept))
        else:  # the compiled kernel releases the GIL: a sweep's rows scan on every core
            threads.over_rows(len(kept), int(kept.sum()), rows)
