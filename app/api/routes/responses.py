"""The error answers every POST route declares in OpenAPI."""

from __future__ import annotations

from typing import Any

from app.api.readiness import WARMING_DETAIL
from app.api.schemas import MessageError, ValidationErrorResponse

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
                            "msg": "unknown optimizer 'adamw'; valid optimizers: sgd, momentum, "
                            "nesterov, adagrad, rmsprop, adam, adadelta, nadam, adamax, amsgrad",
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
