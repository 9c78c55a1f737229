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
  row, column, coordinate, s)`` writes them into a recording's column;
- ``evaluate_program(code, registers, count)``: the interpreter of a formula typed
  by a user (the problem ``custom``): ``f``, ``∂f/∂x``, ``∂f/∂y`` at ``count``
  points at once, column by column of the register file.

``run_rows`` and ``run_alike`` step the registry's surfaces and regressions;
``run_typed`` steps a typed formula, in blocks of ``BLOCK`` rows that advance one
update at a time, so that each instruction of the formula's program is
dispatched once for the whole block (one point at a time, the dispatch costs
more than the arithmetic). One evaluation gives the loss at a row's new point
and the gradient there, which its next update uses unless its rule looks ahead
elsewhere (then a second evaluation, at the look-ahead points), and the gradient
norm at every point (``out_gauge``), which decides convergence on a typed
formula (docs/API.md, Convergence). There a row also diverges where the formula
or its gradient is not finite. Every loop writes the point a diverging row could
not take to ``stopped_at``, so the engine can say why.

Performance notes (measured; keep them when editing):

- Everything the loops call is ``inline="always"``: a real call that passes arrays
  makes numba manage their reference counts around it, and that alone tripled a
  surface update's cost (25 ns instead of 8 per row·update) though the branch
  that passed them never ran.
- ``run_alike`` advances a block of rows one update at a time, so what a rule
  computes from ``t`` and the hyper-parameters alone (``β**t``, about half of
  Adam's cost) is the same for the whole block and LLVM hoists it out of the
  row loop.
- The loops are ``nogil``: they touch only arrays, so the server's event loop
  and other requests' threads keep running while one request computes.
- The interpreter lives in ``run_typed`` alone: inlined into the other loops,
  even in a branch never taken, it made them five times slower (LLVM keeps
  fewer of a loop's values in registers around a large body).
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
    """The gradient at ``(x, y)``: a surface's own, or a regression's over the minibatch
    ``order[start : start + size]``."""
    if problem < FIRST_REGRESSION:
        return surface_gradient(problem, x, y)
    return minibatch_gradient(problem, x, y, data_x, data_y, order, start, size)


@numba.njit(inline="always", cache=True)
def minibatch_gradient(problem, x, y, data_x, data_y, order, start, size):
    """A regression's gradient at ``(x, y)``: the mean of ``dloss(w·x_i + b, y_i) · (x_i, 1)``
    over the minibatch ``order[start : start + size]``."""
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
    return mean_loss(problem, x, y, data_x, data_y)


@numba.njit(inline="always", cache=True)
def mean_loss(problem, x, y, data_x, data_y):
    """A regression's loss at ``(x, y)``: the mean over every sample."""
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
    stopped_at,
    record,
    out_grad,
    out_at,
    out_state,
    out_rate,
):
    """Any mix of optimisers: each row runs all its updates with its state in registers;
    with ``record``, what each update used and left goes into ``out_grad``, ``out_at``,
    ``out_state`` and ``out_rate`` (column ``column + k``, as the path). Positions are
    written only when ``out_path`` has columns."""
    positions = out_path.shape[1] > 0
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
                stopped_at[row, 0], stopped_at[row, 1] = nx, ny
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
            if positions:
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
    stopped_at,
):
    """``rows_loop`` without a recording (the outputs it is not given are never touched)."""
    unused = np.empty((0, 0, 0, 0))
    rows_loop(
        problem, sigma, noise, data_x, data_y, order, starts, sizes, batch_of_row,
        optimizer_ids, hyper, rates, first_update, x, state, diverged_at, out_path,
        out_loss, column, max_coordinate, stopped_at, False, out_path, out_path, unused,
        out_path,
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
    stopped_at,
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
        out_loss, column, max_coordinate, stopped_at, True, out_grad, out_at, out_state,
        out_rate,
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
    stopped_at,
):
    """``run_rows`` for rows that share one optimiser ``op`` and its hyper-parameters ``h``.

    Same arithmetic, other order: a block of rows advances one update at a time
    (see the notes at the top). Results are bit-identical to ``run_rows``.
    """
    positions = out_path.shape[1] > 0
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
                    stopped_at[row, 0], stopped_at[row, 1] = nx, ny
                    continue
                x[row, 0], x[row, 1] = nx, ny
                store_state(state, row, 0, nsx)
                store_state(state, row, 1, nsy)
                if positions:
                    out_path[row, column + k, 0] = nx
                    out_path[row, column + k, 1] = ny
                out_loss[row, column + k] = loss(problem, nx, ny, data_x, data_y)


@numba.njit(inline="always", cache=True)
def typed_load(registers, slot, x, y):
    """Point ``(x, y)`` into column ``slot`` of the register file."""
    registers[0, slot] = x
    registers[1, slot] = y


@numba.njit(inline="always", cache=True)
def typed_steps(
    alike,
    alike_op,
    alike_h,
    sigma,
    noise,
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
    stopped_at,
    code,
    registers,
    out_gauge,
    record,
    out_grad,
    out_at,
    out_state,
    out_rate,
):
    """The body of ``run_typed`` and ``run_typed_alike``: with ``alike`` (a constant
    where it is inlined), every row follows ``alike_op`` with ``alike_h``, and LLVM
    hoists what a rule computes from ``t`` alone out of the row loop, as in
    ``run_alike``; otherwise each row its own. With ``record``, what each update used
    and left goes into the ``out_…`` buffers, as ``rows_loop`` records it."""
    rows = x.shape[0]
    slots = state.shape[1]
    positions = out_path.shape[1] > 0
    # Per row of a block: the gradient its update uses and where it was taken, where
    # its update goes, the state it would have there, which column of the register
    # file it is in.
    gx_now = np.empty(BLOCK)
    gy_now = np.empty(BLOCK)
    taken = np.empty((BLOCK, 4))  # (x, y) where the gradient was taken, the gradient
    moved = np.empty((BLOCK, 2))
    moved_state = np.empty((BLOCK, slots, 2))
    member = np.empty(BLOCK, dtype=np.int64)
    for low in range(0, rows, BLOCK):
        high = min(low + BLOCK, rows)
        for row in range(low, high):
            typed_load(registers, row - low, x[row, 0], x[row, 1])
        evaluate_program(code, registers, high - low)
        for j in range(high - low):
            gx_now[j] = registers[3, j]
            gy_now[j] = registers[4, j]
        for k in range(rates.shape[0]):
            t = float(first_update + k)
            # The gradient at look-ahead points, for the rows whose rule takes one.
            count = 0
            for row in range(low, high):
                if diverged_at[row] != 0:
                    continue
                op, h = alike_op, alike_h
                if not alike:
                    op, h = optimizer_ids[row], load_hyper(hyper, row)
                px, py = x[row, 0], x[row, 1]
                sx, sy = load_state(state, row, 0), load_state(state, row, 1)
                ex, ey = lookahead(op, px, py, sx, sy, t, rates[k, row], h)
                taken[row - low, 0], taken[row - low, 1] = ex, ey
                if ex != px or ey != py:
                    typed_load(registers, count, ex, ey)
                    member[count] = row - low
                    count += 1
            if count:
                evaluate_program(code, registers, count)
                for slot in range(count):
                    gx_now[member[slot]] = registers[3, slot]
                    gy_now[member[slot]] = registers[4, slot]
            # Every row's update, then f and its gradient where each one went.
            count = 0
            for row in range(low, high):
                if diverged_at[row] != 0:
                    continue
                op, h = alike_op, alike_h
                if not alike:
                    op, h = optimizer_ids[row], load_hyper(hyper, row)
                j = row - low
                lr = rates[k, row]
                gx = gx_now[j] + sigma * noise[k, 0]
                gy = gy_now[j] + sigma * noise[k, 1]
                taken[j, 2], taken[j, 3] = gx, gy
                nx, nsx = update(op, x[row, 0], gx, load_state(state, row, 0), t, lr, h)
                ny, nsy = update(op, x[row, 1], gy, load_state(state, row, 1), t, lr, h)
                moved[j, 0], moved[j, 1] = nx, ny
                store_state(moved_state, j, 0, nsx)
                store_state(moved_state, j, 1, nsy)
                typed_load(registers, count, nx, ny)
                member[count] = j
                count += 1
            evaluate_program(code, registers, count)
            for slot in range(count):
                j = member[slot]
                row = low + j
                nx, ny = moved[j, 0], moved[j, 1]
                f, gx, gy = registers[2, slot], registers[3, slot], registers[4, slot]
                if escaped(nx, ny, max_coordinate) or not (
                    math.isfinite(f) and math.isfinite(gx) and math.isfinite(gy)
                ):
                    diverged_at[row] = first_update + k
                    stopped_at[row, 0], stopped_at[row, 1] = nx, ny
                    continue
                nsx, nsy = load_state(moved_state, j, 0), load_state(moved_state, j, 1)
                if record:
                    op, h = alike_op, alike_h
                    if not alike:
                        op, h = optimizer_ids[row], load_hyper(hyper, row)
                    at = column + k
                    out_at[row, at, 0], out_at[row, at, 1] = taken[j, 0], taken[j, 1]
                    out_grad[row, at, 0], out_grad[row, at, 1] = taken[j, 2], taken[j, 3]
                    record_state(out_state, row, at, 0, nsx)
                    record_state(out_state, row, at, 1, nsy)
                    lr = rates[k, row]
                    sx, sy = load_state(state, row, 0), load_state(state, row, 1)
                    out_rate[row, at, 0] = effective_rate(op, taken[j, 2], nsx, sx, t, lr, h)
                    out_rate[row, at, 1] = effective_rate(op, taken[j, 3], nsy, sy, t, lr, h)
                x[row, 0], x[row, 1] = nx, ny
                store_state(state, row, 0, nsx)
                store_state(state, row, 1, nsy)
                gx_now[j], gy_now[j] = gx, gy
                if positions:
                    out_path[row, column + k, 0] = nx
                    out_path[row, column + k, 1] = ny
                out_loss[row, column + k] = f
                out_gauge[row, column + k] = math.sqrt(gx * gx + gy * gy)


@numba.njit(cache=True, nogil=True)
def run_typed(
    sigma,
    noise,
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
    stopped_at,
    code,
    registers,
    out_gauge,
    out_grad,
    out_at,
    out_state,
    out_rate,
):
    """Any mix of optimisers on a typed formula (program ``code``; ``registers`` is a
    (registers, BLOCK) file with the constants in every column), a block of rows at a
    time. Each row computes what ``run_rows`` would, in the same order. Recording
    buffers with rows (not empty ones) record as ``run_rows_recording`` does."""
    typed_steps(
        False, 0, load_hyper(hyper, 0), sigma, noise, optimizer_ids, hyper, rates,
        first_update, x, state, diverged_at, out_path, out_loss, column, max_coordinate,
        stopped_at, code, registers, out_gauge, out_grad.shape[0] > 0, out_grad, out_at,
        out_state, out_rate,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def run_typed_alike(
    sigma,
    noise,
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
    stopped_at,
    code,
    registers,
    out_gauge,
):
    """``run_typed`` for rows that share one optimiser ``op`` and its hyper-parameters
    ``h`` (as ``run_alike`` is ``run_rows``'). Bit-identical to ``run_typed``."""
    ids = np.zeros(1, dtype=np.int64)
    hyper = np.zeros((1, len(h)))
    unused = np.empty((0, 0, 0, 0))
    typed_steps(
        True, op, h, sigma, noise, ids, hyper, rates, first_update, x, state, diverged_at,
        out_path, out_loss, column, max_coordinate, stopped_at, code, registers, out_gauge,
        False, out_path, out_path, unused, out_path,
    )  # fmt: skip


# Rows per block of run_columns, and updates per stretch of it: the block's working
# rows (a dozen of COLUMN_BLOCK floats) and a stretch's rates, positions and losses
# (4 × STRETCH rows) stay in L1/L2 cache.
COLUMN_BLOCK = 128
STRETCH = 32
# Rows that share their hyper-parameters for at least this long make a block of their
# own, cut where the next setting starts (a sweep over a setting and α: a grid row).
MIN_SHARED = 16


@numba.njit(inline="always", cache=True)
def sharing(hyper, low, high):
    """How many rows from ``low`` on (before ``high``) have row ``low``'s hyper-parameters."""
    end = low + 1
    while end < high:
        for j in range(hyper.shape[1]):
            if hyper[end, j] != hyper[low, j]:
                return end - low
        end += 1
    return end - low


@numba.njit(cache=True, nogil=True, error_model="numpy")
def run_columns(
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
    stopped_at,
    first_row,
    end_row,
):
    """Rows ``first_row … end_row-1``, which all run optimiser ``op`` (their
    hyper-parameters may differ): ``run_rows``'s arithmetic, bit for bit, in an order
    the compiler vectorises.

    A block of rows is held as columns (``pos[c, r]``, ``st[slot, c, r]``) and advanced
    one update at a time, each step a loop over the block's rows with no branch in it:
    the look-ahead, the gradient and its noise, the rule, then divergence as
    conditional stores. Every row computes; a row that left the box, or had, keeps its
    position, ``dead[r]`` records the update it left at and ``stop`` the point it
    could not take (its state, updated in
    place and read by no answer, goes on changing). While the block's rows share their
    hyper-parameters the rule reads them once for the block, so ``β**t`` is computed
    once per update, not once per row; rows that do not share go through the rule one
    at a time. A block whose rows have all diverged is skipped.

    The rates of a stretch of updates are copied in, and its losses (and positions,
    when ``out_path`` has columns: a sweep keeps only where each row ends) copied out
    a row at a time: the outputs are row-major, so a column of them is a strided
    scatter. ``error_model="numpy"``: no zero-division test per division (none can
    divide by zero: every divisor has an ε or a 1 − β**t in it), which would keep the
    loops from vectorising.
    """
    pos = np.empty((2, COLUMN_BLOCK))
    new_pos = np.empty((2, COLUMN_BLOCK))
    points = np.empty((2, COLUMN_BLOCK))
    grad = np.empty((2, COLUMN_BLOCK))
    st = np.empty((STATE_SLOTS, 2, COLUMN_BLOCK))
    dead = np.empty(COLUMN_BLOCK, dtype=np.int64)
    stop = np.empty((2, COLUMN_BLOCK))
    lrs = np.empty((STRETCH, COLUMN_BLOCK))
    trail_x = np.empty((STRETCH, COLUMN_BLOCK))
    trail_y = np.empty((STRETCH, COLUMN_BLOCK))
    values = np.empty((STRETCH, COLUMN_BLOCK))
    count = rates.shape[0]
    positions = out_path.shape[1] > 0
    low = first_row
    while low < end_row:
        high = min(low + COLUMN_BLOCK, end_row)
        same = sharing(hyper, low, high)
        if same >= MIN_SHARED:
            high = low + same
        shared = same == high - low
        n = high - low
        live = 0
        for r in range(n):
            dead[r] = diverged_at[low + r]
            live += dead[r] == 0
        if live == 0:
            low = high
            continue
        for r in range(n):
            pos[0, r] = x[low + r, 0]
            pos[1, r] = x[low + r, 1]
            for j in range(STATE_SLOTS):
                for c in range(2):
                    st[j, c, r] = state[low + r, j, c]
        # Rows that share their setting go through the rule together, others one by one.
        width = n if shared else 1
        for first in range(0, count, STRETCH):
            stretch = min(STRETCH, count - first)
            for i in range(stretch):
                for r in range(n):
                    lrs[i, r] = rates[first + i, low + r]
            for i in range(stretch):
                k = first + i
                t = float(first_update + k)
                ahead = False
                for segment in range(0, n, width):
                    h = load_hyper(hyper, low + segment)
                    ahead = lookahead_columns(op, segment, width, pos, st, points, t, lrs, i, h)
                at = points if ahead else pos
                noise_x = sigma * noise[k, 0]
                noise_y = sigma * noise[k, 1]
                if problem < FIRST_REGRESSION:
                    surface_gradient_columns(problem, n, at, grad, noise_x, noise_y)
                else:
                    for r in range(n):
                        if dead[r] == 0:
                            group = batch_of_row[low + r]
                            gx, gy = minibatch_gradient(
                                problem,
                                at[0, r],
                                at[1, r],
                                data_x,
                                data_y,
                                order,
                                starts[group, k],
                                sizes[group, k],
                            )
                            grad[0, r] = gx + noise_x
                            grad[1, r] = gy + noise_y
                for segment in range(0, n, width):
                    h = load_hyper(hyper, low + segment)
                    update_columns(op, segment, width, pos, grad, st, new_pos, st, t, lrs, i, h)
                # Divergence without a branch: every row computed; the ones still running
                # and inside the box move, the ones that just left record when. (Stores
                # under `if`, not `a if m else b`: LLVM vectorises the first alone.) The
                # rule updated the state in place: a diverged row's state means nothing
                # more (no answer reads it), its position stays where it was.
                update_number = first_update + k
                for r in range(n):
                    running = dead[r] == 0
                    inside = (abs(new_pos[0, r]) <= max_coordinate) & (
                        abs(new_pos[1, r]) <= max_coordinate
                    )
                    if running & (not inside):
                        dead[r] = update_number
                        stop[0, r] = new_pos[0, r]
                        stop[1, r] = new_pos[1, r]
                    if running & inside:
                        pos[0, r] = new_pos[0, r]
                        pos[1, r] = new_pos[1, r]
                if problem < FIRST_REGRESSION:
                    surface_value_columns(problem, n, pos, values, i)
                else:
                    for r in range(n):
                        if dead[r] == 0:
                            values[i, r] = mean_loss(problem, pos[0, r], pos[1, r], data_x, data_y)
                if positions:
                    for r in range(n):
                        trail_x[i, r] = pos[0, r]
                        trail_y[i, r] = pos[1, r]
            for r in range(n):
                for i in range(stretch):
                    out_loss[low + r, column + first + i] = values[i, r]
            if positions:
                for r in range(n):
                    for i in range(stretch):
                        out_path[low + r, column + first + i, 0] = trail_x[i, r]
                        out_path[low + r, column + first + i, 1] = trail_y[i, r]
        for r in range(n):
            x[low + r, 0] = pos[0, r]
            x[low + r, 1] = pos[1, r]
            if dead[r] != diverged_at[low + r]:  # it diverged in this call
                stopped_at[low + r, 0] = stop[0, r]
                stopped_at[low + r, 1] = stop[1, r]
            diverged_at[low + r] = dead[r]
            for j in range(STATE_SLOTS):
                for c in range(2):
                    state[low + r, j, c] = st[j, c, r]
        low = high
