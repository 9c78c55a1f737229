# descentlab: the FastAPI app served by uvicorn, as a non-root user, on 0.0.0.0:8000.
#
#   docker build -t descentlab .     # BuildKit: DOCKER_BUILDKIT=1 on clients before 23.0
#   docker run --rm -p 8000:8000 -e DESCENTLAB_WORKERS=2 descentlab
#
# No `# syntax=` line: BuildKit's built-in frontend handles RUN --mount, and a
# builder without registry access (a school's, CI) could not fetch another one.
#
# Layers, slowest-changing first: the base image, the user, the dependencies
# (rebuilt only when pyproject.toml's dependency list changes, not when code or
# tool settings do), then the project's own wheel, then the numba cache warm-up.
# docs/DEPLOY.md has the whole story; tests/deploy/ lint this file, run its CMD, and
# build it and run compose.yaml on a real engine (test_compose.py).

FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The runtime dependencies, read from the project's own metadata. Only the list
# reaches the next stage, so editing code or [tool.*] settings keeps its layer cached.
FROM base AS requirements
WORKDIR /src
COPY pyproject.toml .
RUN python -c "import tomllib; project = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(project['dependencies']))" > requirements.txt

# The project as a wheel (code, plus static/ and templates/ as data files that pip
# installs under /usr/local/share/descentlab, where app/settings.py finds them).
FROM base AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM base AS runtime
RUN groupadd --system --gid 10001 descentlab \
    && useradd --system --uid 10001 --gid descentlab --no-log-init --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin descentlab

RUN --mount=type=bind,from=requirements,source=/src/requirements.txt,target=/tmp/requirements.txt \
    pip install -r /tmp/requirements.txt

RUN --mount=type=bind,from=wheel,source=/wheels,target=/tmp/wheels \
    pip install --no-deps /tmp/wheels/descentlab-*.whl

# numba writes its machine code here; the app's user owns it, and the build fills
# it (as that user) so no replica compiles on its first request. A host whose CPU
# differs from the builder's recompiles once into the same folder.
# DESCENTLAB_DATA_DIR: class mode's SQLite file when no DESCENTLAB_DATABASE_URL names a
# database (a volume there keeps it across restarts; compose.yaml uses PostgreSQL).
# MALLOC_ARENA_MAX: two glibc arenas for the worker threads, not eight per core, so
# memory freed after a burst is not scattered over many (app/memory.py trims them).
ENV NUMBA_CACHE_DIR=/var/cache/descentlab/numba \
    MALLOC_ARENA_MAX=2 \
    DESCENTLAB_HOST=0.0.0.0 \
    DESCENTLAB_PORT=8000 \
    DESCENTLAB_WORKERS=1 \
    DESCENTLAB_DATA_DIR=/var/lib/descentlab
RUN mkdir -p "$NUMBA_CACHE_DIR" "$DESCENTLAB_DATA_DIR" \
    && chown -R descentlab:descentlab /var/cache/descentlab "$DESCENTLAB_DATA_DIR"

WORKDIR /srv
USER 10001:10001
RUN python -c "from app.warmup import warm_up; warm_up()"

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('DESCENTLAB_PORT', '8000') + '/healthz', timeout=4)"]

# `descentlab serve` runs uvicorn in its own process (PID 1, so `docker stop` reaches
# it) with everything from DESCENTLAB_* settings: host, port, workers, the WebSocket
# message limit, permessage-deflate (app/cli.py, app/settings.py).
CMD ["descentlab", "serve"]
