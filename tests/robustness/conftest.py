"""One server for the robustness suite: the Dockerfile's own CMD and ENV (so uvicorn
runs with the image's protocols and limits), on loopback, with a few timeouts
shortened so that what they end is seen within the suite's time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.robustness.attacks import Watched
from tests.serving import free_port, start_image_server, stop_server

# Seconds, instead of the defaults' 15 and 10: how long a client may read nothing,
# and send half a request, before the server drops it.
SEND_TIMEOUT = 2
READ_TIMEOUT = 2
# Open streams per process and per address, instead of 64 and 32: small enough to
# reach in a test.
MAX_STREAMS = 16
MAX_STREAMS_PER_ADDRESS = 4

SETTINGS = {
    "DESCENTLAB_SEND_TIMEOUT": str(SEND_TIMEOUT),
    "DESCENTLAB_HTTP_READ_TIMEOUT": str(READ_TIMEOUT),
    "DESCENTLAB_MAX_STREAMS": str(MAX_STREAMS),
    "DESCENTLAB_MAX_STREAMS_PER_ADDRESS": str(MAX_STREAMS_PER_ADDRESS),
}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    log = tmp_path_factory.mktemp("robustness") / "server.log"
    port = free_port()
    process = start_image_server(port, env=SETTINGS, log=log)
    try:
        yield Watched(f"http://127.0.0.1:{port}", process.pid, log)
    finally:
        stop_server(process)
