"""What no client of a class may cause: a typed formula compiled on the event loop, a
push that overtakes the ``state``, a 500 for text that is not Unicode
(docs/API.md, Classes)."""

from __future__ import annotations

import json

import pytest

from app.classes.followers import Followers
from tests.classes.conftest import CHALLENGE, SCENE, Classroom, bearer, make_client
from tests.classes.test_follow import hello

CUSTOM = {"name": "custom", "expression": "x^2 + 3*y^2", "start": [1.0, 1.0]}


def test_a_typed_formula_in_a_class_is_compiled_in_a_worker_turn_never_on_the_event_loop(
    classroom, formula_compiles: list[bool]
) -> None:
    """A teacher's scene or challenge and a student's submission on a ``custom`` problem
    compile its formula (up to ~0.2 s): on the event loop, that would stall every
    other class and stream of the replica."""
    scene = {**SCENE, "request": {**SCENE["request"], "problem": CUSTOM, "steps": 20}}
    made = classroom.create()
    code, teacher = made["code"], bearer(made["teacher_token"])
    answer = classroom.client.put(
        f"/api/classes/{code}/scene", json={"scene": scene}, headers=teacher
    )
    assert answer.status_code == 200, answer.text
    with classroom.client.websocket_connect(f"/ws/classes/{code}") as socket:
        assert hello(socket, made["teacher_token"])["role"] == "teacher"
        socket.send_json({"type": "scene", "scene": {**scene, "t": 3}})
        socket.send_json({"type": "ping"})
        assert socket.receive_json() == {"type": "pong"}
    ada = classroom.join(code, "Ada")
    classroom.challenge(made, scene=scene)
    answer = classroom.submit(code, ada, alpha=0.02, beta=0.5)
    assert answer.status_code == 201, answer.text
    assert len(formula_compiles) >= 4 and not any(formula_compiles), formula_compiles


def test_a_submission_builds_its_run_once(classroom, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.api.routes import classes as routes
    from app.classes import schemas

    made = classroom.create()
    ada = classroom.join(made["code"], "Ada")
    classroom.challenge(made)
    built: list[object] = []
    build = schemas.build_simulation

    def counted(*args, **kwargs):
        built.append(args)
        return build(*args, **kwargs)

    monkeypatch.setattr(schemas, "build_simulation", counted)
    monkeypatch.setattr(routes, "build_simulation", counted, raising=False)
    assert classroom.submit(made["code"], ada, alpha=0.02).status_code == 201
    assert len(built) == 1


def test_the_first_message_is_always_the_state(classroom, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change that lands while the socket's state is read comes after the state,
    never before it: a page applies changes to the state it has."""
    join = Followers.join

    def join_then_change(self, code, follower):
        join(self, code, follower)
        follower.push("roster", '{"type":"roster","students":0,"roster":[]}')

    monkeypatch.setattr(Followers, "join", join_then_change)
    made = classroom.create()
    with classroom.client.websocket_connect(f"/ws/classes/{made['code']}") as socket:
        assert hello(socket)["type"] == "state"
        assert socket.receive_json()["type"] == "roster"


def post_escaped(classroom, path: str, body: dict):
    """``body`` as a client sends it: JSON with ``\\ud800``-style escapes."""
    return classroom.client.post(
        path, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize("text", ["\ud800", "Ada \udfff"])
def test_a_lone_surrogate_in_a_title_or_a_name_is_a_422_naming_the_field(classroom, text):
    answer = post_escaped(classroom, "/api/classes", {"title": text})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][-1] == "title"
    code = classroom.create()["code"]
    answer = post_escaped(classroom, f"/api/classes/{code}/students", {"name": text})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][-1] == "name"
    assert "surrogate" in answer.json()["detail"][0]["msg"]


def test_the_operators_step_limit_holds_for_a_class_scene_and_challenge(tmp_path) -> None:
    with make_client(tmp_path, max_steps=100) as client:
        made = Classroom(client).create()
        code, teacher = made["code"], bearer(made["teacher_token"])
        answer = client.put(f"/api/classes/{code}/scene", json={"scene": SCENE}, headers=teacher)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"][-1] == "steps"
        answer = client.post(f"/api/classes/{code}/challenge", json=CHALLENGE, headers=teacher)
        assert answer.status_code == 422, answer.text
