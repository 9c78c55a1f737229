"""Browser tests: a real uvicorn server and Debian's Chromium driven by Playwright.

Run as their own pytest process (`python -m pytest tests/browser -q`): sync
Playwright keeps an event loop in the main thread.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pagekit import wait_complete
from playwright.sync_api import sync_playwright

from tests.serving import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def server(live_server: str) -> str:
    """The live uvicorn of tests/conftest.py, under the name these tests use."""
    return live_server


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        # Fail, not skip: a missing browser must not pass as a green run.
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (.ci/run does), "
            "or point DESCENTLAB_CHROMIUM at one"
        )
    with sync_playwright() as p:
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
