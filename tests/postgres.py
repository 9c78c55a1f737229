"""A real PostgreSQL server for the class tests and the benchmark: Debian's binaries,
a cluster in a temporary directory, a free port on loopback, stopped and removed
afterwards. A missing PostgreSQL is an error, not a skip (``.ci/run`` installs it)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.serving import free_port

USER = "descentlab"
DATABASE = "descentlab"


def binaries() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL's server binaries are missing: apt-get install -y postgresql"
        )
    return Path(found[-1]).parent


def _as_owner(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the ``postgres`` user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the SQLAlchemy URL of a fresh database on a server of its own."""
    bindir = binaries()
    home = Path(tempfile.mkdtemp(prefix="descentlab-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(home, owner.pw_uid, owner.pw_gid)
    data = home / "data"
    port = free_port()
    run = lambda *args: subprocess.run(  # noqa: E731
        _as_owner([str(a) for a in args]), check=True, capture_output=True
    )
    try:
        run(bindir / "initdb", "-D", data, "-U", USER, "--auth=trust", "-E", "UTF8")
        run(
            bindir / "pg_ctl", "-D", data, "-l", home / "log", "-w", "-t", "60", "start",
            "-o", f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off",
        )  # fmt: skip
        try:
            run(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", USER, DATABASE)
            yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"
        finally:
            run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(home, ignore_errors=True)
