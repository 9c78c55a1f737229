"""How every replica learns that a class changed (docs/DEPLOY.md, Classes).

An event is a class code and a kind (``scene``, ``challenge``, ``leaderboard``,
``roster``, ``ended``), and the socket that caused it if any; receivers read the
state itself from the database, so an event is small and a late one harmless.

- :class:`LocalBroker`: one process (SQLite): events go straight to this process's
  followers.
- :class:`PostgresBroker`: ``NOTIFY`` on a channel every replica ``LISTEN``s on,
  through a connection of its own that reconnects when it drops; after a
  reconnection every class followed here is read again, since events may have been
  missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.classes.store import Database

log = logging.getLogger(__name__)

KINDS = ("scene", "challenge", "leaderboard", "roster", "ended")
CHANNEL = "descentlab_classes"
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)

# (code, kind, origin): origin is the id of the socket that made the change, or "".
Deliver = Callable[[str, str, str], None]
# Every class followed here changed (the events of a gap are unknown).
Resync = Callable[[], None]


class LocalBroker:
    def __init__(self) -> None:
        self.deliver: Deliver | None = None

    async def start(self, deliver: Deliver, resync: Resync) -> None:
        self.deliver = deliver

    async def publish(self, code: str, kind: str, origin: str = "") -> None:
        if self.deliver is not None:
            self.deliver(code, kind, origin)

    async def close(self) -> None:
        self.deliver = None


def psycopg_conninfo(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://…``) as libpq reads it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresBroker:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.conninfo = psycopg_conninfo(database.url)
        self.listening: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self, deliver: Deliver, resync: Resync) -> None:
        self.listening = asyncio.create_task(self._listen(deliver, resync))
        # The first connection before the app serves: no event of this replica's
        # first requests is missed. A database that is not there yet is retried.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.connected.wait()

    async def _listen(self, deliver: Deliver, resync: Resync) -> None:
        import psycopg

        attempt = 0
        first = True
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                async with connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    attempt = 0
                    if not first:
                        resync()
                    first = False
                    async for notice in connection.notifies():
                        code, kind, origin = (notice.payload.split(" ") + ["", ""])[:3]
                        if kind in KINDS:
                            deliver(code, kind, origin)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect
                log.warning("class events: connection lost (%s); reconnecting", exc)
            self.connected.clear()
            await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
            attempt += 1

    async def publish(self, code: str, kind: str, origin: str = "") -> None:
        payload = f"{code} {kind} {origin}".strip()

        def notify() -> None:
            with self.database.engine.begin() as connection:
                connection.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {
                        "channel": CHANNEL,
                        "payload": payload,
                    },
                )

        await self.database.call(notify)

    async def close(self) -> None:
        if self.listening is not None:
            self.listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listening


def broker_for(database: Database) -> LocalBroker | PostgresBroker:
    return PostgresBroker(database) if database.dialect == "postgresql" else LocalBroker()
