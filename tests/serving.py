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


# How long a server may take to answer /readyz. A checkout's first start compiles
# every kernel into an empty cache: about a minute of one core, more on a busy CI
# machine; later starts load the cache in about a second. (Under pytest-timeout's
# 300 s per test, so a start that hangs says so itself.)
READY_TIMEOUT = 240.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    port: int,
    *uvicorn_args: str,
    timeout: float = READY_TIMEOUT,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start uvicorn on 127.0.0.1:``port``; return once /healthz and then /readyz
    (the compiled engine is warm) answer 200. ``env`` adds settings (``DESCENTLAB_*``)."""
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
        env={**os.environ, **(env or {})},
    )
    _wait_until_ready(process, port, timeout)
    return process


def start_image_server(
    port: int,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    timeout: float = READY_TIMEOUT,
) -> subprocess.Popen:
    """The Dockerfile's own CMD, with its final stage's ENV, serving the checkout on
    127.0.0.1:``port``; returns once /healthz and /readyz answer 200.

    ``env`` adds settings (``DESCENTLAB_*``) on top; ``log`` receives the server's
    output. The process is the server itself (the CMD execs it), so /proc/<pid>
    describes the server.
    """
    from tests.deploy.dockerfile import cmd, final_stage

    stage = final_stage()
    # The image's paths (its numba cache, its data) do not exist here; the checkout's
    # defaults do.
    image_paths = ("NUMBA_CACHE_DIR", "DESCENTLAB_DATA_DIR")
    image_env = {k: v for k, v in stage.env.items() if k not in image_paths}
    bin_dir = str(Path(sys.executable).parent)
    environment = {
        **os.environ,
        **image_env,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DESCENTLAB_HOST": "127.0.0.1",
        "DESCENTLAB_PORT": str(port),
        **(env or {}),
    }
    output = log.open("w") if log is not None else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            cmd(stage), cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    finally:
        if log is not None:
            output.close()
    _wait_until_ready(process, port, timeout)
    return process


def _wait_until_ready(process: subprocess.Popen, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for path in ("/healthz", "/readyz"):
        while not _answers(f"http://127.0.0.1:{port}{path}"):
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with code {process.returncode}")
            if time.monotonic() > deadline:
                stop_server(process)
                raise RuntimeError(f"{path} did not answer within {timeout:g} s")
            time.sleep(0.05)


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
