"""Class mode's parts, made at start-up and kept in ``app.state.classes``: the
database (migrated), the broker and this replica's followers, the per-address
limits, and the retention sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import Counter, OrderedDict, deque

from app.api.streaming import TokenBucket
from app.classes.broker import broker_for
from app.classes.followers import Followers
from app.classes.store import ClassError, Database
from app.limits import (
    CLASSES_PER_HOUR,
    JOINS_PER_MINUTE,
    MAX_UNKNOWN_CODES,
    UNKNOWN_CODES_WINDOW_SECONDS,
)
from app.settings import Settings

log = logging.getLogger("uvicorn.error")

# Addresses a window remembers at most; the least recently seen is forgotten first,
# so a flood of addresses holds bounded memory.
MAX_ADDRESSES = 10_000


class AddressWindow:
    """At most ``limit`` events an address within ``seconds`` (this replica's count)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.events: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float]:
        events = self.events.pop(address, None) or deque()
        while events and events[0] <= now - self.seconds:
            events.popleft()
        self.events[address] = events
        if len(self.events) > MAX_ADDRESSES:
            self.events.popitem(last=False)
        return events

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may again, or None when it may now."""
        now = time.monotonic()
        events = self._recent(address, now)
        if len(events) < self.limit:
            return None
        return max(1, int(events[-self.limit] + self.seconds - now) + 1)

    def count(self, address: str) -> None:
        self._recent(address, time.monotonic()).append(time.monotonic())


def limited(window: AddressWindow, address: str, detail: str) -> None:
    wait = window.retry_after(address)
    if wait is not None:
        raise ClassError(429, f"{detail}; retry in {wait} s", headers={"Retry-After": str(wait)})


class ClassBuckets:
    """A token bucket per class (this replica's): the teacher's HTTP writes are held to
    the rate of the class socket's messages. The least recently used is forgotten
    first, so a flood of classes holds bounded memory."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, code: str) -> None:
        """Take one write of class ``code``, or raise ClassError 429."""
        bucket = self.buckets.pop(code, None) or TokenBucket(self.rate, self.burst)
        self.buckets[code] = bucket
        if len(self.buckets) > MAX_ADDRESSES:
            self.buckets.popitem(last=False)
        if not bucket.take():
            wait = max(1, int(1 / self.rate + 0.999))
            raise ClassError(
                429,
                f"too many changes to class {code}: at most {self.rate:g} a second "
                f"(bursts of {self.burst}); retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )


class Classes:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(settings.database)
        self.broker = broker_for(self.database)
        self.followers = Followers(self.database)
        self.unknown_codes = AddressWindow(MAX_UNKNOWN_CODES, UNKNOWN_CODES_WINDOW_SECONDS)
        self.joins = AddressWindow(JOINS_PER_MINUTE, 60.0)
        self.creations = AddressWindow(CLASSES_PER_HOUR, 3600.0)
        self.sweeping: asyncio.Task[None] | None = None
        self.open_sockets = 0  # /ws/classes/{code} on this process
        self.sockets_by_address: Counter[str] = Counter()
        self.teacher_writes = ClassBuckets(settings.ws_rate, settings.ws_burst)
        # student id → the lock their submissions take one at a time (kept while used).
        self.submitting: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def submission_lock(self, student_id: int) -> asyncio.Lock:
        """Held from a student's rate check to their submission's insert: submissions
        sent at once are checked one after another, each seeing the ones before."""
        lock = self.submitting.get(student_id)
        if lock is None:
            lock = self.submitting[student_id] = asyncio.Lock()
        return lock

    async def start(self) -> None:
        await self.database.start()
        await self.broker.start(self.followers.deliver, self.followers.resync)
        self.sweeping = asyncio.create_task(self._sweep_every())

    async def publish(self, code: str, *kinds: str, origin: str = "") -> None:
        for kind in kinds:
            await self.broker.publish(code, kind, origin)

    async def sweep(self, now: float | None = None) -> list[str]:
        retention = self.settings.class_retention_hours * 3600.0
        deleted = await self.database.call(self.database.store.sweep, retention, now)
        if deleted:
            log.info("deleted %d classes past their retention", len(deleted))
        for code in deleted:
            # Every replica's room reads the class, finds it gone and closes its sockets.
            await self.publish(code, "ended")
        return deleted

    async def _sweep_every(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("the class retention sweep failed; next one as usual")
            await asyncio.sleep(self.settings.class_sweep_seconds)

    async def close(self) -> None:
        if self.sweeping is not None:
            self.sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sweeping
        await self.broker.close()
        await self.followers.close()
        self.database.close()
