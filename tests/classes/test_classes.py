"""Creating and joining a class, names, tokens and the guards on codes
(docs/API.md, Classes)."""

from __future__ import annotations

import json
import unicodedata

import pytest

from app.classes import service as service_module
from app.classes import store as store_module
from app.limits import CLASS_CODE_ALPHABET, CLASS_CODE_LENGTH, MAX_UNKNOWN_CODES
from tests.classes.conftest import SCENE, bearer


def test_a_class_is_created_with_a_code_a_join_url_and_a_teacher_token(classroom):
    made = classroom.create("Week 3: momentum")
    code = made["code"]
    assert len(code) == CLASS_CODE_LENGTH and set(code) <= set(CLASS_CODE_ALPHABET)
    assert made["join_url"] == f"http://testserver/class/{code}"
    assert len(made["teacher_token"]) >= 43
    assert made["class"]["title"] == "Week 3: momentum"
    assert made["class"]["status"] == "open"
    # The code is read off a projector: any case finds the class.
    state = classroom.client.get(f"/api/classes/{code.lower()}").json()
    assert state["code"] == code and state["students"] == 0 and state["scene"] is None
    assert made["teacher_token"] not in json.dumps(state)
    # The join URL opens the page; the QR code draws it.
    assert classroom.client.get(f"/class/{code}").status_code == 200
    qr = classroom.client.get(f"/api/classes/{code}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    assert qr.text.lstrip().startswith("<?xml") and "<svg" in qr.text


def test_two_classes_have_two_codes_and_two_tokens(classroom):
    first, second = classroom.create(), classroom.create()
    assert first["code"] != second["code"]
    assert first["teacher_token"] != second["teacher_token"]


@pytest.mark.parametrize(
    "name",
    ["<script>alert(1)</script>", "{{7*7}}", "${7*7}", "Zoë 学生 🚀", '=HYPERLINK("x")'],
)
def test_any_printable_name_is_kept_as_written(classroom, name):
    code = classroom.create()["code"]
    joined = classroom.join(code, f"  {name}  ")
    assert joined["name"] == name  # trimmed, never evaluated nor rewritten
    state = classroom.client.get(f"/api/classes/{code}")
    assert state.headers["content-type"].startswith("application/json")
    assert state.json()["roster"] == [name]


def test_names_are_one_name_whatever_their_case_or_unicode_form(classroom):
    code = classroom.create()["code"]
    classroom.join(code, "Zoé")  # é as one character
    for same in ["ZOÉ", unicodedata.normalize("NFD", "zoé")]:
        answer = classroom.client.post(f"/api/classes/{code}/students", json={"name": same})
        assert answer.status_code == 409
        assert answer.json()["field"] == "name" and "taken" in answer.json()["detail"]
    # Another class may have its own Zoé.
    classroom.join(classroom.create()["code"], "zoé")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 33, "at most 32"),
        ("a\nb", "control"),
        ("a\u202eb", "control"),  # right-to-left override: a name that lies about itself
    ],
)
def test_a_bad_name_is_refused_naming_the_rule(classroom, name, rule):
    code = classroom.create()["code"]
    answer = classroom.client.post(f"/api/classes/{code}/students", json={"name": name})
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "name"] and rule in error["msg"]
    assert classroom.join(code, "x" * 32)["name"] == "x" * 32


def test_a_title_is_at_most_100_characters(classroom):
    answer = classroom.client.post("/api/classes", json={"title": "t" * 101})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "title"]


def test_teacher_routes_refuse_students_strangers_and_other_classes(classroom):
    made, other = classroom.create(), classroom.create()
    code = made["code"]
    student = classroom.join(code, "Ada")
    foreign_student = classroom.join(other["code"], "Bea")
    put = lambda headers: classroom.client.put(  # noqa: E731
        f"/api/classes/{code}/scene", json={"scene": SCENE}, headers=headers
    )
    assert put({}).status_code == 401
    assert "teacher token is required" in put({}).json()["detail"]
    for token in [
        student["student_token"],
        other["teacher_token"],
        foreign_student["student_token"],
        made["teacher_token"][:-1] + ("A" if made["teacher_token"][-1] != "A" else "B"),
    ]:
        answer = put(bearer(token))
        assert answer.status_code == 403, token
        assert "may not set the scene" in answer.json()["detail"]
    for route in ["results", "results?format=csv"]:
        assert classroom.client.get(f"/api/classes/{code}/{route}").status_code == 401
        headers = bearer(student["student_token"])
        assert (
            classroom.client.get(f"/api/classes/{code}/{route}", headers=headers).status_code == 403
        )
    ended = classroom.client.post(
        f"/api/classes/{code}/end", headers=bearer(other["teacher_token"])
    )
    assert ended.status_code == 403
    assert put(bearer(made["teacher_token"])).status_code == 200


def test_no_answer_carries_a_token_but_its_owners(classroom):
    made = classroom.create()
    code = made["code"]
    ada, bea = classroom.join(code, "Ada"), classroom.join(code, "Bea")
    classroom.challenge(made)
    classroom.submit(code, ada, alpha=0.05)
    teacher = bearer(made["teacher_token"])
    texts = [
        classroom.client.get(f"/api/classes/{code}").text,
        classroom.client.get(f"/api/classes/{code}/results", headers=teacher).text,
        classroom.client.get(f"/api/classes/{code}/results?format=csv", headers=teacher).text,
    ]
    for token in [made["teacher_token"], ada["student_token"], bea["student_token"]]:
        assert all(token not in text for text in texts)


def test_guessing_codes_is_refused_after_a_few_misses(classroom):
    code = classroom.create()["code"]
    guesses = [c * 6 for c in CLASS_CODE_ALPHABET if c * 6 != code][:MAX_UNKNOWN_CODES]
    for guess in guesses:
        assert classroom.client.get(f"/api/classes/{guess}").status_code == 404
    refused = classroom.client.post(f"/api/classes/{code}/students", json={"name": "Ada"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "unknown class codes" in refused.json()["detail"]
    # The socket is refused before its handshake too.
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with classroom.client.websocket_connect(f"/ws/classes/{code}"):
            pass


def test_an_unknown_or_malformed_code_is_404(classroom):
    for code in ["ZZZZZZ", "O0I1O0", "abc", "A" * 200]:
        answer = classroom.client.get(f"/api/classes/{code}")
        assert answer.status_code == 404 and answer.json()["detail"].startswith("no class")


def test_a_class_holds_at_most_its_students(classroom, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_STUDENTS", 3)
    code = classroom.create()["code"]
    for name in ["A", "B", "C"]:
        classroom.join(code, name)
    full = classroom.client.post(f"/api/classes/{code}/students", json={"name": "D"})
    assert full.status_code == 409 and "at most 3 students" in full.json()["detail"]


def test_joins_from_one_address_are_rate_limited(tmp_path, monkeypatch):
    from tests.classes.conftest import Classroom, make_client

    monkeypatch.setattr(service_module, "JOINS_PER_MINUTE", 4)
    with make_client(tmp_path) as client:
        classroom = Classroom(client)
        code = classroom.create()["code"]
        for name in "ABCD":
            classroom.join(code, name)
        refused = client.post(f"/api/classes/{code}/students", json={"name": "E"})
        assert refused.status_code == 429 and "joins" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1


def test_an_address_creates_a_bounded_number_of_classes(tmp_path, monkeypatch):
    from tests.classes.conftest import Classroom, make_client

    monkeypatch.setattr(service_module, "CLASSES_PER_HOUR", 3)
    with make_client(tmp_path) as client:
        classroom = Classroom(client)
        for _ in range(3):
            classroom.create()
        refused = client.post("/api/classes", json={})
        assert refused.status_code == 429 and "classes created" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1
