"""``GET /docs``: Swagger UI from the installed ``swagger-ui-bundle-v2``, not a CDN.

FastAPI's stock page pulls Swagger UI from jsDelivr; a classroom without internet
would get a blank page. The same HTML, pointed at files this server serves.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

ASSETS_URL = "/static/swagger"
ASSETS_DIR = Path(swagger_ui_bundle.swagger_ui_path)


@router.get("/docs", response_class=HTMLResponse)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="descentlab API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url="/static/img/favicon.svg",
    )
