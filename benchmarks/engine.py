"""How fast the engine steps runs, against three baselines doing the same work.

Run with ``make bench`` (``.venv/bin/python benchmarks/engine.py``); ``--quick``
for a short smoke run. See benchmarks/README.md for what every column means.

Scenes, all on Rosenbrock from the engine's default start with default
hyper-parameters, 1 000 updates, every point and its loss recorded:

  (a) Adam, 7 rows           (a classroom request)
  (b) Adam, 10 000 rows      (a sweep-sized batch)
  (c) every optimiser in app.optim.registry.OPTIMIZERS, one row each

and, for every built-in surface, its custom copy (the problem ``custom`` with the
surface's ``expression``, whose program the kernels interpret) against the
built-in's compiled gradient: every optimiser one row each, Adam × 64 rows and
Adam alone, 1 000 updates at α = 10⁻³ (no row diverges), kernel time per
row·update.

Every figure is the minimum over repeats of wall time divided by rows × steps,
in ns. The machine is shared: take the minimum, keep runs short, run nothing
else in parallel.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.backends import compiled  # noqa: E402
from app.engine import build_simulation, simulate  # noqa: E402
from app.optim.registry import OPTIMIZERS  # noqa: E402
from app.problems.registry import PROBLEMS  # noqa: E402
from app.sweeps import run_sweep  # noqa: E402
from app.warmup import warm_up  # noqa: E402

try:  # the optional `bench` extra
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None
try:
    from app.backends import threads
except ImportError:  # a tree from before batches were split between threads (to compare)
    threads = None

PROBLEM = "rosenbrock"
START = PROBLEMS[PROBLEM].start
# Defaults, except plain gradient descent and momentum at a rate that does not
# diverge on Rosenbrock (at 0.01 they do within 5 updates, and the engine stops
# a diverged row), so every row of every baseline makes all its updates.
PARAMS = {name: {"alpha": 1e-3} for name in ("sgd", "momentum", "nesterov")}


def hyper_parameters(name: str) -> dict[str, float]:
    return {p.name: p.default for p in OPTIMIZERS[name].params} | PARAMS.get(name, {})


ADAM = hyper_parameters("adam")
# The targets: engine ≤ 3× / 2× the compiled floor (one thread), ≥ 50× torch.optim.
TARGETS = {"a": ("floor", 3.0), "b": ("floor", 2.0), "c": ("torch", 50.0)}
# Sweeps on every core: the page's default Adam sweep at 256 × 256 × 1 000 within a
# second, and no rule's sweep more than twice momentum's.
SWEEP_SIDE, SWEEP_STEPS = 256, 1000
ADAM_SWEEP_SECONDS = 1.0
SWEEP_SPREAD = 2.0


def best_of(function: Callable[[], object], repeats: int) -> float:
    """The shortest of ``repeats`` timed calls, in seconds (one untimed call first)."""
    function()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


# -- the engine ------------------------------------------------------------------


def request(optimizers: list[str], steps: int) -> dict:
    return {
        "problem": {"name": PROBLEM},
        "steps": steps,
        "seed": 0,
        "runs": [{"optimizer": name, "params": PARAMS.get(name, {})} for name in optimizers],
    }


def sweep_request(rows: int, steps: int) -> dict:
    """``rows`` Adam runs from (all but) the same start, as a start-point sweep.

    10 000 rows reach the engine as a sweep in practice (a request holds at most
    64 runs); the sweep builds its rows as columns, with no per-run validation.
    """
    side = math.isqrt(rows)
    assert side * side == rows
    x0, y0 = START
    return {
        "problem": {"name": PROBLEM},
        "optimizer": "adam",
        "steps": steps,
        "x_axis": {"param": "start_x", "min": x0, "max": x0 + 1e-9, "count": side},
        "y_axis": {"param": "start_y", "min": y0, "max": y0 + 1e-9, "count": side},
    }


def time_engine(body: dict, backend: str, repeats: int) -> tuple[float, float | None]:
    """End to end and kernel-only seconds.

    End to end is what a request pays: ``simulate(build_simulation(body))`` for a
    runs request, ``run_sweep(body)`` for a sweep. The kernel is whatever numba
    loop ``app.backends.compiled.advance`` calls (every dispatcher of the generated
    kernel module whose name starts with ``run_``: ``run_typed`` for a custom
    surface), timed by wrapping it.
    """
    if "x_axis" in body:

        def run() -> None:
            run_sweep(body)

    else:
        rows = len(body["runs"])

        def run() -> None:
            simulate(build_simulation(body, max_runs=rows), backend=backend)

    if backend != "compiled":
        return best_of(run, repeats), None
    module = compiled.kernels()
    kernels = {
        name: getattr(module, name)
        for name in dir(module)
        if name.startswith("run_")
        and isinstance(getattr(module, name), numba.core.dispatcher.Dispatcher)
    }
    spent: list[float] = []

    def timed(kernel):
        def wrapper(*args):
            start = time.perf_counter()
            kernel(*args)
            spent.append(time.perf_counter() - start)

        return wrapper

    end_to_end = best_of(run, repeats)
    for name, kernel in kernels.items():
        setattr(module, name, timed(kernel))
    try:
        kernel_best = math.inf
        for _ in range(repeats):
            spent.clear()
            run()
            kernel_best = min(kernel_best, sum(spent))
    finally:
        for name, kernel in kernels.items():
            setattr(module, name, kernel)
    return end_to_end, kernel_best


# -- custom copies of the built-in surfaces -----------------------------------------

# The target: a custom copy within 3× of its built-in per row·update.
CUSTOM_TARGET = 3.0


def copy_requests(name: str, steps: int) -> dict[str, tuple[dict, dict]]:
    """Built-in and custom-copy bodies of the two shapes, from the surface's start."""
    surface = PROBLEMS[name]
    built_in = {"name": name}
    noise = {p.name: p.default for p in surface.params}
    copy = {"name": "custom", "expression": surface.expression, "start": list(surface.start)}
    copy.update(noise)
    shapes = {
        "every optimiser": [{"optimizer": o, "params": {"alpha": 1e-3}} for o in OPTIMIZERS],
        "Adam × 64": [{"optimizer": "adam", "params": {"alpha": 1e-3}}] * 64,
        "Adam × 1": [{"optimizer": "adam", "params": {"alpha": 1e-3}}],
    }
    return {
        shape: tuple(
            {"problem": p, "steps": steps, "seed": 0, "runs": runs} for p in (built_in, copy)
        )
        for shape, runs in shapes.items()
    }


def custom_copies(steps: int, repeats: int) -> list[tuple[str, str, float, float, bool]]:
    """Per surface and shape: built-in and copy kernel ns per row·update, paths equal."""
    rows = []
    for name, problem in PROBLEMS.items():
        if not problem.kind == "surface" or not getattr(problem, "value", None):
            continue
        for shape, (built_in, copy) in copy_requests(name, steps).items():
            work = len(built_in["runs"]) * steps
            _, kernel_built_in = time_engine(built_in, "compiled", repeats)
            _, kernel_copy = time_engine(copy, "compiled", repeats)
            a = simulate(build_simulation(built_in, max_runs=64))
            b = simulate(build_simulation(copy, max_runs=64))
            equal = all(np.array_equal(p, q) for p, q in zip(a.paths, b.paths, strict=True))
            rows.append(
                (name, shape, kernel_built_in * 1e9 / work, kernel_copy * 1e9 / work, equal)
            )
    return rows


def report_custom_copies(rows) -> None:
    print("custom copies of the built-in surfaces: kernel ns per row·update, 1 000 updates")
    table = [("surface", "rows", "built-in", "custom copy", "copy/built-in", "paths")]
    for name, shape, built_in, copy, equal in rows:
        table.append((name, shape, f"{built_in:.1f}", f"{copy:.1f}", f"{copy / built_in:.2f}×",
                      "equal" if equal else "DIFFER"))  # fmt: skip
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for i, row in enumerate(table):
        print("| " + " | ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    worst = max(copy / built_in for _, _, built_in, copy, _ in rows)
    verdict = "reached" if worst <= CUSTOM_TARGET else "MISSED"
    print(f"  custom copy ≤ {CUSTOM_TARGET:g}× its built-in, worst: {worst:.2f}× → {verdict}")


# -- baseline 1: a per-row pure-Python loop of the same rules ----------------------

# The rules of app.optim run unchanged on Python floats once ``np`` means ``math``.
_FLOAT_NP = types.SimpleNamespace(
    sqrt=math.sqrt, maximum=max, abs=abs, sign=lambda v: (v > 0) - (v < 0)
)


def on_floats(function):
    namespace = dict(function.__globals__, np=_FLOAT_NP)
    return types.FunctionType(function.__code__, namespace, function.__name__)


def python_rows(optimizers: list[str], steps: int) -> None:
    """Each row in turn, each coordinate a Python float; path and loss kept in lists."""
    for name in optimizers:
        spec = OPTIMIZERS[name]
        update = on_floats(spec.update)
        lookahead = on_floats(spec.lookahead) if spec.lookahead else None
        values = hyper_parameters(name)
        lr = values["alpha"]
        hyper = [values[p.name] for p in spec.params if p.name != "alpha"]
        x, y = START
        sx = [0.0] * len(spec.state)
        sy = [0.0] * len(spec.state)
        path = [(x, y)]
        losses = [(1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2]
        for k in range(1, steps + 1):
            t = float(k)
            ex, ey = x, y
            if lookahead is not None:
                ex = lookahead(x, sx[0], t, lr, *hyper)
                ey = lookahead(y, sy[0], t, lr, *hyper)
            ridge = ey - ex * ex
            gx = -2.0 * (1.0 - ex) - 400.0 * ex * ridge
            gy = 200.0 * ridge
            x, *sx = update(x, gx, *sx, t, lr, *hyper)
            y, *sy = update(y, gy, *sy, t, lr, *hyper)
            path.append((x, y))
            losses.append((1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2)


# -- baseline 2: torch.optim on CPU ------------------------------------------------


# torch.optim has no AdaBelief or Lion: their rows are timed as Adam's, the same work
# per element (two moving averages, or one and a sign).
TORCH_STAND_IN = {"adabelief": "adam", "lion": "adam"}


def torch_optimizer(name: str, params):
    """torch.optim's version of one of our rules, with our default hyper-parameters."""
    name = TORCH_STAND_IN.get(name, name)
    h = hyper_parameters(name)
    o = torch.optim
    if name == "sgd":
        return o.SGD(params, lr=h["alpha"])
    if name in ("momentum", "nesterov"):
        return o.SGD(params, lr=h["alpha"], momentum=h["beta"], nesterov=name == "nesterov")
    if name == "adagrad":
        return o.Adagrad(params, lr=h["alpha"], eps=h["eps"])
    if name == "rmsprop":
        return o.RMSprop(params, lr=h["alpha"], alpha=h["gamma"], eps=h["eps"])
    if name == "adadelta":
        return o.Adadelta(params, lr=h["alpha"], rho=h["rho"], eps=h["eps"])
    betas = (h["beta1"], h["beta2"])
    if name == "nadam":
        return o.NAdam(params, lr=h["alpha"], betas=betas, eps=h["eps"])
    if name == "adamax":
        return o.Adamax(params, lr=h["alpha"], betas=betas, eps=h["eps"])
    if name == "adamw":
        return o.AdamW(
            params, lr=h["alpha"], betas=betas, eps=h["eps"], weight_decay=h["weight_decay"]
        )
    if name == "radam":
        return o.RAdam(params, lr=h["alpha"], betas=betas, eps=h["eps"])
    if name in ("adam", "amsgrad"):
        return o.Adam(params, lr=h["alpha"], betas=betas, eps=h["eps"], amsgrad=name == "amsgrad")
    # A rule added to the registry needs its counterpart here (or a stand-in above):
    # timing another rule under its name would be a wrong figure.
    raise KeyError(f"no torch.optim counterpart for {name!r}")


def torch_rows(optimizers: list[str], steps: int, batched: bool) -> Callable[[], None]:
    """torch.optim stepping the same rows; returns the timed function.

    ``batched``: all rows (one optimiser) are one (B, 2) parameter; otherwise each
    row is its own (2,) parameter with its own optimiser. The gradient is the
    analytic Rosenbrock gradient written into ``.grad`` (no autograd), and each
    point and its loss is copied into a preallocated (steps, B, …) tensor.
    """

    def run() -> None:
        with torch.no_grad():
            if batched:
                groups = [(optimizers[0], torch.tensor([START] * len(optimizers)))]
            else:
                groups = [(name, torch.tensor(START)) for name in optimizers]
            params = []
            for name, value in groups:
                p = torch.nn.Parameter(value.to(torch.float64))
                params.append((p, torch_optimizer(name, [p])))
            rows = len(optimizers)
            path = torch.empty((steps, rows, 2), dtype=torch.float64)
            loss = torch.empty((steps, rows), dtype=torch.float64)
            for k in range(steps):
                first = 0
                for p, optimizer in params:
                    x, y = p[..., 0], p[..., 1]
                    ridge = y - x * x
                    grad = torch.stack((-2.0 * (1.0 - x) - 400.0 * x * ridge, 200.0 * ridge), -1)
                    p.grad = grad
                    optimizer.step()
                    width = 1 if p.dim() == 1 else p.shape[0]
                    x, y = p[..., 0], p[..., 1]
                    path[k, first : first + width] = p
                    loss[k, first : first + width] = (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2
                    first += width

    return run


# -- baseline 3: the compiled floor -------------------------------------------------


@numba.njit(cache=False, error_model="numpy")
def floor_adam(x0, steps, lr, beta1, beta2, eps, out_path, out_loss):
    """Adam on Rosenbrock by hand: updates outside, rows inside, in columns.

    The row loop only touches contiguous per-coordinate arrays (so it vectorises);
    the path and loss of each update are copied out in a separate loop.
    Bias corrections once per update; eps inside the sqrt, as in the engine.
    """
    rows = x0.shape[0]
    px = x0[:, 0].copy()
    py = x0[:, 1].copy()
    vx = np.zeros(rows)
    vy = np.zeros(rows)
    sx = np.zeros(rows)
    sy = np.zeros(rows)
    loss = np.empty(rows)
    for k in range(steps):
        t = k + 1.0
        c1 = 1.0 - beta1**t
        c2 = 1.0 - beta2**t
        for r in range(rows):
            x = px[r]
            y = py[r]
            ridge = y - x * x
            gx = -2.0 * (1.0 - x) - 400.0 * x * ridge
            gy = 200.0 * ridge
            vx[r] = beta1 * vx[r] + (1.0 - beta1) * gx
            vy[r] = beta1 * vy[r] + (1.0 - beta1) * gy
            sx[r] = beta2 * sx[r] + (1.0 - beta2) * (gx * gx)
            sy[r] = beta2 * sy[r] + (1.0 - beta2) * (gy * gy)
            x = x - lr * (vx[r] / c1) / math.sqrt(sx[r] / c2 + eps)
            y = y - lr * (vy[r] / c1) / math.sqrt(sy[r] / c2 + eps)
            px[r] = x
            py[r] = y
            loss[r] = (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2
        for r in range(rows):
            out_path[k, r, 0] = px[r]
            out_path[k, r, 1] = py[r]
            out_loss[k, r] = loss[r]


def floor_rows(rows: int, steps: int) -> Callable[[], None]:
    x0 = np.tile(np.array(START, dtype=np.float64), (rows, 1))
    out_path = np.empty((steps, rows, 2))
    out_loss = np.empty((steps, rows))
    lr, b1, b2, eps = ADAM["alpha"], ADAM["beta1"], ADAM["beta2"], ADAM["eps"]
    floor_adam(x0, 2, lr, b1, b2, eps, out_path, out_loss)  # compile
    return lambda: floor_adam(x0, steps, lr, b1, b2, eps, out_path, out_loss)


def check_floor(steps: int) -> float:
    """The floor computes what the engine does: its largest gap to the engine's path."""
    result = simulate(build_simulation(request(["adam"], steps)))
    x0 = np.array([START], dtype=np.float64)
    path = np.empty((steps, 1, 2))
    loss = np.empty((steps, 1))
    floor_adam(x0, steps, ADAM["alpha"], ADAM["beta1"], ADAM["beta2"], ADAM["eps"], path, loss)
    return float(np.abs(path[:, 0] - result.paths[0][1:]).max())


# -- sweeps on every core -------------------------------------------------------------


def use_threads(count: int) -> None:
    """Steps batches on ``count`` threads (0: every core), where the tree can."""
    if threads is not None:
        threads.configure(count)


def sweep_axes(name: str) -> tuple[str, str]:
    """The page's default sweep: α against the rule's second numeric setting, else
    against the start's y (static/js/sweep.js)."""
    numeric = [p.name for p in OPTIMIZERS[name].params if p.kind != "bool"]
    return ("alpha", numeric[1]) if len(numeric) > 1 else ("alpha", "start_y")


def time_sweeps(side: int, steps: int, repeats: int) -> dict[str, float]:
    """Seconds (minimum over repeats) of each rule's default sweep, ``side`` × ``side``
    cells × ``steps`` updates on Rosenbrock, axes over their catalog ranges."""
    seconds = {}
    for name in OPTIMIZERS:
        x, y = sweep_axes(name)
        body = {
            "problem": {"name": PROBLEM},
            "optimizer": name,
            "steps": steps,
            "x_axis": {"param": x, "count": side},
            "y_axis": {"param": y, "count": side},
        }
        seconds[name] = best_of(lambda b=body: run_sweep(b), repeats)
    return seconds


def report_sweeps(seconds: dict[str, float], side: int, steps: int) -> list[bool]:
    cores = threads.count() if threads is not None else 1
    print(f"sweeps: {side} × {side} cells × {steps} updates on {PROBLEM}, {cores} thread(s)")
    print("| optimiser | axes | seconds | ns per cell·update | × momentum |")
    print("|---|---|---:|---:|---:|")
    for name, value in seconds.items():
        print(
            f"| {name} | {' × '.join(sweep_axes(name))} | {value:.3f} "
            f"| {value * 1e9 / (side * side * steps):.1f} | {value / seconds['momentum']:.2f} |"
        )
    adam = seconds["adam"] * SWEEP_STEPS * SWEEP_SIDE**2 / (steps * side**2)
    spread = max(seconds.values()) / seconds["momentum"]
    checks = [
        (f"Adam {SWEEP_SIDE}² × {SWEEP_STEPS} sweep ≤ {ADAM_SWEEP_SECONDS:g} s: {adam:.2f} s"
         + ("" if (side, steps) == (SWEEP_SIDE, SWEEP_STEPS) else " (scaled)"),
         adam <= ADAM_SWEEP_SECONDS),
        (f"every sweep ≤ {SWEEP_SPREAD:g}× momentum's: {spread:.2f}×", spread <= SWEEP_SPREAD),
    ]  # fmt: skip
    for text, ok in checks:
        print(f"  {text} → {'reached' if ok else 'MISSED'}")
    return [ok for _, ok in checks]


# -- start-up -----------------------------------------------------------------------

STARTUP = (
    "import time; t = time.perf_counter(); import app.warmup as w; w.warm_up(); "
    "print(time.perf_counter() - t)"
)


def startup_seconds() -> tuple[float, float]:
    """``import app.warmup`` + ``warm_up()`` in a fresh process: empty cache, then warm."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        times = []
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", STARTUP],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            times.append(float(done.stdout.strip().splitlines()[-1]))
    return times[0], times[1]


# -- the report -----------------------------------------------------------------------


def ns(seconds: float | None, work: int) -> str:
    return "—" if seconds is None else f"{seconds * 1e9 / work:,.1f}"


def ratio(slow: float | None, fast: float | None) -> str:
    return "—" if slow is None or fast is None else f"{slow / fast:,.1f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, (b) at 200 updates")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up subprocesses")
    parser.add_argument("--sweeps-only", action="store_true", help="only the sweeps' table")
    parser.add_argument(
        "--custom-only", action="store_true", help="only the custom copies of the surfaces"
    )
    args = parser.parse_args()
    steps = 1000
    repeats = 2 if args.quick else 5
    big_repeats = 1 if args.quick else 3
    big_steps = 200 if args.quick else steps
    # Slow baselines at 10 000 rows run on a subset of rows: their cost is per row.
    python_subset = 20 if args.quick else 100

    if torch is not None:
        torch.set_num_threads(1)
    warm_up()
    sweep_side, sweep_steps = (128, 200) if args.quick else (SWEEP_SIDE, SWEEP_STEPS)
    sweep_repeats = 1 if args.quick else 2
    if args.sweeps_only:
        report_sweeps(time_sweeps(sweep_side, sweep_steps, sweep_repeats), sweep_side, sweep_steps)
        return
    if args.custom_only:
        report_custom_copies(custom_copies(steps, repeats))
        return
    use_threads(1)  # the table compares one thread with one thread

    scenes = {
        "a": ("Adam × 7 rows", ["adam"] * 7, steps, repeats),
        "b": ("Adam × 10 000 rows", ["adam"] * 10_000, big_steps, big_repeats),
        "c": (f"{len(OPTIMIZERS)} optimisers × 1 row", list(OPTIMIZERS), steps, repeats),
    }
    rows_out = []
    for key, (label, optimizers, n_steps, reps) in scenes.items():
        rows = len(optimizers)
        work = rows * n_steps
        body = request(optimizers, n_steps)
        engine, kernel = time_engine(
            sweep_request(rows, n_steps) if key == "b" else body, "compiled", reps
        )
        numpy_backend, _ = time_engine(body, "numpy", 1 if rows > 100 else reps)
        subset = optimizers if rows <= 100 else optimizers[:python_subset]
        python = best_of(lambda s=subset, n=n_steps: python_rows(s, n), 1 if rows > 100 else reps)
        python *= rows / len(subset)
        if torch is None:
            torch_time = None
        else:
            batched = len(set(optimizers)) == 1
            torch_time = best_of(torch_rows(optimizers, n_steps, batched), reps)
        floor = best_of(floor_rows(rows, n_steps), reps) if key in ("a", "b") else None
        rows_out.append((key, label, rows, n_steps, work, engine, kernel, numpy_backend, python,
                         torch_time, floor))  # fmt: skip

    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    ) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    print(f"machine: {os.cpu_count()} CPUs, {cpu}; Python {platform.python_version()}, "
          f"numpy {np.__version__}, numba {numba.__version__}, "
          f"torch {torch.__version__ if torch is not None else 'not installed'}")  # fmt: skip
    print(f"floor check: largest |floor − engine| on a 1-row Adam path = {check_floor(steps):.1e}")
    print()
    print("ns per row·step (min of repeats; lower is better)")
    header = ("scene", "rows×steps", "engine", "kernel", "numpy", "python", "torch", "floor",
              "engine/floor", "python/engine", "torch/engine", "numpy/engine")  # fmt: skip
    table = [header]
    for scene in rows_out:
        key, label, rows, n_steps, work, engine, kernel, numpy_t, python, torch_t, floor = scene
        table.append((
            f"({key}) {label}", f"{rows}×{n_steps}", ns(engine, work), ns(kernel, work),
            ns(numpy_t, work), ns(python, work),
            "torch not installed" if torch is None else ns(torch_t, work),
            ns(floor, work), ratio(engine, floor), ratio(python, engine),
            "torch not installed" if torch is None else ratio(torch_t, engine),
            ratio(numpy_t, engine),
        ))  # fmt: skip
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("| " + " | ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    print()
    print("targets:")
    for key, _, _, _, _, engine, _, _, _, torch_t, floor in rows_out:
        against, bound = TARGETS[key]
        if against == "floor":
            value = engine / floor
            ok = value <= bound
            print(f"  ({key}) engine ≤ {bound:g}× floor: {value:.1f}× → "
                  f"{'reached' if ok else 'MISSED'}")  # fmt: skip
        elif torch_t is None:
            print(f"  ({key}) engine ≥ {bound:g}× faster than torch.optim: torch not installed")
        else:
            value = torch_t / engine
            ok = value >= bound
            print(f"  ({key}) engine ≥ {bound:g}× faster than torch.optim: {value:.0f}× → "
                  f"{'reached' if ok else 'MISSED'}")  # fmt: skip
    print()
    report_custom_copies(custom_copies(steps, repeats))
    use_threads(0)
    print()
    report_sweeps(time_sweeps(sweep_side, sweep_steps, sweep_repeats), sweep_side, sweep_steps)
    if not args.no_startup:
        cold, warm = startup_seconds()
        print()
        print(
            "start-up, import app.warmup + warm_up() in a fresh process: "
            f"{cold:.2f} s with an empty NUMBA_CACHE_DIR, {warm:.2f} s with a warm one"
        )


if __name__ == "__main__":
    main()
