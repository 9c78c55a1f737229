"""Where the API's heavy work runs.

Sweeps and surface grids can each take seconds of a core. They queue for their
own small limiter, so they never occupy the thread pool that every stream's
chunks go through: a class keeps streaming while a teacher sweeps.
"""

from __future__ import annotations

import asyncio

from anyio import CapacityLimiter

HEAVY_SLOTS = 1
_heavy_limiters: dict[int, CapacityLimiter] = {}


def heavy_limiter() -> CapacityLimiter:
    """The limiter of heavy jobs for the running event loop (made on first use)."""
    loop = id(asyncio.get_running_loop())
    if loop not in _heavy_limiters:
        _heavy_limiters[loop] = CapacityLimiter(HEAVY_SLOTS)
    return _heavy_limiters[loop]
