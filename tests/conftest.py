"""Shared fixtures: a fresh database on the real PostgreSQL, and real servers on real sockets."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from expstream.embedded_db import EmbeddedPostgres, free_port
from helpers import RunningServer, bearer, run_server

# The server every integration test talks to; .ci/run makes sure one answers here.
ADMIN_URL = os.environ.get("EXPSTREAM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DB = f"expstream_test_{os.getpid()}"


def _psql(sql: str) -> None:
    subprocess.run(["psql", ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database of its own for this test session, dropped at the end."""
    _psql(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{TEST_DB}"')
    parts = urlsplit(ADMIN_URL)
    yield urlunsplit(parts._replace(path=f"/{TEST_DB}", query="connect_timeout=5"))
    _psql(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')


@pytest.fixture(scope="session")
def server_env(database_url: str) -> dict[str, str]:
    """Environment for a server on the session's database; tests add their own settings."""
    return {"DATABASE_URL": database_url, "EXPSTREAM_CORE_THREADS": "4"}


@pytest.fixture(scope="module")
def server(server_env: dict[str, str]) -> Iterator[RunningServer]:
    """One server per test module, with the default 30 s tick (pushes come from ingest)."""
    with run_server(server_env) as running:
        yield running


@pytest.fixture()
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http, timeout=30, headers=bearer("admin")) as c:
        yield c


@pytest.fixture(scope="module")
def owned_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL this test module owns (it may stop, kill and restart it)."""
    # Under /tmp, not pytest's 0700 tmp dirs: as root, PostgreSQL runs as an unprivileged user.
    with tempfile.TemporaryDirectory(prefix="expstream-pg-") as tmp:
        pg = EmbeddedPostgres(Path(tmp), port=free_port())
        pg.start()
        try:
            yield pg
        finally:
            pg.stop()
