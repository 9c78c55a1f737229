"""What asking for a step's anatomy costs, against the same request without it.

    .venv/bin/python benchmarks/anatomy.py            # ~30 s: in process, then a live server
    .venv/bin/python benchmarks/anatomy.py --no-server

The classroom scene (every catalog optimiser × 2 000 steps on Rosenbrock from its
default start, default settings: benchmarks/load.py's), with and without
``"anatomy": true``, each figure the minimum over repeats, both measured in the same
run so the ratio holds on a shared machine:

- engine: ``simulate(build_simulation(request))`` (the compiled loop, the recording
  and the effective rates);
- POST work: what ``POST /api/runs`` computes before sending: the engine, then the
  JSON (``formats.result_json`` + orjson);
- stream work: the stream's worker-thread work for the whole run, chunked as a fast
  stream is (16 updates, then growing 8× a chunk);
- bytes of the answer, and how many numbers it holds;
- the whole request through a live uvicorn (one worker, compression negotiated as
  Chromium does: zstd), as a client waits for it.

The target (docs/PERFORMANCE.md): the engine with anatomy within 2× of without.
The answer carries 3.7× the numbers, so the JSON, the bytes and the wire scale with
them: the page asks for anatomy only while a view shows it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import formats  # noqa: E402
from app.api import encoding  # noqa: E402
from app.engine import Execution, build_simulation, simulate  # noqa: E402
from app.optim.registry import OPTIMIZERS  # noqa: E402
from app.warmup import warm_up  # noqa: E402
from tests.serving import free_port, start_server, stop_server  # noqa: E402

CLASSROOM: dict[str, Any] = {
    "problem": {"name": "rosenbrock"},
    "steps": 2000,
    "runs": [{"optimizer": name} for name in OPTIMIZERS],
}
TARGET = 2.0


def best(work: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` calls, in ms."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return 1e3 * min(times)


def post_work(body: dict[str, Any]) -> bytes:
    return formats.dumps(formats.result_json(simulate(build_simulation(body))))


def stream_work(body: dict[str, Any]) -> int:
    """Every chunk message of a fast stream of ``body``, encoded; their bytes."""
    execution = Execution(build_simulation(body))
    chunks = execution.chunks(1)
    sent = len(encoding.chunk_message(1, next(chunks)))
    count = 16
    while execution.updates_done < execution.simulation.steps:
        count = min(count, execution.simulation.steps - execution.updates_done)
        sent += len(encoding.chunk_message(1, execution.advance(count)))
        count *= 8
    return sent


def numbers(body: dict[str, Any]) -> int:
    """How many numbers the answer's runs hold."""
    result = simulate(build_simulation(body))
    total = sum(path.size for path in result.paths) + sum(loss.size for loss in result.losses)
    for anatomy in result.anatomy or []:
        total += anatomy.grad.size + anatomy.alpha_t.size + anatomy.effective_lr.size
        total += sum(values.size for values in anatomy.state.values())
        total += 0 if anatomy.lookahead is None else anatomy.lookahead.size
    return total


def through_server(bodies: dict[str, dict[str, Any]], repeats: int) -> dict[str, float]:
    port = free_port()
    process = start_server(port)
    try:
        headers = {"accept-encoding": "gzip, deflate, br, zstd"}  # Chromium's: zstd comes back
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for body in bodies.values():
                client.post("/api/runs", json=body, headers=headers).raise_for_status()

            def call(body: dict[str, Any]) -> None:
                client.post("/api/runs", json=body, headers=headers).raise_for_status()

            return {name: best(lambda b=body: call(b), repeats) for name, body in bodies.items()}
    finally:
        stop_server(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-server", action="store_true", help="skip the live uvicorn")
    args = parser.parse_args()
    warm_up()
    bodies = {"without": CLASSROOM, "with": {**CLASSROOM, "anatomy": True}}
    rows: dict[str, dict[str, float]] = {name: {} for name in bodies}
    for name, body in bodies.items():
        simulation = build_simulation(body)
        rows[name]["engine ms"] = best(lambda s=simulation: simulate(s), args.repeats)
        rows[name]["POST work ms"] = best(lambda b=body: post_work(b), args.repeats)
        rows[name]["stream work ms"] = best(lambda b=body: stream_work(b), args.repeats)
        rows[name]["answer kB"] = len(post_work(body)) / 1e3
        rows[name]["stream kB"] = stream_work(body) / 1e3
        rows[name]["numbers (thousands)"] = numbers(body) / 1e3
    if not args.no_server:
        for name, ms in through_server(bodies, args.repeats).items():
            rows[name]["POST through uvicorn ms"] = ms
    print("classroom scene: every optimiser × 2 000 steps on Rosenbrock (minimum of "
          f"{args.repeats})\n")  # fmt: skip
    print("| figure | without | with anatomy | ratio |\n| --- | --- | --- | --- |")
    for figure in rows["without"]:
        without, with_ = rows["without"][figure], rows["with"][figure]
        print(f"| {figure} | {without:.2f} | {with_:.2f} | {with_ / without:.2f}× |")
    ratio = rows["with"]["engine ms"] / rows["without"]["engine ms"]
    verdict = "reached" if ratio <= TARGET else "MISSED"
    print(f"\ntarget: engine with anatomy ≤ {TARGET:g}× without: {ratio:.2f}× ({verdict})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
