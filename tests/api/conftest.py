from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture(scope="session")
def http(live_server: str) -> Iterator[httpx.Client]:
    """An httpx client against the live uvicorn server."""
    with httpx.Client(base_url=live_server, timeout=30.0) as client:
        yield client
