"""A class server on SQLite in a temporary directory, driven in process (TestClient:
real routes, real database, real WebSocket handling)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

SCENE: dict[str, Any] = {
    "request": {
        "problem": {"name": "steep_valley"},
        "steps": 300,
        "runs": [{"optimizer": "momentum", "params": {"alpha": 0.05}}],
    },
    "view": {"speed": 60, "view": "2d"},
    "lesson": None,
    "t": 0,
}

CHALLENGE: dict[str, Any] = {
    "scene": SCENE,
    "optimizer": "momentum",
    "params": {"alpha": 0.01, "beta": 0.5},
    "allowed": ["alpha", "beta"],
    "goal": {"kind": "fewest_updates"},
    "time_limit_s": 300,
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Classroom:
    """A TestClient with the steps of a lesson as methods."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def create(self, title: str = "Week 3") -> dict[str, Any]:
        answer = self.client.post("/api/classes", json={"title": title})
        assert answer.status_code == 201, answer.text
        return answer.json()

    def join(self, code: str, name: str) -> dict[str, Any]:
        answer = self.client.post(f"/api/classes/{code}/students", json={"name": name})
        assert answer.status_code == 201, answer.text
        return answer.json()

    def challenge(self, made: dict[str, Any], **changes: Any) -> dict[str, Any]:
        answer = self.client.post(
            f"/api/classes/{made['code']}/challenge",
            json={**CHALLENGE, **changes},
            headers=bearer(made["teacher_token"]),
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["challenge"]

    def submit(self, code: str, student: dict[str, Any], **params: float):
        return self.client.post(
            f"/api/classes/{code}/submissions",
            json={"params": params},
            headers=bearer(student["student_token"]),
        )


def make_client(data_dir: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data_dir, warm_up=False, **settings)))


@pytest.fixture
def classroom(tmp_path: Path) -> Iterator[Classroom]:
    with make_client(tmp_path) as client:
        yield Classroom(client)
