"""The image's recipe, run without Docker: build the wheel from the build context,
install it into a fresh venv as the Dockerfile does, warm numba as the build does,
then start the Dockerfile's own CMD from a folder that is not the repo and use the
app as a browser would: health, the page, its static files, the live stream.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from app.backends.compiled import COMPILED_AFTER_WARM_UP
from app.optim.registry import OPTIMIZERS
from tests.deploy.dockerfile import REPO, cmd, context_entries, final_stage, healthcheck, stages

# A cold build: wheel ~5 s, venv + dependencies ~30-60 s, numba warm-up ~30 s.
pytestmark = pytest.mark.timeout(480)

WORKERS = 2  # not the default, to see DESCENTLAB_WORKERS reach uvicorn
READY_LINE = "compiled engine ready in"  # app/main.py, once per worker
ASSET_FOLDERS = ("static", "templates")


@dataclass
class Install:
    root: Path
    context: Path  # the build context the wheel was made from (the repo's files then)
    venv: Path
    wheel: Path
    env: dict[str, str]  # the environment of a process in the image, before its ENV
    workdir: Path  # not the repo, so nothing can be imported or read from the checkout


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    env: dict[str, str]


def sh(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def asset_files(root: Path) -> set[str]:
    """Files under static/ and templates/ as relative paths (no dotfiles, no caches)."""
    return {
        path.relative_to(root).as_posix()
        for folder in ASSET_FOLDERS
        for path in (root / folder).rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.parts[-1:])
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Iterator[Install]:
    root = tmp_path_factory.mktemp("deploy")

    # The build context, exactly as .dockerignore lets it through.
    context = root / "context"
    context.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    for entry in context_entries():
        source = REPO / entry
        if source.is_dir():
            shutil.copytree(source, context / entry, ignore=skip)
        else:
            shutil.copy2(source, context / entry)

    sh([sys.executable, "-m", "build", "--wheel", "--outdir", str(root / "dist"), str(context)])
    (wheel,) = (root / "dist").glob("descentlab-*.whl")

    venv = root / "venv"
    sh([sys.executable, "-m", "venv", str(venv)])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESCENTLAB_", "NUMBA_"))}
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
        env.pop(name, None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    # Dependencies from the project's metadata, by the Dockerfile's own command.
    requirements = root / "requirements"
    requirements.mkdir()
    shutil.copy2(context / "pyproject.toml", requirements)
    (extract,) = stages()["requirements"].runs()
    sh(["sh", "-c", extract], cwd=requirements, env=env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    sh([*pip, "-r", str(requirements / "requirements.txt")], env=env, timeout=300)
    sh([*pip, "--no-deps", str(wheel)], env=env, timeout=120)

    workdir = root / "srv"
    workdir.mkdir()
    yield Install(root, context, venv, wheel, env, workdir)
    shutil.rmtree(venv, ignore_errors=True)  # ~400 MB; pytest keeps its last 3 tmp dirs


@pytest.fixture(scope="module")
def server(install) -> Iterator[Server]:
    stage = final_stage()
    port = free_port()
    env = {
        **install.env,
        **stage.env,
        "DESCENTLAB_HOST": "127.0.0.1",
        "DESCENTLAB_PORT": str(port),
        "DESCENTLAB_WORKERS": str(WORKERS),
        "NUMBA_CACHE_DIR": str(install.root / "numba-cache"),
        "DESCENTLAB_DATA_DIR": str(install.root / "data"),
    }
    # The build's warm-up step fills the numba cache the workers then load.
    (warm_up,) = [run for run in stage.runs() if "warm_up" in run]
    sh(["sh", "-c", warm_up], cwd=install.workdir, env=env, timeout=240)

    log = install.root / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            cmd(stage), cwd=install.workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"the server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no /healthz after 90 s:\n{log.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        # Every worker warms its own engine (loading the build's cache); until then it
        # refuses runs with 503. Each says when it is ready.
        while log.read_text().count(READY_LINE) < WORKERS:
            assert process.poll() is None, f"the server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"workers not warm after 90 s:\n{log.read_text()}"
            time.sleep(0.3)
        yield Server(url, process, log, env)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # our own session: uvicorn and its workers
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_wheel_carries_every_static_file_and_template(install):
    in_repo = asset_files(install.context)
    assert any(name.startswith("static/") for name in in_repo), "static/ has no file to serve"
    prefix = f"{install.wheel.name.split('-')[0]}-{install.wheel.name.split('-')[1]}"
    data = f"{prefix}.data/data/share/descentlab/"
    with zipfile.ZipFile(install.wheel) as wheel:
        in_wheel = {n[len(data) :] for n in wheel.namelist() if n.startswith(data)}
    missing = sorted(in_repo - in_wheel)
    assert not missing, (
        f"the wheel lacks {missing}: add their folder to [tool.setuptools.data-files] "
        "in pyproject.toml"
    )


def test_installed_app_reads_its_files_from_the_environment_not_the_checkout(install):
    probe = (
        "import json, app, app.settings as s; c = s.get_settings(); "
        "print(json.dumps([app.__file__, str(c.static_dir), str(c.templates_dir)]))"
    )
    python = str(install.venv / "bin" / "python")
    result = sh([python, "-c", probe], cwd=install.workdir, env=install.env)
    module, static, templates = map(Path, json.loads(result.stdout))
    share = install.venv / "share" / "descentlab"
    assert install.venv in module.parents
    assert static == share / "static" and static.is_dir()
    assert templates == share / "templates" and templates.is_dir()


def test_healthz_answers(server):
    response = httpx.get(f"{server.url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_the_images_healthcheck_command_passes(server):
    result = subprocess.run(
        healthcheck(final_stage()), env=server.env, capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 0, result.stderr


def test_worker_count_comes_from_the_environment(server):
    deadline = time.monotonic() + 60
    while server.log.read_text().count("Started server process") < WORKERS:
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.5)
    assert server.log.read_text().count("Started server process") == WORKERS


def test_every_static_file_is_served_as_it_is_in_the_repo(install, server):
    files = sorted(name for name in asset_files(install.context) if name.startswith("static/"))
    assert files, "static/ has no file to serve"
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for name in files:
            response = client.get(f"/{name}")
            assert response.status_code == 200, name
            assert response.content == (install.context / name).read_bytes(), name
            if name.endswith((".js", ".mjs")):
                assert "javascript" in response.headers["content-type"], name


def test_the_page_and_everything_it_loads_are_served(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assets = sorted(set(re.findall(r'(?:src|href)="(/(?!/)[^"#?]*)', page.text)) - {"/"})
        scripts = [a for a in assets if a.endswith((".js", ".mjs"))]
        assert scripts, "the page loads no script of its own"
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200, asset
            if asset in scripts:
                assert "javascript" in response.headers["content-type"], asset
                assert response.content.strip(), asset


def test_websocket_stream_runs_through_the_installed_server(server):
    request = {
        "problem": {"name": "steep_valley"},
        "steps": 50,
        "runs": [{"optimizer": "adam"}],
    }
    ws_url = server.url.replace("http://", "ws://") + "/api/stream"
    with connect(ws_url, open_timeout=10, close_timeout=5) as socket_:
        socket_.send(json.dumps({"type": "run", "id": 1, "request": request, "speed": 0}))
        messages = []
        while not messages or messages[-1]["type"] not in ("done", "error"):
            messages.append(json.loads(socket_.recv(timeout=30)))
    types = [m["type"] for m in messages]
    assert types[0] == "started" and types[-1] == "done", types
    assert set(types[1:-1]) == {"chunk"}, types
    assert all(m["id"] == 1 for m in messages)
    chunks = messages[1:-1]
    paths = [point for chunk in chunks for point in chunk["runs"][0]["path"]]
    losses = [value for chunk in chunks for value in chunk["runs"][0]["loss"]]
    assert len(paths) == len(losses) == 51
    assert [c["from"] for c in chunks] == sorted(c["from"] for c in chunks)
    assert chunks[0]["from"] == 0
    (outcome,) = messages[-1]["runs"]
    assert outcome["diverged_at"] is None


def test_nothing_compiles_after_the_builds_warm_up(server):
    """The build's cache covers every kernel a request runs: no worker compiles one."""
    every = [{"optimizer": name} for name in OPTIMIZERS]
    bodies = [
        {"problem": {"name": "rosenbrock"}, "steps": 1000, "runs": every},
        {"problem": {"name": "himmelblau"}, "steps": 300, "runs": [{"optimizer": "adam"}] * 3},
        {"problem": {"name": "noisy_bowl"}, "steps": 300, "runs": [{"optimizer": "sgd"}]},
        {
            "problem": {"name": "linear_regression"},
            "steps": 300,
            "runs": [{"optimizer": "sgd", "batch_size": size} for size in (200, 16, 1)],
        },
        {"problem": {"name": "logistic_regression"}, "steps": 300, "runs": every},
    ]
    sweep = {
        "problem": {"name": "rosenbrock"},
        "optimizer": "momentum",
        "steps": 200,
        "x_axis": {"param": "alpha", "count": 8},
        "y_axis": {"param": "beta", "count": 8},
    }
    # A connection each (httpx.post), so both workers get their share of them.
    for _ in range(3):
        for body in bodies:
            assert httpx.post(f"{server.url}/api/runs", json=body, timeout=60).status_code == 200
        assert httpx.post(f"{server.url}/api/sweeps", json=sweep, timeout=60).status_code == 200
    ws_url = server.url.replace("http://", "ws://") + "/api/stream"
    with connect(ws_url, open_timeout=10, close_timeout=5) as socket_:
        socket_.send(json.dumps({"type": "run", "id": 1, "request": bodies[0]}))
        while json.loads(socket_.recv(timeout=30))["type"] != "done":
            pass
    assert COMPILED_AFTER_WARM_UP not in server.log.read_text()
