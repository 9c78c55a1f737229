"""``/openapi.json`` as FastAPI builds it, with two corrections.

- FastAPI writes the document with ``exclude_none``, which also strips every
  ``null`` out of the examples (a run's ``"diverged_at": null`` vanished, so the
  example broke its own schema): the routes' examples are put back as written.
- The models that only validate (``app.api.schemas``) are documented by the schemas
  generated from the registries (``app.api.request_schemas``); components nothing
  refers to any more are left out, so the page shows only the shapes that apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

SCHEMAS_PREFIX = "#/components/schemas/"


def install(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Correct ``app``'s document; ``routers`` are those ``app`` includes, without a prefix."""
    build = app.openapi
    routes = [route for router in routers for route in router.routes]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            _restore_examples(document, routes)
            _drop_unused_schemas(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _restore_examples(document: dict[str, Any], routes: Iterable[Any]) -> None:
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            for status, response in route.responses.items():
                for media, content in response.get("content", {}).items():
                    if "example" in content:
                        documented = operation["responses"][str(status)]["content"][media]
                        documented["example"] = content["example"]
            examples = getattr(route.body_field, "field_info", None)
            for name, example in (getattr(examples, "openapi_examples", None) or {}).items():
                body = operation["requestBody"]["content"]["application/json"]
                body["examples"][name]["value"] = example["value"]


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMAS_PREFIX):
            yield ref[len(SCHEMAS_PREFIX) :]
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _drop_unused_schemas(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    outside = {key: value for key, value in document.items() if key != "components"}
    used: set[str] = set()
    pending = list(_refs(outside))
    while pending:
        name = pending.pop()
        if name not in used and name in schemas:
            used.add(name)
            pending.extend(_refs(schemas[name]))
    for name in set(schemas) - used:
        del schemas[name]
