"""Give memory the server has freed back to the system.

The engine's answers and the stream's chunks are allocated and freed from worker
threads, megabytes at a time. glibc's allocator keeps what is freed in its arenas
for reuse, scattered between live blocks, so after a burst a process can stay
hundreds of MB above where it started though nothing is in use any more
(benchmarks/abuse.py: 40 streams whose clients never read held 86 MB after they
were all dropped). ``malloc_trim(0)`` returns those free pages; the server calls
it every few seconds, off the event loop. (The Dockerfile also caps glibc's
arenas at two: ``MALLOC_ARENA_MAX``.) Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from functools import lru_cache

from anyio import to_thread

log = logging.getLogger(__name__)

TRIM_SECONDS = 5.0


@lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


def trim() -> None:
    """Return the allocator's free pages to the system (glibc only)."""
    malloc_trim = _malloc_trim()
    if malloc_trim is not None:
        malloc_trim(0)


async def trim_every(seconds: float = TRIM_SECONDS) -> None:
    """Trim every ``seconds`` until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await to_thread.run_sync(trim)
        except Exception:  # noqa: BLE001 - never worth ending the server for
            log.exception("giving memory back to the system failed")
            return
