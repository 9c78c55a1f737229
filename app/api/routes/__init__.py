"""Every route module, assembled in one router."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.routes import (
    catalog,
    classes,
    cloud,
    docs,
    health,
    lessons,
    pages,
    runs,
    stream,
    surface,
    sweeps,
    vendor,
)

ROUTERS = [
    module.router
    for module in (
        health,
        catalog,
        runs,
        surface,
        cloud,
        sweeps,
        lessons,
        stream,
        classes,
        vendor,
        docs,
        pages,
    )
]
api_router = APIRouter()
for router in ROUTERS:
    api_router.include_router(router)
