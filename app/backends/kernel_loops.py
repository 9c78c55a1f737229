"""The compiled backend's loops, as source: the part of the kernel module written by hand.

This file is not imported. ``app.backends.kernel_source`` copies everything below
the marker line into the generated kernel module, after the dispatch it
generates from the registries; the names used here but defined nowhere in this
file come from that generated part:

- ``update(op, x, g, s, t, lr, h) -> (x, s)``: one coordinate of one update of
  optimiser ``op``, with its state slots ``s`` and hyper-parameter slots ``h``
  (tuples); ``effective_rate(op, g, s, before, t, lr, h)``: its effective learning
  rate, from the state after (``s``) and before (``before``) the update;
- ``lookahead(op, x, y, sx, sy, t, lr, h)``: where optimiser ``op`` takes its gradient;
- ``surface_gradient(problem, x, y)``, ``surface_value(problem, x, y)``;
- ``sample_dloss(problem, z, y)``, ``sample_loss(problem, z, y)``: a regression's
  per-sample loss and its derivative in ``z = w·x + b``;
- ``FIRST_REGRESSION``: problem ids from this one on are regressions;
- ``load_state(state, row, coordinate)``, ``store_state(…, s)``,
  ``load_hyper(hyper, row)``: a row's slots as tuples; ``record_state(out_state,
  row, column, coordinate, s)`` writes them into a recording's column.

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
- ``run_rows`` and ``run_rows_recording`` are one loop, ``rows_loop``, inlined with
  ``record`` a constant: LLVM drops the recording branch from ``run_rows``, which
  stays as fast as before it existed (benchmarks/engine.py) with one signature.
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
    problem, op, px, py, sx, sy, t, lr, h, noise_x, noise_y, data_x, data_y, order, start, size
):
    """One update of one row: the gradient (at the rule's look-ahead point, if it has
    one), its noise, then the rule on each coordinate. Returns the new position and
    state, ``(x, y, state of x, state of y)``, then where the gradient was taken and
    the gradient (what a recording keeps; unused, they cost nothing)."""
    ex, ey = lookahead(op, px, py, sx, sy, t, lr, h)
    gx, gy = gradient(problem, ex, ey, data_x, data_y, order, start, size)
    gx = gx + noise_x
    gy = gy + noise_y
    nx, nsx = update(op, px, gx, sx, t, lr, h)
    ny, nsy = update(op, py, gy, sy, t, lr, h)
    return nx, ny, nsx, nsy, ex, ey, gx, gy


@numba.njit(inline="always", cache=True)
def escaped(x, y, max_coordinate):
    return not (
        math.isfinite(x)
        and math.isfinite(y)
        and abs(x) <= max_coordinate
        and abs(y) <= max_coordinate
    )


@numba.njit(inline="always", cache=True)
def rows_loop(
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
    record,
    out_grad,
    out_at,
    out_state,
    out_rate,
):
    """Any mix of optimisers: each row runs all its updates with its state in registers;
    with ``record``, what each update used and left goes into ``out_grad``, ``out_at``,
    ``out_state`` and ``out_rate`` (column ``column + k``, as the path)."""
    for row in range(x.shape[0]):
        if diverged_at[row] != 0:
            continue
        op = optimizer_ids[row]
        group = batch_of_row[row]
        h = load_hyper(hyper, row)
        px, py = x[row, 0], x[row, 1]
        sx = load_state(state, row, 0)
        sy = load_state(state, row, 1)
        for k in range(rates.shape[0]):
            t = float(first_update + k)
            nx, ny, nsx, nsy, ex, ey, gx, gy = one_update(
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
            )
            if escaped(nx, ny, max_coordinate):
                diverged_at[row] = first_update + k
                break
            if record:
                out_grad[row, column + k, 0] = gx
                out_grad[row, column + k, 1] = gy
                out_at[row, column + k, 0] = ex
                out_at[row, column + k, 1] = ey
                record_state(out_state, row, column + k, 0, nsx)
                record_state(out_state, row, column + k, 1, nsy)
                lr = rates[k, row]
                out_rate[row, column + k, 0] = effective_rate(op, gx, nsx, sx, t, lr, h)
                out_rate[row, column + k, 1] = effective_rate(op, gy, nsy, sy, t, lr, h)
            px, py, sx, sy = nx, ny, nsx, nsy
            out_path[row, column + k, 0] = px
            out_path[row, column + k, 1] = py
            out_loss[row, column + k] = loss(problem, px, py, data_x, data_y)
        x[row, 0], x[row, 1] = px, py
        store_state(state, row, 0, sx)
        store_state(state, row, 1, sy)


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
):
    """``rows_loop`` without a recording (the outputs it is not given are never touched)."""
    unused = np.empty((0, 0, 0, 0))
    rows_loop(
        problem, sigma, noise, data_x, data_y, order, starts, sizes, batch_of_row,
        optimizer_ids, hyper, rates, first_update, x, state, diverged_at, out_path,
        out_loss, column, max_coordinate, False, out_path, out_path, unused, out_path,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def run_rows_recording(
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
    out_grad,
    out_at,
    out_state,
    out_rate,
):
    """``rows_loop`` keeping each update's gradient, where it was taken, the state after
    and the effective learning rate."""
    rows_loop(
        problem, sigma, noise, data_x, data_y, order, starts, sizes, batch_of_row,
        optimizer_ids, hyper, rates, first_update, x, state, diverged_at, out_path,
        out_loss, column, max_coordinate, True, out_grad, out_at, out_state, out_rate,
    )  # fmt: skip


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
):
    """``run_rows`` for rows that share one optimiser ``op`` and its hyper-parameters ``h``.

    Same arithmetic, other order: a block of rows advances one update at a time
    (see the notes at the top). Results are bit-identical to ``run_rows``.
    """
    for low in range(0, x.shape[0], BLOCK):
        high = min(low + BLOCK, x.shape[0])
        for k in range(rates.shape[0]):
            t = float(first_update + k)
            for row in range(low, high):
                if diverged_at[row] != 0:
                    continue
                group = batch_of_row[row]
                nx, ny, nsx, nsy, _, _, _, _ = one_update(
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
                )
                if escaped(nx, ny, max_coordinate):
                    diverged_at[row] = first_update + k
                    continue
                x[row, 0], x[row, 1] = nx, ny
                store_state(state, row, 0, nsx)
                store_state(state, row, 1, nsy)
                out_path[row, column + k, 0] = nx
                out_path[row, column + k, 1] = ny
                out_loss[row, column + k] = loss(problem, nx, ny, data_x, data_y)
