"""Following a class over /ws/classes/{code}: the state on hello, then every change
pushed as it happens; who may send what (docs/API.md, Classes)."""

from __future__ import annotations

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from tests.classes.conftest import SCENE, bearer


def hello(ws, token=None) -> dict:
    ws.send_json({"type": "hello", "token": token})
    return ws.receive_json()


def test_a_follower_gets_the_state_then_every_change(classroom):
    made = classroom.create()
    code = made["code"]
    teacher = bearer(made["teacher_token"])
    classroom.client.put(f"/api/classes/{code}/scene", json={"scene": SCENE}, headers=teacher)
    with classroom.client.websocket_connect(f"/ws/classes/{code}") as projector:
        state = hello(projector)
        assert state["type"] == "state" and state["role"] == "observer" and state["you"] is None
        assert state["class"]["scene"] == SCENE and state["class"]["scene_version"] == 1

        ada = classroom.join(code, "<b>Ada</b>")
        assert projector.receive_json() == {
            "type": "roster",
            "students": 1,
            "roster": ["<b>Ada</b>"],
        }

        moved = {**SCENE, "t": 42}
        classroom.client.put(f"/api/classes/{code}/scene", json={"scene": moved}, headers=teacher)
        assert projector.receive_json() == {"type": "scene", "scene": moved, "scene_version": 2}

        classroom.challenge(made)
        kinds = {projector.receive_json()["type"] for _ in range(3)}
        assert kinds == {"scene", "challenge", "leaderboard"}

        classroom.submit(code, ada, alpha=0.1, beta=0.8)
        board = projector.receive_json()
        assert board["type"] == "leaderboard" and board["leaderboard"][0]["name"] == "<b>Ada</b>"

        classroom.client.post(f"/api/classes/{code}/end", headers=teacher)
        ended = projector.receive_json()
        assert ended["type"] == "ended" and ended["class"]["status"] == "ended"


def test_the_teachers_socket_moves_every_students_scene(classroom):
    made = classroom.create()
    code = made["code"]
    ada = classroom.join(code, "Ada")
    with (
        classroom.client.websocket_connect(f"/ws/classes/{code}") as teacher,
        classroom.client.websocket_connect(f"/ws/classes/{code}") as student,
    ):
        assert hello(teacher, made["teacher_token"])["role"] == "teacher"
        you = hello(student, ada["student_token"])
        assert you["role"] == "student" and you["you"] == {
            "student_id": ada["student_id"],
            "name": "Ada",
        }
        for t in (1, 2, 3):
            teacher.send_json({"type": "scene", "scene": {**SCENE, "t": t}})
        # Followers may skip to the newest scene, never go back, and end on the last.
        seen = [student.receive_json()]
        while seen[-1]["scene"]["t"] != 3:
            seen.append(student.receive_json())
        assert {message["type"] for message in seen} == {"scene"}
        assert [m["scene"]["t"] for m in seen] == sorted({m["scene"]["t"] for m in seen})
        versions = [message["scene_version"] for message in seen]
        assert versions == sorted(set(versions))
        # The teacher's own scenes are not echoed back to the teacher's socket.
        teacher.send_json({"type": "ping"})
        assert teacher.receive_json() == {"type": "pong"}
        # A reconnect restores the view.
        state = classroom.client.get(f"/api/classes/{code}").json()
        assert state["scene"]["t"] == 3


def test_a_student_cannot_set_the_scene_and_keeps_following(classroom):
    made = classroom.create()
    code = made["code"]
    ada = classroom.join(code, "Ada")
    with classroom.client.websocket_connect(f"/ws/classes/{code}") as student:
        hello(student, ada["student_token"])
        student.send_json({"type": "scene", "scene": {**SCENE, "t": 9}})
        refused = student.receive_json()
        assert refused["type"] == "error" and refused["code"] == "forbidden"
        student.send_json({"type": "ping"})
        assert student.receive_json() == {"type": "pong"}
    assert classroom.client.get(f"/api/classes/{code}").json()["scene"] is None


def test_an_invalid_scene_names_the_field_and_the_socket_stays(classroom):
    made = classroom.create()
    code = made["code"]
    with classroom.client.websocket_connect(f"/ws/classes/{code}") as teacher:
        hello(teacher, made["teacher_token"])
        bad = {**SCENE, "request": {**SCENE["request"], "runs": [{"optimizer": "adam2"}]}}
        teacher.send_json({"type": "scene", "scene": bad})
        error = teacher.receive_json()
        assert error["code"] == "invalid_message"
        assert error["errors"][0]["loc"] == ["scene", "request", "runs", 0, "optimizer"]
        teacher.send_json({"type": "scene", "scene": {**SCENE, "view": {"k": "v" * 201}}})
        assert teacher.receive_json()["errors"][0]["loc"][:2] == ["scene", "view"]
        teacher.send_json({"type": "ping"})
        assert teacher.receive_json() == {"type": "pong"}


def test_another_token_is_refused_and_the_socket_closed(classroom):
    made, other = classroom.create(), classroom.create()
    for token in [other["teacher_token"], "forged" * 7]:
        with classroom.client.websocket_connect(f"/ws/classes/{made['code']}") as ws:
            answer = hello(ws, token)
            assert answer["type"] == "error" and answer["code"] == "forbidden"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1008


def test_the_first_message_must_be_a_hello(classroom):
    code = classroom.create()["code"]
    with classroom.client.websocket_connect(f"/ws/classes/{code}") as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["code"] == "invalid_message"
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


def test_a_class_socket_has_the_streams_limits(tmp_path):
    from tests.classes.conftest import Classroom, make_client

    with make_client(tmp_path, ws_max_message_bytes=2048, ws_max_invalid=3) as client:
        classroom = Classroom(client)
        code = classroom.create()["code"]
        with client.websocket_connect(f"/ws/classes/{code}") as ws:
            hello(ws)
            ws.send_text("x" * 3000)
            assert ws.receive_json()["code"] == "too_large"
            ws.send_text("{")
            assert ws.receive_json()["code"] == "invalid_json"
            ws.send_json({"type": "hello"})
            assert ws.receive_json()["code"] == "invalid_message"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1008


def test_a_page_of_another_origin_may_not_follow(classroom):
    code = classroom.create()["code"]
    with pytest.raises(WebSocketDisconnect):
        with classroom.client.websocket_connect(
            f"/ws/classes/{code}", headers={"origin": "https://evil.example"}
        ):
            pass


def test_an_unknown_class_is_refused_before_the_handshake(classroom):
    with pytest.raises(WebSocketDisconnect):
        with classroom.client.websocket_connect("/ws/classes/ZZZZZZ"):
            pass


def test_a_process_holds_at_most_its_class_sockets(tmp_path):
    from tests.classes.conftest import Classroom, make_client

    with make_client(tmp_path, max_class_sockets=2) as client:
        code = Classroom(client).create()["code"]
        with client.websocket_connect(f"/ws/classes/{code}"):  # no hello yet: counted
            with client.websocket_connect(f"/ws/classes/{code}") as second:
                assert hello(second)["type"] == "state"
                with pytest.raises(WebSocketDisconnect):
                    with client.websocket_connect(f"/ws/classes/{code}"):
                        pass
        with client.websocket_connect(f"/ws/classes/{code}") as again:  # room again
            assert hello(again)["type"] == "state"


def test_one_address_holds_at_most_its_share_of_class_sockets(tmp_path):
    """A client that opens socket after socket is refused before it holds them all:
    the others (here the same test client, the one address there is) get theirs
    back once it closes one."""
    from tests.classes.conftest import Classroom, make_client

    with make_client(tmp_path, max_class_sockets=10, max_class_sockets_per_address=2) as client:
        code = Classroom(client).create()["code"]
        with client.websocket_connect(f"/ws/classes/{code}"):  # no hello yet: counted
            with client.websocket_connect(f"/ws/classes/{code}") as second:
                assert hello(second)["type"] == "state"
                with pytest.raises(WebSocketDenialResponse) as refused:
                    with client.websocket_connect(f"/ws/classes/{code}"):
                        pass
                assert refused.value.status_code == 503
                assert "class sockets open" in refused.value.json()["detail"]
        with client.websocket_connect(f"/ws/classes/{code}") as again:
            assert hello(again)["type"] == "state"
