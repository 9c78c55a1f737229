"""Fixtures shared by every test folder."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.serving import free_port, start_server, stop_server


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """A real uvicorn serving ``app.main:app`` on a free port; yields its base URL."""
    port = free_port()
    process = start_server(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


@pytest.fixture
def formula_compiles(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every compile of a typed formula from now on, as whether it ran on an event
    loop (True) or in a worker thread (False): compiling takes up to ~0.2 s of CPU,
    which no route may spend on the loop."""
    from app.problems import custom

    on_the_loop: list[bool] = []
    compile_expression = custom.compile_expression

    def watched(text: str):
        try:
            asyncio.get_running_loop()
            on_the_loop.append(True)
        except RuntimeError:
            on_the_loop.append(False)
        return compile_expression(text)

    monkeypatch.setattr(custom, "compile_expression", watched)
    return on_the_loop
