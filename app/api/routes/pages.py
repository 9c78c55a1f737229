"""``GET /`` and ``GET /lessons/<slug>``: the playground page, built from the catalog.

The page needs the catalog before it can draw anything, so it travels inside
the HTML as a JSON data block (allowed by the CSP: it is never executed), with
each parameter's symbol rendered to inline MathML for the "α = 0.1" readouts.
The lessons travel the same way; ``/lessons/<slug>`` is the same page opened
on that lesson (an unknown slug is a 404 page that lists the lessons).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from latex2mathml.converter import convert
from markupsafe import Markup

from app import __version__
from app.api.routes.catalog import catalog_for
from app.lessons import catalog as lesson_catalog

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=4)
def _templates(directory: Path) -> Jinja2Templates:
    return Jinja2Templates(directory=directory)


def _with_symbols(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        for param in entry.get("params", []):
            param["symbol_mathml"] = convert(param["symbol"], display="inline")


_PAGE_CATALOGS: dict[int, tuple[dict[str, Any], dict[str, Any], str]] = {}


def _page_catalog(base: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The catalog with symbols in MathML, and its JSON text (built once per catalog)."""
    cached = _PAGE_CATALOGS.get(id(base))
    if cached is not None and cached[0] is base:
        return cached[1], cached[2]
    catalog = copy.deepcopy(base)
    for section in ("optimizers", "schedules", "problems"):
        _with_symbols(catalog.get(section, []))
    text = json.dumps(catalog, separators=(",", ":"), ensure_ascii=False)
    # Inside <script> only "</" could end the block early; "<\/" is the same JSON string.
    text = text.replace("</", "<\\/")
    _PAGE_CATALOGS[id(base)] = (base, catalog, text)
    return catalog, text


def _script_json(value: Any) -> Markup:
    # Inside <script> only "</" could end the block early; "<\\/" is the same JSON string.
    return Markup(
        json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    )


@lru_cache(maxsize=1)
def _lessons() -> tuple[list[dict[str, Any]], Markup]:
    lessons = lesson_catalog()
    return lessons, _script_json(lessons)


def _page(request: Request, lesson: str | None = None) -> HTMLResponse:
    settings = request.app.state.settings
    base = catalog_for(settings)
    catalog, text = _page_catalog(base)
    lessons, lessons_json = _lessons()
    return _templates(settings.templates_dir).TemplateResponse(
        request,
        "index.html",
        {
            "catalog": catalog,
            "catalog_json": Markup(text),
            "lessons": lessons,
            "lessons_json": lessons_json,
            "lesson": lesson,
            "version": __version__,
        },
    )


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return _page(request)


@router.get("/lessons/{slug}", response_class=HTMLResponse)
def lesson_page(request: Request, slug: str) -> HTMLResponse:
    lessons, _ = _lessons()
    if any(lesson["slug"] == slug for lesson in lessons):
        return _page(request, lesson=slug)
    settings = request.app.state.settings
    return _templates(settings.templates_dir).TemplateResponse(
        request,
        "404.html",
        {"lessons": lessons, "slug": slug, "version": __version__},
        status_code=404,
    )
