"""The error answers every POST route declares in OpenAPI."""

from __future__ import annotations

from typing import Any

from app.api.readiness import WARMING_DETAIL
from app.api.schemas import MessageError, ValidationErrorResponse
from app.errors import InvalidSpec
from app.optim.registry import get_optimizer


def _unknown_optimizer() -> str:
    """The registry's own answer to a name it does not know (the example stays true as
    rules are added)."""
    try:
        get_optimizer("adam2", ("runs", 0, "optimizer"))
    except InvalidSpec as error:
        return error.message
    raise RuntimeError("'adam2' names a rule now: the example needs another unknown name")


BAD_INPUT: dict[int | str, dict[str, Any]] = {
    400: {"model": MessageError, "description": "The body could not be read as JSON"},
    413: {"model": MessageError, "description": "The body is larger than the limit"},
    422: {
        "model": ValidationErrorResponse,
        "description": "A field is missing, has the wrong type or breaks a rule; "
        "`loc` names it, `msg` the rule",
        "content": {
            "application/json": {
                "example": {
                    "detail": [
                        {
                            "loc": ["body", "runs", 0, "optimizer"],
                            "msg": _unknown_optimizer(),
                            "type": "value_error",
                        }
                    ]
                }
            }
        },
    },
}

# Work that needs the engine or a worker turn: 503 while the engine warms up after a
# start, or when the server is at capacity.
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": MessageError,
        "description": "The engine is still warming up after the server started, or the "
        "server is at capacity (docs/API.md, Capacity); retry after `Retry-After` seconds",
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        },
        "content": {"application/json": {"example": {"detail": WARMING_DETAIL}}},
    }
}
