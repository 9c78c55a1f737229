# The README's commands. `make run` serves the app, `make test` runs the whole suite;
# both create .venv and install what they need on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run HOST=0.0.0.0 PORT=9000`; left unset, DESCENTLAB_HOST / DESCENTLAB_PORT
# (or 127.0.0.1:8000) apply.
HOST ?=
PORT ?=

.PHONY: run test test-unit test-browser test-compose bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record what was installed, so a second `make` is instant and a changed
# pyproject.toml reinstalls.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/descentlab serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# The browser tests drive Debian's Chromium (Playwright cannot download its own
# browser offline). Install it where we can: as root with apt-get, as on CI and
# a fresh Debian machine; anywhere else, say what is missing.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM): sudo apt-get install -y chromium" >&2; \
		exit 1; \
	fi

# Class mode's tests start a PostgreSQL server of their own from Debian's binaries
# (tests/postgres.py); installed the same way as Chromium.
POSTGRES_INITDB = $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
.PHONY: postgresql
postgresql:
	@if [ -z "$(POSTGRES_INITDB)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
		else \
			echo "The class tests need PostgreSQL's server: sudo apt-get install -y postgresql" >&2; \
			exit 1; \
		fi; \
	fi

# Browser tests run in their own pytest process: sync Playwright keeps an event
# loop in the main thread, which would clash with the API tests' loops. The
# compose test too: it needs a Docker engine, which test-unit does not.
test: test-unit test-browser test-compose

test-unit: $(VENV)/.installed-test postgresql
	$(BIN)/python -m pytest tests --ignore=tests/browser --ignore=$(COMPOSE_TEST) -q

test-browser: $(VENV)/.installed-test $(CHROMIUM)
	DESCENTLAB_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/browser -q

# The compose test builds the image and runs compose.yaml (two web replicas behind
# nginx) on a real Docker engine. tests/deploy/docker-engine.sh provides one: as
# root (CI, a fresh Debian machine) it installs Debian's docker.io, starts dockerd
# and makes local stand-ins for base images no registry serves; anywhere else it
# uses the running engine or says what is missing. -s shows the measured latencies.
COMPOSE_TEST := tests/deploy/test_compose.py
test-compose: $(VENV)/.installed-test
	tests/deploy/docker-engine.sh
	$(BIN)/python -m pytest $(COMPOSE_TEST) -q -s

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/load.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check app tests benchmarks examples
	$(BIN)/ruff format --check app tests benchmarks examples

format: $(VENV)/.installed-test
	$(BIN)/ruff format app tests benchmarks examples
	$(BIN)/ruff check --fix app tests benchmarks examples

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
