"""The sockets following classes on this replica, and what they are sent.

Each class followed here has a :class:`Room`; an event (from the broker) marks a
kind of the class's state as changed, and the room's one task reads that state
once from the database and hands it to every follower. Each follower has a
sender of its own and holds at most one pending message of each kind, the
newest: a follower that falls behind skips to the newest scene instead of
queueing every step of a dragged slider, and a slow one never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.api import encoding
from app.classes.store import ClassError, Database

log = logging.getLogger(__name__)


class Follower:
    def __init__(
        self,
        key: str,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[str], Awaitable[None]],
        role: str = "observer",
    ) -> None:
        self.key = key  # names this socket in events it causes
        self.role = role
        self._send = send
        self.close = close  # ends the socket (1008), saying why
        self.pending: dict[str, str] = {}
        self.wake = asyncio.Event()
        self.sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sending what is pushed; called once, after the socket's ``state``."""
        if self.sender is None:
            self.sender = asyncio.create_task(self._sending())

    def push(self, kind: str, message: str) -> None:
        self.pending.pop(kind, None)
        self.pending[kind] = message
        self.wake.set()

    async def _sending(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                kind = next(iter(self.pending))
                await self._send(self.pending.pop(kind))

    async def stop(self) -> None:
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sender


class Room:
    def __init__(self, code: str, database: Database, gone: Callable[[Room], None]) -> None:
        self.code = code
        self.database = database
        self.gone = gone  # called once the class is found deleted
        self.followers: dict[str, Follower] = {}
        self.changed: dict[str, str] = {}  # kind → origin of its newest event
        # kind → the message last handed out: two events read after the same write
        # (one arriving late) would otherwise send one scene twice.
        self.sent: dict[str, str] = {}
        self.wake = asyncio.Event()
        self.task = asyncio.create_task(self._pushing())

    def mark(self, kind: str, origin: str) -> None:
        self.changed[kind] = origin
        self.wake.set()

    async def _pushing(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            changed, self.changed = self.changed, {}
            for kind, origin in changed.items():
                try:
                    message = await self._read(kind)
                except ClassError:
                    # The class is deleted (the retention sweep tells every replica):
                    # its sockets are closed, not left following nothing.
                    self.gone(self)
                    for follower in list(self.followers.values()):
                        await follower.close("the class was deleted")
                    return
                except Exception:
                    log.exception("class %s: reading its %s failed", self.code, kind)
                    continue
                text = encoding.dumps(message).decode()
                if self.sent.get(kind) == text:
                    continue
                self.sent[kind] = text
                for follower in list(self.followers.values()):
                    if not (kind == "scene" and follower.key == origin):
                        follower.push(kind, text)

    async def _read(self, kind: str) -> dict[str, Any]:
        store = self.database.store
        if kind == "scene":
            scene, version = await self.database.call(store.scene, self.code)
            return {"type": "scene", "scene": scene, "scene_version": version}
        if kind == "challenge":
            challenge = await self.database.call(store.challenge, self.code)
            return {"type": "challenge", "challenge": challenge}
        if kind == "leaderboard":
            challenge_id, board = await self.database.call(store.leaderboard, self.code)
            return {"type": "leaderboard", "challenge_id": challenge_id, "leaderboard": board}
        if kind == "roster":
            roster = await self.database.call(store.roster, self.code)
            return {"type": "roster", "students": len(roster), "roster": roster}
        state = await self.database.call(store.public, self.code)
        return {"type": "ended", "class": state}

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Followers:
    """Every room of this replica; the broker's events land here."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.rooms: dict[str, Room] = {}

    def deliver(self, code: str, kind: str, origin: str = "") -> None:
        room = self.rooms.get(code)
        if room is not None:
            room.mark(kind, origin)

    def resync(self) -> None:
        for room in self.rooms.values():
            for kind in ("scene", "challenge", "leaderboard", "roster"):
                room.mark(kind, "")

    def join(self, code: str, follower: Follower) -> None:
        room = self.rooms.get(code)
        if room is None:
            room = self.rooms[code] = Room(code, self.database, self._drop)
        room.followers[follower.key] = follower

    def _drop(self, room: Room) -> None:
        if self.rooms.get(room.code) is room:
            del self.rooms[room.code]

    async def leave(self, code: str, follower: Follower) -> None:
        await follower.stop()
        room = self.rooms.get(code)
        if room is None:
            return  # or dropped: its class was deleted
        room.followers.pop(follower.key, None)
        if not room.followers:
            del self.rooms[code]
            await room.close()

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            await room.close()
        self.rooms.clear()
