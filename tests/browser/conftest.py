"""Browser tests: a real uvicorn server and Debian's Chromium driven by Playwright.

Run as their own pytest process (`python -m pytest tests/browser -q`): sync
Playwright keeps an event loop in the main thread.
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

import pytest
from pagekit import wait_complete

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("DESCENTLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

playwright_sync = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
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
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("uvicorn did not start within 30 s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def server():
    port = free_port()
    process = start_server(port)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class Watched:
    """A page plus everything it logged and requested."""

    def __init__(self, page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message) -> None:
        # The browser's own performance notes about WebGL readbacks (3-D view) are not page errors.
        benign = ("WebGL", "GL Driver", "willReadFrequently")
        if message.type in ("error", "warning") and not any(b in message.text for b in benign):
            self.errors.append(f"{message.type}: {message.text}")

    def foreign(self) -> list[str]:
        allowed = (self.origin + "/", self.origin.replace("http", "ws") + "/", "data:", "blob:")
        return [url for url in self.requests if not url.startswith(allowed)]


@pytest.fixture
def open_page(browser, server):
    """Open the playground in a fresh context; every page checks for errors and foreign requests."""
    watched: list[Watched] = []

    def _open(query: str = "", width: int = 1366, height: int = 768) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": height})
        # Anything bound for another origin is refused, so the test sees the page offline.
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(server) else route.abort()
            ),
        )
        page = context.new_page()
        w = Watched(page, server)
        watched.append(w)
        page.goto(server + "/" + query)
        wait_complete(page)
        return w

    yield _open
    for w in watched:
        errors, foreign = w.errors, w.foreign()
        w.page.context.close()
        assert not errors, errors
        assert not foreign, foreign
