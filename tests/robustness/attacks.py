"""What an abusive client does, and how the server is watched meanwhile.

Shared by the robustness suite (tests/robustness/) and ``benchmarks/abuse.py``:
request bodies of the attacks, clients bound to their own loopback address (every
address of 127.0.0.0/8 is this machine, so each "client" of a test has its own
remote address, as behind a real network), raw sockets for what no well-behaved
library does (a header that never ends, a WebSocket that never reads), probes
that time a request over and over from a separate process (so the attacking
process's own work never delays them), and the server's memory and CPU read
from /proc.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import http.client
import math
import multiprocessing
import os
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import zstandard

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

# Each role of an attack has its own remote address (docs/API.md, Capacity: fairness
# is per client address).
PROBE = "127.0.0.1"
ATTACKER = "127.0.0.2"
BYSTANDER = "127.0.0.3"
SECOND_ATTACKER = "127.0.0.4"


# ----------------------------------------------------------------------------- bodies


def runs_body(problem: dict[str, Any], runs: int, steps: int, optimizer: str = "adam") -> dict:
    return {"problem": problem, "steps": steps, "runs": [{"optimizer": optimizer}] * runs}


def regression_posts_body() -> dict:
    """64 runs × 100 updates on 5 000 samples: 32 million loss terms."""
    return runs_body({"name": "linear_regression", "n_samples": 5000}, 64, 100)


def big_answer_body() -> dict:
    """The largest answer the contract allows: 64 runs × 10 000 updates (≈ 37.5 MB of JSON)."""
    return runs_body({"name": "rosenbrock"}, 64, 10_000)


# A request a student's page makes: one run, the contract's example size.
SMALL_RUNS = runs_body({"name": "rosenbrock"}, 1, 300, optimizer="momentum")


def unknown_keys_body(keys: int = 23_000) -> bytes:
    """A valid runs request padded with ``keys`` unknown top-level fields (under 256 KiB)."""
    body: dict[str, Any] = {"problem": {"name": "rosenbrock"}, "runs": [{"optimizer": "sgd"}]}
    body.update({f"k{i}": 0 for i in range(keys)})
    return orjson.dumps(body)


def sweep_body(count: int, steps: int, problem: str = "rastrigin", optimizer: str = "amsgrad"):
    return {
        "problem": {"name": problem},
        "optimizer": optimizer,
        "steps": steps,
        "x_axis": {"param": "alpha", "count": count},
        "y_axis": {"param": "beta1" if optimizer != "momentum" else "beta", "count": count},
    }


def invalid_json_message(size: int = 240_000) -> str:
    """A WebSocket message of ``size`` characters whose JSON breaks only at its end."""
    return '{"type": "run", "pad": "' + "a" * (size - 26) + '"'


# ----------------------------------------------------------------------------- the server


@dataclass
class Watched:
    """A running server process, read from /proc."""

    url: str
    pid: int
    log: Path | None = None

    @property
    def host(self) -> str:
        return httpx.URL(self.url).host

    @property
    def port(self) -> int:
        return httpx.URL(self.url).port or 80

    def rss_mib(self) -> float:
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_KIB / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU of every thread of the server."""
        return _stat_cpu(f"/proc/{self.pid}/stat")

    def loop_cpu_seconds(self) -> float:
        """CPU of the server's main thread: the event loop (uvicorn runs it there)."""
        return _stat_cpu(f"/proc/{self.pid}/task/{self.pid}/stat")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""

    def connections_from(self, prefix: str) -> int:
        """Established connections of the server's port whose peer address starts with
        ``prefix`` (from /proc/net/tcp: the server's side, whatever the client does)."""
        count = 0
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            local, remote, state = line.split()[1:4]
            if state != "01" or int(local.split(":")[1], 16) != self.port:
                continue
            address = ".".join(str(b) for b in reversed(bytes.fromhex(remote.split(":")[0])))
            count += address.startswith(prefix)
        return count


def _stat_cpu(path: str) -> float:
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class RssSampler:
    """The server's resident memory, sampled every ``interval`` seconds in a thread."""

    def __init__(self, server: Watched, interval: float = 0.02) -> None:
        self.server = server
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.samples.append(self.server.rss_mib())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max(self.samples, default=math.nan)


# ----------------------------------------------------------------------------- probes


@dataclass
class Timing:
    """One probe request: when it started and ended (monotonic clock), and its status."""

    began: float
    ended: float
    status: int | None

    @property
    def seconds(self) -> float:
        return self.ended - self.began


def _probe_loop(host, port, method, path, body, headers, interval, address, stop, ready, results):
    timings = []
    connection = None
    while not stop.is_set():
        began = time.monotonic()
        try:
            if connection is None:
                connection = http.client.HTTPConnection(
                    host, port, timeout=60, source_address=(address, 0)
                )
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
            if response.getheader("connection", "").lower() == "close":
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException):
            if connection is not None:
                connection.close()
            connection = None
            status = None
        ended = time.monotonic()
        timings.append((began, ended, status))
        ready.set()
        stop.wait(max(0.0, interval - (ended - began)))
    results.put(timings)


class Probe:
    """Times ``method path`` every ``interval`` seconds from its own process and address.

    ``time.monotonic`` is one clock for every process of the machine, so a probe's
    timings compare with the attacking process's own.
    """

    def __init__(
        self,
        server: Watched,
        path: str = "/healthz",
        body: dict | None = None,
        interval: float = 0.05,
        address: str = PROBE,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._ready = context.Event()
        self._results = context.Queue()
        payload = orjson.dumps(body) if body is not None else None
        headers = {"content-type": "application/json"} if body is not None else {}
        self._process = context.Process(
            target=_probe_loop,
            args=(
                server.host,
                server.port,
                "POST" if body is not None else "GET",
                path,
                payload,
                headers,
                interval,
                address,
                self._stop,
                self._ready,
                self._results,
            ),
            daemon=True,
        )
        self.timings: list[Timing] = []

    def __enter__(self) -> Probe:
        """Start probing; return once the first probe request has been answered."""
        self._process.start()
        self._ready.wait(60)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            raw = self._results.get(timeout=90)
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
        self.timings = [Timing(*t) for t in raw]

    def within(self, began: float, ended: float) -> list[Timing]:
        """The probe requests that started inside [began, ended]."""
        return [t for t in self.timings if began <= t.began <= ended]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0…100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ----------------------------------------------------------------------------- clients


def client(server: Watched, address: str, timeout: float = 120.0) -> httpx.AsyncClient:
    """An HTTP client whose connections come from ``address``."""
    transport = httpx.AsyncHTTPTransport(local_address=address, retries=0)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    return httpx.AsyncClient(
        base_url=server.url, transport=transport, timeout=timeout, limits=limits
    )


@dataclass
class Answer:
    status: int | None  # None: the connection failed or timed out
    size: int = 0
    seconds: float = 0.0
    ended: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""  # as it came over the wire (compressed, if the server chose to)

    def json(self) -> Any:
        coding = self.headers.get("content-encoding")
        body = self.body
        if coding == "gzip":
            body = gzip.decompress(body)
        elif coding == "zstd":  # a streamed frame does not say its size: read it as a stream
            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        return orjson.loads(body)


async def post(
    http: httpx.AsyncClient,
    path: str,
    body: dict | bytes,
    keep: bool = False,
    headers: dict[str, str] | None = None,
) -> Answer:
    """POST and read the whole answer, keeping it only if ``keep`` (big answers are counted)."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    began = time.monotonic()
    size, kept = 0, []
    try:
        async with http.stream(
            "POST",
            path,
            content=content,
            headers={"content-type": "application/json", **(headers or {})},
        ) as response:
            async for piece in response.aiter_raw():
                size += len(piece)
                if keep:
                    kept.append(piece)
            status, answer_headers = response.status_code, dict(response.headers)
    except httpx.HTTPError:
        return Answer(None, size, time.monotonic() - began, time.monotonic())
    ended = time.monotonic()
    return Answer(status, size, ended - began, ended, answer_headers, b"".join(kept))


# ----------------------------------------------------------------------------- raw sockets


async def open_from(server: Watched, address: str):
    return await asyncio.open_connection(server.host, server.port, local_addr=(address, 0))


async def unfinished_header(server: Watched, address: str, size: int) -> asyncio.StreamWriter:
    """A connection that sends ``size`` bytes of one header line and never ends it."""
    reader, writer = await open_from(server, address)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ")
    piece = b"a" * 65536
    sent = 0
    with contextlib.suppress(OSError):
        while sent < size:
            writer.write(piece[: size - sent])
            sent += min(len(piece), size - sent)
            await asyncio.wait_for(writer.drain(), 10)
    writer.reader = reader  # type: ignore[attr-defined]
    return writer


async def closed_by_server(writer: asyncio.StreamWriter, wait: float = 0.5) -> bool:
    """Whether the server has closed this connection (it reads to the end of what came)."""
    reader: asyncio.StreamReader = writer.reader  # type: ignore[attr-defined]
    try:
        while True:
            data = await asyncio.wait_for(reader.read(1 << 20), wait)
            if not data:
                return True
    except TimeoutError:
        return False
    except OSError:
        return True


def text_frame(payload: bytes) -> bytes:
    """One masked client→server WebSocket text frame."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x81, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if length < 4096 else None
    if masked is None:
        # A long payload: XOR in one go through integers.
        whole = (mask * (length // 4 + 1))[:length]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(whole, "big")).to_bytes(
            length, "big"
        )
    return head + mask + masked


async def raw_websocket(
    server: Watched, address: str, origin: str | None = None
) -> tuple[int, asyncio.StreamWriter]:
    """A WebSocket handshake on a plain socket: the status and the open connection.

    After it, nothing reads the socket unless the caller does: the client that
    sends a request and never reads the answer.
    """
    reader, writer = await open_from(server, address)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /api/stream HTTP/1.1",
        f"Host: {server.host}:{server.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split(b" ", 2)[1])
    writer.reader = reader  # type: ignore[attr-defined]
    return status, writer


@contextlib.contextmanager
def elapsed() -> Iterator[list[float]]:
    """``with elapsed() as span:`` → ``span == [began, ended]`` (monotonic) afterwards."""
    span = [time.monotonic()]
    try:
        yield span
    finally:
        span.append(time.monotonic())
