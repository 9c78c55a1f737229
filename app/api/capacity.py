"""Where the API's work runs: a few worker threads, shared fairly between clients.

Every piece of engine work — a ``POST /api/runs``, a surface grid, each chunk of a
sweep, each chunk of a stream — runs in a worker thread holding one of
``slots`` *turns*. Turns go round the clients that wait for one, one turn
each in their order of arrival (a client is a remote address for HTTP, a
connection for the stream), so a client with forty requests queued, or a
sweep that takes thousands of chunks, cannot hold back the next client by more
than one turn per slot. Health, readiness, the catalog and the pages never wait
here: they run on the event loop and compute nothing.

An HTTP request is *admitted* first (``admit``): it reserves the points its
answer will hold in memory (paths, losses, grid cells; 24 bytes each) from a
budget shared by every request in flight, until its answer is sent, and gets
its first turn. A request that cannot be admitted within ``max_wait`` seconds,
or that finds ``max_queued`` requests (``max_queued_per_client`` of its own
client's) already waiting, is refused with :class:`Busy` — 503 with
``Retry-After`` — instead of piling up. Streams are never refused mid-run: a
stream's chunks wait their turn (the number of streams has its own cap).

Everything here runs on the event loop's thread: no locks, only futures.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread

T = TypeVar("T")


class Busy(Exception):
    """The server is at capacity: retry after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class ClientGone(Exception):
    """The client left while its request waited: nothing more to do for it."""


@dataclass
class _Waiter:
    client: Hashable
    future: asyncio.Future[None]
    points: int = 0


class _RoundRobin:
    """Waiters grouped by client; ``pop`` takes the next client's oldest waiter that
    ``fits``, and moves that client to the back of the round."""

    def __init__(self) -> None:
        self.queues: dict[Hashable, deque[_Waiter]] = {}

    def push(self, waiter: _Waiter) -> None:
        self.queues.setdefault(waiter.client, deque()).append(waiter)

    def remove(self, waiter: _Waiter) -> None:
        queue = self.queues.get(waiter.client)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self.queues[waiter.client]

    def pop(self, fits: Callable[[_Waiter], bool] = lambda waiter: True) -> _Waiter | None:
        for client in list(self.queues):
            queue = self.queues[client]
            if fits(queue[0]):
                waiter = queue.popleft()
                del self.queues[client]
                if queue:
                    self.queues[client] = queue  # to the back of the round
                return waiter
        return None


@dataclass
class Ticket:
    """An admitted request: its first turn is already granted."""

    gate: ComputeGate
    client: Hashable
    granted: bool = True
    points: int = 0

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker thread, on this request's next turn."""
        if self.granted:
            self.granted = False
            return await self.gate._run_granted(function, *args)
        return await self.gate.run(self.client, function, *args)


class ComputeGate:
    def __init__(
        self,
        slots: int,
        points: int,
        max_queued: int,
        max_queued_per_client: int,
        max_wait: float,
    ) -> None:
        self.slots = slots
        self.points = points
        self.max_queued = max_queued
        self.max_queued_per_client = max_queued_per_client
        self.max_wait = max_wait
        self.free_slots = slots
        self.free_points = points
        self._turns = _RoundRobin()
        self._reservations = _RoundRobin()
        self._admitting: dict[Hashable, int] = {}
        self._threads: CapacityLimiter | None = None

    # -- what a caller sees --------------------------------------------------------------

    @property
    def retry_after(self) -> int:
        """The seconds a refused client is asked to wait: half the longest queue wait."""
        return max(1, math.ceil(self.max_wait / 2))

    @property
    def queued(self) -> int:
        return sum(self._admitting.values())

    async def run(self, client: Hashable, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker thread once ``client``'s turn comes (no deadline)."""
        await self._take_turn(client, None, None)
        return await self._run_granted(function, *args)

    @asynccontextmanager
    async def admit(
        self, client: Hashable, points: int, abandoned: asyncio.Future[Any] | None = None
    ) -> AsyncIterator[Ticket]:
        """Admit one request of ``client`` whose answer holds ``points`` points.

        Raises :class:`Busy` when too many requests already wait or admission takes
        longer than ``max_wait``; :class:`ClientGone` if the future ``abandoned`` (the
        caller's: done when the client disconnects) completes first. The points stay
        reserved until the block exits.
        """
        if self.queued >= self.max_queued:
            raise Busy(
                f"the server is busy: {self.queued} requests are waiting; "
                f"retry in {self.retry_after} s",
                self.retry_after,
            )
        if self._admitting.get(client, 0) >= self.max_queued_per_client:
            raise Busy(
                f"too many requests of yours are waiting (at most {self.max_queued_per_client}); "
                f"retry in {self.retry_after} s",
                self.retry_after,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        points = min(max(0, points), self.points)
        self._admitting[client] = self._admitting.get(client, 0) + 1
        reserved = ticket = None
        try:
            await self._reserve(client, points, deadline, abandoned)
            reserved = points
            await self._take_turn(client, deadline, abandoned)
            ticket = Ticket(self, client, points=points)
        finally:
            self._admitting[client] -= 1
            if not self._admitting[client]:
                del self._admitting[client]
            if ticket is None and reserved is not None:
                self._return_points(reserved)
        try:
            yield ticket
        finally:
            if ticket.granted:
                self._release_slot()
            self._return_points(points)

    # -- slots -------------------------------------------------------------------------

    async def _run_granted(self, function: Callable[..., T], *args: Any) -> T:
        if self._threads is None:
            self._threads = CapacityLimiter(self.slots)
        try:
            return await to_thread.run_sync(function, *args, limiter=self._threads)
        finally:
            self._release_slot()

    async def _take_turn(
        self, client: Hashable, deadline: float | None, abandoned: asyncio.Future[Any] | None
    ) -> None:
        if self.free_slots and not self._turns.queues:
            self.free_slots -= 1
            return
        waiter = _Waiter(client, asyncio.get_running_loop().create_future())
        self._turns.push(waiter)
        await self._wait(waiter, deadline, abandoned, self._turns, self._release_slot)

    def _release_slot(self) -> None:
        self.free_slots += 1
        while self.free_slots:
            waiter = self._turns.pop()
            if waiter is None:
                return
            self.free_slots -= 1
            waiter.future.set_result(None)

    # -- points ------------------------------------------------------------------------

    async def _reserve(
        self, client: Hashable, points: int, deadline: float, abandoned: asyncio.Future[Any] | None
    ) -> None:
        # Whatever fits is taken at once, even past a larger request that waits: small
        # answers never queue behind a big one (which is refused if it waits too long).
        if points <= self.free_points:
            self.free_points -= points
            return
        waiter = _Waiter(client, asyncio.get_running_loop().create_future(), points)
        self._reservations.push(waiter)
        await self._wait(
            waiter, deadline, abandoned, self._reservations, lambda: self._return_points(points)
        )

    def _return_points(self, points: int) -> None:
        self.free_points += points
        while True:
            waiter = self._reservations.pop(lambda w: w.points <= self.free_points)
            if waiter is None:
                return
            self.free_points -= waiter.points
            waiter.future.set_result(None)

    # -- waiting -----------------------------------------------------------------------

    async def _wait(
        self,
        waiter: _Waiter,
        deadline: float | None,
        abandoned: asyncio.Future[Any] | None,
        queue: _RoundRobin,
        give_back: Callable[[], None],
    ) -> None:
        """Wait for ``waiter`` to be granted; on a timeout, a departure or a
        cancellation, leave the queue (or give back what was granted meanwhile)."""
        loop = asyncio.get_running_loop()
        watched: set[asyncio.Future[Any]] = {waiter.future}
        if abandoned is not None:
            watched.add(abandoned)
        try:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            self._abandon(waiter, queue, give_back)
            raise
        if waiter.future.done():
            return
        self._abandon(waiter, queue, give_back)
        if abandoned is not None and abandoned.done():
            raise ClientGone()
        raise Busy(
            f"the server is busy: not started within {self.max_wait:g} s; "
            f"retry in {self.retry_after} s",
            self.retry_after,
        )

    @staticmethod
    def _abandon(waiter: _Waiter, queue: _RoundRobin, give_back: Callable[[], None]) -> None:
        if waiter.future.done() and not waiter.future.cancelled():
            give_back()  # granted just as we gave up: hand it on
        else:
            waiter.future.cancel()
            queue.remove(waiter)
