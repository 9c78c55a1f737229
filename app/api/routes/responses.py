"""The error answers every POST route declares in OpenAPI."""

from __future__ import annotations

from typing import Any

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
