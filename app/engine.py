"""The run loop: every run of a request is a row of one batch, stepped together.

``build_simulation`` turns a request (the body of ``POST /api/runs``) into a
fully resolved ``Simulation`` or raises ``InvalidSpec``. ``Execution`` steps
it, a chunk of updates at a time: it draws the noise and the minibatches,
computes every row's learning rate, and hands those with the rows' state, as
plain arrays (``StepInputs``), to one of two interchangeable backends
(``app.backends``):

- ``"compiled"`` (the default): one numba loop over rows and updates, calling
  the same elementwise rules and gradients as scalars; near the hardware floor
  at classroom sizes, where numpy is all call overhead.
- ``"numpy"``: the readable reference; rows with the same optimiser share one
  vectorised update and one gradient call serves every row. Tests prove the
  two agree.

Both draw the gradient noise and the minibatches from ``seed`` alone, so a
run's path never depends on which other runs share the request (common random
numbers), and both stop a row at the update where it diverges (docs/API.md, Problems: Divergence).

A request with ``"anatomy": true`` also keeps, for every update, what the rule
used and left behind (``app.anatomy``); without it the engine does exactly what
it did before anatomy existed.
Every update is computed and judged (divergence, convergence); a request's
``stride`` only thins the points an answer carries (``kept_points``): updates
``0, stride, 2·stride, …`` and each run's last point, the same in a POST answer
and in the stream's chunks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app import convergence
from app.anatomy import AnatomyBuffers, RunAnatomy
from app.backends import StepInputs
from app.backends import compiled as compiled_backend
from app.backends import numpy as numpy_backend
from app.errors import InvalidSpec
from app.limits import (
    DEFAULT_STEPS,
    MAX_COORDINATE,
    MAX_RUNS,
    MAX_SAMPLE_WORK,
    MAX_SEED,
    MAX_STEPS,
)
from app.optim.registry import (
    OPTIMIZERS,
    export_params,
    get_optimizer,
    hyper_slots,
    resolve_params,
    state_slots,
)
from app.optim.schedules import learning_rates, resolve_schedule
from app.problems import regression
from app.problems.base import ProgramSurface, Regression, read_point
from app.problems.custom import CustomSurface
from app.problems.expression.program import evaluate
from app.problems.registry import problem_of, resolve_problem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Backend = Literal["compiled", "numpy"]
ADVANCE = {"compiled": compiled_backend.advance, "numpy": numpy_backend.advance}

# What a problem without a gauge of its own hands the loops as its gauge buffer.
_NO_GAUGES = np.zeros((0, 0))
# Anatomy explains each update: an answer thinned by a stride would drop most of them.
ANATOMY_STRIDE_RULE = "anatomy comes with every update: it needs stride 1"

# Bound on samples held by one stretch of shuffled minibatch indices.
MAX_ORDER_LENGTH = 1 << 20


def check_sample_work(
    rows: int, steps: int, problem: Mapping[str, Any], what: str, budget: int = MAX_SAMPLE_WORK
) -> None:
    """Raise InvalidSpec when ``rows × (steps + 1) × n_samples`` exceeds ``budget``."""
    samples = int(problem.get("n_samples", 0))
    # steps + 1 losses a row: every update's and the start's.
    if samples and rows * (steps + 1) * samples > budget:
        raise InvalidSpec(
            ("steps",),
            f"{what} × steps × n_samples must be at most {budget:,} (this request: "
            f"{rows:,} × {steps:,} × {samples:,}); use fewer steps, {what} or samples",
        )


def check_grid_work(resolution: int, problem: Mapping[str, Any]) -> None:
    """Raise InvalidSpec when a regression's loss grid, ``resolution² × n_samples``
    loss terms, exceeds MAX_SAMPLE_WORK."""
    samples = int(problem.get("n_samples", 0))
    if samples and resolution * resolution * samples > MAX_SAMPLE_WORK:
        raise InvalidSpec(
            ("resolution",),
            f"resolution² × n_samples must be at most {MAX_SAMPLE_WORK:,} (this request: "
            f"{resolution}² × {samples:,}); use a lower resolution or fewer samples",
        )


@dataclass(frozen=True)
class RunConfig:
    optimizer: str
    params: dict[str, float]
    schedule: dict[str, Any]
    start: tuple[float, float]
    # Regression only: this run's minibatch size (defaults to the problem's).
    batch_size: int | None = None

    def as_json(self) -> dict[str, Any]:
        body = {
            "optimizer": self.optimizer,
            "params": export_params(OPTIMIZERS[self.optimizer], self.params),
            "schedule": dict(self.schedule),
            "start": list(self.start),
        }
        if self.batch_size is not None:
            body["batch_size"] = self.batch_size
        return body


@dataclass(frozen=True)
class Simulation:
    """A request with every default filled in and every value checked."""

    problem: dict[str, Any]
    steps: int
    seed: int
    runs: tuple[RunConfig, ...]
    # Answers carry every stride-th point (and each run's last): docs/API.md, POST /api/runs.
    stride: int = 1
    anatomy: bool = False  # keep every update's anatomy (app.anatomy); stride 1 only


@dataclass
class Chunk:
    """Points ``first … first+len-1`` of every run's answer (a diverged run's lists may
    be short); ``updates`` holds each point's update index ``t``. Without a stride the
    two count alike: point ``first + k`` is update ``first + k``. When asked for, the
    anatomy of the updates that made the points, and ``α_t`` at each point."""

    first: int
    paths: list[FloatArray]
    losses: list[FloatArray]
    updates: list[IntArray]
    stride: int = 1
    anatomy: list[RunAnatomy] | None = None
    rates: list[FloatArray] | None = None  # with anatomy: α_t at each point (Result.rates)

    @property
    def empty(self) -> bool:
        """Whether no run has a point here (a stride skips whole chunks of updates)."""
        return not any(len(loss) for loss in self.losses)


@dataclass
class Result:
    """A whole simulation: per run, the points its answer keeps (every one without a
    stride), their update indices and learning rates, and its outcome."""

    simulation: Simulation
    paths: list[FloatArray]
    losses: list[FloatArray]
    updates: list[IntArray]  # t of each point
    rates: list[FloatArray]  # α_t in force at each point (see Execution.rates_at)
    updates_per_epoch: list[int]  # 1 on a surface
    diverged_at: list[int | None]
    diverged_reason: list[str | None]
    converged_at: list[int | None]
    blew_up_at: list[int | None]
    data: dict[str, Any] | None
    anatomy: list[RunAnatomy] | None = None  # per run, updates 1 … len(path) − 1


def kept_points(first: int, count: int, stride: int, last: bool) -> IntArray:
    """Which of the points ``first … first+count−1`` of a run an answer keeps, as
    offsets from ``first``: those whose update index is a multiple of ``stride``, and,
    when ``last`` says the run ends with them, the final one."""
    offsets = np.arange((-first) % stride, count, stride, dtype=np.int64)
    if last and count and (len(offsets) == 0 or offsets[-1] != count - 1):
        offsets = np.append(offsets, count - 1)
    return offsets


def points_before(update: int, stride: int) -> int:
    """How many points a run's answer holds before update ``update`` while it runs:
    the multiples of ``stride`` below it."""
    return -(-update // stride)


def whole_number(value: Any, loc: tuple[str | int, ...], low: int, high: int) -> int:
    """``value`` as an int, or InvalidSpec: any number without a fractional part
    (``8`` or ``8.0``, as JSON Schema's ``integer``), never a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSpec(loc, "must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise InvalidSpec(loc, "must be a whole number")
    if not low <= value <= high:
        raise InvalidSpec(loc, f"must be between {low} and {high}")
    return int(value)


def start_point(value: Any, default: Any, loc: tuple[str | int, ...]):
    """``value`` as a point ``(x, y)`` (``default`` when it is None), or InvalidSpec."""
    return default if value is None else read_point(value, loc)


def build_simulation(
    request: Mapping[str, Any], *, max_steps: int = MAX_STEPS, max_runs: int = MAX_RUNS
) -> Simulation:
    """Resolve a request body into a Simulation, or raise InvalidSpec naming the field."""
    problem_spec = request.get("problem")
    if isinstance(problem_spec, str):
        problem_spec = {"name": problem_spec}
    if not isinstance(problem_spec, Mapping):
        raise InvalidSpec(("problem",), "must be an object with a name")
    problem = resolve_problem(problem_spec)
    surface = problem_of(problem)
    default_start = surface.start
    is_regression = surface.kind == "regression"

    steps = whole_number(request.get("steps", DEFAULT_STEPS), ("steps",), 1, max_steps)
    seed = whole_number(request.get("seed", 0), ("seed",), 0, MAX_SEED)
    stride = whole_number(request.get("stride", 1), ("stride",), 1, MAX_STEPS)

    runs = request.get("runs")
    if not isinstance(runs, Sequence) or isinstance(runs, str):
        raise InvalidSpec(("runs",), "must be a list of runs")
    if not 1 <= len(runs) <= max_runs:
        raise InvalidSpec(("runs",), f"must hold between 1 and {max_runs} runs")
    configs = []
    for i, run in enumerate(runs):
        loc: tuple[str | int, ...] = ("runs", i)
        if not isinstance(run, Mapping):
            raise InvalidSpec(loc, "must be an object")
        spec = get_optimizer(run.get("optimizer"), loc + ("optimizer",))
        params = {} if run.get("params") is None else run["params"]
        if not isinstance(params, Mapping):
            raise InvalidSpec(loc + ("params",), "must be an object")
        schedule = {} if run.get("schedule") is None else run["schedule"]
        if not isinstance(schedule, Mapping):
            raise InvalidSpec(loc + ("schedule",), "must be an object with a name")
        batch_size = run.get("batch_size")
        if batch_size is not None and not is_regression:
            raise InvalidSpec(loc + ("batch_size",), "only regression problems have batches")
        if is_regression:
            n_samples = problem["n_samples"]
            batch_size = whole_number(
                problem["batch_size"] if batch_size is None else batch_size,
                loc + ("batch_size",),
                1,
                n_samples,
            )
        configs.append(
            RunConfig(
                optimizer=spec.name,
                params=resolve_params(spec, params, loc + ("params",)),
                schedule=resolve_schedule(schedule, loc + ("schedule",)),
                start=start_point(run.get("start"), default_start, loc + ("start",)),
                batch_size=batch_size,
            )
        )
        if isinstance(surface, CustomSurface) and run.get("start") is not None:
            reason = surface.explain(*configs[-1].start)
            if reason is not None:
                raise InvalidSpec(
                    loc + ("start",), f"f is not defined at this start: {reason}; start where it is"
                )
    check_sample_work(len(configs), steps, problem, "runs")
    anatomy = request.get("anatomy", False)
    if not isinstance(anatomy, bool):
        raise InvalidSpec(("anatomy",), "must be true or false")
    if anatomy and stride > 1:
        raise InvalidSpec(("anatomy",), ANATOMY_STRIDE_RULE)
    return Simulation(
        problem=problem,
        steps=steps,
        seed=seed,
        runs=tuple(configs),
        stride=stride,
        anatomy=anatomy,
    )


@dataclass
class Rows:
    """The runs of a batch as columns: what the step loop reads.

    ``from_runs`` builds them from a request's runs; a sweep fills the arrays
    directly, which is what makes thousands of rows cheap.
    """

    optimizer_ids: npt.NDArray[np.int64]  # (B,) index into OPTIMIZERS
    hyper: FloatArray  # (B, hyper_slots()): the hyper-parameters after alpha, in order
    alpha: FloatArray  # (B,)
    starts: FloatArray  # (B, 2)
    schedules: list[dict[str, Any]]  # the distinct schedules
    schedule_of_row: npt.NDArray[np.int64]  # (B,) index into schedules
    batch_sizes: list[int]  # the distinct minibatch sizes (regression; [0] on a surface)
    batch_of_row: npt.NDArray[np.int64]  # (B,) index into batch_sizes

    @classmethod
    def from_runs(cls, runs: Sequence[RunConfig]) -> Rows:
        names = list(OPTIMIZERS)
        hyper = np.zeros((len(runs), hyper_slots()))
        for row, run in enumerate(runs):
            hyper_names = OPTIMIZERS[run.optimizer].hyper_names
            hyper[row, : len(hyper_names)] = [run.params[name] for name in hyper_names]
        schedules: list[dict[str, Any]] = []
        for run in runs:
            if run.schedule not in schedules:
                schedules.append(run.schedule)
        batch_sizes = sorted({run.batch_size or 0 for run in runs})
        return cls(
            optimizer_ids=np.array([names.index(run.optimizer) for run in runs], dtype=np.int64),
            hyper=hyper,
            alpha=np.array([run.params["alpha"] for run in runs], dtype=np.float64),
            starts=np.array([run.start for run in runs], dtype=np.float64).reshape(len(runs), 2),
            schedules=schedules,
            schedule_of_row=np.array(
                [schedules.index(run.schedule) for run in runs], dtype=np.int64
            ),
            batch_sizes=batch_sizes,
            batch_of_row=np.array(
                [batch_sizes.index(run.batch_size or 0) for run in runs], dtype=np.int64
            ),
        )


class Execution:
    """The state of one simulation between chunks."""

    def __init__(
        self, simulation: Simulation, backend: Backend = "compiled", rows: Rows | None = None
    ) -> None:
        self.simulation = simulation
        self.backend = backend
        self.problem = problem_of(simulation.problem)
        rows = rows or Rows.from_runs(simulation.runs)
        count = len(rows.alpha)
        # Every array the compiled loop reads or writes is C-contiguous float64 or
        # int64, whoever built the rows: the loop is compiled for that layout alone.
        self.x = np.array(rows.starts, dtype=np.float64, order="C")
        self.state = np.zeros((count, state_slots(), 2))
        self.optimizer_ids = np.ascontiguousarray(rows.optimizer_ids, dtype=np.int64)
        self.hyper = np.ascontiguousarray(rows.hyper, dtype=np.float64)
        self.alpha = rows.alpha
        self.schedules = rows.schedules
        self.schedule_of_row = rows.schedule_of_row
        self.batch_sizes = rows.batch_sizes
        self.batch_of_row = np.ascontiguousarray(rows.batch_of_row, dtype=np.int64)
        self.diverged_at = np.zeros(count, dtype=np.int64)  # 0: still running
        self.stopped_at = np.zeros((count, 2))  # where a diverged row could not go
        self.updates_done = 0
        # For the stream's thinning: each row's newest point (t, x, y, loss), in case
        # it turns out to be the row's last, and whether the row's last point is out.
        self.newest = np.zeros((count, 4))
        self.finished = np.zeros(count, dtype=bool)
        specs = list(OPTIMIZERS.values())
        self.specs = [specs[index] for index in self.optimizer_ids]
        self.anatomy = simulation.anatomy

        if isinstance(self.problem, Regression):
            problem = simulation.problem
            self.n_samples = int(problem["n_samples"])
            self.data_x, self.data_y = self.problem.make_data(
                self.n_samples, float(problem["noise"]), simulation.seed
            )
            self.per_epoch = [
                regression.batches_per_epoch(self.n_samples, size) for size in self.batch_sizes
            ]
            self.sigma = 0.0
            self.noise = np.zeros((simulation.steps, 2))
            self.best_fit = regression.best_fit(self.problem, self.data_x, self.data_y)
            self.min_loss = float(self.loss_at(np.array(self.best_fit))) if self.best_fit else None
            noisy = np.array(self.batch_sizes)[self.batch_of_row] < self.n_samples
        else:
            self.data_x = self.data_y = np.zeros(0)
            self.per_epoch = [1]
            self.sigma = float(simulation.problem["noise"])
            # ξ_1 … ξ_steps, drawn once from the seed and shared by every run. With
            # σ = 0 they would only ever be multiplied by zero: skip the draw (a
            # third of a small request's set-up).
            self.noise = (
                np.random.default_rng(simulation.seed).standard_normal((simulation.steps, 2))
                if self.sigma > 0
                else np.zeros((simulation.steps, 2))
            )
            self.min_loss = self.problem.min_value
            noisy = np.full(count, self.sigma > 0)
        compiled = backend == "compiled"
        self.convergence = convergence.Tracker(
            self.min_loss, noisy, self.loss_at(self.x), compiled=compiled
        )
        # A typed formula has no known minimum: it converges where its gradient
        # vanishes and stays so (docs/API.md, Convergence), a rule of its own.
        self.settling: convergence.Tracker | None = None
        if isinstance(self.problem, ProgramSurface):
            _, gx, gy = evaluate(self.problem.program, self.x[:, 0], self.x[:, 1])
            self.settling = convergence.Tracker(
                0.0,
                noisy,
                np.sqrt(gx * gx + gy * gy),
                compiled=compiled,
                tolerances=convergence.GRADIENT_TOLERANCES,
            )

    @property
    def converged_at(self) -> npt.NDArray[np.int64]:
        """Per row, the update from which it has stayed within tolerance so far, or −1."""
        tracker = self.settling or self.convergence
        return tracker.converged_at(self.diverged_at)

    @property
    def blew_up_at(self) -> npt.NDArray[np.int64]:
        """Per row, the first update whose loss broke the blow-up limit, or −1."""
        return self.convergence.blew_up_at

    def diverged_reasons(self) -> list[str | None]:
        """Per row, why it diverged (and where), or None for a row that did not."""
        return [self._why(row) if self.diverged_at[row] else None for row in range(len(self.x))]

    def _why(self, row: int) -> str:
        x, y = (float(v) for v in self.stopped_at[row])
        if not (math.isfinite(x) and math.isfinite(y)):
            return "its next point was not a finite number"
        if max(abs(x), abs(y)) > MAX_COORDINATE:
            return f"it left ±{MAX_COORDINATE:g}: its next point was ({x:.6g}, {y:.6g})"
        if isinstance(self.problem, CustomSurface):
            reason = self.problem.explain(x, y)
            if reason is not None:
                return f"f is not defined where it went: {reason}"
        return f"its next point ({x:.6g}, {y:.6g}) was not a point it could take"

    # -- what the rows see ------------------------------------------------------

    def loss_at(self, points: FloatArray) -> FloatArray:
        """The noiseless full objective at ``points`` (..., 2)."""
        return numpy_backend.loss_at(self.problem, points, self.data_x, self.data_y)

    def data(self) -> dict[str, Any] | None:
        if not isinstance(self.problem, Regression):
            return None
        return {
            "x": self.data_x,
            "y": self.data_y,
            "minimum": list(self.best_fit) if self.best_fit else None,
            "min_loss": self.min_loss,
            "true_params": list(self.problem.true_params),
        }

    @property
    def updates_per_epoch(self) -> list[int]:
        """Per row, how many updates make one epoch (a pass over the data): 1 on a
        surface, ``⌈n_samples / batch_size⌉`` on a regression."""
        return [self.per_epoch[group] for group in self.batch_of_row]

    def rates(self, first_update: int, count: int) -> FloatArray:
        """``α_t`` of every row for updates ``first_update …`` (``count`` of them):
        ``(count, B)``, the rates the backends are handed."""
        updates = np.arange(first_update, first_update + count, dtype=np.float64)
        if len(self.per_epoch) == 1:  # one batch size (every surface): no rows to pick
            return learning_rates(
                self.alpha, self.schedules, self.schedule_of_row, updates, self.per_epoch[0]
            )
        rates = np.empty((count, len(self.x)))
        for group, per_epoch in enumerate(self.per_epoch):
            rows = self.batch_of_row == group
            rates[:, rows] = learning_rates(
                self.alpha[rows], self.schedules, self.schedule_of_row[rows], updates, per_epoch
            )
        return rates

    def rates_at(self, updates: Sequence[IntArray]) -> list[FloatArray]:
        """Per row, ``α_t`` in force at each of its points ``updates[row]``: the rate of
        the update that led to the point (at ``t = 0``, the first update's)."""
        rates = self.rates(1, self.simulation.steps)
        return [
            np.ascontiguousarray(rates[np.maximum(t, 1) - 1, row]) for row, t in enumerate(updates)
        ]

    # -- stepping ---------------------------------------------------------------

    def chunks(self, updates_per_chunk: int) -> Iterator[Chunk]:
        """Yield the whole simulation: the start point, then ``updates_per_chunk`` at a time."""
        start = self.x.copy()
        rows = range(len(start))
        self.newest[:, 1:3] = start
        self.newest[:, 3] = self.loss_at(start)
        first_rates = self.rates(1, 1)[0]
        yield Chunk(
            first=0,
            paths=[start[row : row + 1] for row in rows],
            losses=[self.newest[row, 3:4].copy() for row in rows],
            updates=[np.zeros(1, dtype=np.int64) for _ in rows],
            stride=self.simulation.stride,
            # The start has no update before it; its α_t is the first update's.
            anatomy=[RunAnatomy.none(spec) for spec in self.specs] if self.anatomy else None,
            rates=[first_rates[row : row + 1] for row in rows] if self.anatomy else None,
        )
        while self.updates_done < self.simulation.steps:
            count = min(updates_per_chunk, self.simulation.steps - self.updates_done)
            yield self.advance(count)

    def advance(self, count: int) -> Chunk:
        """Make ``count`` more updates and return the points of them an answer keeps
        (every one without a stride; see ``kept_points``)."""
        first_update = self.updates_done + 1
        stride = self.simulation.stride
        ending = self.updates_done + count == self.simulation.steps
        anatomy = AnatomyBuffers(len(self.x), count) if self.anatomy else None
        paths, losses, kept = self.step(count, anatomy)
        rows = range(len(self.x))
        chunk = Chunk(points_before(first_update, stride), [], [], [], stride)
        for row in rows:
            real = int(kept[row])
            ends = not self.finished[row] and (ending or real < count)
            if stride == 1:
                path, loss = paths[row, :real], losses[row, :real]
                updates = np.arange(first_update, first_update + real, dtype=np.int64)
            else:
                offsets = kept_points(first_update, real, stride, last=ends)
                path, loss = paths[row, offsets], losses[row, offsets]
                updates = first_update + offsets
            newest_t = int(self.newest[row, 0])
            if ends and real == 0 and newest_t % stride:
                # It diverged at once: its last point came in the previous chunk, off
                # the stride's grid, so it was held back until now.
                path, loss = self.newest[row : row + 1, 1:3].copy(), self.newest[row, 3:4].copy()
                updates = np.array([newest_t], dtype=np.int64)
            if real:
                self.newest[row, 0] = first_update + real - 1
                self.newest[row, 1:3] = paths[row, real - 1]
                self.newest[row, 3] = losses[row, real - 1]
            self.finished[row] |= ends
            chunk.paths.append(path)
            chunk.losses.append(loss)
            chunk.updates.append(updates)
        if anatomy is not None:  # stride 1: point k of the chunk is update first_update + k
            chunk.anatomy = [anatomy.run(row, 0, int(kept[row]), self.specs[row]) for row in rows]
            chunk.rates = [run.alpha_t for run in chunk.anatomy]
        return chunk

    def step(
        self, count: int, anatomy: AnatomyBuffers | None = None
    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
        """Make ``count`` more updates of every row.

        Returns the positions ``(B, count, 2)``, losses ``(B, count)`` and, per
        row, how many of those updates are real: a row that diverged keeps the
        updates before the diverging one (the rest of its slots are garbage).
        """
        # Row-major (B, count, …): the step loop runs row by row, so each row's
        # points are written contiguously and handed out without copying.
        paths = np.empty((len(self.x), count, 2))
        losses = np.empty((len(self.x), count))
        return paths, losses, self.step_into(paths, losses, anatomy=anatomy)

    def step_into(
        self,
        paths: FloatArray,
        losses: FloatArray,
        column: int = 0,
        count: int | None = None,
        anatomy: AnatomyBuffers | None = None,
    ) -> npt.NDArray[np.int64]:
        """``step``, writing update ``k`` of this call into column ``column + k`` of
        ``paths`` (B, n, 2) and ``losses`` (B, n) (and of ``anatomy``'s buffers, when
        given); ``count`` defaults to the columns left. ``paths`` may have no columns
        (B, 0, 2): positions are then not recorded, as a sweep, which keeps only where
        each row ends, asks. The buffers are whole C-contiguous float64 arrays, never
        views: the compiled loop writes into them as they are, with one layout for
        every caller."""
        count = losses.shape[1] - column if count is None else count
        first_update = self.updates_done + 1
        # A typed formula's gradient norm at each point, for its convergence rule.
        gauges = np.empty_like(losses) if self.settling is not None else _NO_GAUGES
        done = 0
        while done < count:
            piece = min(count - done, self._max_piece())
            self._advance_piece(
                first_update + done, piece, paths, losses, gauges, column + done, anatomy
            )
            done += piece
        self.updates_done += count
        diverged = self.diverged_at
        kept = np.where(diverged == 0, count, np.clip(diverged - first_update, 0, count))
        self.convergence.observe(losses, column, kept, first_update)
        if self.settling is not None:
            self.settling.observe(gauges, column, kept, first_update)
        if self.backend == "compiled":
            compiled_backend.report_new_compiles()
        return kept

    def _max_piece(self) -> int:
        if not isinstance(self.problem, Regression):
            return MAX_STEPS
        # Bound the shuffled indices one piece holds: epochs it spans × n_samples.
        shuffled = [
            per_epoch
            for size, per_epoch in zip(self.batch_sizes, self.per_epoch, strict=True)
            if size < self.n_samples
        ]
        if not shuffled:
            return MAX_STEPS
        return max(1, MAX_ORDER_LENGTH // self.n_samples) * min(shuffled)

    def _advance_piece(
        self,
        first_update: int,
        count: int,
        out_path: FloatArray,
        out_loss: FloatArray,
        out_gauge: FloatArray,
        column: int,
        anatomy: AnatomyBuffers | None,
    ) -> None:
        """Updates ``first_update …`` (``count`` of them) into columns ``column …``."""
        rates = self.rates(first_update, count)
        inputs = StepInputs(
            problem=self.problem,
            x=self.x,
            state=self.state,
            diverged_at=self.diverged_at,
            optimizer_ids=self.optimizer_ids,
            hyper=self.hyper,
            rates=rates,
            first_update=first_update,
            noise=self.noise[first_update - 1 : first_update - 1 + count],
            sigma=self.sigma,
            data_x=self.data_x,
            data_y=self.data_y,
            batches=self._batches(first_update, count),
            batch_of_row=self.batch_of_row,
            max_coordinate=MAX_COORDINATE,
            stopped_at=self.stopped_at,
            recording=None if anatomy is None else anatomy.recording(),
        )
        ADVANCE[self.backend](inputs, out_path, out_loss, out_gauge, column)
        if anatomy is not None:
            anatomy.add_rates(rates, column)

    def _batches(self, first_update: int, count: int) -> regression.Batches:
        """Every batch-size group's minibatches, stacked: starts and sizes are (G, count)."""
        if not isinstance(self.problem, Regression):
            zeros = np.zeros((1, count), dtype=np.int64)
            return regression.Batches(np.zeros(0, dtype=np.int64), zeros, zeros)
        orders, starts, sizes, offset = [], [], [], 0
        for size in self.batch_sizes:
            group = regression.batches_of(
                self.n_samples, size, self.simulation.seed, first_update, count
            )
            orders.append(group.order)
            starts.append(group.starts + offset)
            sizes.append(group.sizes)
            offset += len(group.order)
        return regression.Batches(np.concatenate(orders), np.stack(starts), np.stack(sizes))


def simulate(simulation: Simulation, backend: Backend = "compiled") -> Result:
    """Run a whole simulation and collect the points its answer keeps (what
    ``POST /api/runs`` returns)."""
    execution = Execution(simulation, backend)
    count = len(simulation.runs)
    # One (B, 1 + steps, …) buffer, the start in column 0 and the updates written
    # in place after it: each run's points are a view, nothing is concatenated.
    all_paths = np.empty((count, simulation.steps + 1, 2))
    all_losses = np.empty((count, simulation.steps + 1))
    all_paths[:, 0] = execution.x
    all_losses[:, 0] = execution.loss_at(execution.x)
    # The anatomy of update t in column t, as its point (column 0 stays unused).
    anatomy = AnatomyBuffers(count, simulation.steps + 1) if simulation.anatomy else None
    kept = 1 + execution.step_into(all_paths, all_losses, column=1, anatomy=anatomy)
    if simulation.stride == 1:
        updates = [np.arange(kept[row], dtype=np.int64) for row in range(count)]
        paths = [all_paths[row, : kept[row]] for row in range(count)]
        losses = [all_losses[row, : kept[row]] for row in range(count)]
    else:
        updates = [kept_points(0, int(kept[row]), simulation.stride, True) for row in range(count)]
        paths = [all_paths[row, t] for row, t in enumerate(updates)]
        losses = [all_losses[row, t] for row, t in enumerate(updates)]
    return Result(
        simulation,
        paths,
        losses,
        updates=updates,
        rates=execution.rates_at(updates),
        updates_per_epoch=execution.updates_per_epoch,
        diverged_at=[int(d) if d else None for d in execution.diverged_at],
        diverged_reason=execution.diverged_reasons(),
        converged_at=nullable(execution.converged_at),
        blew_up_at=nullable(execution.blew_up_at),
        data=execution.data(),
        anatomy=None
        if anatomy is None
        else [anatomy.run(row, 1, kept[row] - 1, execution.specs[row]) for row in range(count)],
    )


def nullable(updates: npt.NDArray[np.int64]) -> list[int | None]:
    """Per-row update indices, with −1 ("never") as None."""
    return [int(u) if u >= 0 else None for u in updates]


def loss_grid(
    problem_spec: Mapping[str, Any], seed: int = 0, resolution: int = 80
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The noiseless loss on a ``resolution``² grid over the problem's plot bounds.

    Returns ``xs``, ``ys`` and ``z`` with ``z[j, i] = loss(xs[i], ys[j])`` (the
    layout Plotly's contour traces expect). For regression problems the loss
    is over the dataset that ``seed`` draws, as in a run.
    """
    resolved = resolve_problem(problem_spec)
    problem = problem_of(resolved)
    (x_min, x_max), (y_min, y_max) = problem.bounds
    xs = np.linspace(x_min, x_max, resolution)
    ys = np.linspace(y_min, y_max, resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    # A one-run simulation draws the dataset exactly as a run of this request would.
    simulation = build_simulation(
        {"problem": resolved, "seed": seed, "steps": 1, "runs": [{"optimizer": "sgd"}]}
    )
    execution = Execution(simulation, backend="numpy")
    if isinstance(problem, Regression):
        z = np.stack([execution.loss_at(grid[j]) for j in range(resolution)])
    else:
        z = execution.loss_at(grid)
    return xs, ys, z
