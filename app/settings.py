"""Settings from the environment (prefix ``DESCENTLAB_``)."""

from __future__ import annotations

import os
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app import limits

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def asset_dir(name: str) -> Path:
    """Where ``static`` or ``templates`` is: the source tree, else the wheel's data files.

    A checkout (and an editable install) has them beside ``app/``; a wheel installs
    them under ``<prefix>/share/descentlab/`` (pyproject.toml's data-files), where
    ``<prefix>`` is the environment's, or the user's base for ``pip install --user``.
    """
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / name).is_dir():
        return PROJECT_ROOT / name
    prefixes = [sysconfig.get_path("data"), sys.prefix]
    if f"{os.name}_user" in sysconfig.get_scheme_names():
        prefixes.append(sysconfig.get_path("data", f"{os.name}_user"))
    for prefix in prefixes:
        candidate = Path(prefix) / "share" / "descentlab" / name
        if candidate.is_dir():
            return candidate
    return PROJECT_ROOT / name


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESCENTLAB_")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Request limits. The API schema enforces app.limits' (docs/API.md); these may
    # only lower them.
    max_steps: int = Field(limits.MAX_STEPS, ge=1, le=limits.MAX_STEPS)
    max_runs: int = Field(limits.MAX_RUNS, ge=1, le=limits.MAX_RUNS)
    max_body_bytes: int = Field(limits.MAX_BODY_BYTES, ge=1024)
    # WebSocket /api/stream, per connection: largest message (uvicorn's own limit,
    # ws_read_bytes, follows it), and a token bucket of `ws_burst` messages
    # refilled at `ws_rate` per second.
    ws_max_message_bytes: int = Field(limits.WS_MAX_MESSAGE_BYTES, ge=1024)
    ws_rate: float = Field(30.0, gt=0)
    ws_burst: int = Field(60, ge=1)
    # permessage-deflate on /api/stream. Off: compressing the stream's JSON (≈ 0.84 MB a
    # classroom run, only 2.2× smaller deflated) costs ~20 ms of event-loop CPU per
    # stream, 4–5× the engine and encoding together (docs/PERFORMANCE.md). Turn it on
    # where bandwidth is scarcer than CPU.
    ws_deflate: bool = False
    # Streaming: compute budget of one chunk at speed 0, the frame interval of a
    # paced stream, and the most points (updates × runs) in one chunk message.
    stream_chunk_seconds: float = Field(0.03, gt=0)
    stream_frame_seconds: float = Field(0.04, gt=0)
    stream_max_points: int = Field(8_000, ge=64)
    # Capacity of one process (docs/API.md, Capacity; app/api/capacity.py), sized for a
    # 2-core, 512 MB replica (benchmarks/abuse.py). Engine work runs in `compute_slots`
    # worker threads, one turn per waiting client in turn. Answers and sweeps in
    # flight hold at most `compute_points` points (~48 bytes each with their encoding:
    # ~170 MB, five of the largest answers or one 256 × 256 sweep and a few answers).
    # An HTTP request (or a stream's sweep) waits at most `compute_max_wait` s to
    # start, behind at most `compute_max_queued` others (`compute_max_queued_per_client`
    # of its own client's), else 503 with Retry-After.
    compute_slots: int = Field(2, ge=1)
    compute_points: int = Field(3_500_000, ge=100_000)
    compute_max_queued: int = Field(128, ge=1)
    compute_max_queued_per_client: int = Field(32, ge=1)
    compute_max_wait: float = Field(10.0, gt=0)
    # Open streams per process (each holds at most a chunk or two in memory), and per
    # remote address: one client cannot take them all, while a class of 40 behind one
    # NAT address (benchmarks/load.py's, from one address too) still fits. Past either
    # the handshake is answered 503 with Retry-After.
    max_streams: int = Field(64, ge=1)
    max_streams_per_address: int = Field(48, ge=1)
    # A client that accepts nothing the server sends for this long (it stopped
    # reading) is disconnected, and what was queued for it freed.
    send_timeout: float = Field(15.0, gt=0)
    # A stream that sends this many invalid messages in a row is closed (code 1008).
    ws_max_invalid: int = Field(10, ge=1)
    # Origins (scheme://host[:port]) whose pages may open the stream besides the
    # server's own, comma-separated; "*" admits any. Clients that send no Origin
    # (scripts) are admitted.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Who may frame the page (CSP frame-ancestors): 'none', or sources such as
    # "https://course.example.org" to embed it in a course's pages.
    frame_ancestors: str = "'none'"
    # HTTP without a proxy in front: a request's head, then its body, must each arrive
    # whole within `http_read_timeout` s; a head is at most `http_max_head_bytes`
    # bytes; idle keep-alive connections close after `http_keep_alive` s; past
    # `http_max_connections` connections uvicorn answers new requests 503.
    http_read_timeout: float = Field(10.0, gt=0)
    http_max_head_bytes: int = Field(16 * 1024, ge=1024)
    http_keep_alive: int = Field(5, ge=1)
    http_max_connections: int = Field(512, ge=16)
    # Classes (docs/API.md, Classes; docs/DEPLOY.md): SQLite at
    # `data_dir`/descentlab.db, or the database `database_url` names
    # (postgresql+psycopg://user:password@host/db), shared by every replica.
    data_dir: Path = Path("data")
    database_url: str | None = None
    # A class is deleted this long after it ended, or after its last activity if it
    # was never ended; each replica looks for such classes every `class_sweep_seconds`.
    class_retention_hours: float = Field(168.0, gt=0)
    class_sweep_seconds: float = Field(600.0, gt=0)
    # Class sockets open per process (a class of 200 students is 200 of them, each
    # holding a few small messages at most); past it the handshake is answered 503.
    max_class_sockets: int = Field(1_000, ge=1)
    # ... of them from one remote address: a school behind one NAT address fits two
    # large classes, one client cannot take every place.
    max_class_sockets_per_address: int = Field(400, ge=1)
    # Compile (or load) the numba engine at start-up, in a background thread.
    warm_up: bool = True
    # The source tree's folders, or a wheel's copies (asset_dir); env overrides both.
    static_dir: Path = Field(default_factory=lambda: asset_dir("static"))
    templates_dir: Path = Field(default_factory=lambda: asset_dir("templates"))

    @property
    def ws_read_bytes(self) -> int:
        """uvicorn's ``ws_max_size``: the largest message it reads before closing the
        socket, a few times ``ws_max_message_bytes`` so that a message just over that is
        still read and answered ``too_large``."""
        return limits.WS_READ_FACTOR * self.ws_max_message_bytes

    @property
    def database(self) -> str:
        """The SQLAlchemy URL of the class database."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'descentlab.db').resolve()}"

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
