"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for /healthz, then for /readyz (the compiled engine is warm)."""
    deadline = time.monotonic() + timeout
    for path in ("/healthz", "/readyz"):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with code {process.returncode}")
            try:
                if httpx.get(base_url + path, timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{base_url}{path} not ready after {timeout} s")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """A real uvicorn serving ``app.main:app`` on a free port; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process, timeout=60.0)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
