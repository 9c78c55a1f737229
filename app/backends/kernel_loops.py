"""The compiled backend's loops, as source: the part of the kernel module written by hand.

This file is not imported. ``app.backends.kernel_source`` copies everything below
the marker line into the generated kernel module, after the dispatch it
generates from the registries; the names used here but defined nowhere in this
file come from that generated part:

- ``update(op, x, g, s, t, lr, h) -> (x, s)``: one coordinate of one update of
  optimiser ``op``, with its state slots ``s`` and hyper-parameter slots ``h``
  (tuples);
- ``lookahead(op, x, y, sx, sy, t, lr, h)``: where optimiser ``op`` takes its gradient;
- ``surface_gradient(problem, x, y)``, ``surface_value(problem, x, y)``;
- ``sample_dloss(problem, z, y)``, ``sample_loss(problem, z, y)``: a regression's
  per-sample loss and its derivative in ``z = w·x + b``;
- ``FIRST_REGRESSION``: problem ids from this one on are regressions;
- ``load_state(state, row, coordinate)``, ``store_state(…, s)``,
  ``load_hyper(hyper, row)``: a row's slots as tuples;
- ``PROGRAM``: the problem id of a formula typed by a user, whose program
  (``code``, ``registers``: arrays the loops take, empty for other problems)
  ``evaluate_program(code, registers, x, y) -> (f, ∂f/∂x, ∂f/∂y)`` interprets.

On a typed formula one evaluation gives the loss at a new point and the gradient
there, which the next update uses (unless its rule looks ahead elsewhere): one
program run per update, and the gradient norm at every point (``out_gauge``),
which decides convergence there (docs/API.md, Convergence). A row diverges where
the formula or its gradient is not finite as well as where it leaves
``±max_coordinate``; ``stopped_at`` keeps the point it could not take, so the
engine can say why.

Performance notes (measured; keep them when editing):

- Everything the loops call is ``inline="always"``: a real call that passes arrays
  makes numba manage their reference counts around it, and that alone tripled a
  surface update's cost (25 ns instead of 8 per row·update) though the branch
  that passed them never ran.
- ``run_alike`` advances a block of rows one update at a time, so what a rule
  computes from ``t`` and the hyper-parameters alone (``β**t``, about half of
  Adam's cost) is the same for the whole block and LLVM hoists it out of the
  row loop.
- Both loops are ``nogil``: they touch only arrays, so the server's event loop
  and other requests' threads keep running while one request computes.
"""

# ruff: noqa: F821 - the generated part of the kernel module defines the dispatch names

import math

import numba
import numpy as np

# -- copied into the generated kernel module from here on --------------------------------


@numba.njit(inline="always", cache=True)
def gradient(problem, x, y, data_x, data_y, order, start, size):
    """The gradient at ``(x, y)``: a surface's own, or a regression's mean of
    ``dloss(w·x_i + b, y_i) · (x_i, 1)`` over the minibatch ``order[start : start + size]``."""
    if problem < FIRST_REGRESSION:
        return surface_gradient(problem, x, y)
    sum_w = 0.0
    sum_b = 0.0
    for i in range(start, start + size):
        sample = order[i]
        z = x * data_x[sample] + y
        d = sample_dloss(problem, z, data_y[sample])
        sum_w += d * data_x[sample]
        sum_b += d
    return sum_w / size, sum_b / size


@numba.njit(inline="always", cache=True)
def loss(problem, x, y, data_x, data_y):
    """The noiseless loss at ``(x, y)``: a surface's value, or a regression's mean over
    every sample."""
    if problem < FIRST_REGRESSION:
        return surface_value(problem, x, y)
    total = 0.0
    for i in range(data_x.shape[0]):
        z = x * data_x[i] + y
        total += sample_loss(problem, z, data_y[i])
    return total / data_x.shape[0]


@numba.njit(inline="always", cache=True)
def one_update(
    problem,
    op,
    px,
    py,
    sx,
    sy,
    t,
    lr,
    h,
    noise_x,
    noise_y,
    data_x,
    data_y,
    order,
    start,
    size,
    code,
    registers,
    gx_here,
    gy_here,
):
    """One update of one row: the gradient (at the rule's look-ahead point, if it has
    one), its noise, then the rule on each coordinate. Returns the new position and
    state, ``(x, y, state of x, state of y)``. On a typed formula ``gx_here, gy_here``
    is the gradient at ``(px, py)``, already computed with the loss there."""
    ex, ey = lookahead(op, px, py, sx, sy, t, lr, h)
    if problem == PROGRAM:
        gx, gy = gx_here, gy_here
        if ex != px or ey != py:
            _, gx, gy = evaluate_program(code, registers, ex, ey)
    else:
        gx, gy = gradient(problem, ex, ey, data_x, data_y, order, start, size)
    gx = gx + noise_x
    gy = gy + noise_y
    nx, nsx = update(op, px, gx, sx, t, lr, h)
    ny, nsy = update(op, py, gy, sy, t, lr, h)
    return nx, ny, nsx, nsy


@numba.njit(inline="always", cache=True)
def arrive(problem, x, y, data_x, data_y, code, registers, max_coordinate):
    """At a row's new point: ``(ok, loss, ∂f/∂x, ∂f/∂y)``, where ``ok`` is false when the
    row diverges here (the gradient is a typed formula's, else zeros)."""
    if problem == PROGRAM:
        f, gx, gy = evaluate_program(code, registers, x, y)
        ok = (
            not escaped(x, y, max_coordinate)
            and math.isfinite(f)
            and math.isfinite(gx)
            and math.isfinite(gy)
        )
        return ok, f, gx, gy
    if escaped(x, y, max_coordinate):
        return False, 0.0, 0.0, 0.0
    return True, loss(problem, x, y, data_x, data_y), 0.0, 0.0


@numba.njit(inline="always", cache=True)
def escaped(x, y, max_coordinate):
    return not (
        math.isfinite(x)
        and math.isfinite(y)
        and abs(x) <= max_coordinate
        and abs(y) <= max_coordinate
    )


@numba.njit(cache=True, nogil=True)
def run_rows(
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
    code,
    program_registers,
    out_gauge,
    stopped_at,
):
    """Any mix of optimisers: each row runs all its updates with its state in registers."""
    registers = program_registers.copy()  # this call's own: calls run in parallel
    for row in range(x.shape[0]):
        if diverged_at[row] != 0:
            continue
        op = optimizer_ids[row]
        group = batch_of_row[row]
        h = load_hyper(hyper, row)
        px, py = x[row, 0], x[row, 1]
        sx = load_state(state, row, 0)
        sy = load_state(state, row, 1)
        gx_here, gy_here = 0.0, 0.0
        if problem == PROGRAM:
            _, gx_here, gy_here = evaluate_program(code, registers, px, py)
        for k in range(rates.shape[0]):
            t = float(first_update + k)
            nx, ny, nsx, nsy = one_update(
                problem,
                op,
                px,
                py,
                sx,
                sy,
                t,
                rates[k, row],
                h,
                sigma * noise[k, 0],
                sigma * noise[k, 1],
                data_x,
                data_y,
                order,
                starts[group, k],
                sizes[group, k],
                code,
                registers,
                gx_here,
                gy_here,
            )
            ok, f, gx_here, gy_here = arrive(
                problem, nx, ny, data_x, data_y, code, registers, max_coordinate
            )
            if not ok:
                diverged_at[row] = first_update + k
                stopped_at[row, 0], stopped_at[row, 1] = nx, ny
                break
            px, py, sx, sy = nx, ny, nsx, nsy
            out_path[row, column + k, 0] = px
            out_path[row, column + k, 1] = py
            out_loss[row, column + k] = f
            if problem == PROGRAM:
                out_gauge[row, column + k] = math.sqrt(gx_here * gx_here + gy_here * gy_here)
        x[row, 0], x[row, 1] = px, py
        store_state(state, row, 0, sx)
        store_state(state, row, 1, sy)


# Rows per block of run_alike: enough independent rows to overlap their dependency
# chains, few enough that their output rows stay in cache and TLB.
BLOCK = 16


@numba.njit(cache=True, nogil=True)
def run_alike(
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
    h,
    rates,
    first_update,
    x,
    state,
    diverged_at,
    out_path,
    out_loss,
    column,
    max_coordinate,
    code,
    program_registers,
    out_gauge,
    stopped_at,
):
    """``run_rows`` for rows that share one optimiser ``op`` and its hyper-parameters ``h``.

    Same arithmetic, other order: a block of rows advances one update at a time
    (see the notes at the top). Results are bit-identical to ``run_rows``.
    """
    registers = program_registers.copy()  # this call's own: calls run in parallel
    # On a typed formula, each row's gradient at its point, from one update to the next.
    here = np.zeros((x.shape[0] if problem == PROGRAM else 0, 2))
    for row in range(here.shape[0]):
        _, gx, gy = evaluate_program(code, registers, x[row, 0], x[row, 1])
        here[row, 0], here[row, 1] = gx, gy
    for low in range(0, x.shape[0], BLOCK):
        high = min(low + BLOCK, x.shape[0])
        for k in range(rates.shape[0]):
            t = float(first_update + k)
            for row in range(low, high):
                if diverged_at[row] != 0:
                    continue
                group = batch_of_row[row]
                gx_here, gy_here = 0.0, 0.0
                if problem == PROGRAM:
                    gx_here, gy_here = here[row, 0], here[row, 1]
                nx, ny, nsx, nsy = one_update(
                    problem,
                    op,
                    x[row, 0],
                    x[row, 1],
                    load_state(state, row, 0),
                    load_state(state, row, 1),
                    t,
                    rates[k, row],
                    h,
                    sigma * noise[k, 0],
                    sigma * noise[k, 1],
                    data_x,
                    data_y,
                    order,
                    starts[group, k],
                    sizes[group, k],
                    code,
                    registers,
                    gx_here,
                    gy_here,
                )
                ok, f, gx_here, gy_here = arrive(
                    problem, nx, ny, data_x, data_y, code, registers, max_coordinate
                )
                if not ok:
                    diverged_at[row] = first_update + k
                    stopped_at[row, 0], stopped_at[row, 1] = nx, ny
                    continue
                x[row, 0], x[row, 1] = nx, ny
                store_state(state, row, 0, nsx)
                store_state(state, row, 1, nsy)
                out_path[row, column + k, 0] = nx
                out_path[row, column + k, 1] = ny
                out_loss[row, column + k] = f
                if problem == PROGRAM:
                    here[row, 0], here[row, 1] = gx_here, gy_here
                    out_gauge[row, column + k] = math.sqrt(gx_here * gx_here + gy_here * gy_here)
