"""One WebSocket of ``/ws/classes/{code}`` (docs/API.md, Classes): a teacher, a
student or an observer following a class.

The first message says who is there (``hello``); the answer is the whole class
(``state``), and from then on the class's changes are pushed as they happen, from
this replica or another (app/classes/followers.py). The teacher may send scenes.
The stream's rules hold: a token bucket charged before a message is parsed, a cap
on a message's size, a close after too many invalid messages in a row, and a
send that waits too long ends the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from functools import partial
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketState

from app.api import encoding
from app.api.answers import names_a_formula
from app.api.errors import describe, error_items, spec_items
from app.api.streaming import POLICY_VIOLATION, TokenBucket
from app.classes.followers import Follower
from app.classes.schemas import Hello, Ping, SceneMessage, check_scene
from app.classes.service import Classes
from app.classes.store import ClassError
from app.errors import InvalidSpec
from app.limits import HELLO_SECONDS
from app.settings import Settings

log = logging.getLogger(__name__)

MESSAGE_TYPES = {"hello": Hello, "scene": SceneMessage, "ping": Ping}


class ClassSocket:
    def __init__(self, websocket: WebSocket, settings: Settings, classes: Classes, code: str):
        self.websocket = websocket
        self.settings = settings
        self.classes = classes
        self.code = code
        self.bucket = TokenBucket(settings.ws_rate, settings.ws_burst)
        self.invalid_in_a_row = 0
        self.closed = False
        self.send_lock = asyncio.Lock()
        # This connection, as one client of the compute gate.
        self.gate_client = object()
        self.follower = Follower(secrets.token_hex(8), self.send, self.close)
        # The teacher's scene waiting to be stored, and the task storing them.
        self.next_scene: dict[str, Any] | None = None
        self.writing: asyncio.Task[None] | None = None

    async def send(self, text: str) -> None:
        if self.closed:
            return
        async with self.send_lock:
            try:
                async with asyncio.timeout(self.settings.send_timeout):
                    await self.websocket.send_text(text)
            except Exception:  # noqa: BLE001 - a timeout or a vanished client: it is gone
                self.closed = True

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send(encoding.dumps(message).decode())

    async def error(self, code: str, detail: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail, **extra})

    async def close(self, reason: str) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.settings.send_timeout):
                await self.websocket.close(POLICY_VIOLATION, reason)

    async def invalid(self, code: str, detail: str, **extra: Any) -> None:
        await self.error(code, detail, **extra)
        self.invalid_in_a_row += 1
        if self.invalid_in_a_row >= self.settings.ws_max_invalid:
            await self.close(f"{self.invalid_in_a_row} invalid messages in a row")

    async def read(self) -> Any:
        """The next message that passes the rate, size and JSON checks (None when the
        socket closed); the others are answered here."""
        while not self.closed:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self.closed = True
                return None
            text = message.get("text")
            if text is None:
                await self.invalid("invalid_message", "send JSON text messages, not binary ones")
                continue
            if not self.bucket.take():
                await self.error(
                    "rate_limited",
                    f"too many messages: at most {self.settings.ws_rate:g} per second "
                    f"(bursts of {self.settings.ws_burst}); this one was dropped",
                )
                continue
            size = len(text.encode())
            if size > self.settings.ws_max_message_bytes:
                await self.invalid(
                    "too_large",
                    f"message of {size} bytes is larger than "
                    f"{self.settings.ws_max_message_bytes}; it was dropped",
                )
                continue
            try:
                data = json.loads(text)
            except (ValueError, RecursionError) as exc:
                await self.invalid("invalid_json", f"not valid JSON: {exc}")
                continue
            kind = data.get("type") if isinstance(data, dict) else None
            if kind not in MESSAGE_TYPES:
                await self.invalid(
                    "invalid_message",
                    f"unknown message type {kind!r}; valid types: {', '.join(MESSAGE_TYPES)}",
                )
                continue
            try:
                return MESSAGE_TYPES[kind].model_validate(data)
            except ValidationError as exc:
                items = error_items(exc.errors())
                await self.invalid("invalid_message", describe(items), errors=items)
        return None

    async def serve(self) -> None:
        try:
            async with asyncio.timeout(HELLO_SECONDS):
                hello = await self.read()
        except TimeoutError:
            await self.close(f"the first message must be a hello within {HELLO_SECONDS:g} s")
            return
        if hello is None:
            return
        if not isinstance(hello, Hello):
            await self.error("invalid_message", "the first message must be a hello")
            await self.close("the first message must be a hello")
            return
        database = self.classes.database
        try:
            role, you = await database.call(database.store.role, self.code, hello.token)
        except ClassError as refused:
            await self.error("forbidden", refused.detail)
            await self.close(refused.detail)
            return
        self.invalid_in_a_row = 0
        self.follower.role = role
        followers = self.classes.followers
        # In the room before the state is read, so no change between the two is missed;
        # its sender starts after the state is sent, so the state comes first.
        followers.join(self.code, self.follower)
        try:
            state = await database.call(database.store.public, self.code)
            await self.send_json({"type": "state", "role": role, "you": you, "class": state})
            self.follower.start()
            while not self.closed:
                message = await self.read()
                if message is None:
                    break
                await self.handle(message)
        finally:
            if self.writing is not None:
                # The teacher's last scene is stored, not dropped (a failure is logged).
                with contextlib.suppress(Exception):
                    await self.writing
            await followers.leave(self.code, self.follower)
            if self.websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.websocket.close()

    async def handle(self, message: Any) -> None:
        if isinstance(message, Ping):
            self.invalid_in_a_row = 0
            await self.send_json({"type": "pong"})
        elif isinstance(message, Hello):
            await self.invalid("invalid_message", "hello is only the first message")
        elif self.follower.role != "teacher":
            # Not a close: a student's page that sends it by mistake keeps following.
            await self.error("forbidden", "only the teacher may set the class's scene")
        else:
            check = partial(check_scene, message.scene, self.settings)
            try:
                # A typed formula is compiled in one of this socket's worker turns,
                # never on the event loop (app/api/answers.py, read_request).
                if names_a_formula(message.scene.request.problem):
                    await self.websocket.app.state.gate.run(self.gate_client, check)
                else:
                    check()
            except InvalidSpec as exc:
                items = spec_items(exc)
                await self.invalid("invalid_message", describe(items), errors=items)
                return
            self.invalid_in_a_row = 0
            self.next_scene = message.scene.stored()
            if self.writing is None or self.writing.done():
                self.writing = asyncio.create_task(self.write_scenes())

    async def write_scenes(self) -> None:
        """Store the newest scene the teacher sent, and tell every replica; scenes that
        came while one was being written are skipped for the newest, so a slow write
        (a disk's fsync) delays the class by one write, not by a queue of them."""
        database = self.classes.database
        while self.next_scene is not None:
            scene, self.next_scene = self.next_scene, None
            try:
                await database.call(database.store.set_scene, self.code, scene)
            except ClassError as refused:
                await self.error("not_open", refused.detail)
                return
            except Exception:
                log.exception("class %s: storing the teacher's scene failed", self.code)
                await self.error("internal", "the scene could not be stored; send it again")
                return
            await self.classes.publish(self.code, "scene", origin=self.follower.key)
