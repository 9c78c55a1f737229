"""The page in Chromium: first load, page weight and slider-to-redraw latency (issue 6).

    .venv/bin/python benchmarks/page.py                 # own uvicorn server, ~30 s
    .venv/bin/python benchmarks/page.py --url http://127.0.0.1:8000 --moves 40

Slider-to-redraw is the time from the slider's ``input`` event to the moment the
page reports (``window.__descentlab.lastCompleted.at``) that the run it sent for
that value is completely in its traces and painted (the page stamps it in a task
after the next animation frame); "noticed" is when this script saw it (the
page's ``descentlab:complete`` event, or the next animation frame for pages
without it) — the approach of
tests/browser/test_playground.py::test_slider_to_redraw_latency. Two scenes:
the default first visit (3 runs × 120 steps on steep_valley) and ten runs (every
optimiser) × 5 000 steps on Rosenbrock, whose URL is built in the page's own URL
format (static/js/state.js). First load is navigation start → the first run
completely drawn; page weight is every byte transferred (Chromium asks for gzip;
Plotly is served pre-compressed), from the Resource Timing API.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import free_port, loadavg, start_uvicorn, stop_server  # noqa: E402

from tests.serving import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

WAIT_COMPLETE = """after => window.__descentlab && window.__descentlab.lastCompleted.id > after
    && window.__descentlab.lastCompleted.id === window.__descentlab.currentId"""

# Moves one run's alpha slider `values.length` times; after each `input`, waits until the
# run sent for it is fully drawn and painted, then pauses `gap` ms (a student reading the
# picture). The page stamps `lastCompleted.at` after the frame that shows the run has been
# painted (a requestAnimationFrame, then a task), so `at - t0` is the latency; the time at
# which this script notices (a `descentlab:complete` event, else the next animation frame)
# is reported beside it.
MOVES = """async ([run, values, gap]) => {
    const el = document.querySelector(`[data-run="${run}"] input[data-param="alpha"]`);
    const gd = document.querySelector('#surface-plot');
    const times = [];
    for (const alpha of values) {
        const before = window.__descentlab.lastCompleted.id;
        const t0 = performance.now();
        el.value = el.dataset.scale === 'log' ? Math.log10(alpha) : alpha;
        el.dispatchEvent(new Event('input', {bubbles: true}));
        await new Promise((resolve) => {
            let settled = false;
            const check = () => {
                if (settled) return;
                const h = window.__descentlab;
                if (h.lastCompleted.id !== before && h.lastCompleted.id === h.currentId) {
                    settled = true;
                    window.removeEventListener('descentlab:complete', check);
                    resolve();
                } else requestAnimationFrame(check);
            };
            window.addEventListener('descentlab:complete', check);
            check();
        });
        const seen = performance.now() - t0;
        const trace = gd.data.find(d => d.meta && d.meta.run === run);
        if (!trace || trace.x.length < 2) throw new Error('empty path');
        const done = window.__descentlab.lastCompleted;
        times.push([done.at - t0, done.received - t0, done.at - done.received, seen]);
        await new Promise(r => setTimeout(r, gap));
    }
    return times;
}"""

WEIGHT = """() => performance.getEntriesByType('navigation')
    .concat(performance.getEntriesByType('resource'))
    .map(e => ({name: e.name, transfer: e.transferSize, body: e.encodedBodySize,
                decoded: e.decodedBodySize}))"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def big_scene_query(optimizers: list[str], steps: int) -> str:
    """Every optimiser once on Rosenbrock, in the page's URL format (state.js toURL)."""
    runs = "&".join(f"run={name}" for name in optimizers)
    return f"?problem=rosenbrock&noise=0&steps={steps}&seed=0&instant=1&view=2d&{runs}"


def measure(browser, base: str, query: str, run: int, values: list[float], gap: int) -> dict:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        began = time.perf_counter()
        page.goto(base + "/" + query)
        page.wait_for_function(WAIT_COMPLETE, arg=0, timeout=30_000)
        first_load = time.perf_counter() - began
        nav = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,"
            " drawn: window.__descentlab.lastCompleted.at}; }"
        )
        entries = page.evaluate(WEIGHT)
        triples = page.evaluate(MOVES, [run, values, gap])
        samples = [t[0] for t in triples]
        return {
            "first_load_s": first_load,
            "dom_content_loaded_ms": nav["dcl"],
            "load_event_ms": nav["load"],
            "first_run_drawn_ms": nav["drawn"],
            "transfer_bytes": sum(e["transfer"] or 0 for e in entries),
            "decoded_bytes": sum(e["decoded"] or 0 for e in entries),
            "resources": entries,
            "samples_ms": samples,
            "median_ms": statistics.median(samples),
            # input → the run's `done` received; `done` received → fully drawn
            "network_median_ms": statistics.median(t[1] for t in triples),
            "draw_median_ms": statistics.median(t[2] for t in triples),
            "p95_ms": percentile(samples, 95),
            # when the script noticed (event or next animation frame)
            "seen_median_ms": statistics.median(t[3] for t in triples),
            "seen_p95_ms": percentile([t[3] for t in triples], 95),
            "errors": errors,
        }
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server; default: start uvicorn (1 worker)")
    parser.add_argument("--port", type=int, default=0, help="own server's port (0: any free)")
    parser.add_argument("--moves", type=int, default=24, help="slider moves per scene (≥ 20)")
    parser.add_argument("--repeats", type=int, default=2, help="fresh pages per scene")
    parser.add_argument("--gap", type=int, default=60, help="ms between moves")
    parser.add_argument("--no-deflate", action="store_true", help="own server without it")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    process = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = args.port or free_port()
        process = start_uvicorn(port, deflate=not args.no_deflate)
        base = f"http://127.0.0.1:{port}"
    results: dict = {"loadavg_before": loadavg()}
    try:
        with urllib.request.urlopen(base + "/api/catalog", timeout=10) as response:
            catalog = json.load(response)
        optimizers = [o["name"] for o in catalog["optimizers"]]
        adam = optimizers.index("adam") if "adam" in optimizers else 0
        scenes = {
            # The browser test's moves: SGD's alpha on the default scene.
            "default (3 runs × 120 steps)": ("", 0, [0.05 + 0.015 * k for k in range(args.moves)]),
            "10 runs × 5000 steps": (
                big_scene_query(optimizers, 5000),
                adam,
                [round(10 ** (-2.5 + 1.5 * k / args.moves), 6) for k in range(args.moves)],
            ),
        }
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for name, (query, run, values) in scenes.items():
                    results[name] = [
                        measure(browser, base, query, run, values, args.gap)
                        for _ in range(max(1, args.repeats))
                    ]
            finally:
                browser.close()
    finally:
        if process is not None:
            stop_server(process)
    results["loadavg_after"] = loadavg()

    print(f"\nload average {results['loadavg_before']} before, {results['loadavg_after']} after")
    print(
        "\n| scene | slider→redraw median | p95 | of which input→done received | "
        "done→drawn | noticed median / p95 | first load | transferred | decoded |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for name in scenes:
        runs = results[name]
        median = statistics.median(r["median_ms"] for r in runs)
        p95 = statistics.median(r["p95_ms"] for r in runs)
        load = statistics.median(r["first_load_s"] for r in runs)
        transfer = statistics.median(r["transfer_bytes"] for r in runs)
        decoded = statistics.median(r["decoded_bytes"] for r in runs)
        print(
            f"| {name} | {median:.0f} ms | {p95:.0f} ms "
            f"| {statistics.median(r['network_median_ms'] for r in runs):.0f} ms "
            f"| {statistics.median(r['draw_median_ms'] for r in runs):.0f} ms "
            f"| {statistics.median(r['seen_median_ms'] for r in runs):.0f} / "
            f"{statistics.median(r['seen_p95_ms'] for r in runs):.0f} ms "
            f"| {load * 1e3:.0f} ms "
            f"| {transfer / 1e6:.2f} MB | {decoded / 1e6:.2f} MB |"
        )
        for r in runs:
            if r["errors"]:
                ok = False
                print(f"page errors: {r['errors'][:3]}")
    print(f"({args.repeats} fresh pages per scene × {args.moves} moves; medians over pages)")
    default = results["default (3 runs × 120 steps)"]
    reached = statistics.median(r["median_ms"] for r in default) <= 50
    print(
        f"\n{'reached' if reached else 'MISSED '}  slider-to-redraw median ≤ 50 ms (default scene)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok and reached else 1


if __name__ == "__main__":
    sys.exit(main())
