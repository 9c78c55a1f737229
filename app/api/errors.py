"""Bad input as 422 answers in FastAPI's shape: ``{"detail": [{"loc", "msg", "type"}]}``.

FastAPI's own handler echoes the offending ``input`` back, which fails to
encode when it is NaN or infinity (JSON has neither) and would answer 500; the
handlers here keep ``loc``, ``msg`` and ``type`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from app.api.encoding import JSONBytesResponse
from app.errors import InvalidSpec

Loc = Sequence[str | int]


def error_items(errors: Iterable[dict[str, Any]], prefix: Loc = ()) -> list[dict[str, Any]]:
    """Pydantic's error dicts reduced to JSON-safe ``loc`` / ``msg`` / ``type``."""
    return [
        {
            "loc": [*prefix, *(p if isinstance(p, int) else str(p) for p in error["loc"])],
            "msg": str(error["msg"]),
            "type": str(error["type"]),
        }
        for error in errors
    ]


def spec_items(error: InvalidSpec, prefix: Loc = ()) -> list[dict[str, Any]]:
    item = {"loc": [*prefix, *error.loc], "msg": error.message, "type": "value_error"}
    if error.context:
        item["ctx"] = error.context
    return [item]


def describe(items: Iterable[dict[str, Any]], limit: int = 5) -> str:
    """One line naming each field and its rule, for the stream's ``detail``."""
    items = list(items)
    parts = [
        f"{'.'.join(str(p) for p in item['loc']) or '(message)'}: {item['msg']}"
        for item in items[:limit]
    ]
    if len(items) > limit:
        parts.append(f"… and {len(items) - limit} more")
    return "; ".join(parts)


def unprocessable(items: list[dict[str, Any]]) -> Response:
    return JSONBytesResponse({"detail": items}, status_code=422)


def _not_json(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type")
    got = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    return {
        "loc": ["body"],
        "msg": f"the body must be JSON sent with Content-Type: application/json (got {got})",
        "type": "content_type",
    }


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    items = error_items(exc.errors())
    if isinstance(exc.body, bytes):
        # FastAPI parses a body as JSON only when its Content-Type says JSON and hands
        # the rest over as bytes; "Input should be a valid dictionary" would not say why.
        items = [_not_json(request), *(item for item in items if item["loc"][:1] != ["body"])]
    return unprocessable(items)


async def _invalid_spec(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidSpec)
    return unprocessable(spec_items(exc, ("body",)))


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(InvalidSpec, _invalid_spec)
