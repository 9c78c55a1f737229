"""Two app processes on one real PostgreSQL: what the teacher does on one replica
reaches students on the other, one leaderboard gathers both, and a replica
restarted mid-challenge loses nothing (docs/DEPLOY.md, Classes)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from websockets.sync.client import ClientConnection, connect

from app.classes.broker import psycopg_conninfo
from tests.classes.conftest import CHALLENGE, SCENE, bearer
from tests.postgres import postgres_server
from tests.serving import free_port, start_server, stop_server

# Seconds a socket waits for a message the test expects (a bound, not an assertion).
PATIENCE = 20


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


class Replica:
    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        self.env = {"DESCENTLAB_DATABASE_URL": database_url}
        self.process = start_server(self.port, env=self.env)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextlib.contextmanager
    def follow(
        self, code: str, token: str | None = None
    ) -> Iterator[tuple[ClientConnection, dict]]:
        url = f"ws://127.0.0.1:{self.port}/ws/classes/{code}"
        with connect(url, open_timeout=PATIENCE) as ws:
            ws.send(json.dumps({"type": "hello", "token": token}))
            yield ws, json.loads(ws.recv(timeout=PATIENCE))

    def restart(self) -> None:
        stop_server(self.process)
        self.process = start_server(self.port, env=self.env)

    def stop(self) -> None:
        self.http.close()
        stop_server(self.process)


def next_of(ws: ClientConnection, kind: str) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=PATIENCE))
        if message["type"] == kind:
            return message


@pytest.fixture(scope="module")
def replicas(database_url: str) -> Iterator[tuple[Replica, Replica]]:
    a = Replica(database_url)
    try:
        b = Replica(database_url)
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


def test_two_replicas_serve_one_class(replicas, database_url):
    a, b = replicas
    made = a.http.post("/api/classes", json={"title": "Two replicas"}).json()
    code, teacher_token = made["code"], made["teacher_token"]
    ada = b.http.post(f"/api/classes/{code}/students", json={"name": "Ada"}).json()
    bea = a.http.post(f"/api/classes/{code}/students", json={"name": "Bea"}).json()
    taken = b.http.post(f"/api/classes/{code}/students", json={"name": "bea"})
    assert taken.status_code == 409  # one roster across replicas

    with (
        a.follow(code, teacher_token) as (teacher, state),
        b.follow(code, ada["student_token"]) as (student, view),
    ):
        assert state["role"] == "teacher"
        assert view["class"]["roster"] == ["Ada", "Bea"]

        # The teacher drags on A; the student on B sees it.
        for t in (5, 6, 7):
            teacher.send(json.dumps({"type": "scene", "scene": {**SCENE, "t": t}}))
        seen = next_of(student, "scene")
        while seen["scene"]["t"] != 7:
            seen = next_of(student, "scene")

        # A challenge set on A, submissions on both: one leaderboard, pushed to B.
        started = a.http.post(
            f"/api/classes/{code}/challenge",
            json={**CHALLENGE, "scene": {**SCENE, "t": 11}},
            headers=bearer(teacher_token),
        )
        assert started.status_code == 201
        challenge_id = started.json()["challenge"]["id"]
        assert next_of(student, "challenge")["challenge"]["id"] == challenge_id
        on_b = b.http.post(
            f"/api/classes/{code}/submissions",
            json={"params": {"alpha": 0.1, "beta": 0.8}},
            headers=bearer(ada["student_token"]),
        )
        on_a = a.http.post(
            f"/api/classes/{code}/submissions",
            json={"params": {"alpha": 0.05, "beta": 0.8}},
            headers=bearer(bea["student_token"]),
        )
        assert on_b.status_code == on_a.status_code == 201
        board = next_of(student, "leaderboard")
        while len(board["leaderboard"]) < 2:
            board = next_of(student, "leaderboard")
        assert [e["name"] for e in board["leaderboard"]] == ["Ada", "Bea"]
        assert a.http.get(f"/api/classes/{code}").json()["leaderboard"] == board["leaderboard"]

    # A restarts mid-challenge: nothing is lost, a reconnect restores the view, the
    # teacher's token restores control.
    a.restart()
    state = a.http.get(f"/api/classes/{code}").json()
    assert state["leaderboard"] == board["leaderboard"] and state["scene"]["t"] == 11
    with (
        a.follow(code, ada["student_token"]) as (student, view),
        b.follow(code, teacher_token) as (teacher, control),
    ):
        assert view["role"] == "student" and view["class"]["scene"]["t"] == 11
        assert view["class"]["challenge"]["id"] == challenge_id
        assert control["role"] == "teacher"
        teacher.send(json.dumps({"type": "scene", "scene": {**SCENE, "t": 12}}))
        assert next_of(student, "scene")["scene"]["t"] == 12
        again = a.http.post(
            f"/api/classes/{code}/submissions",
            json={"params": {"alpha": 0.02, "beta": 0.9}},
            headers=bearer(bea["student_token"]),
        )
        assert again.status_code == 201
        assert len(next_of(student, "leaderboard")["leaderboard"]) == 2

        # The database drops every replica's listening connection: they reconnect,
        # and what changed meanwhile still reaches the students.
        with psycopg.connect(psycopg_conninfo(database_url), autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            ).fetchall()
        assert len(dropped) == 2
        teacher.send(json.dumps({"type": "scene", "scene": {**SCENE, "t": 13}}))
        seen = next_of(student, "scene")
        while seen["scene"]["t"] != 13:
            seen = next_of(student, "scene")
