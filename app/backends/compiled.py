"""The compiled backend: the engine's rules and gradients, run by numba.

The update rules and the gradients are *not* rewritten here: the elementwise
functions of ``app.optim`` and ``app.problems`` are compiled as they are and
called on one scalar coordinate at a time, from loops whose dispatch is
generated from the registries (``kernel_source``; the loops are
``kernel_loops.py``). ``kernels()`` is the generated module for the registries
as they are now.

The machine code is cached on disk (``NUMBA_CACHE_DIR`` or ``__pycache__``),
and ``app.warmup.warm_up`` compiles or loads it at start-up, not on a user's
first click. numba compiles a kernel once per combination of argument types,
and an array's type includes its memory layout: ``advance`` hands every array
over C-contiguous with one dtype (outputs are whole buffers and a column
offset, never strided views), so each kernel has exactly one signature, the one
warm-up compiles. ``CompileWatch`` logs any compile after that.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import numpy as np

from app import convergence
from app.backends import FloatArray, StepInputs, kernel_source, threads
from app.optim.registry import OPTIMIZERS
from app.problems.base import ProgramSurface
from app.problems.registry import PROBLEMS

log = logging.getLogger(__name__)

# The kernel module of each registry seen, by its specs, the last one used last (a
# rule registered later, as a test may, gets a module of its own).
_modules: list[tuple[tuple[Any, ...], ModuleType]] = []


def kernels() -> ModuleType:
    """The kernel module generated from the registries as they are now."""
    specs = (*OPTIMIZERS.values(), *PROBLEMS.values())
    # Called for every chunk: comparing tuples of the same objects is identity checks.
    for index in range(len(_modules) - 1, -1, -1):
        if _modules[index][0] == specs:
            _modules.append(_modules.pop(index))
            return _modules[-1][1]
    module = kernel_source.load(*kernel_source.render(OPTIMIZERS, PROBLEMS))
    _modules.append((specs, module))
    return module


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


# Rows of one optimiser from which run_columns (vectorised, but with a dozen passes
# over the block per update) beats run_alike and run_rows (measured: 24-32 rows).
COLUMNS_FROM = 32


def _shares_settings(hyper: FloatArray, min_shared: int) -> bool:
    """Whether rows come in runs of one setting ``min_shared`` long on average: the
    vectorised loop takes such a run through the rule at once, but a row whose
    setting differs from its neighbours' alone (several times run_rows' cost)."""
    changes = np.count_nonzero((hyper[1:] != hyper[:-1]).any(axis=1))
    return len(hyper) >= min_shared * (changes + 1)


# What run_typed is given when nothing is recorded: empty buffers of the recording's
# types (gradient, where it was taken, state, effective rate), so it has one signature.
_NOT_RECORDED = (
    np.zeros((0, 0, 2)),
    np.zeros((0, 0, 2)),
    np.zeros((0, 0, 0, 2)),
    np.zeros((0, 0, 2)),
)


def advance(
    inputs: StepInputs,
    out_path: FloatArray,
    out_loss: FloatArray,
    out_gauge: FloatArray,
    column: int,
) -> None:
    """Make ``len(inputs.rates)`` updates of every row, writing update ``k`` into
    column ``column + k`` of ``out_path`` (B, n, 2), ``out_loss`` (B, n) and, on a
    typed formula, ``out_gauge`` (B, n): the gradient's norm there. ``out_path`` may
    have no columns: then positions are not recorded."""
    module = kernels()
    f64, i64 = np.float64, np.int64
    ids, hyper, state = inputs.optimizer_ids, inputs.hyper, inputs.state
    # The loops read exactly these widths, unchecked: a narrower array would be read past.
    if state.shape[1:] != (module.STATE_SLOTS, 2) or hyper.shape[1:] != (module.HYPER_SLOTS,):
        raise ValueError(
            f"state {state.shape} and hyper {hyper.shape} do not have the registry's "
            f"{module.STATE_SLOTS} state and {module.HYPER_SLOTS} hyper-parameter slots"
        )
    if out_path.shape[1] and out_path.shape[1] != out_loss.shape[1]:
        raise ValueError("out_path has the columns of out_loss, or none")
    ends = (
        _writable(inputs.x, f64),
        _writable(state, f64),
        _writable(inputs.diverged_at, i64),
        _writable(out_path, f64),
        _writable(out_loss, f64),
        int(column),
        float(inputs.max_coordinate),
        _writable(inputs.stopped_at, f64),
    )
    recording = inputs.recording
    recorded: tuple[np.ndarray, ...] = ()  # the recording's buffers, after the loop's own
    if recording is not None:
        recorded = tuple(
            _writable(a, f64)
            for a in (recording.grad, recording.at, recording.state, recording.effective_lr)
        )
    rows = len(ids)
    one_rule = rows > 1 and bool((ids == ids[0]).all())
    alike = one_rule and bool((hyper == hyper[0]).all())
    if isinstance(inputs.problem, ProgramSurface):
        program = inputs.problem.program
        # A register file of this call's own (calls run in parallel): the constants in
        # every column, a column per row of a block.
        registers = np.repeat(program.registers[:, None], module.BLOCK, axis=1)
        if alike and recording is None:
            typed, rule = module.run_typed_alike, (int(ids[0]), tuple(float(h) for h in hyper[0]))
        else:
            # Only run_typed records (run_typed_alike's results are the same, bit for bit).
            typed, rule = module.run_typed, (_readable(ids, i64), _readable(hyper, f64))
        typed(
            float(inputs.sigma),
            _readable(inputs.noise, f64),
            *rule,
            _readable(inputs.rates, f64),
            int(inputs.first_update),
            *ends,
            _readable(program.code, i64),
            registers,
            _writable(out_gauge, f64),
            *((recorded or _NOT_RECORDED) if typed is module.run_typed else ()),
        )
        return
    batches = inputs.batches
    arguments = (
        module.PROBLEM_IDS[inputs.problem.name],
        float(inputs.sigma),
        _readable(inputs.noise, f64),
        _readable(inputs.data_x, f64),
        _readable(inputs.data_y, f64),
        _readable(batches.order, i64),
        _readable(batches.starts, i64),
        _readable(batches.sizes, i64),
        _readable(inputs.batch_of_row, i64),
    )
    outputs = (_readable(inputs.rates, f64), int(inputs.first_update), *ends)
    if recording is not None:
        # Only run_rows records (run_alike's and run_columns' results are the same, bit
        # for bit); the recording's buffers come after the loop's own.
        rule = (_readable(ids, i64), _readable(hyper, f64))
        module.run_rows_recording(*arguments, *rule, *outputs, *recorded)
    elif one_rule and rows >= COLUMNS_FROM and _shares_settings(hyper, module.MIN_SHARED):
        rule = (int(ids[0]), _readable(hyper, f64))
        threads.over_rows(
            rows,
            rows * len(inputs.rates),
            lambda low, high: module.run_columns(*arguments, *rule, *outputs, low, high),
            align=module.COLUMN_BLOCK,
        )
    elif alike:
        module.run_alike(*arguments, int(ids[0]), tuple(float(h) for h in hyper[0]), *outputs)
    else:
        module.run_rows(*arguments, _readable(ids, i64), _readable(hyper, f64), *outputs)


def dispatchers() -> dict[str, Any]:
    """Every numba kernel a request calls. Their arguments always have the same types
    (see _readable), so each has exactly one signature, compiled by warm-up."""
    module = kernels()
    return {
        "run_rows": module.run_rows,
        "run_alike": module.run_alike,
        "run_rows_recording": module.run_rows_recording,
        "run_columns": module.run_columns,
        "run_typed": module.run_typed,
        "run_typed_alike": module.run_typed_alike,
        "convergence.scan": convergence.compiled_scan,
    }


# What the server logs when a request had to compile: operators (and the compose
# test) look for this phrase.
COMPILED_AFTER_WARM_UP = "engine compiled a new kernel after warm-up"


class CompileWatch:
    """Logs a warning when a kernel gains a signature after warm-up.

    Such a compile takes seconds of a core on some user's request: it means a
    request passed arrays of a type or layout warm-up did not cover. Checking
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


_watch = CompileWatch({})


def watch_compiles() -> None:
    """From now on, log any compile of the kernels (warm-up calls it when it is done)."""
    global _watch
    _watch = CompileWatch(dispatchers())
    _watch.arm()


def report_new_compiles() -> None:
    """Warn if any kernel compiled since warm-up (called after each chunk of work)."""
    _watch.check()
