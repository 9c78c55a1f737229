"""The program of a custom surface, run one point at a time: the compiled engine's side.

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
POWI, POW, SIN, COS, TAN = OP["powi"], OP["pow"], OP["sin"], OP["cos"], OP["tan"]
EXP, LOG, SQRT, ABS, SIGN = OP["exp"], OP["log"], OP["sqrt"], OP["abs"], OP["sign"]
TANH, SINH, COSH, ATAN = OP["tanh"], OP["sinh"], OP["cosh"], OP["atan"]
MIN, MAX, PICK_LE, PICK_GE, MOV = OP["min"], OP["max"], OP["pick_le"], OP["pick_ge"], OP["mov"]


def evaluate(code, registers, x, y):
    """``(f, ∂f/∂x, ∂f/∂y)`` at ``(x, y)``: runs ``code`` over ``registers`` (which it
    writes: one register file per thread)."""
    registers[0] = x
    registers[1] = y
    for i in range(code.shape[0]):
        op = code[i, 0]
        a = registers[code[i, 2]]
        if op == MUL:
            value = a * registers[code[i, 3]]
        elif op == ADD:
            value = a + registers[code[i, 3]]
        elif op == SUB:
            value = a - registers[code[i, 3]]
        elif op == DIV:
            # np.divide, not /: IEEE division whatever the caller's error model (with
            # numba's default, x / 0.0 raises ZeroDivisionError instead of giving inf).
            value = np.divide(a, registers[code[i, 3]])
        elif op == NEG:
            value = -a
        elif op == POWI:
            # a**n for a whole n as numba computes a built-in surface's u**n: squares
            # and products (numpy calls pow instead).
            n = code[i, 3]
            exponent = n if n >= 0 else -n
            value = 1.0
            while exponent != 0:
                if exponent & 1:
                    value *= a
                exponent >>= 1
                a *= a
            if n < 0:
                value = np.divide(1.0, value)
        elif op == POW:
            value = a ** registers[code[i, 3]]
        elif op == SIN:
            value = math.sin(a)
        elif op == COS:
            value = math.cos(a)
        elif op == TAN:
            value = math.tan(a)
        elif op == EXP:
            value = math.exp(a)
        elif op == LOG:
            value = math.log(a)
        elif op == SQRT:
            value = math.sqrt(a)
        elif op == ABS:
            value = abs(a)
        elif op == SIGN:
            value = 1.0 if a > 0.0 else (-1.0 if a < 0.0 else (0.0 if a == 0.0 else a))
        elif op == TANH:
            value = math.tanh(a)
        elif op == SINH:
            value = math.sinh(a)
        elif op == COSH:
            value = math.cosh(a)
        elif op == ATAN:
            value = math.atan(a)
        elif op == MIN:
            b = registers[code[i, 3]]
            value = a if a <= b else (b if b < a else a + b)
        elif op == MAX:
            b = registers[code[i, 3]]
            value = a if a >= b else (b if b > a else a + b)
        elif op == PICK_LE:
            b = registers[code[i, 3]]
            value = registers[code[i, 4]] if a <= b else registers[code[i, 5]]
        elif op == PICK_GE:
            b = registers[code[i, 3]]
            value = registers[code[i, 4]] if a >= b else registers[code[i, 5]]
        else:  # MOV
            value = a
        registers[code[i, 1]] = value
    return registers[2], registers[3], registers[4]
