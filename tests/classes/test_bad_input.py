"""Whatever a client sends to a class route, the answer is a 4xx that says why, never
a 500 (docs/API.md, Classes; Errors). Bodies are generated: any JSON, and JSON
shaped like each route's body with wrong values in it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from app.settings import Settings
from tests.classes.conftest import CHALLENGE, SCENE, bearer

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def _with(base: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**base, key: value}


def bodies(shape: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Any JSON, or ``shape`` with one field replaced by any JSON (or dropped)."""
    keys = sorted(shape)
    replaced = st.builds(_with, st.just(shape), st.sampled_from(keys), json_values)
    dropped = st.sampled_from(keys).map(lambda key: {k: v for k, v in shape.items() if k != key})
    return st.one_of(json_values, replaced, dropped)


ROUTES = {
    ("post", "/api/classes"): {"title": "x"},
    ("post", "/api/classes/{code}/students"): {"name": "x"},
    ("put", "/api/classes/{code}/scene"): {"scene": SCENE},
    ("post", "/api/classes/{code}/challenge"): CHALLENGE,
    ("post", "/api/classes/{code}/submissions"): {"params": {"alpha": 0.1}},
}
SCENE_ROUTE = "/api/classes/{code}/scene"
SCENE_FIELDS = bodies(SCENE)


class Server:
    """One app for every generated case (its rate limits raised past the cases' count)."""

    client: TestClient
    made: dict[str, Any]
    student: dict[str, Any]


def start(tmp_path_factory) -> Server:
    server = Server()
    data = tmp_path_factory.mktemp("classes")
    server.client = TestClient(
        create_app(Settings(data_dir=data, warm_up=False)), raise_server_exceptions=False
    )
    server.client.__enter__()
    server.made = server.client.post("/api/classes", json={}).json()
    code = server.made["code"]
    server.student = server.client.post(f"/api/classes/{code}/students", json={"name": "S"}).json()
    server.client.post(
        f"/api/classes/{code}/challenge",
        json=CHALLENGE,
        headers=bearer(server.made["teacher_token"]),
    )
    return server


def check(answer) -> None:
    assert 400 <= answer.status_code < 500 or answer.status_code in (200, 201), answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert "detail" in answer.json() or answer.status_code < 300


def test_no_body_makes_a_class_route_fail(tmp_path_factory, monkeypatch):
    from app.classes import service as service_module
    from app.classes import store as store_module

    # More cases than an hour's classes or a minute's joins or submissions: no limit
    # may hide them.
    monkeypatch.setattr(service_module, "JOINS_PER_MINUTE", 10**6)
    monkeypatch.setattr(service_module, "CLASSES_PER_HOUR", 10**6)
    monkeypatch.setattr(store_module, "SUBMISSIONS_PER_MINUTE", 10**6)
    server = start(tmp_path_factory)
    code = server.made["code"]
    tokens = {
        SCENE_ROUTE: server.made["teacher_token"],
        "/api/classes/{code}/challenge": server.made["teacher_token"],
        "/api/classes/{code}/submissions": server.student["student_token"],
    }
    cases = st.sampled_from(sorted(ROUTES)).flatmap(
        lambda route: st.tuples(st.just(route), bodies(ROUTES[route]))
    )
    scene_bodies = SCENE_FIELDS.map(lambda scene: (("put", SCENE_ROUTE), {"scene": scene}))

    @settings(
        max_examples=300, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=st.one_of(cases, scene_bodies))
    def any_body(case: tuple[tuple[str, str], Any]) -> None:
        (method, path), body = case
        headers = bearer(tokens[path]) if path in tokens else {}
        check(server.client.request(method, path.format(code=code), json=body, headers=headers))

    try:
        any_body()
        # Not JSON at all, and headers of every kind of wrong.
        for headers in [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"},
                        {"Authorization": "Bearer " + "x" * 10_000}]:  # fmt: skip
            answer = server.client.post(
                f"/api/classes/{code}/submissions", content=b"\xff{", headers=headers
            )
            check(answer)
    finally:
        server.client.__exit__(None, None, None)
