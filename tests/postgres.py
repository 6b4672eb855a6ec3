"""A real PostgreSQL server for the tests, started and stopped by them (a pytest plugin).

Each pytest process (each pytest-xdist worker) that runs a test asking for `postgres_url`
starts one server of its own with Debian's binaries (``/usr/lib/postgresql/*/bin``, or
``LEADSCORE_PG_BIN``): ``initdb`` into a temporary folder, ``pg_ctl start`` on a free port of
127.0.0.1 with password (SCRAM) authentication and no Unix socket, stopped and deleted at the
end of the session. ``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` system user the Debian package creates. Each test gets a database of its own.

``fsync`` is off: the tests kill clients, never the server, and a commit acknowledged by a
running server is visible to every later reader whether or not it reached the disk.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import psycopg
import pytest

BIN_ENV = "LEADSCORE_PG_BIN"
SYSTEM_USER = "postgres"
ROLE = "leadscore"
START_TIMEOUT_S = 60
INSTALL_HINT = (
    "PostgreSQL's server binaries are needed for these tests: "
    "`apt-get install postgresql` (Debian; .ci/run does it), or set "
    f"{BIN_ENV} to the folder holding initdb and pg_ctl"
)


@dataclass(frozen=True)
class PostgresServer:
    port: int
    password: str
    host: str = "127.0.0.1"

    def url(self, database: str) -> str:
        """A SQLAlchemy URL (psycopg 3 driver), as the prediction log and MLflow take it."""
        return f"postgresql+psycopg://{ROLE}:{self.password}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=ROLE,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)


def bin_dir() -> Path:
    """The folder of initdb and pg_ctl: LEADSCORE_PG_BIN, the newest Debian one, or PATH's."""
    candidates = [Path(os.environ[BIN_ENV])] if os.environ.get(BIN_ENV) else []

    def major(path: Path) -> int:
        version = path.parent.name
        return int(version) if version.isdigit() else -1

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    pytest.fail(INSTALL_HINT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as_owner(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a server command as the postgres system user when we are root, else as ourselves."""
    user = SYSTEM_USER if os.geteuid() == 0 else None
    return subprocess.run(command, user=user, capture_output=True, text=True, **kwargs)


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            pytest.fail(f"no '{SYSTEM_USER}' user to run the server as root. {INSTALL_HINT}")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _start(binaries: Path, folder: Path, password: str) -> int:
    """initdb, then pg_ctl start on a free port (a few tries: the port may be taken meanwhile)."""
    data = folder / "data"
    password_file = folder / "password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    _own(password_file)
    init = _run_as_owner(
        [
            str(binaries / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            ROLE,
            "--pwfile",
            str(password_file),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--no-sync",
        ],
        timeout=START_TIMEOUT_S,
    )
    password_file.unlink()
    if init.returncode != 0:
        pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    log_file = folder / "server.log"
    for _ in range(3):
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        started = _run_as_owner(
            [
                str(binaries / "pg_ctl"),
                "start",
                "--pgdata",
                str(data),
                "--wait",
                "--timeout",
                str(START_TIMEOUT_S),
                "--silent",
                "--log",
                str(log_file),
                "-o",
                options,
            ],
            timeout=START_TIMEOUT_S + 10,
        )
        if started.returncode == 0:
            return port
    log_tail = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
    pytest.fail(f"PostgreSQL did not start:\n{started.stderr}\n{log_tail}")


def _stop(binaries: Path, folder: Path) -> None:
    _run_as_owner(
        [str(binaries / "pg_ctl"), "stop", "--pgdata", str(folder / "data"), "-m", "fast", "-w"],
        timeout=60,
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for this pytest process, on 127.0.0.1, removed at the end."""
    binaries = bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="leadscore-pg-"))
    _own(folder)
    password = secrets.token_urlsafe(16)
    try:
        port = _start(binaries, folder, password)
        try:
            yield PostgresServer(port, password)
        finally:
            _stop(binaries, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_databases = count()


@pytest.fixture()
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A new, empty database for this test; its SQLAlchemy URL."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    return postgres_server.create_database(f"t{next(_databases)}_{slug}")
