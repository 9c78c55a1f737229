"""A class following its teacher: 100 students' sockets, a teacher dragging a slider.

    .venv/bin/python benchmarks/class_follow.py                 # SQLite, then PostgreSQL × 2
    .venv/bin/python benchmarks/class_follow.py --students 200 --changes 90
    .venv/bin/python benchmarks/class_follow.py --only sqlite

Each setup starts its own servers (a real uvicorn each, tests/serving.py): one
replica on SQLite in a temporary directory; two replicas on one PostgreSQL
(Debian's server, tests/postgres.py), the teacher on the first, the students
split over both. A class is created, ``--students`` students join (each from
an address of its own, sent as X-Forwarded-For, which uvicorn trusts from
loopback) and follow over /ws/classes/{code}; the teacher's socket then sends
``--changes`` scenes at ``--rate`` per second (a dragged slider: ``t`` counts
the changes). Printed per setup:

- latency from the teacher's send of a scene to each student's receipt of it
  (p50, p95, max), all on this process's clock;
- the share of (student, scene) pairs delivered: a follower that falls behind
  skips to the newest scene by design, so below 100 % means skipping, and every
  student must end on the last scene;
- each replica's CPU seconds over the drag (utime + stime from /proc), and per
  scene change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.postgres import postgres_server  # noqa: E402
from tests.serving import free_port, start_server, stop_server  # noqa: E402

SCENE = {
    "request": {
        "problem": {"name": "steep_valley"},
        "steps": 120,
        "runs": [
            {"optimizer": "sgd", "params": {"alpha": 0.45}},
            {"optimizer": "momentum", "params": {"alpha": 0.1, "beta": 0.8}},
            {"optimizer": "adam", "params": {"alpha": 0.2}},
        ],
    },
    "view": {"speed": 60, "view": "2d", "scale": "auto"},
    "lesson": None,
    "t": 0,
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def follow_class(urls: list[str], students: int, changes: int, rate: float) -> dict:
    async with httpx.AsyncClient(timeout=30) as http:
        made = (await http.post(f"{urls[0]}/api/classes", json={"title": "bench"})).json()
        code = made["code"]
        tokens = []
        for index in range(students):
            answer = await http.post(
                f"{urls[index % len(urls)]}/api/classes/{code}/students",
                json={"name": f"student {index}"},
                headers={"X-Forwarded-For": f"10.{index // 250}.{index % 250}.1"},
            )
            answer.raise_for_status()
            tokens.append(answer.json()["student_token"])

    sent: dict[int, float] = {}
    received: list[dict[int, float]] = [{} for _ in range(students)]
    last_seen = asyncio.Event()
    done = 0

    async def student(index: int, ready: asyncio.Event) -> None:
        nonlocal done
        base = urls[index % len(urls)].replace("http", "ws")
        async with connect(f"{base}/ws/classes/{code}", max_queue=None) as ws:
            await ws.send(json.dumps({"type": "hello", "token": tokens[index]}))
            assert json.loads(await ws.recv())["type"] == "state"
            ready.set()
            async for text in ws:
                message = json.loads(text)
                if message["type"] == "scene":
                    t = message["scene"]["t"]
                    received[index][t] = time.perf_counter()
                    if t == changes:
                        done += 1
                        if done == students:
                            last_seen.set()
                        return

    readies = [asyncio.Event() for _ in range(students)]
    tasks = [asyncio.create_task(student(i, readies[i])) for i in range(students)]
    for ready in readies:
        await ready.wait()
    pids_cpu: dict[str, float] = {}
    async with connect(f"{urls[0].replace('http', 'ws')}/ws/classes/{code}") as teacher:
        await teacher.send(json.dumps({"type": "hello", "token": made["teacher_token"]}))
        await teacher.recv()
        start_cpu = {url: cpu_seconds(PIDS[url]) for url in urls}
        began = time.perf_counter()
        for t in range(1, changes + 1):
            sent[t] = time.perf_counter()
            await teacher.send(json.dumps({"type": "scene", "scene": {**SCENE, "t": t}}))
            await asyncio.sleep(max(0.0, began + t / rate - time.perf_counter()))
        await asyncio.wait_for(last_seen.wait(), timeout=60)
        pids_cpu = {url: cpu_seconds(PIDS[url]) - start_cpu[url] for url in urls}
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [
        (moment - sent[t]) * 1000 for seen in received for t, moment in seen.items() if t in sent
    ]
    return {
        "latencies": latencies,
        "delivered": len(latencies) / (students * changes),
        "cpu": pids_cpu,
    }


PIDS: dict[str, int] = {}


def run_setup(name: str, env: dict[str, str], replicas: int, args) -> None:
    processes = []
    try:
        for _ in range(replicas):
            port = free_port()
            process = start_server(port, env=env)
            processes.append(process)
            PIDS[f"http://127.0.0.1:{port}"] = process.pid
        urls = list(PIDS)
        result = asyncio.run(follow_class(urls, args.students, args.changes, args.rate))
    finally:
        for process in processes:
            stop_server(process)
        PIDS.clear()
    latencies = result["latencies"]
    cpu = result["cpu"]
    print(
        f"{name:<22} {args.students:>8} {statistics.median(latencies):>8.1f} "
        f"{percentile(latencies, 0.95):>8.1f} {max(latencies):>8.1f} "
        f"{100 * result['delivered']:>9.1f} % "
        + "  ".join(
            f"{seconds:.2f} s ({1000 * seconds / args.changes:.1f} ms)" for seconds in cpu.values()
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--rate", type=float, default=30.0, help="scene changes per second")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"{args.changes} scene changes at {args.rate:g}/s; load average before: {load}")
    print(
        f"{'setup':<22} {'students':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
        f"{'delivered':>11} server CPU over the drag (per change), each replica"
    )
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as data:
            run_setup("SQLite, 1 replica", {"DESCENTLAB_DATA_DIR": data}, 1, args)
    if args.only in (None, "postgres"):
        with postgres_server() as url:
            run_setup("PostgreSQL, 2 replicas", {"DESCENTLAB_DATABASE_URL": url}, 2, args)


if __name__ == "__main__":
    main()
