"""``descentlab run`` as a user types it."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.cli import main
from app.settings import Settings
from tests.serving import ROOT, free_port, stop_server


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_csv_trajectory_has_every_point(capsys):
    code, out, _ = _run(
        capsys, "run", "--problem", "steep_valley", "--optimizer", "sgd", "--steps", "3"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 4
    assert (float(rows[1]["x"]), float(rows[1]["y"])) == pytest.approx((-4.491, 1.44))


def test_json_output_carries_the_completed_spec(capsys):
    code, out, _ = _run(
        capsys,
        "run",
        "--problem",
        "rosenbrock",
        "--optimizer",
        "adam",
        "--alpha",
        "0.02",
        "--steps",
        "500",
        "--format",
        "json",
    )
    document = json.loads(out)
    assert code == 0
    assert document["run"]["params"]["alpha"] == 0.02
    assert document["run"]["params"]["bias_correction"] is True
    assert len(document["run"]["path"]) == 501
    # The outcome marks, as POST /api/runs gives them for the same run.
    assert document["run"]["converged_at"] is None and document["run"]["blew_up_at"] is None
    assert document["run"]["diverged_at"] is None


def test_json_output_says_when_a_run_blew_up(capsys):
    argv = ["run", "--problem", "steep_valley", "--optimizer", "sgd", "--alpha", "0.52"]
    code, out, _ = _run(capsys, *argv, "--steps", "120", "--format", "json")
    assert code == 0 and json.loads(out)["run"]["blew_up_at"] == 93
    code, _, err = _run(capsys, *argv, "--steps", "120")
    assert "blew up at update 93" in err


@pytest.mark.parametrize(("word", "value"), [("false", False), ("0", False), ("on", True)])
def test_a_switch_takes_a_word(capsys, word, value):
    argv = ["run", "--optimizer", "adam", "--bias-correction", word, "--steps", "1"]
    code, out, _ = _run(capsys, *argv, "--format", "json")
    assert code == 0
    assert json.loads(out)["run"]["params"]["bias_correction"] is value


def test_a_switch_refuses_other_words(capsys):
    code, _, err = _run(capsys, "run", "--optimizer", "adam", "--bias-correction", "maybe")
    assert code == 2
    assert "expected true or false, got 'maybe'" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "--optimizer", "adamw"], "valid optimizers"),
        (["run", "--problem", "moon"], "valid problems"),
        (["run", "--optimizer", "adam", "--beta", "0.5"], "not a parameter of adam"),
        (["run", "--optimizer", "sgd", "--alpha", "-1"], "alpha: must be between"),
        (["run", "--steps", "0"], "steps: must be between 1 and 10000"),
    ],
)
def test_bad_values_exit_2_with_one_line(capsys, argv, words):
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert words in err and err.count("\n") == 1


def test_console_script_is_installed():
    completed = subprocess.run(
        [sys.executable, "-m", "app.cli", "run", "--steps", "2", "--optimizer", "nadam"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.splitlines()[0] == "t,x,y,loss"


def test_serve_takes_the_websocket_message_limit_from_one_setting():
    # DESCENTLAB_WS_MAX_MESSAGE_BYTES sets both the app's limit (a message over it is
    # answered too_large) and uvicorn's read limit (far past it, the socket closes).
    limit = 2048
    port = free_port()
    env = dict(
        os.environ,
        DESCENTLAB_WS_MAX_MESSAGE_BYTES=str(limit),
        DESCENTLAB_PORT=str(port),
        DESCENTLAB_HOST="127.0.0.1",
        DESCENTLAB_WARM_UP="false",  # nothing here needs the engine
    )
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "descentlab serve exited"
            assert time.monotonic() < deadline, "no /healthz within 60 s"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        read_limit = Settings(ws_max_message_bytes=limit).ws_read_bytes
        with connect(f"ws://127.0.0.1:{port}/api/stream", max_size=None) as socket_:
            socket_.send(json.dumps({"type": "stop", "pad": "x" * limit}))
            assert json.loads(socket_.recv(timeout=10))["code"] == "too_large"
            socket_.send("x" * (read_limit + 1))
            with pytest.raises(ConnectionClosed) as closed:
                socket_.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        stop_server(server)
