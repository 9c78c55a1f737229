"""The compiled step loop: the engine's rules and gradients, run by numba.

The update rules and the gradients are *not* rewritten here: the elementwise
functions of ``app.optim`` and ``app.problems`` are compiled as they are and
called on one scalar coordinate at a time. This module only holds the loop
and the two dispatch tables (optimiser id → rule, problem id → gradient),
whose ids follow the registries' order; ``check_ids`` proves they agree.

The machine code is cached on disk (``NUMBA_CACHE_DIR`` or ``__pycache__``),
and ``warm_up`` compiles or loads it at start-up, not on a user's first click.
numba compiles a kernel once per combination of argument types, and an array's
type includes its memory layout: ``run_updates`` hands every array over
C-contiguous with one dtype (outputs are whole buffers and a column offset,
never strided views), so each kernel has exactly one signature, the one
``warm_up`` compiles. ``CompileWatch`` logs any compile after that.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numba
import numpy as np

from app import convergence
from app.optim import adadelta, adagrad, adam, momentum, rmsprop, sgd
from app.optim.registry import OPTIMIZERS
from app.problems import regression, surfaces
from app.problems.registry import PROBLEMS

if TYPE_CHECKING:
    from app.engine import Execution

log = logging.getLogger(__name__)


def _jit(function):
    return numba.njit(inline="always", cache=True)(function)


sgd_update = _jit(sgd.sgd_update)
momentum_update = _jit(momentum.momentum_update)
nesterov_lookahead = _jit(momentum.nesterov_lookahead)
adagrad_update = _jit(adagrad.adagrad_update)
rmsprop_update = _jit(rmsprop.rmsprop_update)
adam_update = _jit(adam.adam_update)
amsgrad_update = _jit(adam.amsgrad_update)
adamax_update = _jit(adam.adamax_update)
nadam_update = _jit(adam.nadam_update)
adadelta_update = _jit(adadelta.adadelta_update)

OPTIMIZER_IDS = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adam",
    "adadelta",
    "nadam",
    "adamax",
    "amsgrad",
)
SURFACE_IDS = (
    "steep_valley",
    "saddle",
    "noisy_bowl",
    "rosenbrock",
    "himmelblau",
    "beale",
    "rastrigin",
    "six_hump_camel",
)
LINEAR_ID, LOGISTIC_ID = 100, 101

_values = tuple(_jit(getattr(surfaces, f"{name}_value")) for name in SURFACE_IDS)
_grads = tuple(_jit(getattr(surfaces, f"{name}_grad")) for name in SURFACE_IDS)
(
    steep_valley_value,
    saddle_value,
    noisy_bowl_value,
    rosenbrock_value,
    himmelblau_value,
    beale_value,
    rastrigin_value,
    six_hump_camel_value,
) = _values
(
    steep_valley_grad,
    saddle_grad,
    noisy_bowl_grad,
    rosenbrock_grad,
    himmelblau_grad,
    beale_grad,
    rastrigin_grad,
    six_hump_camel_grad,
) = _grads
linear_loss = _jit(regression.linear_loss)
linear_dloss = _jit(regression.linear_dloss)
logistic_loss = _jit(regression.logistic_loss)
logistic_dloss = _jit(regression.logistic_dloss)


def check_ids() -> None:
    """The dispatch tables must name what the registries hold, in their order."""
    if OPTIMIZER_IDS != tuple(OPTIMIZERS):
        raise RuntimeError("compiled optimiser ids differ from the registry")
    registry_surfaces = tuple(n for n, p in PROBLEMS.items() if p.kind == "surface")
    if SURFACE_IDS != registry_surfaces:
        raise RuntimeError("compiled surface ids differ from the registry")


check_ids()


@numba.njit(inline="always", cache=True)
def _update(op, x, g, s0, s1, s2, t, lr, h0, h1, h2, h3):
    """One coordinate of one update of optimiser ``op``: returns (x, s0, s1, s2)."""
    if op == 0:
        (x,) = sgd_update(x, g, t, lr)
    elif op == 1 or op == 2:
        x, s0 = momentum_update(x, g, s0, t, lr, h0, h1)
    elif op == 3:
        x, s0 = adagrad_update(x, g, s0, t, lr, h0)
    elif op == 4:
        x, s0 = rmsprop_update(x, g, s0, t, lr, h0, h1)
    elif op == 5:
        x, s0, s1 = adam_update(x, g, s0, s1, t, lr, h0, h1, h2, h3)
    elif op == 6:
        x, s0, s1 = adadelta_update(x, g, s0, s1, t, lr, h0, h1)
    elif op == 7:
        x, s0, s1 = nadam_update(x, g, s0, s1, t, lr, h0, h1, h2)
    elif op == 8:
        x, s0, s1 = adamax_update(x, g, s0, s1, t, lr, h0, h1, h2)
    else:
        x, s0, s1, s2 = amsgrad_update(x, g, s0, s1, s2, t, lr, h0, h1, h2)
    return x, s0, s1, s2


@numba.njit(inline="always", cache=True)
def _surface_grad(problem, x, y):
    if problem == 0:
        return steep_valley_grad(x, y)
    if problem == 1:
        return saddle_grad(x, y)
    if problem == 2:
        return noisy_bowl_grad(x, y)
    if problem == 3:
        return rosenbrock_grad(x, y)
    if problem == 4:
        return himmelblau_grad(x, y)
    if problem == 5:
        return beale_grad(x, y)
    if problem == 6:
        return rastrigin_grad(x, y)
    return six_hump_camel_grad(x, y)


@numba.njit(inline="always", cache=True)
def _surface_value(problem, x, y):
    if problem == 0:
        return steep_valley_value(x, y)
    if problem == 1:
        return saddle_value(x, y)
    if problem == 2:
        return noisy_bowl_value(x, y)
    if problem == 3:
        return rosenbrock_value(x, y)
    if problem == 4:
        return himmelblau_value(x, y)
    if problem == 5:
        return beale_value(x, y)
    if problem == 6:
        return rastrigin_value(x, y)
    return six_hump_camel_value(x, y)


# Inlined like everything the loops call: a real call passing arrays makes numba
# manage their reference counts around it, and that alone tripled a surface
# update's cost (25 ns instead of 8 per row·update) though the branch never runs.
@numba.njit(inline="always", cache=True)
def _regression_grad(problem, w, b, data_x, data_y, order, start, size):
    sum_w = 0.0
    sum_b = 0.0
    for i in range(start, start + size):
        sample = order[i]
        z = w * data_x[sample] + b
        if problem == LINEAR_ID:
            d = linear_dloss(z, data_y[sample])
        else:
            d = logistic_dloss(z, data_y[sample])
        sum_w += d * data_x[sample]
        sum_b += d
    return sum_w / size, sum_b / size


@numba.njit(inline="always", cache=True)
def _regression_loss(problem, w, b, data_x, data_y):
    total = 0.0
    for i in range(data_x.shape[0]):
        z = w * data_x[i] + b
        if problem == LINEAR_ID:
            total += linear_loss(z, data_y[i])
        else:
            total += logistic_loss(z, data_y[i])
    return total / data_x.shape[0]


@numba.njit(inline="always", cache=True)
def _one_update(
    problem,
    op,
    px,
    py,
    ax,
    bx,
    cx,
    ay,
    by,
    cy,
    t,
    lr,
    h0,
    h1,
    h2,
    h3,
    noise_x,
    noise_y,
    data_x,
    data_y,
    order,
    start,
    size,
):
    """One update of one row: the gradient (at Nesterov's look-ahead point if it
    asks), its noise, then the rule on each coordinate. Returns the new position
    and the state, (x, y, ax, bx, cx, ay, by, cy)."""
    ex, ey = px, py
    if op == 2:
        ex = nesterov_lookahead(px, ax, t, lr, h0, h1)
        ey = nesterov_lookahead(py, ay, t, lr, h0, h1)
    if problem < LINEAR_ID:
        gx, gy = _surface_grad(problem, ex, ey)
    else:
        gx, gy = _regression_grad(problem, ex, ey, data_x, data_y, order, start, size)
    gx = gx + noise_x
    gy = gy + noise_y
    nx, ax, bx, cx = _update(op, px, gx, ax, bx, cx, t, lr, h0, h1, h2, h3)
    ny, ay, by, cy = _update(op, py, gy, ay, by, cy, t, lr, h0, h1, h2, h3)
    return nx, ny, ax, bx, cx, ay, by, cy


@numba.njit(inline="always", cache=True)
def _escaped(x, y, max_coordinate):
    return not (
        math.isfinite(x)
        and math.isfinite(y)
        and abs(x) <= max_coordinate
        and abs(y) <= max_coordinate
    )


@numba.njit(inline="always", cache=True)
def _loss(problem, x, y, data_x, data_y):
    if problem < LINEAR_ID:
        return _surface_value(problem, x, y)
    return _regression_loss(problem, x, y, data_x, data_y)


# nogil on both loops: they touch only arrays, so the server's event loop (and
# other requests' threads) keep running while one request computes.
@numba.njit(cache=True, nogil=True)
def _run(
    problem,
    sigma,
    noise,
    data_x,
    data_y,
    order,
    starts,
    sizes,
    batch_of_row,
    optimizer_ids,
    hyper,
    rates,
    first_update,
    x,
    state,
    diverged_at,
    out_path,
    out_loss,
    column,
    max_coordinate,
):
    """Any mix of optimisers: each row runs all its updates with its state in registers."""
    for row in range(x.shape[0]):
        if diverged_at[row] != 0:
            continue
        op = optimizer_ids[row]
        group = batch_of_row[row]
        h0, h1, h2, h3 = hyper[row, 0], hyper[row, 1], hyper[row, 2], hyper[row, 3]
        px, py = x[row, 0], x[row, 1]
        ax, bx, cx = state[row, 0, 0], state[row, 1, 0], state[row, 2, 0]
        ay, by, cy = state[row, 0, 1], state[row, 1, 1], state[row, 2, 1]
        for k in range(rates.shape[0]):
            t = float(first_update + k)
            new = _one_update(
                problem,
                op,
                px,
                py,
                ax,
                bx,
                cx,
                ay,
                by,
                cy,
                t,
                rates[k, row],
                h0,
                h1,
                h2,
                h3,
                sigma * noise[k, 0],
                sigma * noise[k, 1],
                data_x,
                data_y,
                order,
                starts[group, k],
                sizes[group, k],
            )
            if _escaped(new[0], new[1], max_coordinate):
                diverged_at[row] = first_update + k
                break
            px, py, ax, bx, cx, ay, by, cy = new
            out_path[row, column + k, 0] = px
            out_path[row, column + k, 1] = py
            out_loss[row, column + k] = _loss(problem, px, py, data_x, data_y)
        x[row, 0], x[row, 1] = px, py
        state[row, 0, 0], state[row, 1, 0], state[row, 2, 0] = ax, bx, cx
        state[row, 0, 1], state[row, 1, 1], state[row, 2, 1] = ay, by, cy


# Rows per block of _run_alike: enough independent rows to overlap their
# dependency chains, few enough that their output rows stay in cache and TLB.
BLOCK = 16


@numba.njit(cache=True, nogil=True)
def _run_alike(
    problem,
    sigma,
    noise,
    data_x,
    data_y,
    order,
    starts,
    sizes,
    batch_of_row,
    op,
    h0,
    h1,
    h2,
    h3,
    rates,
    first_update,
    x,
    state,
    diverged_at,
    out_path,
    out_loss,
    column,
    max_coordinate,
):
    """``_run`` for rows that share one optimiser and its hyper-parameters.

    Same arithmetic, other order: a block of rows advances one update at a time,
    so what a rule computes from ``t`` and the hyper-parameters alone (``β**t``,
    about half of Adam's cost) is the same for the whole block and LLVM hoists it
    out of the row loop. Results are bit-identical to ``_run``.
    """
    for low in range(0, x.shape[0], BLOCK):
        high = min(low + BLOCK, x.shape[0])
        for k in range(rates.shape[0]):
            t = float(first_update + k)
            for row in range(low, high):
                if diverged_at[row] != 0:
                    continue
                group = batch_of_row[row]
                new = _one_update(
                    problem,
                    op,
                    x[row, 0],
                    x[row, 1],
                    state[row, 0, 0],
                    state[row, 1, 0],
                    state[row, 2, 0],
                    state[row, 0, 1],
                    state[row, 1, 1],
                    state[row, 2, 1],
                    t,
                    rates[k, row],
                    h0,
                    h1,
                    h2,
                    h3,
                    sigma * noise[k, 0],
                    sigma * noise[k, 1],
                    data_x,
                    data_y,
                    order,
                    starts[group, k],
                    sizes[group, k],
                )
                if _escaped(new[0], new[1], max_coordinate):
                    diverged_at[row] = first_update + k
                    continue
                x[row, 0], x[row, 1] = new[0], new[1]
                state[row, 0, 0], state[row, 1, 0], state[row, 2, 0] = new[2], new[3], new[4]
                state[row, 0, 1], state[row, 1, 1], state[row, 2, 1] = new[5], new[6], new[7]
                out_path[row, column + k, 0] = new[0]
                out_path[row, column + k, 1] = new[1]
                out_loss[row, column + k] = _loss(problem, new[0], new[1], data_x, data_y)


def problem_id(name: str) -> int:
    if name == "linear_regression":
        return LINEAR_ID
    if name == "logistic_regression":
        return LOGISTIC_ID
    return SURFACE_IDS.index(name)


def _readable(array, dtype) -> np.ndarray:
    """``array`` in the one layout the loops are compiled for: C-contiguous, aligned,
    writeable (numba types a read-only array apart), of ``dtype``. Copies only when
    it is not already so."""
    flags = array.flags
    if array.dtype == dtype and flags.c_contiguous and flags.aligned and flags.writeable:
        return array
    return np.array(array, dtype=dtype, order="C")


def _writable(array, dtype) -> np.ndarray:
    """An array the loops write into: it must already be in their layout (a copy would
    lose the writes)."""
    flags = array.flags
    if array.dtype != dtype or not (flags.c_contiguous and flags.aligned and flags.writeable):
        raise TypeError(f"the compiled loop writes into C-contiguous {dtype} arrays only")
    return array


def run_updates(
    execution: Execution, first_update, rates, noise, batches, out_path, out_loss, column
) -> None:
    """Advance ``execution`` by ``len(rates)`` updates, writing them into columns
    ``column …`` of the out arrays."""
    from app.engine import MAX_COORDINATE

    f64, i64 = np.float64, np.int64
    ids, hyper = execution.optimizer_ids, execution.hyper
    if len(ids) > 1 and (ids == ids[0]).all() and (hyper == hyper[0]).all():
        kernel, rule = _run_alike, (int(ids[0]), *(float(h) for h in hyper[0]))
    else:
        kernel, rule = _run, (_readable(ids, i64), _readable(hyper, f64))
    kernel(
        problem_id(execution.problem.name),
        float(execution.sigma),
        _readable(noise, f64),
        _readable(execution.data_x, f64),
        _readable(execution.data_y, f64),
        _readable(batches.order, i64),
        _readable(batches.starts, i64),
        _readable(batches.sizes, i64),
        _readable(execution.batch_of_row, i64),
        *rule,
        _readable(rates, f64),
        int(first_update),
        _writable(execution.x, f64),
        _writable(execution.state, f64),
        _writable(execution.diverged_at, i64),
        _writable(out_path, f64),
        _writable(out_loss, f64),
        int(column),
        float(MAX_COORDINATE),
    )


# What the server logs when a request had to compile: operators (and the compose
# test) look for this phrase.
COMPILED_AFTER_WARM_UP = "engine compiled a new kernel after warm-up"

# Every numba kernel a request calls. Their arguments always have the same types
# (see _readable), so each has exactly one signature, compiled by warm_up().
KERNELS = {
    "_run": _run,
    "_run_alike": _run_alike,
    "convergence.scan": convergence.compiled_scan,
}


class CompileWatch:
    """Logs a warning when a kernel gains a signature after warm-up.

    Such a compile takes seconds of a core on some user's request: it means a
    request passed arrays of a type or layout warm_up() did not cover. Checking
    is a length comparison per kernel, cheap enough to do after every chunk.
    """

    def __init__(self, kernels) -> None:
        self.kernels = kernels
        self.known: dict[str, int] | None = None  # None: not warm yet, compiles expected

    def arm(self) -> None:
        self.known = {name: len(kernel.signatures) for name, kernel in self.kernels.items()}

    def check(self) -> None:
        if self.known is None:
            return
        for name, kernel in self.kernels.items():
            signatures = kernel.signatures
            if len(signatures) > self.known[name]:
                self.known[name] = len(signatures)
                log.warning(
                    COMPILED_AFTER_WARM_UP + ": %s for %s",
                    name,
                    signatures[-1],
                )


compile_watch = CompileWatch(KERNELS)


def report_new_compiles() -> None:
    """Warn if any kernel compiled since warm-up (called after each chunk of work)."""
    compile_watch.check()


def warm_up() -> None:
    """Compile (or load from the cache) every kernel, through the entry points the
    routes use (POST /api/runs, the stream, sweeps), on a noisy surface and a
    minibatch regression, mixed rows and rows alike; then watch for later compiles."""
    from app.engine import Execution, build_simulation, simulate
    from app.sweeps import Sweep

    problems = (
        {"name": "rosenbrock", "noise": 0.1},
        {"name": "linear_regression", "n_samples": 20, "batch_size": 4},
    )
    for problem in problems:
        # Mixed optimisers (_run), then rows all alike (_run_alike).
        for runs in ([{"optimizer": name} for name in OPTIMIZERS], [{"optimizer": "adam"}] * 2):
            request = {"problem": problem, "steps": 2, "runs": runs}
            simulate(build_simulation(request))
            list(Execution(build_simulation(request)).chunks(1))
        sweep = {
            "problem": problem,
            "optimizer": "adam",
            "steps": 2,
            "x_axis": {"param": "alpha", "count": 2},
            "y_axis": {"param": "start_x", "count": 2},
        }
        Sweep(sweep).run()
    compile_watch.arm()
