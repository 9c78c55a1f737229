"""Fixtures shared by every test folder."""

from __future__ import annotations

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
