"""The real parts tests and benchmarks drive: uvicorn on loopback, Debian's Chromium.

Real sockets and the real WebSocket library: TestClient alone would hide a
missing ``uvicorn[standard]``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DESCENTLAB_CHROMIUM", "/usr/bin/chromium")
# Headless as root, without the background services that would try the (closed) network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, *uvicorn_args: str, timeout: float = 60.0) -> subprocess.Popen:
    """Start uvicorn on 127.0.0.1:``port``; return once /healthz and then /readyz
    (the compiled engine is warm) answer 200."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *uvicorn_args,
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + timeout
    for path in ("/healthz", "/readyz"):
        while not _answers(f"http://127.0.0.1:{port}{path}"):
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with code {process.returncode}")
            if time.monotonic() > deadline:
                stop_server(process)
                raise RuntimeError(f"{path} did not answer within {timeout:g} s")
            time.sleep(0.05)
    return process


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError):
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    return False


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
