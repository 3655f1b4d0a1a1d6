"""A PostgreSQL the test owns goes away mid-stream and comes back: error, then recovery by itself."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from expstream.embedded_db import EmbeddedPostgres
from helpers import RunningServer, assign, bearer, new_experiment, run_server
from wsclient import open_stream, recv_json, recv_until


@pytest.fixture(scope="module")
def outage_server(owned_postgres: EmbeddedPostgres) -> Iterator[RunningServer]:
    with run_server({"DATABASE_URL": owned_postgres.url}) as running:
        yield running


def test_database_outage_sends_an_error_then_snapshots_resume_without_reconnecting(
    owned_postgres: EmbeddedPostgres, outage_server: RunningServer
) -> None:
    with httpx.Client(base_url=outage_server.http, timeout=30, headers=bearer()) as client:
        _outage_scenario(owned_postgres, outage_server, client)


def _outage_scenario(
    owned_postgres: EmbeddedPostgres, outage_server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    assign(client, eid, [("u1", "control")])
    with open_stream(outage_server.ws, eid) as ws:
        assert recv_json(ws)["total_participants"] == 1

        owned_postgres.kill()
        ws.send(json.dumps({"action": "refresh"}))
        error = recv_json(ws)
        assert error["event"] == "error"
        assert error["code"] == "results_unavailable"
        assert error["experiment_id"] == eid
        assert client.get("/health").json()["database"] == "unavailable"
        assert client.get(f"/api/v1/experiments/{eid}/results").status_code == 503

        # The connection is still usable while the database is away.
        ws.send(json.dumps({"action": "ping"}))
        recv_until(ws, lambda m: m == {"event": "pong"})

        owned_postgres.start()
        snap, _ = recv_until(ws, lambda m: m.get("event") == "results_update", timeout=30)
        assert snap["total_participants"] == 1
    assert client.get("/health").json()["database"] == "ok"
    # Nothing stored before the outage was lost, and ingest works again.
    assert assign(client, eid, [("u1", "control"), ("u2", "control")]) == {
        "accepted": 1,
        "duplicates": 1,
        "ignored_attributes": 0,
    }
