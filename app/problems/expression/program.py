"""A compiled custom surface: straight-line instructions over a file of registers.

One program computes ``f``, ``∂f/∂x`` and ``∂f/∂y`` at a point. Its registers are
laid out as

    0 x   1 y   2 f   3 ∂f/∂x   4 ∂f/∂y   5 … the constants   then the temporaries

and each instruction ``(op, dst, a, b, c, d)`` writes register ``dst`` from the
registers ``a … d`` it names (``POWI`` reads its integer exponent from ``b``).
The program is in SSA form (each register written once), and the instructions
that ``f`` needs come first: ``code[:value_end]`` is the value alone.

Three evaluators run it, all from the table of operations here:

- ``evaluate`` (numpy, any shape of points): the numpy backend, the contour grid;
- ``app.problems.expression.interpreter.evaluate`` (numba, one point): the
  compiled engine, one pre-compiled kernel for every expression;
- ``diagnose`` (one point, one instruction at a time): says which operation first
  gave a value that is not finite, and where in the expression it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

X, Y, F, GX, GY = 0, 1, 2, 3, 4
FIRST_CONSTANT = 5
WIDTH = 6  # op, dst and four operands


@dataclass(frozen=True)
class Operation:
    code: int
    name: str
    arity: int
    numpy: Callable[..., FloatArray]


def _powi(a, n):
    # u·u for a square, as numba's u**2 and numpy's square compute it; numpy's pow
    # for the rest, as a built-in surface's u**n runs on the numpy backend.
    return a * a if n == 2 else a ** int(n)


def _sign(a):
    return np.sign(a)


# The operations, in the order of the compiled interpreter's dispatch (the most
# frequent first). Codes are positions in this tuple.
OPERATIONS = tuple(
    Operation(code, name, arity, function)
    for code, (name, arity, function) in enumerate(
        (
            ("mul", 2, np.multiply),
            ("add", 2, np.add),
            ("sub", 2, np.subtract),
            ("div", 2, np.divide),
            ("neg", 1, np.negative),
            ("powi", 1, _powi),
            ("pow", 2, np.power),
            ("sin", 1, np.sin),
            ("cos", 1, np.cos),
            ("tan", 1, np.tan),
            ("exp", 1, np.exp),
            ("log", 1, np.log),
            ("sqrt", 1, np.sqrt),
            ("abs", 1, np.abs),
            ("sign", 1, _sign),
            ("tanh", 1, np.tanh),
            ("sinh", 1, np.sinh),
            ("cosh", 1, np.cosh),
            ("atan", 1, np.arctan),
            ("min", 2, np.minimum),
            ("max", 2, np.maximum),
            ("pick_le", 4, lambda a, b, c, d: np.where(a <= b, c, d)),
            ("pick_ge", 4, lambda a, b, c, d: np.where(a >= b, c, d)),
            ("mov", 1, np.positive),
        )
    )
)
OP = {operation.name: operation.code for operation in OPERATIONS}


def apply(name: str, *values: float) -> float:
    """One operation on plain numbers, as the evaluators compute it (IEEE: a result
    that is not finite comes back as ``inf`` or ``nan``, never an exception)."""
    operation = OPERATIONS[OP[name]]
    with np.errstate(all="ignore"):
        return float(operation.numpy(*(np.float64(v) for v in values)))


def why_not_finite(name: str, *values: float) -> str:
    """Why ``name`` of finite ``values`` gave a value that is not finite."""
    first = values[0] if values else 0.0
    if name == "div" and values[1] == 0:
        return "division by zero"
    if name == "log":
        return "log of zero" if first == 0 else "log of a negative number"
    if name == "sqrt":
        return "square root of a negative number"
    if name in ("pow", "powi"):
        exponent = values[1]
        if first == 0 and exponent < 0:
            return "zero to a negative power"
        if first < 0 and name == "pow":
            return "a negative number to a fractional power"
    return "a number too large for a float (overflow)"


@dataclass(frozen=True)
class Origin:
    """Where an instruction comes from: the part of the expression (0-based span) it
    computes, or whose slope it computes."""

    start: int
    end: int
    slope: bool


@dataclass(frozen=True)
class Program:
    code: npt.NDArray[np.int64]  # (instructions, WIDTH), C-contiguous
    registers: FloatArray  # the register file before a point is loaded: constants set
    value_end: int  # code[:value_end] computes f alone
    origins: tuple[Origin, ...]  # one per instruction

    def __post_init__(self) -> None:
        # What the compiled kernels read: fixed dtypes and layout, one signature.
        assert self.code.dtype == np.int64 and self.code.flags.c_contiguous
        assert self.registers.dtype == np.float64 and self.registers.flags.c_contiguous


def evaluate(
    program: Program, x: npt.ArrayLike, y: npt.ArrayLike, value_only: bool = False
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(f, ∂f/∂x, ∂f/∂y)`` at the points ``(x, y)`` (arrays of one shape), with numpy.

    Values that are not finite stay so (no warnings, no exceptions). With
    ``value_only`` only ``f`` is computed; the gradient comes back as zeros.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    shape = np.broadcast_shapes(x.shape, y.shape)
    registers: list = [np.float64(v) for v in program.registers]
    registers[X], registers[Y] = x, y
    code = program.code[: program.value_end] if value_only else program.code
    with np.errstate(all="ignore"):
        for op, dst, a, b, c, d in code.tolist():
            registers[dst] = _run(op, registers, a, b, c, d)
    outputs = (F,) if value_only else (F, GX, GY)
    results = [np.broadcast_to(np.asarray(registers[r], dtype=np.float64), shape) for r in outputs]
    if value_only:
        results += [np.zeros(shape), np.zeros(shape)]
    return results[0], results[1], results[2]


def _run(op: int, registers: list, a: int, b: int, c: int, d: int):
    operation = OPERATIONS[op]
    if operation.name == "powi":
        return _powi(registers[a], b)
    operands = (registers[a], registers[b], registers[c], registers[d])[: operation.arity]
    return operation.numpy(*operands)


@dataclass(frozen=True)
class Failure:
    """The first operation whose value is not finite at a point, and why."""

    reason: str
    origin: Origin


def diagnose(program: Program, x: float, y: float) -> Failure | None:
    """Why ``f`` or its gradient is not finite at ``(x, y)``: the operation that made a
    value that is not finite out of finite ones and passed it on to the result (an
    operation whose infinite value a ``min`` or ``max`` left aside does not count),
    or None when ``f`` and its gradient are finite there."""
    registers: list = [np.float64(v) for v in program.registers]
    registers[X], registers[Y] = np.float64(x), np.float64(y)
    writer: dict[int, int] = {}
    code = program.code.tolist()
    with np.errstate(all="ignore"):
        for index, (op, dst, a, b, c, d) in enumerate(code):
            registers[dst] = _run(op, registers, a, b, c, d)
            writer[dst] = index
    # From a result that is not finite, back along operands that are not finite to the
    # instruction whose own operands all are.
    pending = [r for r in (F, GX, GY) if not np.isfinite(registers[r]) and r in writer]
    while pending:
        index = writer[pending[0]]
        op, dst, a, b, c, d = code[index]
        operation = OPERATIONS[op]
        if operation.name == "powi":
            sources, operands = [a], [float(registers[a]), float(b)]
        elif operation.name in ("pick_le", "pick_ge"):
            # A pick's value is the operand it picked, and nothing else.
            left, right = registers[a], registers[b]
            picked = left <= right if operation.name == "pick_le" else left >= right
            sources = [c if picked else d]
            operands = [float(registers[sources[0]])]
        else:
            sources = [a, b, c, d][: operation.arity]
            operands = [float(registers[r]) for r in sources]
        broken = [r for r in sources if not np.isfinite(registers[r]) and r in writer]
        if broken:
            pending = broken
            continue
        return Failure(why_not_finite(operation.name, *operands), program.origins[index])
    return None
