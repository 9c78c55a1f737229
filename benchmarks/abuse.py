"""The server under abuse: each attack of the robustness table, with its figures.

    .venv/bin/python benchmarks/abuse.py                 # every row, ~4 minutes
    .venv/bin/python benchmarks/abuse.py --rows threads,memory
    .venv/bin/python benchmarks/abuse.py --json after.json

Every row starts its own server from the Dockerfile's CMD and ENV
(tests/serving.py, ``start_image_server``) on a free loopback port, so rows do
not disturb each other and memory figures start from a fresh process. Attackers,
bystanders and the health probe each come from their own loopback address
(127.0.0.2, .3 and .1), and the probes run in processes of their own, so the
attacking process's work never delays them. Every loop is bounded in count and
time; the script stops by itself.

Rows (docs/PERFORMANCE.md, Under abuse, has the figures before and after):

| row | attack |
|---|---|
| threads | 42 concurrent regression POSTs (64 runs × 100 updates × 5 000 samples) |
| memory | 12 concurrent POSTs of 64 runs × 10 000 updates (37.5 MB answers), twice |
| keys | one body with 23 000 unknown keys, looped by 4 clients for 6 s |
| headers | 200 connections each sending 1 MiB of a header that never ends |
| heavy | two 256 × 256 × 1 500 sweeps, then another client's 8 × 8 × 100 sweep |
| single | the costliest single requests the limits admit (CPU seconds of the server) |
| ws-json | 4 sockets sending 240 KB invalid-JSON messages for 5 s |
| ws-unread | 40 sockets that send a 64 × 10 000 run and never read |
| mix | 60 such sockets, 12 of the largest POSTs and two 256 × 256 sweeps at once |
| gzip | 6 gzip POSTs of 64 × 10 000 (3 at a time): CPU of the event loop's thread |
| hygiene | HEAD, frame-ancestors, uvicorn's 400, a foreign Origin, a never-awaited run |
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from tests.robustness.attacks import (  # noqa: E402
    ATTACKER,
    BYSTANDER,
    PROBE,
    SECOND_ATTACKER,
    SMALL_RUNS,
    Probe,
    RssSampler,
    Watched,
    big_answer_body,
    client,
    closed_by_server,
    invalid_json_message,
    percentile,
    post,
    raw_websocket,
    regression_posts_body,
    runs_body,
    sweep_body,
    text_frame,
    unfinished_header,
    unknown_keys_body,
)
from tests.serving import free_port, start_image_server, stop_server  # noqa: E402

Figures = dict[str, Any]


def ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1e3:.0f} ms"


def latencies(probe: Probe, span: list[float]) -> list[float]:
    return [t.seconds for t in probe.within(span[0], span[1])]


def spread(values: list[float]) -> str:
    if not values:
        return "no request"
    return (
        f"p50 {ms(percentile(values, 50))}, p95 {ms(percentile(values, 95))}, "
        f"max {ms(max(values))} ({len(values)} requests)"
    )


def statuses(answers) -> str:
    counts: dict[str, int] = {}
    for answer in answers:
        key = str(answer.status) if answer.status is not None else "failed"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n}× {status}" for status, n in sorted(counts.items()))


# ----------------------------------------------------------------------------- rows


async def threads(server: Watched) -> Figures:
    attack = regression_posts_body()
    async with client(server, ATTACKER) as attacker:
        with Probe(server) as health, Probe(server, "/api/runs", SMALL_RUNS, 0.25, BYSTANDER) as by:
            await asyncio.sleep(0.5)
            began = time.monotonic()
            answers = await asyncio.gather(
                *(post(attacker, "/api/runs", attack) for _ in range(42))
            )
            ended = time.monotonic()
    span = [began, ended]
    return {
        "attack": f"{statuses(answers)} in {ended - began:.1f} s",
        "/healthz during": spread(latencies(health, span)),
        "bystander POST during": spread(latencies(by, span)),
        "bystander answers": statuses(by.within(began, ended)),
    }


async def big_posts(http: httpx.AsyncClient, count: int, encoding: str) -> list:
    """``count`` POSTs of the largest answer at once, accepting ``encoding``."""
    headers = {"accept-encoding": encoding}
    return await asyncio.gather(
        *(post(http, "/api/runs", big_answer_body(), headers=headers) for _ in range(count))
    )


async def memory(server: Watched) -> Figures:
    figures: Figures = {"RSS at start": f"{server.rss_mib():.0f} MiB"}
    async with client(server, ATTACKER) as attacker:
        for burst in (1, 2):
            with RssSampler(server) as rss:
                answers = await big_posts(attacker, 12, "identity")
            await asyncio.sleep(3)
            figures[f"burst {burst}"] = (
                f"{statuses(answers)}; RSS peak {rss.peak:.0f} MiB, "
                f"3 s later {server.rss_mib():.0f} MiB"
            )
    return figures


async def keys(server: Watched) -> Figures:
    body = unknown_keys_body()
    answers = []
    async with client(server, ATTACKER) as attacker:
        with Probe(server) as health:
            await asyncio.sleep(0.3)
            began = time.monotonic()

            async def loop() -> None:
                while time.monotonic() - began < 6:
                    answers.append(
                        await post(
                            attacker, "/api/runs", body, headers={"accept-encoding": "identity"}
                        )
                    )

            await asyncio.gather(*(loop() for _ in range(4)))
            ended = time.monotonic()
    sizes = [a.size for a in answers if a.status == 422]
    times = [a.seconds for a in answers]
    return {
        "body": f"{len(body) / 1024:.0f} KiB, 23 000 unknown keys",
        "answers": statuses(answers),
        "422 size": f"{max(sizes, default=0) / 1024:.1f} KiB",
        "time per answer": spread(times),
        "/healthz during": spread(latencies(health, [began, ended])),
    }


async def headers(server: Watched) -> Figures:
    before = server.rss_mib()
    with RssSampler(server) as rss:
        began = time.monotonic()
        writers = await asyncio.gather(
            *(unfinished_header(server, ATTACKER, 1 << 20) for _ in range(200))
        )
        sent = time.monotonic() - began
        await asyncio.sleep(1)
        closed_at_once = sum(await asyncio.gather(*(closed_by_server(w, 0.2) for w in writers)))
        await asyncio.sleep(12)
        closed_later = sum(await asyncio.gather(*(closed_by_server(w, 0.2) for w in writers)))
    for writer in writers:
        writer.close()
    return {
        "sent": f"200 × 1 MiB in {sent:.1f} s",
        "RSS": f"{before:.0f} → peak {rss.peak:.0f} MiB (+{rss.peak - before:.0f})",
        "closed by the server": f"{closed_at_once} within 1 s, {closed_later} within 13 s",
    }


async def heavy(server: Watched) -> Figures:
    huge = sweep_body(256, 1500)
    small = sweep_body(8, 100)
    async with client(server, ATTACKER) as first, client(server, SECOND_ATTACKER) as second:
        big = [
            asyncio.create_task(post(first, "/api/sweeps", huge)),
            asyncio.create_task(post(second, "/api/sweeps", huge)),
        ]
        await asyncio.sleep(1.0)
        async with client(server, BYSTANDER) as bystander:
            answer = await post(bystander, "/api/sweeps", small)
        for task in big:
            task.cancel()  # the attackers leave
        await asyncio.gather(*big, return_exceptions=True)
    # The huge sweeps may go on computing without a client: wait for an idle server,
    # so the server stops cleanly (bounded).
    idle_after = await wait_idle(server, 40)
    return {
        "small sweep": f"{answer.status} after {answer.seconds:.2f} s",
        "server busy after the attackers left": f"{idle_after:.1f} s",
    }


async def wait_idle(server: Watched, limit: float) -> float:
    """Seconds until the server uses under 10 % of a core over 0.5 s (at most ``limit``)."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        cpu = server.cpu_seconds()
        await asyncio.sleep(0.5)
        if server.cpu_seconds() - cpu < 0.05:
            return time.monotonic() - began - 0.5
    return math.inf


LOGISTIC_5000 = {"name": "logistic_regression", "n_samples": 5000}
SINGLE = {
    "sweep 256² × 1 500, AMSGrad on Rastrigin": ("/api/sweeps", sweep_body(256, 1500)),
    "regression 4 × 9 998 × 5 000, batch 1 (logistic)": (
        "/api/runs",
        {
            "problem": {"name": "logistic_regression", "n_samples": 5000, "batch_size": 1},
            "steps": 9998,
            "runs": [{"optimizer": "adam"}] * 4,
        },
    ),
    "regression 4 × 9 998 × 5 000, full batch (logistic)": (
        "/api/runs",
        {
            "problem": {"name": "logistic_regression", "n_samples": 5000, "batch_size": 5000},
            "steps": 9998,
            "runs": [{"optimizer": "adam"}] * 4,
        },
    ),
    "surface 200², n 5 000 (logistic), seed 1": (
        "/api/surface",
        {"problem": LOGISTIC_5000, "resolution": 200, "seed": 1},
    ),
    "surface 200², n 5 000 (logistic), seed 2": (
        "/api/surface",
        {"problem": LOGISTIC_5000, "resolution": 200, "seed": 2},
    ),
}  # fmt: skip


async def worst_admitted(server: Watched) -> dict[str, tuple[str, dict]]:
    """The costliest requests the server's own limits admit (catalog ``limits``)."""
    limits = httpx.get(f"{server.url}/api/catalog").json()["limits"]
    work = limits.get("max_sample_work")
    found: dict[str, tuple[str, dict]] = {}
    if work:
        steps = min(limits["max_steps"], work // (4 * 5000) - 1)
        found[f"regression 4 × {steps:,} × 5 000, full batch (logistic): the budget"] = (
            "/api/runs",
            {
                "problem": {"name": "logistic_regression", "n_samples": 5000, "batch_size": 5000},
                "steps": steps,
                "runs": [{"optimizer": "adam"}] * 4,
            },
        )
    surface = limits.get("max_surface_work")
    if surface:
        resolution = min(limits["surface_resolution"]["max"], math.isqrt(surface // 5000))
        found[f"surface {resolution}², n 5 000 (logistic): the budget"] = (
            "/api/surface",
            {
                "problem": {"name": "logistic_regression", "n_samples": 5000},
                "resolution": resolution,
                "seed": 3,
            },
        )
    sweep_work = limits.get("sweep", {}).get("max_sample_work")
    if sweep_work:
        steps = min(5000, sweep_work // (32 * 32 * 5000) - 1)
        found[f"sweep 32² × {steps:,}, n 5 000 (logistic): the budget"] = (
            "/api/sweeps",
            {
                **sweep_body(32, steps, "logistic_regression", "adam"),
                "problem": {"name": "logistic_regression", "n_samples": 5000, "batch_size": 5000},
            },
        )
    return found


async def single(server: Watched) -> Figures:
    figures: Figures = {}
    cases = {**SINGLE, **await worst_admitted(server)}
    async with client(server, ATTACKER, timeout=180) as http:
        for name, (path, body) in cases.items():
            cpu = server.cpu_seconds()
            answer = await post(http, path, body, keep=True)
            used = server.cpu_seconds() - cpu
            note = ""
            if answer.status == 422:
                detail = answer.json()["detail"][0]
                note = f": {'.'.join(map(str, detail['loc']))}: {detail['msg'][:90]}"
            figures[name] = (
                f"{answer.status}{note}; server CPU {used:.2f} s, wall {answer.seconds:.2f} s"
            )
    return figures


async def ws_json(server: Watched) -> Figures:
    message = text_frame(invalid_json_message().encode())
    counts = {"sent": 0, "invalid_json": 0, "rate_limited": 0, "other": 0, "closed": 0}

    async def socket(address: str) -> None:
        status, writer = await raw_websocket(server, address)
        reader: asyncio.StreamReader = writer.reader  # type: ignore[attr-defined]
        began = time.monotonic()

        async def read() -> None:
            try:
                while True:
                    head = await reader.readexactly(2)
                    length = head[1] & 0x7F
                    if length == 126:
                        length = int.from_bytes(await reader.readexactly(2), "big")
                    elif length == 127:
                        length = int.from_bytes(await reader.readexactly(8), "big")
                    payload = await reader.readexactly(length)
                    if head[0] & 0x0F == 8:
                        counts["closed"] += 1
                        return
                    code = json.loads(payload).get("code")
                    counts[code if code in counts else "other"] += 1
            except (asyncio.IncompleteReadError, OSError):
                return

        reading = asyncio.create_task(read())
        try:
            while time.monotonic() - began < 5 and not reading.done():
                writer.write(message)
                counts["sent"] += 1
                await asyncio.wait_for(writer.drain(), 5)
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.5)
        reading.cancel()
        writer.close()

    with Probe(server) as health:
        await asyncio.sleep(0.3)
        began = time.monotonic()
        await asyncio.gather(*(socket(f"127.0.1.{i}") for i in range(1, 5)))
        ended = time.monotonic()
    return {
        "messages": ", ".join(f"{v} {k}" for k, v in counts.items()),
        "/healthz during": spread(latencies(health, [began, ended])),
    }


async def ws_unread(server: Watched) -> Figures:
    run = orjson.dumps({"type": "run", "id": 1, "request": big_answer_body()})
    before = server.rss_mib()
    writers = []
    statuses_seen = []
    for i in range(40):
        status, writer = await raw_websocket(server, f"127.0.2.{i + 1}")
        statuses_seen.append(status)
        if status == 101:
            writer.write(text_frame(run))
            await writer.drain()
        writers.append(writer)
    await asyncio.sleep(5)
    held = server.rss_mib()
    await asyncio.sleep(20)
    after = server.rss_mib()
    closed = sum(await asyncio.gather(*(closed_by_server(w, 2.0) for w in writers)))
    for writer in writers:
        writer.close()
    accepted = statuses_seen.count(101)
    return {
        "accepted": f"{accepted} of 40",
        "RSS": f"{before:.0f} → {held:.0f} MiB after 5 s "
        f"({(held - before) / max(1, accepted):.1f} MiB a socket), {after:.0f} MiB after 25 s",
        "closed by the server within 25 s": f"{closed} of 40",
    }


async def mix(server: Watched) -> Figures:
    """The worst mix the limits admit at once: 60 streams of 64 × 10 000 whose clients
    never read, 12 of the largest POSTs, two 256 × 256 sweeps."""
    run = text_frame(orjson.dumps({"type": "run", "id": 1, "request": big_answer_body()}))
    before = server.rss_mib()
    writers = []
    with RssSampler(server) as rss:
        for i in range(60):
            status, writer = await raw_websocket(server, f"127.0.4.{i + 1}")
            if status == 101:
                writer.write(run)
                await writer.drain()
            writers.append(writer)
        async with client(server, ATTACKER) as first, client(server, SECOND_ATTACKER) as second:
            answers = await asyncio.gather(
                big_posts(first, 12, "identity"),
                post(first, "/api/sweeps", sweep_body(256, 1500)),
                post(second, "/api/sweeps", sweep_body(256, 1500)),
            )
    for writer in writers:
        writer.close()
    posts, *sweeps = answers
    return {
        "answers": f"POSTs {statuses(posts)}; sweeps {statuses(sweeps)}",
        "RSS": f"{before:.0f} → peak {rss.peak:.0f} MiB",
    }


async def gzip(server: Watched) -> Figures:
    async with client(server, ATTACKER) as attacker:
        with Probe(server) as health:
            await asyncio.sleep(0.3)
            loop_cpu, cpu = server.loop_cpu_seconds(), server.cpu_seconds()
            began = time.monotonic()
            answers = []
            for _ in range(2):
                answers += await big_posts(attacker, 3, "gzip")
            ended = time.monotonic()
            loop_used, used = server.loop_cpu_seconds() - loop_cpu, server.cpu_seconds() - cpu
    encodings = {a.headers.get("content-encoding", "identity") for a in answers}
    sizes = [a.size for a in answers if a.status == 200]
    return {
        "answers": f"{statuses(answers)}, {'/'.join(sorted(encodings))}, "
        f"{max(sizes, default=0) / 1e6:.1f} MB each, in {ended - began:.1f} s",
        "event-loop thread CPU": f"{loop_used:.2f} s (the whole server: {used:.2f} s)",
        "/healthz during": spread(latencies(health, [began, ended])),
    }


async def hygiene(server: Watched) -> Figures:
    figures: Figures = {}
    async with client(server, PROBE) as http:
        for path in ("/", "/healthz"):
            response = await http.head(path)
            figures[f"HEAD {path}"] = str(response.status_code)
        csp = (await http.get("/")).headers.get("content-security-policy", "")
        figures["frame-ancestors"] = "present" if "frame-ancestors" in csp else "absent"
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
    head = await asyncio.wait_for(reader.read(4096), 5)
    writer.close()
    status_line = head.split(b"\r\n", 1)[0].decode()
    secured = b"x-content-type-options" in head.lower()
    figures["malformed request"] = f"{status_line}; security headers {'yes' if secured else 'no'}"
    status, writer = await raw_websocket(server, PROBE, origin="http://evil.example")
    writer.close()
    figures["stream from Origin http://evil.example"] = f"{status}"
    # A run replaced and the socket aborted at once, 20 times.
    run = {"type": "run", "request": runs_body({"name": "rosenbrock"}, 8, 10_000), "speed": 100}
    for i in range(20):
        status, writer = await raw_websocket(server, PROBE)
        writer.write(text_frame(orjson.dumps({**run, "id": 2 * i})))
        writer.write(text_frame(orjson.dumps({**run, "id": 2 * i + 1})))
        await writer.drain()
        writer.transport.abort()
    await asyncio.sleep(1.0)
    never = server.log_text().count("was never awaited")
    figures["'never awaited' warnings in the log"] = str(never)
    return figures


ROWS: dict[str, Callable[[Watched], Awaitable[Figures]]] = {
    "threads": threads,
    "memory": memory,
    "keys": keys,
    "headers": headers,
    "heavy": heavy,
    "single": single,
    "ws-json": ws_json,
    "ws-unread": ws_unread,
    "mix": mix,
    "gzip": gzip,
    "hygiene": hygiene,
}


def run_row(name: str, log_dir: Path) -> Figures:
    port = free_port()
    log = log_dir / f"{name}.log"
    process = start_image_server(port, log=log)
    server = Watched(f"http://127.0.0.1:{port}", process.pid, log)
    try:
        began = time.monotonic()
        figures = asyncio.run(asyncio.wait_for(ROWS[name](server), 240))
        figures["(row took)"] = f"{time.monotonic() - began:.0f} s"
        return figures
    except Exception as error:  # noqa: BLE001 - a row that breaks still prints the others
        return {"error": f"{type(error).__name__}: {error}"}
    finally:
        stop_server(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"of: {', '.join(ROWS)}")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    names = [name.strip() for name in args.rows.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; rows: {', '.join(ROWS)}")
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average before: {' '.join(load)}")
    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory(prefix="abuse-") as logs:
        for name in names:
            results[name] = run_row(name, Path(logs))
            print(f"\n## {name}")
            for key, value in results[name].items():
                print(f"- {key}: {value}")
            sys.stdout.flush()
    print(f"\nload average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
