"""``GET /api/lessons``: the story from SGD to Adam as preset scenes."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from app.api.encoding import JSONBytesResponse, dumps
from app.api.schemas import Lesson
from app.lessons import catalog

router = APIRouter(tags=["lessons"])


@router.get(
    "/api/lessons",
    summary="The lessons, in teaching order",
    response_class=JSONBytesResponse,
    response_model=None,
    responses={
        200: {
            "model": list[Lesson],
            # Every lesson: the documented example is the answer itself.
            "content": {"application/json": {"example": catalog()}},
        }
    },
)
async def lessons() -> Response:
    """Each lesson: `slug`, `title`, `idea`, `notice`, `try`, and `scene` — a body for
    `POST /api/runs` (or a stream `run`) — with the playback `speed` it is best watched at."""
    return Response(dumps(catalog()), media_type="application/json")
