"""While the engine warms up after a start, work that needs it is refused at once
with a retry hint (docs/API.md, Warming up); everything else is served."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from app import main
from app.api.readiness import RETRY_AFTER_SECONDS

RUNS = {"problem": {"name": "rosenbrock"}, "steps": 50, "runs": [{"optimizer": "adam"}] * 2}
SWEEP = {
    "problem": {"name": "rosenbrock"},
    "optimizer": "adam",
    "steps": 20,
    "x_axis": {"param": "alpha", "count": 2},
    "y_axis": {"param": "beta1", "count": 2},
}


def test_work_is_refused_at_once_while_warming_and_served_once_warm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The warm-up is held until the test lets it go: every answer below arrives
    # while it is still running, so none of them waited for it.
    gate = threading.Event()
    warm_up = main._warm_up

    def held() -> float:
        gate.wait(timeout=120)
        return warm_up()

    monkeypatch.setattr(main, "_warm_up", held)
    with TestClient(main.create_app()) as client:
        try:
            assert client.get("/readyz").status_code == 503
            refused = client.post("/api/runs", json=RUNS)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
            assert "warming up" in refused.json()["detail"]
            assert client.post("/api/sweeps", json=SWEEP).status_code == 503
            # Bad input is still a 422 naming the field; what needs no engine is served.
            bad = client.post("/api/runs", json={**RUNS, "steps": 0})
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "steps"]
            assert client.get("/api/catalog").status_code == 200
            surface = client.post("/api/surface", json={"problem": {"name": "himmelblau"}})
            assert surface.status_code == 200
            with client.websocket_connect("/api/stream") as ws:
                ws.send_json({"type": "run", "id": 3, "request": RUNS})
                answer = ws.receive_json()
                assert answer["type"] == "error" and answer["id"] == 3
                assert answer["code"] == "warming"
                assert answer["retry_after"] == RETRY_AFTER_SECONDS
                ws.send_json({"type": "sweep", "id": 4, "request": SWEEP})
                assert ws.receive_json()["code"] == "warming"
                ws.send_json({"type": "run", "id": 5, "request": {**RUNS, "steps": 0}})
                assert ws.receive_json()["code"] == "invalid_message"
        finally:
            gate.set()
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the warm-up never finished"
            time.sleep(0.05)
        served = client.post("/api/runs", json=RUNS)
        assert served.status_code == 200 and len(served.json()["runs"][0]["path"]) == 51
        assert client.post("/api/sweeps", json=SWEEP).status_code == 200
        with client.websocket_connect("/api/stream") as ws:
            ws.send_json({"type": "run", "id": 6, "request": RUNS})
            while (message := ws.receive_json())["type"] != "done":
                assert message["type"] in ("started", "chunk")
