"""The page in Chromium: slider → redraw with real input, first load and page weight.

    .venv/bin/python benchmarks/page.py               # own uvicorn; quiet, then loaded (~2 min)
    .venv/bin/python benchmarks/page.py --no-load     # quiet only
    .venv/bin/python benchmarks/page.py --trace DIR   # + a Chromium trace per scene, summarised

Slider → redraw is timed as a user meets it: Playwright's real mouse and keyboard on
a run's α slider, timed inside the page from the slider's ``input`` event
(``event.timeStamp``) to the first animation frame that shows a path of that run
sent after the event (the page reports the run on screen, ``__descentlab.drawn``,
and a ``requestAnimationFrame`` watcher notes each frame where it changes). Three
gestures per scene:

- keyboard: the focused slider, arrow key presses ``--gap`` ms apart;
- drag: the mouse presses the thumb and moves a pixel every 16 ms (a 60 Hz mouse);
- rapid: 120 moves as fast as the mouse sends them; *settle* is the last move → the
  first frame showing the whole run of its value (rapid moves must never queue).

Scenes: the first visit (``/``: 3 runs × 120 steps on the steep valley) and the zoo
lesson (``/lessons/zoo``: 5 runs × 3 000 updates on Rosenbrock, Nadam's slider).
With load (the default), ``benchmarks/load.py`` runs its classroom against the same
server meanwhile (40 clients streaming, dragging and POSTing), and the scenes are
measured again.

First load: navigation → the first run completely drawn, and every byte
transferred (Resource Timing; Chromium asks for compression). With ``--trace``, a
Chromium performance trace of the keyboard gesture is written per scene and its CPU
time split between Plotly, the page's own modules, JSON parsing, garbage
collection, style/layout/paint and the rest; the server's share (computing the
runs, encoding them) is timed in this process on the same requests. Exit status 1
when a target is missed (first visit: median ≤ 50 ms and p95 ≤ 100 ms; zoo: median
≤ 100 ms; quiet).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import free_port, loadavg, start_uvicorn, stop_server  # noqa: E402

from tests.serving import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

WAIT_COMPLETE = """() => window.__descentlab && window.__descentlab.lastCompleted.id > 0
    && window.__descentlab.lastCompleted.id === window.__descentlab.currentId"""

# Notes every `input` of the slider (when, and the run's α it set) and every animation
# frame where what is on screen changes (the run, its α, points drawn, whether whole).
INSTRUMENT = """(run) => {
    const slider = document.querySelector(`[data-run="${run}"] input[data-param="alpha"]`);
    const bench = (window.__bench = { inputs: [], frames: [], stop: false });
    const hook = window.__descentlab;
    slider.addEventListener("input", (event) =>
        bench.inputs.push({ t: event.timeStamp, alpha: hook.state.runs[run].params.alpha }));
    let last = "";
    const watch = (ts) => {
        const drawn = hook.drawn;
        const alpha = drawn.request?.runs[run]?.params.alpha;
        const key = `${drawn.id}|${drawn.points}|${drawn.complete}`;
        if (key !== last) {
            last = key;
            bench.frames.push({ ts, alpha, complete: drawn.complete });
        }
        if (!bench.stop) requestAnimationFrame(watch);
    };
    requestAnimationFrame(watch);
    const box = slider.getBoundingClientRect();
    const span = Number(slider.max) - Number(slider.min);
    const at = (Number(slider.value) - Number(slider.min)) / span;
    return { left: box.left, width: box.width, y: box.top + box.height / 2, at };
}"""
# The slider's run is on screen, whole, at the α the slider set last.
SETTLED = """(run) => { const hook = window.__descentlab, d = hook.drawn;
    return window.__bench.inputs.length && d.complete && d.request
        && d.request.runs[run].params.alpha === hook.state.runs[run].params.alpha; }"""

WEIGHT = """() => performance.getEntriesByType('navigation')
    .concat(performance.getEntriesByType('resource'))
    .map(e => ({name: e.name, transfer: e.transferSize, decoded: e.decodedBodySize}))"""

SCENES = {
    "first visit": ("/", 0),
    "zoo lesson": ("/lessons/zoo", 2),  # Nadam, the lesson's focus
}
SETTLED_TIMEOUT = 30_000  # ms
THUMB = 8  # px: half a range thumb, the part of the track its centre cannot reach
TARGETS = {"first visit": (50, 100), "zoo lesson": (100, None)}  # median, p95 (ms)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def latencies(inputs: list[dict], frames: list[dict]) -> list[float]:
    """Per input, ms to the first frame showing its run at the α of that input or of a
    later one (0 when the frame on screen already shows it: two inputs may round to one α)."""
    out = []
    for k, entry in enumerate(inputs):
        later = {e["alpha"] for e in inputs[k:]}
        on_screen = None
        for frame in frames:
            if frame["ts"] >= entry["t"]:
                break
            on_screen = frame["alpha"]
        if on_screen == entry["alpha"]:
            out.append(0.0)
            continue
        answer = next(
            (f["ts"] for f in frames if f["ts"] >= entry["t"] and f["alpha"] in later), None
        )
        if answer is not None:
            out.append(answer - entry["t"])
    return out


def settle(inputs: list[dict], frames: list[dict]) -> float | None:
    """The last input → the first frame showing the whole run at its α (ms)."""
    last = inputs[-1]
    done = next(
        (
            f["ts"]
            for f in frames
            if f["ts"] >= last["t"] and f["complete"] and f["alpha"] == last["alpha"]
        ),
        None,
    )
    return None if done is None else done - last["t"]


def gesture(page, run: int, act) -> tuple[list[float], list[dict]]:
    """Instrument the slider, do ``act(geometry)``, wait for the page to settle; returns
    the inputs' times and the frames."""
    geometry = page.evaluate(INSTRUMENT, run)
    act(geometry)
    page.wait_for_function(SETTLED, arg=run, timeout=SETTLED_TIMEOUT)
    page.wait_for_timeout(100)
    return page.evaluate(
        "() => { const b = window.__bench; b.stop = true; return [b.inputs, b.frames]; }"
    )


def thumb(geometry: dict) -> tuple[float, float]:
    track = geometry["width"] - 2 * THUMB
    return geometry["left"] + THUMB + geometry["at"] * track, geometry["y"]


def keyboard(page, run: int, presses: int, gap: int):
    def act(geometry):
        page.focus(f'[data-run="{run}"] input[data-param="alpha"]')
        for k in range(presses):
            page.keyboard.press("ArrowRight" if k < presses // 2 else "ArrowLeft")
            page.wait_for_timeout(gap)

    return gesture(page, run, act)


def drag(page, run: int, moves: int, pause: int, direction: int = 1):
    def act(geometry):
        x, y = thumb(geometry)
        page.mouse.move(x, y)
        page.mouse.down()
        for k in range(1, moves + 1):
            page.mouse.move(x + direction * k, y)
            if pause:
                page.wait_for_timeout(pause)
        page.mouse.up()

    return gesture(page, run, act)


def measure(browser, base: str, path: str, run: int, args, trace: Path | None) -> dict:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        requests: list[dict] = []

        def frames(ws):
            ws.on("framesent", lambda payload: requests.append(json.loads(payload)))

        page.on("websocket", frames)
        began = time.perf_counter()
        page.goto(base + path)
        page.wait_for_function(WAIT_COMPLETE, timeout=60_000)
        first_load = time.perf_counter() - began
        drawn_at = page.evaluate("window.__descentlab.lastCompleted.at")
        entries = page.evaluate(WEIGHT)
        if trace is not None:
            browser.start_tracing(page=page, path=str(trace), categories=TRACE_CATEGORIES)
        keys = keyboard(page, run, args.presses, args.gap)
        if trace is not None:
            browser.stop_tracing()
        dragged = drag(page, run, args.moves, 16, direction=-1)
        rapid = drag(page, run, 120, 0)
        return {
            "first_load_ms": first_load * 1e3,
            "first_run_drawn_ms": drawn_at,
            "transfer_bytes": sum(e["transfer"] or 0 for e in entries),
            "decoded_bytes": sum(e["decoded"] or 0 for e in entries),
            "keyboard_ms": latencies(*keys),
            "drag_ms": latencies(*dragged),
            "rapid_ms": latencies(*rapid),
            "rapid_moves": len(rapid[0]),
            "settle_ms": settle(*rapid),
            "requests": [r["request"] for r in requests if r.get("type") == "run"],
            "errors": errors,
        }
    finally:
        context.close()


# -- where the time goes: a Chromium trace, and the server's part timed here --------------

TRACE_CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "disabled-by-default-devtools.timeline.frame",
    "v8.execute",
    "disabled-by-default-v8.cpu_profiler",
    "blink.user_timing",
]
RENDERING = {
    "UpdateLayoutTree", "Layout", "Paint", "PrePaint", "Layerize", "Commit",
    "RasterTask", "CompositeLayers", "UpdateLayer", "PaintImage", "Decode Image",
}  # fmt: skip


def summarise_trace(path: Path) -> dict[str, float]:
    """CPU ms of the page's main thread by what ran: JavaScript from the CPU profile's
    samples (by script: Plotly, each page module; JSON.parse; the garbage collector)
    and rendering from the timeline's events."""
    events = json.loads(path.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    # The renderers' main threads, named by metadata events (only the measured page's is busy).
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    nodes: dict[int, dict] = {}
    spent: Counter[str] = Counter()
    for e in events:
        if e.get("name") != "ProfileChunk":
            continue
        data = e["args"]["data"]["cpuProfile"] if "cpuProfile" in e["args"]["data"] else None
        if data is None:
            continue
        for node in data.get("nodes", []):
            nodes[node["id"]] = node["callFrame"]
        deltas = e["args"]["data"].get("timeDeltas", [])
        for sample, delta in zip(data.get("samples", []), deltas, strict=False):
            frame = nodes.get(sample, {})
            spent[_kind(frame)] += delta / 1e3
    spent.pop("(idle)", None)
    for e in events:
        if (e.get("pid"), e.get("tid")) in mains and e.get("ph") == "X" and e["name"] in RENDERING:
            spent["style, layout, paint"] += e.get("dur", 0) / 1e3
    return dict(spent.most_common())


def _kind(frame: dict) -> str:
    url, name = frame.get("url", ""), frame.get("functionName", "")
    if "plotly" in url:
        return "Plotly"
    if "/static/js/" in url:
        return "page: " + url.rsplit("/", 1)[-1]
    if name == "parse" and not url:
        return "JSON.parse"
    if name in ("(garbage collector)", "(program)", "(idle)"):
        return name
    return "other JavaScript" if url else f"native: {name or '?'}"


def server_share(request: dict, repeats: int = 5) -> dict[str, float]:
    """ms the server spends on one run request: computing it (the engine), and computing
    and encoding it as the stream does (its chunks' JSON)."""
    from app.api import streaming
    from app.engine import build_simulation, simulate
    from app.warmup import warm_up

    warm_up()
    simulation = build_simulation(request)

    def compute():
        simulate(simulation)

    def stream():
        # A slider's request (the moved run) is one slice of work: the stream computes
        # and encodes it whole in its first turn.
        streaming._begin(1, simulation, simulation.steps)

    def best(function):
        function()
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            function()
            times.append(time.perf_counter() - began)
        return min(times) * 1e3

    computing, streamed = best(compute), best(stream)
    return {"computing": computing, "encoding": max(0.0, streamed - computing)}


# -- the classroom, meanwhile ---------------------------------------------------------------

LOAD_LEAD = 9.0  # s: load.py's idle and drag phases, before its classroom starts


def start_load(base: str, pid: int | None, seconds: float) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--url", base,
               "--duration", str(min(60.0, seconds))]  # fmt: skip
    if pid:
        command += ["--server-pid", str(pid)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- the report ---------------------------------------------------------------------------


def row(name: str, condition: str, result: dict) -> str:
    def fig(values: list[float]) -> str:
        if not values:
            return "—"
        return f"{statistics.median(values):.0f} / {percentile(values, 95):.0f}"

    settle_ms = result["settle_ms"]
    return (
        f"| {name} | {condition} | {fig(result['keyboard_ms'])} | {fig(result['drag_ms'])} "
        f"| {fig(result['rapid_ms'])} | {'—' if settle_ms is None else f'{settle_ms:.0f}'} "
        f"| {result['first_run_drawn_ms']:.0f} | {result['transfer_bytes'] / 1e6:.2f} MB |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server; default: start uvicorn (1 worker)")
    parser.add_argument("--port", type=int, default=0, help="own server's port (0: any free)")
    parser.add_argument("--presses", type=int, default=20, help="arrow key presses per scene")
    parser.add_argument("--gap", type=int, default=250, help="ms between key presses")
    parser.add_argument("--moves", type=int, default=60, help="drag moves (1 px, 16 ms apart)")
    parser.add_argument("--no-load", action="store_true", help="quiet only")
    parser.add_argument("--trace", type=Path, help="write and summarise a trace per scene here")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    process = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = args.port or free_port()
        process = start_uvicorn(port, deflate=False)
        base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(base + "/readyz", timeout=10) as response:
        response.read()
    conditions = ["quiet"] if args.no_load else ["quiet", "loaded"]
    results: dict = {}
    if args.trace:
        args.trace.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for condition in conditions:
                    load = None
                    if condition == "loaded":
                        load = start_load(base, process.pid if process else None, 55)
                        time.sleep(LOAD_LEAD)
                    results[condition] = {"loadavg_before": loadavg()}
                    for name, (path, run) in SCENES.items():
                        trace = None
                        if args.trace:
                            trace = args.trace / f"{name.replace(' ', '-')}-{condition}.json"
                        results[condition][name] = measure(browser, base, path, run, args, trace)
                    results[condition]["loadavg_after"] = loadavg()
                    if load is not None:
                        load.terminate()
                        load.wait(timeout=30)
            finally:
                browser.close()
    finally:
        if process is not None:
            stop_server(process)

    print("\nslider → the first frame showing its value, ms (median / p95)")
    print("| scene | machine | keyboard | drag | 120 rapid moves | settle | first run drawn |"
          " first load transferred |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    ok = True
    for condition in conditions:
        figures = results[condition]
        where = f"{condition} (load {figures['loadavg_before']})"
        for name in SCENES:
            print(row(name, where, figures[name]))
            if figures[name]["errors"]:
                ok = False
                print(f"page errors: {figures[name]['errors'][:3]}")
    quiet = results["quiet"]
    for name, (median_target, p95_target) in TARGETS.items():
        moves = quiet[name]["keyboard_ms"] + quiet[name]["drag_ms"]
        median, p95 = statistics.median(moves), percentile(moves, 95)
        reached = median <= median_target and (p95_target is None or p95 <= p95_target)
        ok &= reached
        wanted = f"median ≤ {median_target} ms" + (f", p95 ≤ {p95_target} ms" if p95_target else "")
        print(f"{'reached' if reached else 'MISSED '}  {name}, quiet, keyboard and drag: "
              f"{wanted} ({median:.0f} / {p95:.0f} ms)")  # fmt: skip
    if args.trace:
        print("\nwhere a keyboard gesture's time goes: page main thread CPU ms (Chromium trace)")
        for condition in conditions:
            for name in SCENES:
                trace = args.trace / f"{name.replace(' ', '-')}-{condition}.json"
                spent = summarise_trace(trace)
                top = ", ".join(f"{k} {v:.0f}" for k, v in list(spent.items())[:9])
                print(f"- {name}, {condition}: {top}")
        print("\nthe server's part of one request (this process, best of 5), ms:")
        for name in SCENES:
            request = quiet[name]["requests"][-1]
            share = server_share(request)
            print(f"- {name}: computing {share['computing']:.1f}, encoding {share['encoding']:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
