"""The first byte: what compressing an answer costs, per answer size and gzip level,
and the classroom POST with and without compression through a live server.

    .venv/bin/python benchmarks/first_byte.py               # ~30 s: in process, then uvicorn
    .venv/bin/python benchmarks/first_byte.py --no-server

Answers of ``POST /api/runs`` on Rosenbrock, every catalog optimiser, growing step
counts (the classroom scene is 10 × 1 000: 417 kB of JSON), and the same with
anatomy: for each, the engine, the JSON (``formats.result_json`` + orjson), gzip
at several levels and zstd at the server's (ms, bytes, ms per MB of JSON), each the
minimum of ``--repeats``. The server compresses at ``app.api.encoding.ZSTD_LEVEL``
where the client takes zstd, else at ``GZIP_LEVEL``.

Then the classroom POST through a live uvicorn (one worker), as a client waits for
it: ``Accept-Encoding: identity``, ``gzip`` (what requests, and httpx without the
zstandard package, take) and ``zstd`` (what browsers, and httpx with it, take),
alternated, minimum of the repeats. The target: with compression ≤ 2 × without.
The page's own first load (bytes and time to the first drawn run) is in
benchmarks/page.py.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import formats  # noqa: E402
from app.api.encoding import GZIP_LEVEL, ZSTD_LEVEL, Zstd  # noqa: E402
from app.engine import build_simulation, simulate  # noqa: E402
from app.optim.registry import OPTIMIZERS  # noqa: E402
from app.warmup import warm_up  # noqa: E402
from tests.serving import free_port, start_server, stop_server  # noqa: E402

LEVELS = (1, 3, 5, 6, 9)  # 5 was the server's level before; 6 is zlib's default, 9 its slowest
TARGET = 2.0


def classroom(steps: int, anatomy: bool = False) -> dict[str, Any]:
    body = {
        "problem": {"name": "rosenbrock"},
        "steps": steps,
        "runs": [{"optimizer": name} for name in OPTIMIZERS],
    }
    return {**body, "anatomy": True} if anatomy else body


SCENES = {
    "10 × 120": classroom(120),
    "10 × 1 000 (classroom)": classroom(1000),
    "10 × 1 000, anatomy": classroom(1000, anatomy=True),
    "10 × 5 000": classroom(5000),
}


def best(work: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` calls, in ms."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return 1e3 * min(times)


def gzip(body: bytes, level: int) -> bytes:
    stream = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return stream.compress(body) + stream.flush()


def encoding_table(repeats: int) -> None:
    print("answer encoding, in this process (minimum of the repeats)\n")
    header = "| answer | JSON kB | engine ms | JSON ms |"
    header += "".join(f" gzip {level} ms (kB) |" for level in LEVELS)
    print(header + f" zstd {ZSTD_LEVEL} ms (kB) |")
    print("|---|---:|---:|---:|" + "---:|" * (len(LEVELS) + 1))
    per_mb: dict[str, list[float]] = {f"gzip {level}": [] for level in LEVELS}
    per_mb[f"zstd {ZSTD_LEVEL}"] = []
    for name, body in SCENES.items():
        simulation = build_simulation(body)
        result = simulate(simulation)
        answer = formats.dumps(formats.result_json(result))
        engine = best(lambda s=simulation: simulate(s), repeats)
        json_ms = best(lambda r=result: formats.dumps(formats.result_json(r)), repeats)
        cells = []
        for level in LEVELS:
            ms = best(lambda a=answer, lv=level: gzip(a, lv), repeats)
            per_mb[f"gzip {level}"].append(ms / (len(answer) / 1e6))
            cells.append(f"{ms:.1f} ({len(gzip(answer, level)) / 1e3:.0f})")
        ms = best(lambda a=answer: Zstd().finish(a), repeats)
        per_mb[f"zstd {ZSTD_LEVEL}"].append(ms / (len(answer) / 1e6))
        cells.append(f"{ms:.1f} ({len(Zstd().finish(answer)) / 1e3:.0f})")
        print(f"| {name} | {len(answer) / 1e3:.0f} | {engine:.1f} | {json_ms:.1f} | "
              + " | ".join(cells) + " |")  # fmt: skip
    print("\nms per MB of JSON (median over the answers): "
          + ", ".join(f"{name} {sorted(v)[len(v) // 2]:.0f}" for name, v in per_mb.items())
          + f"; the server uses zstd {ZSTD_LEVEL} where the client takes it, else gzip "
          f"{GZIP_LEVEL}")  # fmt: skip


def through_server(repeats: int) -> bool:
    body = SCENES["10 × 1 000 (classroom)"]
    codings = ("identity", "gzip", "zstd")
    port = free_port()
    process = start_server(port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            times: dict[str, list[float]] = {coding: [] for coding in codings}
            sizes: dict[str, int] = {}
            for k in range(repeats + 2):  # two rounds to warm the connection and caches
                for coding in codings:
                    began = time.perf_counter()
                    answer = client.post(
                        "/api/runs", json=body, headers={"accept-encoding": coding}
                    )
                    elapsed = time.perf_counter() - began
                    answer.raise_for_status()
                    assert answer.headers.get("content-encoding", "identity") == coding
                    sizes[coding] = answer.num_bytes_downloaded  # as sent on the wire
                    if k >= 2:
                        times[coding].append(1e3 * elapsed)
    finally:
        stop_server(process)
    plain = min(times["identity"])
    print(f"\nclassroom POST through uvicorn (minimum of {repeats}, alternated):")
    ok = True
    for coding in codings:
        ms = min(times[coding])
        level = {"gzip": f" level {GZIP_LEVEL}", "zstd": f" level {ZSTD_LEVEL}"}.get(coding, "")
        line = f"- {coding}{level}: {ms:.1f} ms, {sizes[coding] / 1e3:.0f} kB"
        if coding != "identity":
            ratio = ms / plain
            ok &= ratio <= TARGET
            verdict = "reached" if ratio <= TARGET else "MISSED"
            line += f", {ratio:.2f}× identity (target ≤ {TARGET:g}×: {verdict})"
        print(line)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-server", action="store_true", help="skip the live uvicorn")
    parser.add_argument("--server-only", action="store_true", help="only the live uvicorn")
    args = parser.parse_args()
    if not args.server_only:
        warm_up()
        encoding_table(args.repeats)
    if args.no_server:
        return 0
    return 0 if through_server(args.repeats) else 1


if __name__ == "__main__":
    sys.exit(main())
