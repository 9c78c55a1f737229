"""The numpy backend: the readable reference for what every update does.

Each update is the textbook order of operations over the whole batch: rows
with a look-ahead move to their look-ahead point, one call computes every row's
gradient there, the noise is added, each optimiser's rows take their rule
together (one vectorised call per optimiser), and a row whose new position is
not finite or leaves ±``max_coordinate`` stops, keeping its last position. On a
typed formula (``ProgramSurface``) a row also stops where the formula or its
gradient is not finite, and each point's gradient norm goes to ``out_gauge``.
"""

from __future__ import annotations

import numpy as np

from app.backends import FloatArray, StepInputs
from app.optim.base import POSITION, PREVIOUS, OptimizerSpec
from app.optim.registry import OPTIMIZERS
from app.problems.base import Problem, ProgramSurface, Surface
from app.problems.expression.program import evaluate as evaluate_program

# Points × samples in one block of a regression loss.
LOSS_BLOCK = 1 << 20


def advance(
    inputs: StepInputs,
    out_path: FloatArray,
    out_loss: FloatArray,
    out_gauge: FloatArray,
    column: int,
) -> None:
    """Make ``len(inputs.rates)`` updates of every row, writing update ``k``'s position
    and loss into column ``column + k`` of ``out_path`` (B, n, 2) and ``out_loss`` (B, n),
    on a typed formula its gradient norm into ``out_gauge`` (B, n) (and of
    ``inputs.recording``'s buffers, if it has one). ``out_path`` may have no columns:
    then positions are not recorded."""
    program = inputs.problem.program if isinstance(inputs.problem, ProgramSurface) else None
    x, state, hyper = inputs.x, inputs.state, inputs.hyper
    groups = [
        (spec, np.flatnonzero(inputs.optimizer_ids == index))
        for index, spec in enumerate(OPTIMIZERS.values())
    ]
    groups = [(spec, rows) for spec, rows in groups if len(rows)]

    def state_of(spec, rows, names):
        return [state[rows, spec.state.index(name)] for name in names]

    def rate_and_hyper(spec, rows, rates_now, names):
        """``lr`` then the named hyper-parameters of ``rows``, shaped (rows, 1) to broadcast."""
        columns = [hyper[rows, spec.hyper_names.index(name), None] for name in names]
        return (rates_now[rows, None], *columns)

    with np.errstate(all="ignore"):
        for k in range(len(inputs.rates)):
            t = float(inputs.first_update + k)
            active = inputs.diverged_at == 0
            eval_points = x.copy()
            for spec, rows in groups:
                if spec.lookahead is not None:
                    eval_points[rows] = spec.lookahead(
                        x[rows],
                        *state_of(spec, rows, spec.lookahead_state),
                        t,
                        *rate_and_hyper(spec, rows, inputs.rates[k], spec.lookahead_hyper),
                    )
            gradient = _gradient(inputs, eval_points, k)
            gradient = gradient + inputs.sigma * inputs.noise[k]
            new_x = x.copy()
            new_state = state.copy()
            for spec, rows in groups:
                result = spec.update(
                    x[rows],
                    gradient[rows],
                    *state_of(spec, rows, spec.state),
                    t,
                    *rate_and_hyper(spec, rows, inputs.rates[k], spec.hyper_names),
                )
                new_x[rows] = result[0]
                for j in range(len(spec.state)):
                    new_state[rows, j] = result[1 + j]
            if inputs.recording is not None:
                _record(inputs, groups, gradient, eval_points, state, new_state, k, column)
            bad = active & (
                ~np.isfinite(new_x).all(axis=1)
                | (np.abs(new_x) > inputs.max_coordinate).any(axis=1)
            )
            if program is not None:
                arrived = np.stack(evaluate_program(program, new_x[:, 0], new_x[:, 1]), axis=1)
                bad |= active & ~np.isfinite(arrived).all(axis=1)
            inputs.diverged_at[bad] = inputs.first_update + k
            inputs.stopped_at[bad] = new_x[bad]
            moving = active & ~bad
            x[moving] = new_x[moving]
            state[moving] = new_state[moving]
            if out_path.shape[1]:
                out_path[:, column + k] = x
            if program is None:
                out_loss[:, column + k] = loss_at(inputs.problem, x, inputs.data_x, inputs.data_y)
            else:
                out_loss[moving, column + k] = arrived[moving, 0]
                out_gauge[moving, column + k] = np.sqrt(
                    arrived[moving, 1] ** 2 + arrived[moving, 2] ** 2
                )


def _record(inputs, groups, gradient, eval_points, before, after, k, column) -> None:
    """Update ``k``'s gradient, where it was taken, the state after it and each rule's
    effective rate into column ``column + k`` of the recording."""
    recording = inputs.recording
    recording.grad[:, column + k] = gradient
    recording.at[:, column + k] = eval_points
    recording.state[:, column + k] = after
    t = inputs.first_update + k
    for spec, rows in groups:
        rates = evaluate(
            spec,
            "effective_lr",
            gradient[rows, None],
            after[rows, None],
            before[rows],
            t,
            inputs.rates[k, rows, None],
            inputs.hyper[rows],
        )
        recording.effective_lr[rows, column + k] = rates[:, 0]


def evaluate(
    spec: OptimizerSpec,
    role: str,
    grad: FloatArray,
    after: FloatArray,
    before: FloatArray,
    first_update: int,
    rates: FloatArray,
    hyper: FloatArray,
    points: FloatArray | None = None,
) -> FloatArray:
    """``spec``'s ``role`` function (``"direction"`` or ``"effective_lr"``) for r rows over
    n updates, as arrays: ``grad`` (r, n, 2); ``after`` (r, n, slots, 2), the state after
    each update; ``before`` (r, slots, 2), the state before the first; ``rates`` (r, n),
    ``α_t``; ``hyper`` (r, hyper slots); ``points`` (r, n, 2), the position each update
    started from (for a direction that reads it). Returns (r, n, 2)."""
    reads = spec.reads[role]
    arguments = [grad]
    for name in reads.state:
        if name == POSITION:
            if points is None:
                raise ValueError(f"{spec.name}'s {role} reads x: give the points")
            arguments.append(points)
        elif name.startswith(PREVIOUS):
            slot = spec.state.index(name.removeprefix(PREVIOUS))
            arguments.append(np.concatenate([before[:, None, slot], after[:, :-1, slot]], axis=1))
        else:
            arguments.append(after[:, :, spec.state.index(name)])
    t = np.arange(first_update, first_update + grad.shape[1], dtype=np.float64)
    arguments += [t[None, :, None], rates[:, :, None]]
    arguments += [hyper[:, spec.hyper_names.index(name), None, None] for name in reads.hyper]
    with np.errstate(all="ignore"):  # a diverged row's slots hold whatever they hold
        return np.broadcast_to(getattr(spec, role)(*arguments), grad.shape)


def _gradient(inputs: StepInputs, points: FloatArray, k: int) -> FloatArray:
    """Every row's gradient of update ``k`` at ``points`` (B, 2), before the noise."""
    problem = inputs.problem
    if isinstance(problem, Surface):
        gx, gy = problem.grad(points[:, 0], points[:, 1])
        return np.stack([gx, gy], axis=1)
    batches = inputs.batches
    gradient = np.empty_like(points)
    for group in range(batches.starts.shape[0]):
        rows = inputs.batch_of_row == group
        start, size = batches.starts[group, k], batches.sizes[group, k]
        samples = batches.order[start : start + size]
        xs, ys = inputs.data_x[samples], inputs.data_y[samples]
        z = points[rows, 0, None] * xs + points[rows, 1, None]
        dloss = problem.sample_dloss(z, ys)
        gradient[rows] = np.stack([(dloss * xs).mean(axis=1), dloss.mean(axis=1)], axis=1)
    return gradient


def loss_at(problem: Problem, points: FloatArray, data_x: FloatArray, data_y: FloatArray):
    """The noiseless full objective at ``points`` (..., 2)."""
    w, b = points[..., 0], points[..., 1]
    if isinstance(problem, Surface):
        return problem.value(w, b)
    # A regression loss is a mean over every sample: take the points a block at a
    # time, so a sweep's 65 536 cells × 5 000 samples never become one (cells,
    # samples) temporary of gigabytes.
    flat_w, flat_b = w.reshape(-1), b.reshape(-1)
    losses = np.empty(flat_w.shape)
    block = max(1, LOSS_BLOCK // len(data_x))
    for start in range(0, len(flat_w), block):
        part = slice(start, start + block)
        z = flat_w[part, None] * data_x + flat_b[part, None]
        losses[part] = problem.sample_loss(z, data_y).mean(axis=-1)
    return losses.reshape(w.shape)
