"""The program of a custom surface, run by the compiled engine: a block of points at a time.

``evaluate`` is plain Python that numba compiles once, inside the engine's
kernels (``inline="always"``): every expression is data (the ``code`` and
``registers`` arrays of a ``Program``) for the same machine code, so a new
expression compiles nothing. It computes exactly what ``program.evaluate``
computes with numpy, operation for operation, with two differences of the kind
the two backends have anyway: an integer power ``u^n`` (n ≠ 2) is a product of
squares here, as numba computes a built-in surface's ``u**n``, where numpy calls
``pow``; and the functions are the C library's, where numpy may use its own.
"""

from __future__ import annotations

import math

import numpy as np

from app.problems.expression.program import OP

MUL, ADD, SUB, DIV, NEG = OP["mul"], OP["add"], OP["sub"], OP["div"], OP["neg"]
assert (MUL, ADD, SUB) == (0, 1, 2)  # the one-point path below tests op <= SUB
POWI, POW, SIN, COS, TAN = OP["powi"], OP["pow"], OP["sin"], OP["cos"], OP["tan"]
EXP, LOG, SQRT, ABS, SIGN = OP["exp"], OP["log"], OP["sqrt"], OP["abs"], OP["sign"]
TANH, SINH, COSH, ATAN = OP["tanh"], OP["sinh"], OP["cosh"], OP["atan"]
MIN, MAX, PICK_LE, PICK_GE, MOV = OP["min"], OP["max"], OP["pick_le"], OP["pick_ge"], OP["mov"]


def evaluate(code, registers, count):
    """Run ``code`` for ``count`` points at once: column ``j`` of ``registers`` (a
    C-contiguous (registers, width) array, width ≥ count) is point ``j``'s register
    file, ``x`` and ``y`` in rows 0 and 1 and the constants in theirs; ``f``,
    ``∂f/∂x``, ``∂f/∂y`` land in rows 2, 3 and 4. One instruction at a time for all
    the points: its dispatch is paid once per block, and its loop over the points is
    plain arithmetic on adjacent numbers."""
    for i in range(code.shape[0]):
        op = code[i, 0]
        d = code[i, 1]
        a = code[i, 2]
        b = code[i, 3]
        if count == 1 and op <= SUB:
            # One point (a run alone in its block): the loop over points costs more
            # than the arithmetic, and most instructions are these three.
            u, v = registers[a, 0], registers[b, 0]
            registers[d, 0] = u * v if op == MUL else (u + v if op == ADD else u - v)
        elif op == MUL:
            for j in range(count):
                registers[d, j] = registers[a, j] * registers[b, j]
        elif op == ADD:
            for j in range(count):
                registers[d, j] = registers[a, j] + registers[b, j]
        elif op == SUB:
            for j in range(count):
                registers[d, j] = registers[a, j] - registers[b, j]
        elif op == DIV:
            # np.divide, not /: IEEE division whatever the caller's error model (with
            # numba's default, x / 0.0 raises ZeroDivisionError instead of giving inf).
            for j in range(count):
                registers[d, j] = np.divide(registers[a, j], registers[b, j])
        elif op == NEG:
            for j in range(count):
                registers[d, j] = -registers[a, j]
        elif op == POWI:
            # a**n for a whole n as numba computes a built-in surface's u**n: squares
            # and products (numpy calls pow instead).
            for j in range(count):
                base = registers[a, j]
                exponent = b if b >= 0 else -b
                value = 1.0
                while exponent != 0:
                    if exponent & 1:
                        value *= base
                    exponent >>= 1
                    base *= base
                registers[d, j] = value if b >= 0 else np.divide(1.0, value)
        elif op == POW:
            for j in range(count):
                registers[d, j] = registers[a, j] ** registers[b, j]
        elif op == SIN:
            for j in range(count):
                registers[d, j] = math.sin(registers[a, j])
        elif op == COS:
            for j in range(count):
                registers[d, j] = math.cos(registers[a, j])
        elif op == TAN:
            for j in range(count):
                registers[d, j] = math.tan(registers[a, j])
        elif op == EXP:
            for j in range(count):
                registers[d, j] = math.exp(registers[a, j])
        elif op == LOG:
            for j in range(count):
                registers[d, j] = math.log(registers[a, j])
        elif op == SQRT:
            for j in range(count):
                registers[d, j] = math.sqrt(registers[a, j])
        elif op == ABS:
            for j in range(count):
                registers[d, j] = abs(registers[a, j])
        elif op == SIGN:
            for j in range(count):
                v = registers[a, j]
                registers[d, j] = (
                    1.0 if v > 0.0 else (-1.0 if v < 0.0 else (0.0 if v == 0.0 else v))
                )
        elif op == TANH:
            for j in range(count):
                registers[d, j] = math.tanh(registers[a, j])
        elif op == SINH:
            for j in range(count):
                registers[d, j] = math.sinh(registers[a, j])
        elif op == COSH:
            for j in range(count):
                registers[d, j] = math.cosh(registers[a, j])
        elif op == ATAN:
            for j in range(count):
                registers[d, j] = math.atan(registers[a, j])
        elif op == MIN:
            for j in range(count):
                u, v = registers[a, j], registers[b, j]
                registers[d, j] = u if u <= v else (v if v < u else u + v)
        elif op == MAX:
            for j in range(count):
                u, v = registers[a, j], registers[b, j]
                registers[d, j] = u if u >= v else (v if v > u else u + v)
        elif op == PICK_LE:
            c, e = code[i, 4], code[i, 5]
            for j in range(count):
                registers[d, j] = (
                    registers[c, j] if registers[a, j] <= registers[b, j] else registers[e, j]
                )
        elif op == PICK_GE:
            c, e = code[i, 4], code[i, 5]
            for j in range(count):
                registers[d, j] = (
                    registers[c, j] if registers[a, j] >= registers[b, j] else registers[e, j]
                )
        else:  # MOV
            for j in range(count):
                registers[d, j] = registers[a, j]
