"""Classes are kept for the configured time after their end or last activity, then
deleted with everything in them (docs/API.md, Classes: Retention)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from app.classes import store as store_module
from app.classes.tables import challenges, students, submissions
from tests.classes.conftest import bearer


def test_the_sweep_deletes_classes_past_their_retention(classroom, monkeypatch):
    client = classroom.client
    classes = client.app.state.classes
    retention = client.app.state.settings.class_retention_hours * 3600
    old, recent = classroom.create(), classroom.create()
    ada = classroom.join(old["code"], "Ada")
    classroom.challenge(old)
    assert classroom.submit(old["code"], ada, alpha=0.1).status_code == 201
    # The old class ended longer ago than the retention.
    long_ago = time.time() - retention - 60
    monkeypatch.setattr(store_module, "_now", lambda: long_ago)
    client.post(f"/api/classes/{old['code']}/end", headers=bearer(old["teacher_token"]))
    monkeypatch.undo()

    assert client.portal.call(classes.sweep, None) == [old["code"]]
    assert client.get(f"/api/classes/{old['code']}").status_code == 404
    assert client.get(f"/api/classes/{recent['code']}").status_code == 200
    with classes.database.engine.connect() as connection:
        for table in (students, challenges, submissions):  # nothing of it is left behind
            assert connection.execute(select(func.count()).select_from(table)).scalar_one() == 0

    # A class never ended goes once it has been idle as long.
    later = time.time() + retention + 60
    assert client.portal.call(classes.sweep, later) == [recent["code"]]
    assert client.get(f"/api/classes/{recent['code']}").status_code == 404


def test_the_sockets_of_a_deleted_class_are_closed(classroom):
    """A projector still following a class the sweep deleted is told so (1008) instead
    of following nothing, and the replica keeps no room for it."""
    import pytest
    from starlette.websockets import WebSocketDisconnect

    from tests.classes.test_follow import hello

    client = classroom.client
    classes = client.app.state.classes
    made = classroom.create()
    later = time.time() + client.app.state.settings.class_retention_hours * 3600 + 60
    with client.websocket_connect(f"/ws/classes/{made['code']}") as projector:
        assert hello(projector)["type"] == "state"
        assert client.portal.call(classes.sweep, later) == [made["code"]]
        with pytest.raises(WebSocketDisconnect) as closed:
            projector.receive_json()
        assert closed.value.code == 1008 and "deleted" in closed.value.reason
    assert made["code"] not in classes.followers.rooms
