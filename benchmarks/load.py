"""A classroom on one server: N WebSocket clients streaming at once (issue 6).

    .venv/bin/python benchmarks/load.py                  # 40 clients, own server, ~30 s
    .venv/bin/python benchmarks/load.py --clients 50 --duration 8
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8000 --server-pid 1234

Phases, all bounded in count and time (the whole script stops by itself, well
under two minutes with the defaults):

1. **idle**: POST /api/runs latency on a quiet server; one client streams the
   classroom scene a few times (server CPU per stream); the reference answers
   (POST) for every scene the load will stream.
2. **drag**: a few clients only drag a slider (a new ``run`` every 50 ms):
   server CPU seconds per slider move.
3. **class**: ``--clients`` sockets connect, then all send the classroom scene
   (every optimiser of GET /api/catalog × 2000 steps on Rosenbrock, speed 0) at
   the same instant. A share of them drag a slider (the Adam run's alpha changes
   every 50 ms for a few seconds, within the per-connection rate limit), a share
   leave mid-stream (and come back), the rest stream, think, stream again, until
   ``--duration`` is over; POST /api/runs requests arrive at a steady rate meanwhile.

A stream is *intact* when its chunks, joined, are exactly the ``path`` and
``loss`` of POST /api/runs for the same request (so every run that did not
diverge has steps + 1 points), ``from`` is contiguous, every message carries
the id of its run, and no message of a replaced id arrives after the new
``started``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import queue as queue_module
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.settings import Settings  # noqa: E402
from tests.serving import free_port, start_server, stop_server  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
HARD_LIMIT = 40.0  # seconds for the idle and drag phases
STARTED = time.monotonic()
BUDGET = 115.0  # seconds: the whole script, server start-up included, stops within this
DRAG_GAP = 0.05  # seconds between two moves of a dragged slider
# The dragged slider walks these alphas of the Adam run (log scale, as the page's slider).
ALPHAS = [round(10 ** (-3 + 0.125 * k), 6) for k in range(17)]  # 1e-3 … 0.1


# ----------------------------------------------------------------------------- helpers


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0…100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value * 1e3:.1f}"


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process (all its threads), from /proc."""
    if pid is None:
        return math.nan
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_uvicorn(port: int, deflate: bool):
    """uvicorn with one worker, as `descentlab serve` runs it (access log off); returns
    once /readyz is 200."""
    return start_server(
        port,
        "--workers",
        "1",
        "--ws-max-size",
        str(Settings().ws_read_bytes),
        "--no-access-log",
        "--ws-per-message-deflate",
        "true" if deflate else "false",
    )


class CountingConnection(ClientConnection):
    """A client connection that counts the bytes it receives on the wire."""

    wire_in = 0

    def data_received(self, data: bytes) -> None:
        self.wire_in += len(data)
        super().data_received(data)


# ----------------------------------------------------------------------------- scenes


def classroom_scene(optimizers: list[str], steps: int, alpha: float | None = None) -> dict:
    runs: list[dict[str, Any]] = [{"optimizer": name} for name in optimizers]
    if alpha is not None:
        runs[dragged_row(optimizers)]["params"] = {"alpha": alpha}
    return {"problem": {"name": "rosenbrock"}, "steps": steps, "seed": 0, "runs": runs}


def dragged_row(optimizers: list[str]) -> int:
    return optimizers.index("adam") if "adam" in optimizers else 0


# The page's first visit (static/js/state.js DEFAULT_SCENE), as a POST.
PAGE_SCENE = {
    "problem": {"name": "steep_valley"},
    "steps": 120,
    "seed": 0,
    "runs": [
        {"optimizer": "sgd", "params": {"alpha": 0.45}},
        {"optimizer": "momentum", "params": {"alpha": 0.1, "beta": 0.8}},
        {"optimizer": "adam", "params": {"alpha": 0.2}},
    ],
}


# ----------------------------------------------------------------------------- one stream


@dataclass
class Stream:
    """What one client received for one `run` id."""

    id: int
    alpha: float | None
    sent: float
    started: float | None = None
    first_chunk: float | None = None
    done: float | None = None
    width: int = 0  # runs in the request
    raw: list[bytes] = field(default_factory=list)  # the chunk messages, as received
    diverged: list | None = None
    payload: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class Stats:
    complete: list[Stream] = field(default_factory=list)  # streams that reached done
    intact: int = 0
    broken: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    moves: int = 0  # runs sent by dragging clients
    settle: list[float] = field(default_factory=list)  # last move → its done
    left: int = 0  # disconnects mid-stream
    wire: dict[str, int] = field(default_factory=lambda: {"bytes": 0, "streams": 0})
    class_done: dict[int, float] = field(default_factory=dict)  # client → its first picture done
    streamers_done: list[float] = field(default_factory=list)


class Client:
    """One socket; a reader task files every message under its id and checks the order."""

    def __init__(self, index: int, ws_url: str, compression: str | None, stats: Stats) -> None:
        self.index = index
        self.ws_url = ws_url
        self.compression = compression
        self.stats = stats
        self.ws: CountingConnection | None = None
        self.reader: asyncio.Task | None = None
        self.streams: dict[int, Stream] = {}
        self.next_id = 0
        self.latest_started = 0
        self.events: dict[int, asyncio.Event] = {}
        self.first_chunk_event: dict[int, asyncio.Event] = {}

    async def open(self) -> None:
        self.ws = await connect(
            self.ws_url,
            compression=self.compression,
            max_size=None,
            open_timeout=20,
            ping_interval=None,
            create_connection=CountingConnection,
        )
        self.reader = asyncio.create_task(self.read())

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader

    async def run(self, request: dict, alpha: float | None) -> Stream:
        self.next_id += 1
        stream = Stream(self.next_id, alpha, time.perf_counter())
        self.streams[stream.id] = stream
        self.events[stream.id] = asyncio.Event()
        self.first_chunk_event[stream.id] = asyncio.Event()
        message = {"type": "run", "id": stream.id, "request": request, "speed": 0}
        assert self.ws is not None
        await self.ws.send(orjson.dumps(message).decode())
        return stream

    async def read(self) -> None:
        assert self.ws is not None
        try:
            while True:
                raw = await self.ws.recv(decode=False)
                now = time.perf_counter()
                header = peek(raw)
                if header is not None and header[0] == "chunk":
                    # Chunks are only peeked at here (type and id) and kept as bytes; the
                    # points are parsed and checked after the timed phase, so the load
                    # generator's parsing does not compete with the server being timed.
                    # A replaced run's chunks are not kept: they are never checked.
                    self.receive_chunk(header[1], raw, now, keep=header[1] == self.next_id)
                    continue
                message = orjson.loads(raw)
                self.receive(message, len(raw), now)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - closed by us or by the server
            for event in self.events.values():
                event.set()
            for event in self.first_chunk_event.values():
                event.set()

    def receive_chunk(self, mid: int, raw: bytes, now: float, keep: bool) -> None:
        stream = self.streams.get(mid)
        if stream is None:
            self.stats.broken.append(f"client {self.index}: chunk of unknown id {mid!r}")
            return
        if mid < self.latest_started:
            stream.problems.append(f"chunk of id {mid} after started of {self.latest_started}")
        if stream.started is None:
            stream.problems.append("chunk before started")
        stream.payload += len(raw)
        if keep:
            stream.raw.append(raw)
        if stream.first_chunk is None:
            stream.first_chunk = now
            self.first_chunk_event[mid].set()

    def receive(self, message: dict, size: int, now: float) -> None:
        kind, mid = message.get("type"), message.get("id")
        if kind == "error":
            self.stats.errors.append(
                f"client {self.index}: {message.get('code')}: {message.get('detail')}"
            )
            if mid in self.events:
                self.events[mid].set()
            return
        stream = self.streams.get(mid)
        if stream is None:
            self.stats.broken.append(f"client {self.index}: {kind} of unknown id {mid!r}")
            return
        if mid < self.latest_started:
            stream.problems.append(f"{kind} of id {mid} after started of {self.latest_started}")
        stream.payload += size
        if kind == "started":
            self.latest_started = max(self.latest_started, mid)
            stream.started = now
            stream.width = len(message["runs"])
        elif kind == "chunk":  # not the server's usual layout: parse it later all the same
            self.receive_chunk(mid, orjson.dumps(message), now, keep=mid == self.next_id)
        elif kind == "done":
            stream.done = now
            stream.diverged = [run["diverged_at"] for run in message["runs"]]
            self.events[mid].set()
        elif kind == "stopped":
            self.events[mid].set()

    async def wait_done(self, stream: Stream, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.events[stream.id].wait(), timeout)
        return stream.done is not None


def peek(raw: bytes) -> tuple[str, int] | None:
    """(type, id) of a server message from its first bytes, or None if not that simple.

    The server writes ``{"type":…,"id":…`` first (orjson keeps the dict's order).
    """
    if not raw.startswith(b'{"type":"'):
        return None
    end = raw.find(b'"', 9)
    if end < 0 or not raw.startswith(b',"id":', end + 1):
        return None
    start = end + 7
    stop = raw.find(b",", start)
    try:
        return raw[9:end].decode(), int(raw[start:stop])
    except ValueError:
        return None


def check(stream: Stream, steps: int, reference: dict | None) -> list[str]:
    """Why a completed stream is not intact (empty: intact)."""
    problems = list(stream.problems)
    if not stream.width or stream.diverged is None:
        return [*problems, "no started/done"]
    paths: list[list] = [[] for _ in range(stream.width)]
    losses: list[list] = [[] for _ in range(stream.width)]
    next_from = 0
    for raw in stream.raw:
        message = orjson.loads(raw)
        if message["from"] != next_from:
            problems.append(f"chunk from {message['from']}, expected {next_from}")
        width = 0
        for k, run in enumerate(message["runs"]):
            if len(run["path"]) != len(run["loss"]):
                problems.append("path and loss of different lengths")
            paths[k].extend(run["path"])
            losses[k].extend(run["loss"])
            width = max(width, len(run["path"]))
        next_from += width
    for k, (path, loss, diverged) in enumerate(zip(paths, losses, stream.diverged, strict=True)):
        want = steps + 1 if diverged is None else diverged
        if len(path) != want or len(loss) != want:
            problems.append(f"run {k}: {len(path)} points, expected {want}")
    if reference is not None:
        for k, run in enumerate(reference["runs"]):
            if (
                paths[k] != run["path"]
                or losses[k] != run["loss"]
                or stream.diverged[k] != run["diverged_at"]
            ):
                problems.append(f"run {k}: differs from POST /api/runs")
    return problems


# ----------------------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self, args: argparse.Namespace, base: str, pid: int | None) -> None:
        self.args = args
        self.base = base
        self.ws_url = base.replace("http", "ws", 1) + "/api/stream"
        self.pid = pid
        self.compression = None if args.no_client_deflate else "deflate"
        self.rng = random.Random(args.seed)
        self.optimizers: list[str] = []
        self.references: dict[float | None, dict] = {}
        self.results: dict[str, Any] = {}

    def scene(self, alpha: float | None = None) -> dict:
        return classroom_scene(self.optimizers, self.args.steps, alpha)

    def record(self, stats: Stats, stream: Stream) -> None:
        """A stream reached done: keep it for `verify` (after the timed phase)."""
        stats.complete.append(stream)

    def verify(self, stats: Stats) -> None:
        for stream in stats.complete:
            problems = check(stream, self.args.steps, self.references.get(stream.alpha))
            if problems:
                stats.broken.append(f"stream {stream.id}: " + "; ".join(problems[:3]))
            else:
                stats.intact += 1
            stream.raw = []

    async def post_latencies(
        self, http: httpx.AsyncClient, count: int, rate: float, stop: asyncio.Event | None = None
    ) -> tuple[list[float], int]:
        """POST the page's scene `count` times at `rate` per second (open loop)."""
        latencies: list[float] = []
        failures = 0

        async def one() -> None:
            nonlocal failures
            began = time.perf_counter()
            try:
                response = await http.post("/api/runs", json=PAGE_SCENE)
                if response.status_code != 200:
                    failures += 1
                    return
                latencies.append(time.perf_counter() - began)
            except httpx.HTTPError:
                failures += 1

        tasks = []
        t0 = time.perf_counter()
        for k in range(count):
            if stop is not None and stop.is_set():
                break
            delay = t0 + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        return latencies, failures

    # -- phase 1 --------------------------------------------------------------------------

    async def idle(self, http: httpx.AsyncClient) -> None:
        catalog = (await http.get("/api/catalog")).raise_for_status().json()
        self.optimizers = [o["name"] for o in catalog["optimizers"]]
        for alpha in [None, *ALPHAS]:
            body = (await http.post("/api/runs", json=self.scene(alpha))).raise_for_status()
            self.references[alpha] = body.json()
        await self.post_latencies(http, 5, 50)  # warm the route
        latencies, failures = await self.post_latencies(http, 40, self.args.post_rate)
        self.results["post_idle"] = {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "failures": failures,
        }
        # One student alone: server CPU and bytes of one classroom stream.
        stats = Stats()
        client = Client(-1, self.ws_url, self.compression, stats)
        await client.open()
        cpu0 = cpu_seconds(self.pid)
        streams = []
        for _ in range(20):
            stream = await client.run(self.scene(), None)
            await client.wait_done(stream, 20)
            streams.append(stream)
            self.record(stats, stream)
        cpu1 = cpu_seconds(self.pid)
        wire = client.ws.wire_in if client.ws else 0
        await client.close()
        self.verify(stats)
        self.results["alone"] = {
            "ttfc_p50": percentile([s.first_chunk - s.sent for s in streams if s.first_chunk], 50),
            "done_p50": percentile([s.done - s.sent for s in streams if s.done], 50),
            "cpu_per_stream": (cpu1 - cpu0) / len(streams),
            "payload_per_stream": statistics.median(s.payload for s in streams),
            "wire_per_stream": wire / len(streams),
            "intact": stats.intact,
            "broken": stats.broken,
            "errors": stats.errors,
        }

    # -- phase 2 --------------------------------------------------------------------------

    async def drag_only(self) -> None:
        """`--drag-clients` clients drag for `--drag-seconds`; CPU per move."""
        stats = Stats()
        clients = [
            Client(i, self.ws_url, self.compression, stats) for i in range(self.args.drag_clients)
        ]
        await asyncio.gather(*(c.open() for c in clients))
        cpu0 = cpu_seconds(self.pid)
        t0 = time.perf_counter()
        await asyncio.gather(*(self.drag(c, stats, self.args.drag_seconds) for c in clients))
        wall = time.perf_counter() - t0
        cpu1 = cpu_seconds(self.pid)
        await asyncio.gather(*(c.close() for c in clients))
        self.verify(stats)
        self.results["drag"] = {
            "clients": len(clients),
            "moves": stats.moves,
            "wall": wall,
            "cpu": cpu1 - cpu0,
            "cpu_per_move": (cpu1 - cpu0) / max(1, stats.moves),
            "settle_p50": percentile(stats.settle, 50),
            "settle_p95": percentile(stats.settle, 95),
            "intact": stats.intact,
            "complete": len(stats.complete),
            "broken": stats.broken,
            "errors": stats.errors,
        }

    async def drag(self, client: Client, stats: Stats, seconds: float) -> Stream | None:
        """A new run every 50 ms for `seconds` (a slider moving), then wait for the last one."""
        moves = max(1, int(seconds / DRAG_GAP))
        position = self.rng.randrange(len(ALPHAS))
        step = self.rng.choice((-1, 1))
        t0 = time.perf_counter()
        streams = []
        for k in range(moves):
            delay = t0 + k * DRAG_GAP - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if not 0 <= position + step < len(ALPHAS):
                step = -step
            position += step
            alpha = ALPHAS[position]
            streams.append(await client.run(self.scene(alpha), alpha))
            stats.moves += 1
        last = streams[-1]
        if await client.wait_done(last, 20):
            self.record(stats, last)
            stats.settle.append(last.done - last.sent)
        elif not self.stop_requested:
            stats.errors.append(f"client {client.index}: last move {last.id} never done")
        # Every replaced run ended quietly or completed before being replaced: nothing of an
        # old id may follow a newer started (checked as messages arrived).
        for stream in streams[:-1]:
            if stream.problems:
                stats.broken.append(f"replaced stream {stream.id}: {stream.problems[0]}")
        return last

    stop_requested = False

    # -- phase 3 --------------------------------------------------------------------------

    def classroom(self) -> None:
        """The class, its clients spread over `--client-procs` processes, POSTs in another.

        One asyncio process cannot parse 40 streams of ~0.8 MB each fast enough to
        time them fairly, so the load generator uses both cores as the server does
        (time.monotonic is the same clock in every process).
        """
        args = self.args
        n = args.clients
        leavers = max(1, round(n * args.leave_share)) if args.leave_share > 0 else 0
        draggers = max(1, round(n * args.drag_share)) if args.drag_share > 0 else 0
        roles = ["drag"] * draggers + ["leave"] * leavers
        roles += ["stream"] * (n - len(roles))
        self.rng.shuffle(roles)
        procs = max(1, args.client_procs)
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        go = time.monotonic() + 1.0 + 0.05 * n  # everyone connected by then
        workers = [
            ctx.Process(
                target=class_worker, args=(self, k, list(enumerate(roles))[k::procs], go, queue)
            )
            for k in range(procs)
        ]
        workers.append(ctx.Process(target=post_worker, args=(self, go, queue)))
        for worker in workers:
            worker.start()
        delay = go - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        cpu0 = cpu_seconds(self.pid)
        parts: list[dict] = []
        deadline = min(time.monotonic() + args.duration + 60, STARTED + BUDGET - 8)
        while len(parts) < len(workers) and time.monotonic() < deadline:
            with contextlib.suppress(queue_module.Empty):
                parts.append(queue.get(timeout=0.5))
        cpu1 = cpu_seconds(self.pid)
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
                worker.join()
        clients = [part for part in parts if part["kind"] == "clients"]
        post = next((part for part in parts if part["kind"] == "post"), None)
        merged: dict[str, list] = {}
        for part in clients:
            for key, value in part.items():
                if isinstance(value, list):
                    merged.setdefault(key, []).extend(value)
        errors = merged.get("errors", [])
        if len(clients) < procs or post is None:
            errors.append("a load process did not report in time")
        wall = max((part["wall"] for part in clients), default=math.nan)
        ttfc, done = merged.get("ttfc", []), merged.get("done", [])
        firsts = merged.get("class_done", [])
        streamers = merged.get("streamers_done", [])
        post = post or {"latencies": [], "failures": 0}
        wire_streams = sum(part["wire_streams"] for part in clients)
        self.results["class"] = {
            "clients": n,
            "client_procs": procs,
            "roles": {r: roles.count(r) for r in ("stream", "drag", "leave")},
            "streams_complete": sum(part["complete"] for part in clients),
            "streams_intact": sum(part["intact"] for part in clients),
            "broken": merged.get("broken", []),
            "errors": errors,
            "left_mid_stream": sum(part["left"] for part in clients),
            "moves": sum(part["moves"] for part in clients),
            "ttfc": [percentile(ttfc, q) for q in (50, 95, 99)],
            "done": [percentile(done, q) for q in (50, 95, 99)],
            "settle": [percentile(merged.get("settle", []), q) for q in (50, 95)],
            "class_wall": max(firsts) if firsts else math.nan,
            "class_first_clients": len(firsts),
            "streamers_wall": max(streamers) if streamers else math.nan,
            "wall": wall,
            "server_cpu": cpu1 - cpu0,
            "post": {
                "p50": percentile(post["latencies"], 50),
                "p95": percentile(post["latencies"], 95),
                "count": len(post["latencies"]),
                "failures": post["failures"],
            },
            "payload_per_stream": statistics.median(merged["payloads"])
            if merged.get("payloads")
            else math.nan,
            "wire_per_stream": sum(part["wire_bytes"] for part in clients) / max(1, wire_streams),
            "load_cpu": sum(part["cpu"] for part in parts),
        }

    async def class_clients(self, indexed_roles: list[tuple[int, str]], go: float) -> dict:
        """This process's share of the class; returns lists the parent merges."""
        args = self.args
        stats = Stats()
        clients = [Client(i, self.ws_url, self.compression, stats) for i, _ in indexed_roles]
        roles = [role for _, role in indexed_roles]
        await asyncio.gather(*(c.open() for c in clients))
        await asyncio.sleep(max(0.0, go - time.monotonic()))
        began = time.perf_counter()  # = go, on this process's perf_counter
        deadline = began + args.duration

        async def student(client: Client, role: str) -> None:
            first = True
            while True:
                alpha = None if first else self.rng.choice(ALPHAS)
                if role == "drag":
                    # Drags from the start: the class's first picture includes its last move.
                    last = await self.drag(client, stats, args.drag_time)
                    if first and last is not None and last.done is not None:
                        stats.class_done[client.index] = last.done - began
                elif role == "leave":
                    stream = await client.run(self.scene(alpha), alpha)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(client.first_chunk_event[stream.id].wait(), 20)
                    await asyncio.sleep(self.rng.uniform(0.0, 0.02))
                    await client.close()  # mid-stream, without a stop
                    stats.left += 1
                    await asyncio.sleep(self.rng.uniform(0.3, 1.0))
                    if time.perf_counter() > deadline:
                        return
                    await client.open()
                    first = False
                    continue
                else:
                    stream = await client.run(self.scene(alpha), alpha)
                    if await client.wait_done(stream, 30):
                        self.record(stats, stream)
                        if first:
                            stats.class_done[client.index] = stream.done - began
                            stats.streamers_done.append(stream.done - began)
                        stats.wire["streams"] += 1
                    else:
                        stats.errors.append(f"client {client.index}: stream {stream.id} not done")
                first = False
                if time.perf_counter() + 0.3 > deadline:
                    return
                await asyncio.sleep(self.rng.uniform(0.3, 1.0))

        try:
            await asyncio.wait_for(
                asyncio.gather(*(student(c, r) for c, r in zip(clients, roles, strict=True))),
                args.duration + 45,
            )
        except TimeoutError:
            self.stop_requested = True
            stats.errors.append("the class did not finish within duration + 45 s")
        wall = time.perf_counter() - began
        wire_bytes = sum(
            c.ws.wire_in
            for c, r in zip(clients, roles, strict=True)
            if r == "stream" and c.ws is not None
        )
        await asyncio.gather(*(c.close() for c in clients))
        self.verify(stats)
        complete = stats.complete
        return {
            "kind": "clients",
            "ttfc": [s.first_chunk - s.sent for s in complete if s.first_chunk],
            "done": [s.done - s.sent for s in complete if s.done],
            "settle": stats.settle,
            "complete": len(complete),
            "intact": stats.intact,
            "broken": stats.broken,
            "errors": stats.errors,
            "moves": stats.moves,
            "left": stats.left,
            "class_done": list(stats.class_done.values()),
            "streamers_done": stats.streamers_done,
            "payloads": [s.payload for s in complete],
            "wire_bytes": wire_bytes,
            "wire_streams": stats.wire["streams"],
            "wall": wall,
        }

    async def main(self) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        async with httpx.AsyncClient(base_url=self.base, timeout=30, limits=limits) as http:
            self.results["loadavg_before"] = loadavg()
            client_cpu0 = sum(os.times()[:2])
            await self.idle(http)
            await self.drag_only()
            self.results["client_cpu"] = sum(os.times()[:2]) - client_cpu0
            self.results["loadavg_after"] = loadavg()


def _loop_runner():
    try:
        import uvloop

        return uvloop.run
    except ImportError:
        return asyncio.run


def class_worker(bench: Bench, index: int, indexed_roles: list, go: float, queue) -> None:
    bench.rng = random.Random(bench.args.seed * 1000 + index)
    began = sum(os.times()[:2])
    result = _loop_runner()(bench.class_clients(indexed_roles, go))
    result["cpu"] = sum(os.times()[:2]) - began
    queue.put(result)


def post_worker(bench: Bench, go: float, queue) -> None:
    """POST /api/runs at `--post-rate` from go + 0.1 s to the end of `--duration`."""

    async def run() -> tuple[list[float], int]:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        async with httpx.AsyncClient(base_url=bench.base, timeout=30, limits=limits) as http:
            await bench.post_latencies(http, 3, 10)  # open the connections
            await asyncio.sleep(max(0.0, go + 0.1 - time.monotonic()))
            count = int(bench.args.duration * bench.args.post_rate)
            return await bench.post_latencies(http, count, bench.args.post_rate)

    began = sum(os.times()[:2])
    latencies, failures = _loop_runner()(run())
    queue.put(
        {
            "kind": "post",
            "latencies": latencies,
            "failures": failures,
            "cpu": sum(os.times()[:2]) - began,
        }
    )


# ----------------------------------------------------------------------------- report


def report(results: dict, args: argparse.Namespace) -> bool:
    alone, drag, cls = results["alone"], results["drag"], results["class"]
    idle, post = results["post_idle"], cls["post"]
    print(
        f"\nmachine: {os.cpu_count()} CPUs; load average {results['loadavg_before']} before, "
        f"{results['loadavg_after']} after; server deflate "
        f"{'on' if results['deflate'] else 'off'}, clients offer deflate: "
        f"{'no' if args.no_client_deflate else 'yes'}"
    )
    print(
        f"scene: {len(results['optimizers'])} optimisers × {args.steps} steps, rosenbrock, "
        f"speed 0; POSTs: the page's default scene (3 runs × 120 steps)\n"
    )
    print("| one client alone | value |\n|---|---|")
    print(
        f"| time to first chunk / done (p50) | {ms(alone['ttfc_p50'])} / "
        f"{ms(alone['done_p50'])} ms |"
    )
    print(f"| server CPU per stream | {alone['cpu_per_stream'] * 1e3:.1f} ms |")
    print(
        f"| bytes per stream: JSON / on the wire | {alone['payload_per_stream'] / 1e3:.0f} kB / "
        f"{alone['wire_per_stream'] / 1e3:.0f} kB |"
    )
    print(f"| POST /api/runs idle p50 / p95 | {ms(idle['p50'])} / {ms(idle['p95'])} ms |")
    print(
        f"\n| {drag['clients']} clients dragging for {args.drag_seconds:g} s | value |\n|---|---|"
    )
    print(f"| slider moves | {drag['moves']} |")
    print(f"| server CPU per slider move | {drag['cpu_per_move'] * 1e3:.2f} ms |")
    print(
        f"| last move → done p50 / p95 | {ms(drag['settle_p50'])} / {ms(drag['settle_p95'])} ms |"
    )
    print(f"| final streams intact | {drag['intact']}/{drag['complete']} |")
    roles = cls["roles"]
    print(
        f"\n| class: {cls['clients']} clients ({roles['stream']} stream, {roles['drag']} drag, "
        f"{roles['leave']} leave mid-stream), {args.duration:g} s | value |\n|---|---|"
    )
    print(
        f"| whole class served: every client's first picture done "
        f"({cls['class_first_clients']} clients; draggers: after a {args.drag_time:g} s drag) | "
        f"{cls['class_wall']:.2f} s |"
    )
    print(
        f"| … the {roles['stream']} streaming clients' first streams done | "
        f"{cls['streamers_wall']:.2f} s |"
    )
    print(f"| streams complete / intact | {cls['streams_complete']} / {cls['streams_intact']} |")
    print(f"| errors | {len(cls['errors'])} |")
    print(f"| slider moves / disconnects mid-stream | {cls['moves']} / {cls['left_mid_stream']} |")
    t1, t2 = cls["ttfc"], cls["done"]
    print(f"| time to first chunk p50 / p95 / p99 | {ms(t1[0])} / {ms(t1[1])} / {ms(t1[2])} ms |")
    print(f"| time to done p50 / p95 / p99 | {ms(t2[0])} / {ms(t2[1])} / {ms(t2[2])} ms |")
    print(
        f"| last slider move → done p50 / p95 | {ms(cls['settle'][0])} / "
        f"{ms(cls['settle'][1])} ms |"
    )
    print(
        f"| POST p50 / p95 under load ({post['count']} requests) | {ms(post['p50'])} / "
        f"{ms(post['p95'])} ms ({post['p95'] / idle['p95']:.1f}× idle p95) |"
    )
    print(f"| server CPU during the class | {cls['server_cpu']:.2f} s in {cls['wall']:.1f} s |")
    print(
        f"| bytes per stream: JSON / on the wire | {cls['payload_per_stream'] / 1e3:.0f} kB / "
        f"{cls['wire_per_stream'] / 1e3:.0f} kB |"
    )
    print(
        f"| load generator CPU during the class ({cls['client_procs']} client processes "
        f"+ 1 POST process) | {cls['load_cpu']:.1f} s |"
    )
    for label, items in (
        ("broken", cls["broken"] + drag["broken"] + alone["broken"]),
        ("errors", cls["errors"] + drag["errors"] + alone["errors"]),
    ):
        for item in items[:10]:
            print(f"{label}: {item}")
    targets = [
        ("whole class served in ≤ 10 s", cls["class_wall"] <= 10),
        (
            "every surviving stream intact",
            not cls["broken"]
            and not drag["broken"]
            and cls["streams_intact"] == cls["streams_complete"] > 0,
        ),
        ("zero errors", not cls["errors"] and not drag["errors"] and post["failures"] == 0),
        ("POST p95 under load ≤ 10 × idle p95", post["p95"] <= 10 * idle["p95"]),
        ("time to first chunk p95 ≤ 100 ms", t1[1] <= 0.1),
    ]
    print()
    for name, ok in targets:
        print(f"{'reached' if ok else 'MISSED '}  {name}")
    return all(ok for _, ok in targets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--url", help="a running server; default: start uvicorn (1 worker)")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's pid, for CPU")
    parser.add_argument("--port", type=int, default=0, help="own server's port (0: any free)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of class load")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--drag-share", type=float, default=0.25)
    parser.add_argument("--leave-share", type=float, default=0.1)
    parser.add_argument("--drag-time", type=float, default=3.0, help="seconds of one drag")
    parser.add_argument("--drag-clients", type=int, default=5, help="drag-only phase")
    parser.add_argument("--drag-seconds", type=float, default=2.0, help="drag-only phase")
    parser.add_argument("--post-rate", type=float, default=10.0, help="POSTs per second")
    parser.add_argument(
        "--no-deflate", action="store_true", help="own server: --ws-per-message-deflate false"
    )
    parser.add_argument(
        "--no-client-deflate", action="store_true", help="clients do not offer permessage-deflate"
    )
    parser.add_argument("--client-procs", type=int, default=2, help="class phase processes")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.duration > 60:
        parser.error("--duration: at most 60 s (the script must stop within two minutes)")

    process = None
    pid = args.server_pid
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = args.port or free_port()
        process = start_uvicorn(port, deflate=not args.no_deflate)
        pid = process.pid
        base = f"http://127.0.0.1:{port}"
    try:
        bench = Bench(args, base, pid)

        async def bounded() -> None:
            await asyncio.wait_for(bench.main(), HARD_LIMIT)

        _loop_runner()(bounded())
        bench.classroom()
    finally:
        if process is not None:
            stop_server(process)
    results = bench.results
    results["deflate"] = not args.no_deflate if args.url is None else None
    results["optimizers"] = bench.optimizers
    ok = report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
