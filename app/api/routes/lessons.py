"""``GET /api/lessons``: the story from SGD to Adam as preset scenes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.lessons import catalog

router = APIRouter(tags=["lessons"])


@router.get("/api/lessons", summary="The lessons, in teaching order")
def lessons() -> list[dict[str, Any]]:
    """Each lesson: `slug`, `title`, `idea`, `notice`, `try`, and `scene` — a body for
    `POST /api/runs` (or a stream `run`) — with the playback `speed` it is best watched at."""
    return catalog()
