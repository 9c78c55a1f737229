"""Tunable numbers: what every optimiser, schedule and problem parameter is described by.

A ``HyperParam`` is one slider of the page and one checked field of a request:
its range, its kind (a float, a count, an on/off switch), its symbol and its
default. ``resolve`` fills in defaults and checks a request's values against a
tuple of them; ``export_value`` gives a checked value back its JSON form.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.errors import InvalidSpec

# How a slider moves over the range: evenly, in log10(value), or in log10(1 − value)
# ("log1m": decays such as β, whose useful values crowd towards 1).
Scale = Literal["linear", "log", "log1m"]
Kind = Literal["float", "int", "bool"]


@dataclass(frozen=True)
class HyperParam:
    """One tunable number: its range, how a slider should move over it, its symbol."""

    name: str
    symbol: str  # LaTeX
    default: float
    min: float
    max: float
    scale: Scale = "linear"
    step: float = 0.01
    kind: Kind = "float"
    description: str = ""

    def validate(self, value: Any, loc: tuple[str | int, ...]) -> float:
        """Return ``value`` as a float, or raise InvalidSpec naming the rule broken.

        The JSON types are those of the OpenAPI schema (``app/api/schemas.py``):
        a ``bool`` is JSON ``true``/``false`` only; an ``int`` is any number without
        a fractional part (``8`` or ``8.0``, as JSON Schema's ``integer``); a
        ``float`` any finite number. Booleans are never numbers.
        """
        if self.kind == "bool":
            if isinstance(value, bool):
                return float(value)
            raise InvalidSpec(loc, "must be true or false")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidSpec(loc, f"must be a number, got {type(value).__name__}")
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            number = math.inf
        if not math.isfinite(number):
            raise InvalidSpec(loc, "must be a finite number")
        if self.kind == "int" and not number.is_integer():
            raise InvalidSpec(loc, "must be a whole number")
        if not self.min <= number <= self.max:
            raise InvalidSpec(loc, f"must be between {self.min:g} and {self.max:g}")
        return number

    def as_json(self) -> dict[str, Any]:
        default: Any = self.default
        if self.kind == "bool":
            default = bool(self.default)
        elif self.kind == "int":
            default = int(self.default)
        return {
            "name": self.name,
            "symbol": self.symbol,
            "default": default,
            "min": self.min,
            "max": self.max,
            "scale": self.scale,
            "step": self.step,
            "kind": self.kind,
            "description": self.description,
        }


def export_value(param: HyperParam, value: float) -> Any:
    """The JSON form of a validated value: bools as bools, counts as ints."""
    if param.kind == "bool":
        return bool(value)
    if param.kind == "int":
        return int(value)
    return value


def resolve(
    params: tuple[HyperParam, ...],
    given: Mapping[str, Any] | None,
    loc: tuple[str | int, ...],
    what: str,
) -> dict[str, float]:
    """Fill defaults into ``given`` and check every value against its spec."""
    given = dict(given or {})
    known = {p.name: p for p in params}
    unknown = sorted(set(given) - set(known))
    if unknown:
        valid = ", ".join(known) or "none"
        raise InvalidSpec(
            loc + (unknown[0],), f"unknown parameter for {what}; valid parameters: {valid}"
        )
    return {
        p.name: p.validate(given[p.name], loc + (p.name,)) if p.name in given else p.default
        for p in params
    }
