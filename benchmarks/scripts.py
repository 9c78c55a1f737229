"""What a script pays: the command line's start-up, and the size of a long answer.

    .venv/bin/python benchmarks/scripts.py            # ~1 min on two shared cores
    .venv/bin/python benchmarks/scripts.py --repeats 3

1. ``descentlab run`` (``python -m app.cli run --steps 500``, one Adam run on
   Rosenbrock), wall time of a fresh process: **cold**, with an empty
   ``NUMBA_CACHE_DIR`` (the engine compiles), then **warm**, the same cache now
   filled (the engine is loaded from disk); the median over ``--repeats``. For a
   baseline in the same run, ``python -c "import numpy"`` and ``import numba``.
2. ``POST /api/runs`` of 64 Adam runs (α from 0.001 to 0.064) × 10 000 updates on
   Rosenbrock, as JSON and as CSV, raw and gzipped (level 5, as the server's gzip
   middleware), with ``stride`` 1, 10 and 100, and the time to encode each (the
   minimum over repeats). The answers are made by ``app.formats`` exactly as the
   route makes them.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.engine import build_simulation, simulate  # noqa: E402
from app.formats import csv_blocks, dumps, result_json  # noqa: E402

COMMAND = [sys.executable, "-m", "app.cli", "run", "--steps", "500"]


def _wall(command: list[str], cache: str) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    began = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - began


def start_up(repeats: int) -> None:
    print("descentlab run: wall time of a fresh process (median)")
    cold, warm = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
            cold.append(_wall(COMMAND, cache))
            warm += [_wall(COMMAND, cache) for _ in range(2)]
    with tempfile.TemporaryDirectory() as cache:
        numpy = [_wall([sys.executable, "-c", "import numpy"], cache) for _ in range(repeats)]
        numba = [_wall([sys.executable, "-c", "import numba"], cache) for _ in range(repeats)]
    for label, times in (
        ("cold cache (compiles)", cold),
        ("warm cache (loads)", warm),
        ("python -c 'import numpy'", numpy),
        ("python -c 'import numba'", numba),
    ):
        print(f"  {label:26} {statistics.median(times):6.2f} s")


def sizes(repeats: int) -> None:
    runs = [{"optimizer": "adam", "params": {"alpha": 0.001 * (1 + i)}} for i in range(64)]
    body = {"problem": {"name": "rosenbrock"}, "steps": 10_000, "runs": runs}
    print("POST /api/runs, 64 Adam runs × 10 000 updates on Rosenbrock")
    columns = ("JSON MB", "gzip", "encode", "CSV MB", "gzip", "encode")
    print(f"  {'stride':>6}" + "".join(f" {name:>8}" for name in columns))
    encoders = (
        lambda result: dumps(result_json(result)),
        lambda result: b"".join(csv_blocks(result)),
    )
    for stride in (1, 10, 100):
        result = simulate(build_simulation({**body, "stride": stride}))
        cells = []
        for encode in encoders:
            times = []
            for _ in range(repeats):
                began = time.perf_counter()
                answer = encode(result)
                times.append(time.perf_counter() - began)
            cells += [len(answer) / 1e6, len(gzip.compress(answer, 5)) / 1e6, min(times) * 1e3]
        print(
            f"  {stride:6} {cells[0]:8.2f} {cells[1]:8.2f} {cells[2]:6.0f}ms"
            f" {cells[3]:8.2f} {cells[4]:8.2f} {cells[5]:6.0f}ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start_up(args.repeats)
    sizes(args.repeats)


if __name__ == "__main__":
    main()
