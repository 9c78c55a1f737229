"""The container tools the deploy tests drive: docker-compose, hadolint, a docker client."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ENGINE_SCRIPT = "tests/deploy/docker-engine.sh"


def tool(name: str) -> str:
    """A console script of the test environment (.venv/bin), else one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def _quiet(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def buildkit_docker() -> str:
    """The first docker client on PATH whose `docker build` uses BuildKit, which the
    Dockerfile's ``RUN --mount`` needs: one with the buildx plugin, or one older than
    23.0, which has BuildKit built in (Debian bookworm's docker.io). A newer client
    without buildx falls back to the legacy builder, which cannot build the image."""
    seen: set[Path] = set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder or ".") / "docker"
        if not (path.is_file() and os.access(path, os.X_OK)) or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        if _quiet([str(path), "buildx", "version"]).returncode == 0:
            return str(path)
        version = re.search(r"version (\d+)\.", _quiet([str(path), "--version"]).stdout)
        if version and int(version[1]) < 23:
            return str(path)
    raise AssertionError(
        "no docker client on PATH can build with BuildKit: install the buildx plugin, "
        "or Debian bookworm's docker.io (its client has BuildKit built in)"
    )


def engine_answers(docker: str) -> None:
    info = _quiet([docker, "info", "--format", "{{.ServerVersion}}"])
    assert info.returncode == 0, (
        f"no Docker engine answers ({docker} info: {info.stderr.strip()}). As root, "
        f"{ENGINE_SCRIPT} installs and starts one (`make test-compose` runs it); "
        "elsewhere start Docker and join the docker group"
    )
