"""The container files are valid without a Docker engine: hadolint, compose config."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.containers import tool
from tests.deploy.dockerfile import REPO, cmd, final_stage, healthcheck

NGINX_CONF = REPO / "deploy" / "nginx.conf"


@pytest.fixture(scope="module")
def compose() -> dict:
    result = subprocess.run(
        [tool("docker-compose"), "-f", "compose.yaml", "config", "--format", "json"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_hadolint_finds_no_error_in_the_dockerfile():
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "error", "Dockerfile"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_without_fetching_a_frontend_image():
    # A `# syntax=` directive makes BuildKit pull that frontend image first, which an
    # offline builder (a school's, CI here) cannot; the built-in one handles RUN --mount.
    directives = [
        line for line in (REPO / "Dockerfile").read_text().splitlines()
        if re.match(r"#\s*syntax\s*=", line, re.IGNORECASE)
    ]  # fmt: skip
    assert directives == []


def test_dockerfile_runs_uvicorn_as_a_non_root_user_on_port_8000():
    stage = final_stage()
    user = stage.last("USER").split(":")[0]
    assert user not in ("root", "0"), "the app must not run as root"
    # The server's one command line: uvicorn configured from DESCENTLAB_* (test_wheel.py
    # runs it and sees DESCENTLAB_WORKERS reach uvicorn).
    assert cmd(stage) == ["descentlab", "serve"]
    assert stage.env.get("DESCENTLAB_HOST") == "0.0.0.0"
    assert stage.env.get("DESCENTLAB_PORT") == "8000"
    assert stage.env.get("NUMBA_CACHE_DIR"), "numba needs a cache folder the app's user can write"
    assert any("warm_up" in run for run in stage.runs()), "the build should warm numba's cache"


def test_compose_config_is_valid():
    result = subprocess.run(
        [tool("docker-compose"), "-f", "compose.yaml", "config", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_web_builds_this_image_and_can_scale(compose):
    web = compose["services"]["web"]
    assert Path(web["build"]["context"]).resolve() == REPO
    assert Path(web["build"].get("dockerfile", "Dockerfile")).name == "Dockerfile"
    assert web["restart"] == "unless-stopped"
    assert not web.get("ports"), "a published port on web would stop `--scale web=N`"
    assert "container_name" not in web, "a fixed name would stop `--scale web=N`"
    limits = web["deploy"]["resources"]["limits"]
    assert limits.get("cpus") and limits.get("memory")
    # Compose's check is the image's, so `docker run` and `docker compose` agree.
    assert web["healthcheck"]["test"] == ["CMD", *healthcheck(final_stage())]


def test_proxy_publishes_8000_and_mounts_the_nginx_config(compose):
    proxy = compose["services"]["proxy"]
    assert [p["target"] for p in proxy["ports"]] == [8000]
    assert proxy["restart"] == "unless-stopped"
    mounts = {Path(v["source"]).resolve(): v["target"] for v in proxy["volumes"]}
    assert mounts.get(NGINX_CONF) == "/etc/nginx/conf.d/default.conf"
    assert NGINX_CONF.is_file()


def test_nginx_config_proxies_websockets_to_web_through_dockers_dns():
    text = NGINX_CONF.read_text()
    assert "resolver 127.0.0.11" in text, "without Docker's DNS nginx never sees new replicas"
    assert "http://web:8000" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    assert "location = /api/stream" in text
    assert "proxy_read_timeout 1h;" in text
