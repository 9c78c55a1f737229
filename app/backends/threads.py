"""Every core on one batch: its rows split between threads.

The compiled loops release the GIL and rows never read each other, so a large
batch (a sweep) is cut into contiguous stretches of rows, one per thread, each
advanced by the same kernel on its own rows; the answer is the same bit for bit
whatever the split. Small batches stay on the calling thread: handing work to
another thread costs tens of microseconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

# Row·update units below which a batch is not split (≈ 1 ms of the compiled loops).
MIN_PARALLEL_WORK = 200_000

_threads = 0  # 0: every core this process may run on
_pool: ThreadPoolExecutor | None = None


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure(threads: int) -> None:
    """Use ``threads`` threads for one batch (0: every available core)."""
    global _threads, _pool
    if threads < 0:
        raise ValueError("threads must be 0 (every core) or more")
    _threads = threads
    if _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None


def count() -> int:
    """How many threads one batch uses."""
    return _threads or available_cores()


def over_rows(rows: int, work: int, run: Callable[[int, int], None], align: int = 1) -> None:
    """``run(low, high)`` over stretches of ``[0, rows)`` that together cover it, in
    parallel when ``work`` (row·update units) is worth it. Stretch boundaries are
    multiples of ``align`` (the loop's block of rows)."""
    global _pool
    parts = min(count(), -(-rows // max(1, align)), max(1, work // MIN_PARALLEL_WORK))
    if parts <= 1:
        run(0, rows)
        return
    per_part = -(-rows // parts)
    per_part = -(-per_part // align) * align
    bounds = [(low, min(rows, low + per_part)) for low in range(0, rows, per_part)]
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=count() - 1, thread_name_prefix="engine")
    others = [_pool.submit(run, low, high) for low, high in bounds[1:]]
    try:
        run(*bounds[0])
    finally:
        for future in others:
            future.result()
