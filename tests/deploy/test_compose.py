"""compose.yaml run for real: the image built from this checkout, two web replicas
behind the proxy sharing one PostgreSQL, on a real Docker engine.

`make test-compose` runs tests/deploy/docker-engine.sh first (it starts an engine
and, where no registry is reachable, makes local stand-ins for the base images),
then this file in its own pytest process. Without an engine these tests fail,
never skip. docs/DEPLOY.md tells the whole story.

The deployment is a compose project of its own (``descentlab-compose-test-<pid>``,
its own image tag, a free host port), so a user's `docker compose` deployment is
never touched; the last test takes it down and checks that nothing is left.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from app.api.routes.vendor import PLOTLY_URL
from app.backends.compiled import COMPILED_AFTER_WARM_UP
from app.optim.registry import OPTIMIZERS
from tests.deploy.containers import buildkit_docker, engine_answers, tool
from tests.deploy.dockerfile import REPO

# A cold build (no layer cache) is ~1 min of pip and numba on two cores; the first
# classroom requests may compile for several seconds each.
pytestmark = pytest.mark.timeout(900)

REPLICAS = 2
PROJECT_PREFIX = "descentlab-compose-test-"
PROJECT = f"{PROJECT_PREFIX}{os.getpid()}"
IMAGE = f"{PROJECT}:latest"
PROJECT_LABEL = "com.docker.compose.project"
# What the server logs (WARNING) whenever numba compiles after its start-up warm-up.
# The classroom scene: every optimiser on Rosenbrock, 1 000 updates.
CLASSROOM = {
    "problem": {"name": "rosenbrock"},
    "steps": 1000,
    "runs": [{"optimizer": name} for name in OPTIMIZERS],
}
# Run by the replica's own Python: once /readyz says the engine is warm, POST the
# request on stdin to its uvicorn twice, timing each call; print both statuses and
# times, and the first answer.
FIRST_TWO_CALLS = """
import json, os, sys, time, urllib.error, urllib.request
base = "http://127.0.0.1:" + os.environ.get("DESCENTLAB_PORT", "8000")
deadline = time.monotonic() + 120
while True:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=5) as response:
            break
    except OSError:  # 503 while warming
        if time.monotonic() > deadline:
            sys.exit("/readyz did not answer 200 within 120 s")
        time.sleep(0.2)
body = sys.stdin.buffer.read()
calls, first = [], None
for _ in range(2):
    request = urllib.request.Request(base + "/api/runs", data=body,
                                     headers={"content-type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    calls.append({"status": status, "seconds": time.perf_counter() - started})
    first = answer.decode() if first is None else first
print(json.dumps({"calls": calls, "first": first}))
"""


@dataclass
class Replica:
    container: str  # id
    name: str  # <project>-web-<n>
    statuses: list[int]  # of its first and second classroom POST
    seconds: list[float]  # the same calls' latencies, measured inside the container
    answer: str  # the first call's body


@dataclass
class Deployment:
    docker: str
    compose: list[str | Path]  # the compose command line of this project
    env: dict[str, str]
    url: str  # the proxy, from the host
    proxy: str  # container id
    replicas: list[Replica]

    def logs(self, container: str) -> str:
        result = sh([self.docker, "logs", container])
        return result.stdout + result.stderr  # uvicorn logs to stderr

    def python(self, container: str, code: str) -> str:
        """What ``code`` prints, run by the container's own Python as its own user."""
        return sh([self.docker, "exec", container, "python", "-c", code]).stdout

    def leftovers(self) -> list[str]:
        """Containers and networks still labelled with this project."""
        label = f"label={PROJECT_LABEL}={PROJECT}"
        return [
            *lines(sh([self.docker, "ps", "-a", "-q", "--filter", label])),
            *lines(sh([self.docker, "network", "ls", "-q", "--filter", label])),
        ]


def sh(args: list, *, env=None, timeout: float = 120, stdin: str | None = None, check=True):
    """Run a command (arguments may be paths); unless ``check=False``, fail the test
    with the end of its output when it fails."""
    result = subprocess.run(
        [str(a) for a in args], env=env, input=stdin, capture_output=True, text=True,
        errors="replace", timeout=timeout,
    )  # fmt: skip
    assert not check or result.returncode == 0, (
        f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def compose_env() -> dict[str, str]:
    """The caller's environment without settings that would reach compose.yaml, and
    host port 0: the proxy publishes on a port the engine picks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESCENTLAB_", "COMPOSE_"))}
    return {**env, "DESCENTLAB_PORT": "0"}


def remove_stale_projects(docker: str, compose: str) -> None:
    """Projects and images of earlier test runs whose process died before its `down`
    (their replicas would restart with the engine: `restart: unless-stopped`)."""

    def dead(name: str) -> bool:
        match = re.fullmatch(re.escape(PROJECT_PREFIX) + r"(\d+)", name)
        if not match:
            return False
        try:
            os.kill(int(match[1]), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False

    projects = {
        *lines(sh([docker, "ps", "-a", "--filter", f"label={PROJECT_LABEL}",
                    "--format", f'{{{{.Label "{PROJECT_LABEL}"}}}}'])),
        *lines(sh([docker, "network", "ls", "--filter", f"label={PROJECT_LABEL}",
                    "--format", f'{{{{.Label "{PROJECT_LABEL}"}}}}'])),
    }  # fmt: skip
    for project in filter(dead, projects):
        sh([compose, "--project-name", project, "down", "--volumes", "--timeout", "5"])
    images = lines(sh([docker, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                        "--filter", f"reference={PROJECT_PREFIX}*"]))  # fmt: skip
    for image in images:
        if dead(image.split(":")[0]):
            sh([docker, "rmi", image])


def first_two_calls(docker: str, container: str) -> Replica:
    """The replica's first two classroom requests, straight to its own uvicorn."""
    name = sh([docker, "inspect", "--format", "{{.Name}}", container]).stdout.strip("/\n")
    result = sh(
        [docker, "exec", "-i", container, "python", "-c", FIRST_TWO_CALLS],
        stdin=json.dumps(CLASSROOM),
        timeout=600,
    )
    report = json.loads(result.stdout)
    statuses = [call["status"] for call in report["calls"]]
    seconds = [call["seconds"] for call in report["calls"]]
    return Replica(container, name, statuses, seconds, report["first"])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    docker = buildkit_docker()
    engine_answers(docker)
    compose_bin = tool("docker-compose")
    env = compose_env()
    remove_stale_projects(docker, compose_bin)

    # Only what the test needs differs from compose.yaml: this run's image tag, and
    # healthchecks every second (compose.yaml's start_interval needs Docker >= 25;
    # older engines would first check after 30 s). The checks themselves are
    # compose.yaml's.
    override = tmp_path_factory.mktemp("compose") / "compose.test.yaml"
    override.write_text(
        json.dumps(
            {
                "services": {
                    "web": {"image": IMAGE, "healthcheck": {"interval": "1s"}},
                    "proxy": {"healthcheck": {"interval": "1s"}},
                    "db": {"healthcheck": {"interval": "1s"}},
                }
            }
        )
    )
    compose = [compose_bin, "--project-name", PROJECT, "--project-directory", REPO,
               "-f", REPO / "compose.yaml", "-f", override]  # fmt: skip
    config = json.loads(sh([*compose, "config", "--format", "json"], env=env).stdout)
    build = config["services"]["web"]["build"]
    context = Path(build["context"])

    started = time.monotonic()
    sh(
        [docker, "build", "--progress=plain", "-t", IMAGE,
         "-f", context / build.get("dockerfile", "Dockerfile"), context],
        env={**os.environ, "DOCKER_BUILDKIT": "1"}, timeout=800,
    )  # fmt: skip
    built = time.monotonic()
    try:
        start = [*compose, "up", "--detach", "--no-build", "--scale", f"web={REPLICAS}",
                 "--wait", "--wait-timeout", "300"]  # fmt: skip
        up = sh(start, env=env, timeout=400, check=False)
        if up.returncode != 0:
            logs = sh([*compose, "logs"], env=env, check=False)
            pytest.fail(f"compose up failed:\n{up.stderr[-3000:]}\n{logs.stdout[-5000:]}")
        healthy = time.monotonic()

        # Each replica's first requests once it is ready (only healthchecks came before).
        web = lines(sh([*compose, "ps", "--quiet", "web"], env=env))
        assert len(web) == REPLICAS, web
        replicas = [first_two_calls(docker, container) for container in web]
        (proxy,) = lines(sh([*compose, "ps", "--quiet", "proxy"], env=env))
        published = sh([*compose, "port", "proxy", "8000"], env=env).stdout.strip()
        port = published.rsplit(":", 1)[1]

        print(
            f"\ncompose test: build {built - started:.1f} s, up until healthy "
            f"{healthy - built:.1f} s; classroom POST ({len(OPTIMIZERS)} runs x "
            f"{CLASSROOM['steps']} steps), first / second call:"
        )
        for replica in replicas:
            first, second = replica.seconds
            print(f"  {replica.name}: {first:.3f} s / {second:.3f} s")
        yield Deployment(docker, compose, env, f"http://127.0.0.1:{port}", proxy, replicas)
    finally:
        sh([*compose, "down", "--volumes", "--timeout", "20"], env=env, check=False)
        sh([docker, "rmi", IMAGE], check=False)


def test_each_replica_answers_its_first_classroom_request(deployment):
    for replica in deployment.replicas:
        assert replica.statuses == [200, 200], f"{replica.name}: {replica.answer[:2000]}"
        runs = json.loads(replica.answer)["runs"]
        assert [run["optimizer"] for run in runs] == list(OPTIMIZERS)
        for run in runs:
            points = CLASSROOM["steps"] + 1 if run["diverged_at"] is None else run["diverged_at"]
            assert len(run["path"]) == len(run["loss"]) == points, run["optimizer"]
    # Replicas share nothing, yet the same request gives the same numbers on each.
    first, second = deployment.replicas
    assert first.answer == second.answer


def test_no_replica_compiles_after_its_warm_up(deployment):
    for replica in deployment.replicas:
        log = deployment.logs(replica.container)
        # The log read is the one that saw both requests...
        assert log.count('"POST /api/runs HTTP/1.1" 200') == 2, log[-3000:]
        # ...and the first did not wait for numba.
        assert COMPILED_AFTER_WARM_UP not in log, log[-3000:]


def test_the_page_and_plotly_load_through_the_proxy(deployment):
    (replica, *_) = deployment.replicas
    installed = deployment.python(
        replica.container,
        "import hashlib; from app.api.routes.vendor import plotly_js; "
        "print(hashlib.sha256(plotly_js()[0].read_bytes()).hexdigest())",
    ).strip()
    with httpx.Client(base_url=deployment.url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assets = set(re.findall(r'(?:src|href)="(/(?!/)[^"#?]*)', page.text)) - {"/"}
        assert PLOTLY_URL in assets, "the page does not load Plotly"
        for asset in sorted(assets):
            response = client.get(asset)
            assert response.status_code == 200, asset
            assert response.content, asset
        plotly = client.get(PLOTLY_URL, headers={"accept-encoding": "gzip"})
        assert plotly.status_code == 200
        assert "javascript" in plotly.headers["content-type"]
        assert plotly.headers.get("content-encoding") == "gzip", "4.8 MB unzipped on Wi-Fi"
        assert hashlib.sha256(plotly.content).hexdigest() == installed


def test_a_stream_runs_to_done_through_the_proxy(deployment):
    posted = json.loads(deployment.replicas[0].answer)["runs"]
    ws_url = deployment.url.replace("http://", "ws://") + "/api/stream"
    with connect(ws_url, open_timeout=10, close_timeout=5, max_size=2**24) as socket_:
        socket_.send(json.dumps({"type": "run", "id": 1, "request": CLASSROOM, "speed": 0}))
        messages = [json.loads(socket_.recv(timeout=60))]
        while messages[-1]["type"] not in ("done", "error"):
            messages.append(json.loads(socket_.recv(timeout=60)))
    types = [m["type"] for m in messages]
    assert types[0] == "started" and types[-1] == "done", messages[-1]
    assert set(types[1:-1]) == {"chunk"}
    chunks = messages[1:-1]
    # Joined, the chunks are the POST's paths and losses, number for number.
    for index, run in enumerate(posted):
        assert [p for c in chunks for p in c["runs"][index]["path"]] == run["path"]
        assert [v for c in chunks for v in c["runs"][index]["loss"]] == run["loss"]
    assert messages[-1]["runs"] == [
        {key: r[key] for key in ("diverged_at", "diverged_reason", "converged_at", "blew_up_at")}
        for r in posted
    ]


def test_the_proxy_spreads_requests_over_every_replica(deployment):
    requests = 30  # all on one of two replicas by chance: p = 2 / 2^30
    with httpx.Client(base_url=deployment.url, timeout=10) as client:
        for number in range(requests):
            assert client.get(f"/healthz?spread={number}").status_code == 200
    served = [deployment.logs(r.container).count("/healthz?spread=") for r in deployment.replicas]
    assert sum(served) == requests
    assert all(served), f"requests per replica: {served}"


# Run by a replica's own Python: a request to its own uvicorn, the answer printed.
OWN_REQUEST = """
import json, os, sys, urllib.request
method, path, body = sys.argv[1], sys.argv[2], sys.argv[3] or None
request = urllib.request.Request(
    "http://127.0.0.1:" + os.environ.get("DESCENTLAB_PORT", "8000") + path, method=method,
    data=body.encode() if body else None, headers={"content-type": "application/json"})
with urllib.request.urlopen(request, timeout=30) as response:
    print(response.read().decode())
"""


def test_a_class_made_on_one_replica_is_served_by_the_other(deployment):
    first, second = deployment.replicas

    def ask(replica: Replica, method: str, path: str, body: dict | None = None) -> dict:
        command = [deployment.docker, "exec", replica.container, "python", "-c", OWN_REQUEST,
                   method, path, json.dumps(body) if body is not None else ""]  # fmt: skip
        return json.loads(sh(command).stdout)

    made = ask(first, "POST", "/api/classes", {"title": "Compose"})
    joined = ask(second, "POST", f"/api/classes/{made['code']}/students", {"name": "Ada"})
    assert joined["name"] == "Ada"
    state = ask(first, "GET", f"/api/classes/{made['code']}")
    assert state["title"] == "Compose" and state["roster"] == ["Ada"]


def test_the_web_server_runs_as_a_non_root_user(deployment):
    for replica in deployment.replicas:
        # PID 1 is the server itself, `descentlab serve` running uvicorn in-process.
        status = deployment.python(replica.container, "print(open('/proc/1/status').read())")
        ids = dict(re.findall(r"^(Uid|Gid):\s+(.*)$", status, re.M))
        cmdline = deployment.python(
            replica.container, "print(open('/proc/1/cmdline').read().replace(chr(0), ' '))"
        )
        assert "descentlab serve" in cmdline
        # real, effective, saved and filesystem ids
        assert "0" not in ids["Uid"].split(), f"{replica.name}: uid {ids['Uid']}"
        assert "0" not in ids["Gid"].split(), f"{replica.name}: gid {ids['Gid']}"


def test_every_container_passes_its_healthcheck(deployment):
    (db,) = lines(sh([*deployment.compose, "ps", "--quiet", "db"], env=deployment.env))
    for container in [*(r.container for r in deployment.replicas), deployment.proxy, db]:
        inspect = [deployment.docker, "inspect", "--format", "{{json .State.Health}}", container]
        health = json.loads(sh(inspect).stdout)
        assert health["Status"] == "healthy", health
        assert health["Log"][-1]["ExitCode"] == 0, health["Log"][-1]


# Last: it takes the deployment down.
def test_down_stops_cleanly_and_leaves_nothing(deployment):
    compose, env = deployment.compose, deployment.env
    containers = [r.container for r in deployment.replicas] + [deployment.proxy]
    sh([*compose, "stop"], env=env, timeout=120)
    for container in containers:
        inspect = [deployment.docker, "inspect", "--format", "{{json .State}}", container]
        state = json.loads(sh(inspect).stdout)
        # 0: the process ended on SIGTERM by itself (killed after the grace period: 137).
        assert (state["Status"], state["ExitCode"]) == ("exited", 0), container
    sh([*compose, "down", "--volumes"], env=env, timeout=120)
    assert deployment.leftovers() == []
