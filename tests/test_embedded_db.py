"""No DATABASE_URL: the app starts its own PostgreSQL from nothing and keeps data across restarts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx

from helpers import bearer, new_experiment, run_server


def test_embedded_database_starts_from_nothing_and_keeps_data_across_restarts() -> None:
    with tempfile.TemporaryDirectory(prefix="expstream-embedded-") as tmp:
        os.chmod(tmp, 0o755)  # as root, the server's unprivileged user must reach the data dir
        data_dir = Path(tmp) / "data"
        env: dict[str, str | None] = {"DATABASE_URL": None, "EXPSTREAM_DATA_DIR": str(data_dir)}
        with (
            run_server(env) as server,
            httpx.Client(base_url=server.http, timeout=30, headers=bearer()) as client,
        ):
            assert client.get("/health").json()["database"] == "ok"
            created = new_experiment(client, name="survives restarts")
        assert (data_dir / "pgdata" / "PG_VERSION").is_file()
        with (
            run_server(env) as server,
            httpx.Client(base_url=server.http, timeout=30, headers=bearer()) as client,
        ):
            names = [e["name"] for e in client.get("/api/v1/experiments").json()]
            assert created["name"] in names
        # Stopping the app stopped the server it started.
        assert not (data_dir / "pgdata" / "postmaster.pid").exists()
