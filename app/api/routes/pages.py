"""``GET /``, ``GET /lessons/<slug>`` and ``GET /class/<code>``: the playground page,
built from the catalog.

The page needs the catalog before it can draw anything, so it travels inside
the HTML as a JSON data block (allowed by the CSP: it is never executed), with
each parameter's symbol rendered to inline MathML for the "α = 0.1" readouts, and
the terms the step anatomy's key names.
The lessons travel the same way; ``/lessons/<slug>`` is the same page opened
on that lesson (an unknown slug is a 404 page that lists the lessons). Pages are
rendered on the event loop (a few milliseconds, from the cached catalog): they
never wait for a worker thread, however busy the engine is.
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
from app.api.routes.catalog import build_catalog
from app.lessons import catalog as lesson_catalog

router = APIRouter(include_in_schema=False)

# The terms the step anatomy's arrows draw, for its key (static/js/anatomy.js); a
# rule's velocity term comes with it in the catalog (anatomy.velocity_term).
ARROW_TERMS = {
    "gradient": r"-\alpha_t\, g",
    "step": r"x_t - x_{t-1}",
    "cloud": r"-\alpha_t\, g_k",
    "full": r"-\alpha_t \nabla L",
}


@lru_cache(maxsize=4)
def _templates(directory: Path) -> Jinja2Templates:
    return Jinja2Templates(directory=directory)


def _with_symbols(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        for param in entry.get("params", []):
            param["symbol_mathml"] = convert(param["symbol"], display="inline")


def _script_json(value: Any) -> Markup:
    # Inside <script> only "</" could end the block early; "<\\/" is the same JSON string.
    return Markup(
        json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    )


@lru_cache(maxsize=4)
def _page_catalog(max_steps: int, max_runs: int) -> tuple[dict[str, Any], Markup]:
    """The catalog with symbols and the step anatomy's terms in MathML, and its JSON text
    (built once per limits)."""
    catalog = copy.deepcopy(build_catalog(max_steps, max_runs))
    for section in ("optimizers", "schedules", "problems"):
        _with_symbols(catalog.get(section, []))
    catalog["arrow_terms"] = {
        role: convert(latex, display="inline") for role, latex in ARROW_TERMS.items()
    }
    return catalog, _script_json(catalog)


@lru_cache(maxsize=1)
def _lessons() -> tuple[list[dict[str, Any]], Markup]:
    lessons = lesson_catalog()
    return lessons, _script_json(lessons)


def _page(request: Request, lesson: str | None = None) -> HTMLResponse:
    settings = request.app.state.settings
    catalog, catalog_json = _page_catalog(settings.max_steps, settings.max_runs)
    lessons, lessons_json = _lessons()
    return _templates(settings.templates_dir).TemplateResponse(
        request,
        "index.html",
        {
            "catalog": catalog,
            "catalog_json": catalog_json,
            "lessons": lessons,
            "lessons_json": lessons_json,
            "lesson": lesson,
            "version": __version__,
        },
    )


@router.head("/", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    return _page(request)


@router.get("/class/{code}", response_class=HTMLResponse)
async def class_page(request: Request, code: str) -> HTMLResponse:
    """A class's join URL: the page itself, which reads the code from its path."""
    return _page(request)


@router.get("/lessons/{slug}", response_class=HTMLResponse)
async def lesson_page(request: Request, slug: str) -> HTMLResponse:
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
