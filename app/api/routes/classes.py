"""Class mode over HTTP (docs/API.md, Classes): create, join, the teacher's scene and
challenge, submissions the server scores itself, the end and the results.

Every route that names a class first passes the code guard: an address that has
asked for too many unknown codes is refused (429) before its code is looked up.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, WebSocket
from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.api.answers import Refused, admission, client_of, read_request
from app.api.class_socket import ClassSocket
from app.api.encoding import JSONBytesResponse
from app.api.readiness import engine_warming, warming_response
from app.api.routes.responses import BAD_INPUT, UNAVAILABLE
from app.api.routes.stream import deny, origin_allowed
from app.classes import rules
from app.classes.schemas import (
    Join,
    NewChallenge,
    NewClass,
    SceneBody,
    Submission,
    check_challenge,
    check_scene,
    check_submission,
)
from app.classes.service import Classes, limited
from app.classes.store import ClassError, not_found
from app.engine import simulate
from app.formats import CSV_MEDIA_TYPE, answer_points

# Not in OpenAPI: every answer depends on a class code and a token that a request
# generated from a schema cannot hold; docs/API.md, Classes, is their contract.
router = APIRouter(tags=["classes"], include_in_schema=False)

# The page a join URL opens (app/api/routes/pages.py serves it).
JOIN_PATH = "/class/{code}"


def classes_of(request: HTTPConnection) -> Classes:
    return request.app.state.classes


async def known_code(classes: Classes, address: str, code: str) -> str:
    """The class's code as stored, or ClassError: 429 for an address that has guessed
    too many codes, 404 (counted against the address) for an unknown one."""
    limited(classes.unknown_codes, address, "too many unknown class codes from this address")
    normal = rules.normal_code(code)
    if normal is None or not await classes.database.call(classes.database.store.exists, normal):
        classes.unknown_codes.count(address)
        raise not_found(code.upper()[:16])
    return normal


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def acting(
    request: Request, code: str, role: Literal["teacher", "student"], action: str
) -> tuple[str, dict[str, Any] | None]:
    """The class code and, for a student, who they are; 401 without a token, 403 for a
    token that is not of ``role`` in this class."""
    classes = classes_of(request)
    normal = await known_code(classes, client_of(request), code)
    token = bearer(request)
    if token is None:
        raise ClassError(401, f"a {role} token is required (Authorization: Bearer …)")
    try:
        who, student = await classes.database.call(classes.database.store.role, normal, token)
    except ClassError as refused:
        if refused.status == 403:
            raise ClassError(403, f"this token may not {action} in class {normal}") from None
        raise
    if who != role:
        raise ClassError(403, f"this token may not {action} in class {normal}")
    return normal, student


def join_url(request: Request, code: str) -> str:
    return str(request.base_url).rstrip("/") + JOIN_PATH.format(code=code)


@router.post("/api/classes", status_code=201, summary="Create a class", responses={**BAD_INPUT})
async def create_class(body: NewClass, request: Request) -> JSONBytesResponse:
    classes = classes_of(request)
    address = client_of(request)
    limited(classes.creations, address, "too many classes created from this address")
    classes.creations.count(address)
    token = rules.new_token()
    store = classes.database.store
    code = await classes.database.call(store.create, body.title, rules.token_hash(token))
    state = await classes.database.call(store.public, code)
    return JSONBytesResponse(
        {"code": code, "join_url": join_url(request, code), "teacher_token": token, "class": state},
        status_code=201,
    )


@router.get("/api/classes/{code}", summary="A class's public state")
async def class_state(code: str, request: Request) -> JSONBytesResponse:
    classes = classes_of(request)
    normal = await known_code(classes, client_of(request), code)
    return JSONBytesResponse(await classes.database.call(classes.database.store.public, normal))


@router.get(
    "/api/classes/{code}/qr.svg",
    summary="The join URL as a QR code",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def class_qr(code: str, request: Request) -> Response:
    classes = classes_of(request)
    normal = await known_code(classes, client_of(request), code)
    import segno  # imported on first use: a replica that never draws a code saves ~9 MB

    image = io.BytesIO()
    segno.make(join_url(request, normal), error="m").save(image, kind="svg", scale=8, border=2)
    return Response(image.getvalue(), media_type="image/svg+xml")


@router.post(
    "/api/classes/{code}/students", status_code=201, summary="Join a class", responses=BAD_INPUT
)
async def join_class(code: str, body: Join, request: Request) -> JSONBytesResponse:
    classes = classes_of(request)
    address = client_of(request)
    normal = await known_code(classes, address, code)
    limited(classes.joins, address, "too many joins from this address")
    classes.joins.count(address)
    token = rules.new_token()
    student_id = await classes.database.call(
        classes.database.store.join, normal, body.name, rules.token_hash(token)
    )
    await classes.publish(normal, "roster")
    return JSONBytesResponse(
        {"student_id": student_id, "student_token": token, "name": body.name}, status_code=201
    )


@router.put("/api/classes/{code}/scene", summary="Set the class's scene", responses=BAD_INPUT)
async def put_scene(code: str, body: SceneBody, request: Request) -> Response:
    normal, _ = await acting(request, code, "teacher", "set the scene")
    classes = classes_of(request)
    classes.teacher_writes.take(normal)
    settings = request.app.state.settings
    try:
        await read_request(
            request, body.scene.request.problem, lambda: check_scene(body.scene, settings)
        )
    except Refused as refused:
        return refused.response
    version = await classes.database.call(
        classes.database.store.set_scene, normal, body.scene.stored()
    )
    await classes.publish(normal, "scene")
    return JSONBytesResponse({"scene_version": version})


@router.post(
    "/api/classes/{code}/challenge",
    status_code=201,
    summary="Start a challenge",
    responses=BAD_INPUT,
)
async def start_challenge(code: str, body: NewChallenge, request: Request) -> Response:
    normal, _ = await acting(request, code, "teacher", "start a challenge")
    classes = classes_of(request)
    classes.teacher_writes.take(normal)
    settings = request.app.state.settings
    try:
        await read_request(
            request, body.scene.request.problem, lambda: check_challenge(body, settings)
        )
    except Refused as refused:
        return refused.response
    challenge = await classes.database.call(
        classes.database.store.start_challenge, normal, body.spec()
    )
    await classes.publish(normal, "scene", "challenge", "leaderboard")
    return JSONBytesResponse({"challenge": challenge}, status_code=201)


async def scored_submission(
    request: Request, classes: Classes, normal: str, student_id: int, body: Submission
) -> tuple[dict[str, Any], int] | Response:
    """The stored submission and its rank, or the answer that refuses it."""
    store = classes.database.store
    challenge = await classes.database.call(store.open_challenge, normal, student_id)
    settings = request.app.state.settings
    try:
        # The run is built once: checked here, then simulated as it is.
        simulation = await read_request(
            request,
            challenge["scene"]["request"]["problem"],
            lambda: check_submission(challenge, body.params, settings),
        )
    except Refused as refused:
        return refused.response
    if engine_warming(request.app):
        return warming_response()
    try:
        async with admission(request, answer_points(simulation)) as ticket:
            result = await ticket.run(simulate, simulation)
    except Refused as refused:
        return refused.response
    score = rules.Score(
        converged_at=result.converged_at[0],
        final_loss=float(result.losses[0][-1]),
        diverged_at=result.diverged_at[0],
    )
    return await classes.database.call(
        store.submit, normal, challenge["id"], student_id, body.params, score
    )


@router.post(
    "/api/classes/{code}/submissions",
    status_code=201,
    summary="Submit a challenge's parameters",
    responses={**BAD_INPUT, **UNAVAILABLE},
)
async def submit(code: str, body: Submission, request: Request) -> Response:
    normal, student = await acting(request, code, "student", "submit")
    assert student is not None
    classes = classes_of(request)
    # A student's submissions are checked and stored one at a time; the insert's
    # transaction checks the rate again (another replica may have stored one).
    async with classes.submission_lock(student["student_id"]):
        answer = await scored_submission(request, classes, normal, student["student_id"], body)
    if isinstance(answer, Response):
        return answer
    submission, rank = answer
    await classes.publish(normal, "leaderboard")
    return JSONBytesResponse({"submission": submission, "rank": rank}, status_code=201)


@router.post("/api/classes/{code}/end", summary="End the class")
async def end_class(code: str, request: Request) -> JSONBytesResponse:
    normal, _ = await acting(request, code, "teacher", "end the class")
    classes = classes_of(request)
    state = await classes.database.call(classes.database.store.end, normal)
    await classes.publish(normal, "ended")
    return JSONBytesResponse({"class": state})


# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """Text a spreadsheet shows as written, never runs."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def results_csv(results: dict[str, Any]) -> str:
    goals = {challenge["id"]: challenge["goal"]["kind"] for challenge in results["challenges"]}
    names = list(
        dict.fromkeys(name for challenge in results["challenges"] for name in challenge["allowed"])
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["challenge_id", "goal", "student_id", "name", "submission_id", *names,
         "converged_at", "final_loss", "diverged_at", "submitted_at", "best", "rank"]
    )  # fmt: skip
    for row in results["submissions"]:
        writer.writerow(
            "" if value is None else value
            for value in [
                row["challenge_id"], goals[row["challenge_id"]], row["student_id"],
                spreadsheet_text(row["name"]), row["id"],
                *(row["params"].get(name) for name in names), row["converged_at"],
                repr(row["final_loss"]), row["diverged_at"], row["submitted_at"],
                str(row["best"]).lower(), row["rank"],
            ]
        )  # fmt: skip
    return out.getvalue()


@router.get(
    "/api/classes/{code}/results",
    summary="Every submission, rank and the scene",
    responses={200: {"content": {"application/json": {}, CSV_MEDIA_TYPE: {}}}},
)
async def class_results(
    code: str,
    request: Request,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    normal, _ = await acting(request, code, "teacher", "read the results")
    classes = classes_of(request)
    results = await classes.database.call(classes.database.store.results, normal)
    if format == "json":
        return JSONBytesResponse(results)
    return Response(
        results_csv(results),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="class-{normal}.csv"'},
    )


@router.websocket("/ws/classes/{code}")
async def class_socket(websocket: WebSocket, code: str) -> None:
    settings = websocket.app.state.settings
    classes = classes_of(websocket)
    if not origin_allowed(websocket.headers, settings.allowed_origins):
        await deny(websocket, 403, f"origin {websocket.headers['origin']} may not follow a class")
        return
    address = websocket.client.host if websocket.client else "unknown"
    per_address = classes.sockets_by_address
    full = (
        f"the server has {settings.max_class_sockets} class sockets open"
        if classes.open_sockets >= settings.max_class_sockets
        else f"{address} has {settings.max_class_sockets_per_address} class sockets open"
        if per_address[address] >= settings.max_class_sockets_per_address
        else None
    )
    if full is not None:
        retry_after = websocket.app.state.gate.retry_after
        await deny(
            websocket, 503, f"{full}; retry in {retry_after} s", **{"Retry-After": str(retry_after)}
        )
        return
    # Counted from the handshake on, before its first await (so two handshakes at
    # once cannot both take the last place), and sockets that never say hello count.
    classes.open_sockets += 1
    per_address[address] += 1
    try:
        try:
            normal = await known_code(classes, address, code)
        except ClassError as refused:
            await deny(websocket, refused.status, refused.detail, **refused.headers)
            return
        await websocket.accept()
        await ClassSocket(websocket, settings, classes, normal).serve()
    finally:
        classes.open_sockets -= 1
        per_address[address] -= 1
        if not per_address[address]:
            del per_address[address]
