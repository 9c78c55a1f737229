"""``descentlab run`` as a user types it: the API's answer, from a shell."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import urllib.request

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.cli import main
from app.optim.registry import OPTIMIZERS
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
    (run,) = document["runs"]
    assert run["params"]["alpha"] == 0.02
    assert run["params"]["bias_correction"] is True
    assert len(run["path"]) == 501
    # The outcome marks, as POST /api/runs gives them for the same run.
    assert run["converged_at"] is None and run["blew_up_at"] is None
    assert run["diverged_at"] is None


def test_json_output_says_when_a_run_blew_up(capsys):
    argv = ["run", "--problem", "steep_valley", "--optimizer", "sgd", "--alpha", "0.52"]
    code, out, _ = _run(capsys, *argv, "--steps", "120", "--format", "json")
    assert code == 0 and json.loads(out)["runs"][0]["blew_up_at"] == 93
    code, _, err = _run(capsys, *argv, "--steps", "120")
    assert err == "descentlab: run 0 (sgd) blew up at update 93\n"


@pytest.mark.parametrize(("word", "value"), [("false", False), ("0", False), ("on", True)])
def test_a_switch_takes_a_word(capsys, word, value):
    argv = ["run", "--optimizer", "adam", "--bias-correction", word, "--steps", "1"]
    code, out, _ = _run(capsys, *argv, "--format", "json")
    assert code == 0
    assert json.loads(out)["runs"][0]["params"]["bias_correction"] is value


def test_a_switch_refuses_other_words(capsys):
    code, _, err = _run(capsys, "run", "--optimizer", "adam", "--bias-correction", "maybe")
    assert code == 2
    assert "expected true or false, got 'maybe'" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "--optimizer", "adam2"], "valid optimizers"),
        (["run", "--problem", "moon"], "valid problems"),
        (["run", "--optimizer", "adam", "--beta", "0.5"], "not a parameter of adam"),
        (["run", "--optimizer", "sgd", "--alpha", "-1"], "alpha: must be between"),
        (["run", "--steps", "0"], "steps: must be between 1 and 10000"),
        (
            ["run", "--optimizer", "sgd", "adam", "--beta1", "0.5", "0.9"],
            "--beta1: run 0 (sgd) has no beta1",
        ),
        (
            ["run", "--optimizer", "sgd", "adam", "--alpha", "0.1", "0.2", "0.3"],
            "--alpha: give one value, or one per --optimizer (2)",
        ),
        (
            ["run", "--optimizer", "sgd", "adam", "--alpha", "0.1", "20"],
            "--alpha (run 1, adam): must be between 1e-05 and 10",
        ),
        (
            ["run", "--optimizer", "sgd", "--batch-size", "4"],
            "--batch-size: only regression problems have batches",
        ),
        (["run", "--schedule", "sawtooth"], "--schedule: unknown schedule 'sawtooth'"),
        (["run", "--problem-param", "noise=-1"], "--problem-param noise: must be between"),
        (["run", "--stride", "0"], "--stride: must be between 1 and 10000"),
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
    header = completed.stdout.splitlines()[0].split(",")
    assert header[:2] == ["run", "optimizer"]
    assert header[-6:] == ["t", "epoch", "x", "y", "loss", "alpha_t"]


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


def test_several_optimizers_in_one_call(capsys):
    argv = ["run", "--optimizer", "sgd", "momentum", "adam", "--alpha", "0.01", "0.001", "0.1"]
    code, out, _ = _run(capsys, *argv, "--beta", "0.5", "--steps", "4", "--format", "json")
    runs = json.loads(out)["runs"]
    assert code == 0
    assert [run["optimizer"] for run in runs] == ["sgd", "momentum", "adam"]
    assert [run["params"]["alpha"] for run in runs] == [0.01, 0.001, 0.1]
    # One value goes to every run that has the parameter.
    assert runs[1]["params"]["beta"] == 0.5 and "beta" not in runs[0]["params"]
    code, out, _ = _run(capsys, *argv, "--steps", "4")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["run"] for row in rows] == [str(i) for i in range(3) for _ in range(5)]
    assert {row["beta"] for row in rows if row["optimizer"] == "sgd"} == {""}


def test_each_run_may_have_its_own_batch_size(capsys):
    argv = ["run", "--problem", "linear_regression", "--problem-param", "n_samples=40"]
    argv += ["--optimizer", "sgd", "sgd", "sgd", "--batch-size", "1", "8", "40"]
    code, out, _ = _run(capsys, *argv, "--steps", "3", "--format", "json")
    runs = json.loads(out)["runs"]
    assert code == 0
    assert [run["batch_size"] for run in runs] == [1, 8, 40]
    assert [run["updates_per_epoch"] for run in runs] == [40, 5, 1]
    # Full batch is gradient descent: it never repeats a minibatch's noise.
    assert runs[0]["path"][1] != runs[2]["path"][1]


def test_help_shows_every_default(capsys):
    code, out, _ = _run(capsys, "run", "--help")
    assert code == 0
    text = " ".join(out.split())  # argparse wraps lines
    assert "--steps N updates per run, 1 … 10000 (default: 200)" in text
    assert "--stride N" in text and "(default: 1)" in text
    assert "--bias-correction {true,false}" in text and "(default: true)" in text
    # The learning rate's default, and each optimiser whose own default differs.
    alpha = text[text.rindex("--alpha V") : text.rindex("--beta V")]
    defaults = {name: spec.params[0].default for name, spec in OPTIMIZERS.items()}
    assert "(default: 0.01;" in alpha
    for name, value in defaults.items():
        if value != 0.01:
            assert f"{name} {value:g}" in alpha


BODY = {
    "problem": {"name": "logistic_regression", "n_samples": 60, "noise": 0.1},
    "steps": 50,
    "seed": 3,
    "stride": 5,
    "runs": [
        {"optimizer": "nadam", "params": {"alpha": 0.05}, "batch_size": 6},
        {"optimizer": "momentum", "params": {"alpha": 0.05}, "batch_size": 6},
    ],
}
ARGV = [
    "run",
    "--problem", "logistic_regression", "--problem-param", "n_samples=60", "noise=0.1",
    "--steps", "50", "--seed", "3", "--stride", "5",
    "--optimizer", "nadam", "momentum", "--alpha", "0.05", "--batch-size", "6",
]  # fmt: skip


@pytest.mark.parametrize("answer_format", ["json", "csv"])
def test_the_output_is_the_api_answer_byte_for_byte(capsys, live_server: str, answer_format):
    code, out, _ = _run(capsys, *ARGV, "--format", answer_format)
    assert code == 0
    answer = httpx.post(f"{live_server}/api/runs", json=BODY, params={"format": answer_format})
    assert out.encode() == answer.content + (b"\n" if answer_format == "json" else b"")


def test_a_second_start_loads_the_engine_and_no_web_stack():
    """What makes the command start fast: the compiled kernels come from numba's cache
    on disk (nothing is compiled once one run has filled it), and neither the web
    framework nor the server is imported."""
    probe = (
        "import json, sys\n"
        "from app.cli import main\n"
        "main(['run', '--optimizer', 'sgd', 'adam', '--steps', '5'])\n"
        "from app.backends import compiled\n"
        "from app import convergence\n"
        "stats = [compiled.kernels().run_rows.stats, convergence.compiled_scan.stats]\n"
        "web = [m for m in ('fastapi', 'starlette', 'uvicorn', 'pydantic') if m in sys.modules]\n"
        "print(json.dumps({'compiled': sum(len(s.cache_misses) for s in stats),\n"
        "                  'loaded': sum(len(s.cache_hits) for s in stats), 'web': web}),\n"
        "      file=sys.stderr)\n"
    )
    for _ in range(2):  # the first run may have had to compile
        completed = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
        )
    report = json.loads(completed.stderr.splitlines()[-1])
    assert report == {"compiled": 0, "loaded": 2, "web": []}
