"""Settings from the environment (prefix ``DESCENTLAB_``)."""

from __future__ import annotations

import os
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    stream_max_points: int = Field(64_000, ge=64)
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
