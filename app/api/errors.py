"""Bad input as 422 answers in FastAPI's shape: ``{"detail": [{"loc", "msg", "type"}]}``.

FastAPI's own handler echoes the offending ``input`` back, which fails to
encode when it is NaN or infinity (JSON has neither) and would answer 500; the
handlers here keep ``loc``, ``msg`` and ``type`` only. An answer stays small
whatever the body: at most MAX_REPORTED_ERRORS items (the last one saying how
many more there were), names and messages shortened, MAX_ERROR_BYTES in all.
(Objects of more than MAX_OBJECT_KEYS keys are refused before their keys are
checked one by one: app/api/schemas.py.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from app.api.encoding import JSONBytesResponse, dumps
from app.classes.store import ClassError
from app.errors import InvalidSpec
from app.limits import MAX_ERROR_BYTES, MAX_REPORTED_ERRORS

Loc = Sequence[str | int]
# A field name (an unknown key can be any string) and a message (which may quote
# the value it refuses) are cut to these many characters.
MAX_NAME_CHARACTERS = 64
MAX_MESSAGE_CHARACTERS = 300


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _item(loc: Iterable[Any], msg: Any, kind: Any) -> dict[str, Any]:
    return {
        "loc": [p if isinstance(p, int) else _short(str(p), MAX_NAME_CHARACTERS) for p in loc],
        "msg": _short(str(msg), MAX_MESSAGE_CHARACTERS),
        "type": _short(str(kind), MAX_NAME_CHARACTERS),
    }


def _bounded(items: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
    """At most MAX_REPORTED_ERRORS items and MAX_ERROR_BYTES of JSON; when some are
    left out, the last item says how many."""
    shown = items[: MAX_REPORTED_ERRORS - 1] if total > MAX_REPORTED_ERRORS else items
    room = MAX_ERROR_BYTES - 200  # the answer's envelope and the "more" item
    while len(shown) > 1 and len(dumps(shown)) > room:
        shown = shown[:-1]
    if total > len(shown):
        more = total - len(shown)
        shown = [*shown, _item([], f"… and {more} more errors", "too_many_errors")]
    return shown


def error_items(errors: Sequence[dict[str, Any]], prefix: Loc = ()) -> list[dict[str, Any]]:
    """Pydantic's error dicts reduced to JSON-safe ``loc`` / ``msg`` / ``type``, bounded."""
    items = [
        _item([*prefix, *error["loc"]], error["msg"], error["type"])
        for error in errors[:MAX_REPORTED_ERRORS]
    ]
    return _bounded(items, len(errors))


def spec_items(error: InvalidSpec, prefix: Loc = ()) -> list[dict[str, Any]]:
    item = _item([*prefix, *error.loc], error.message, "value_error")
    if error.context:
        item["ctx"] = error.context
    return _bounded([item], 1)


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


def retry_later(detail: str, seconds: int) -> Response:
    """503 with ``Retry-After``: the request was fine, the server cannot take it now."""
    return JSONBytesResponse(
        {"detail": detail}, status_code=503, headers={"Retry-After": str(seconds)}
    )


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
    errors = exc.errors()
    if isinstance(exc.body, bytes):
        # FastAPI parses a body as JSON only when its Content-Type says JSON and hands
        # the rest over as bytes; "Input should be a valid dictionary" would not say why.
        others = [error for error in errors if list(error["loc"][:1]) != ["body"]]
        return unprocessable([_not_json(request), *error_items(others)][:MAX_REPORTED_ERRORS])
    return unprocessable(error_items(errors))


async def _invalid_spec(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidSpec)
    return unprocessable(spec_items(exc, ("body",)))


async def _class_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClassError)
    body: dict[str, Any] = {"detail": exc.detail}
    if exc.field is not None:
        body["field"] = exc.field
    return JSONBytesResponse(body, status_code=exc.status, headers=exc.headers or None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ClassError, _class_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(InvalidSpec, _invalid_spec)
