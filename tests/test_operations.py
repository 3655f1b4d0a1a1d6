"""Running it: structured logs without tokens, metrics, graceful shutdown, CLI safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed

from helpers import TEST_SECRET, RunningServer, assign, bearer, new_experiment, psql, run_server, token
from wsclient import TIMEOUT, open_stream, recv_json


def test_a_failure_inside_the_core_reaches_the_log_with_its_reason(
    server: RunningServer, client: httpx.Client, database_url: str
) -> None:
    eid = new_experiment(client)["id"]
    # Data the snapshot cannot be computed from (days running from -infinity): not an outage.
    psql(database_url, f"UPDATE experiments SET activated_at = '-infinity' WHERE id = '{eid}'")
    assert client.get(f"/api/v1/experiments/{eid}/results").status_code == 503
    entry = server.wait_for_log(
        lambda e: e.get("logger") == "expstream.core.runtime" and e.get("experiment_id") == eid
    )
    assert entry["level"] == "error"
    assert entry["event"].startswith("snapshot failed: ")
    assert "infinite" in entry["event"] or "out of range" in entry["event"]  # PostgreSQL's own words


def test_connect_and_disconnect_are_logged_as_json_without_tokens(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    secret_token = token("read", subject="log-check")
    with open_stream(server.ws, eid, token=secret_token) as ws:
        recv_json(ws)
    connect = server.wait_for_log(
        lambda e: e.get("event") == "ws_connect" and e.get("subject") == "log-check"
    )
    disconnect = server.wait_for_log(
        lambda e: e.get("event") == "ws_disconnect" and e.get("subject") == "log-check"
    )
    assert connect["experiments"] == [eid] and connect["connections"] >= 1
    assert disconnect["close_code"] == 1000
    assert disconnect["duration_seconds"] >= 0
    assert {"connection_id", "connections", "experiments"} <= set(disconnect)
    everything = "".join(server.log)
    assert secret_token not in everything
    assert secret_token.split(".")[2] not in everything  # not even the signature


def test_metrics_count_connections_messages_and_snapshots(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        recv_json(ws)
        text = client.get("/metrics").text
        assert 'expstream_open_connections{transport="websocket"}' in text
        assert "expstream_snapshots_computed_total" in text
        assert "expstream_snapshot_compute_seconds_total" in text
        assert 'expstream_messages_sent_total{transport="websocket"}' in text
        assert "expstream_snapshots_dropped_total" in text
        assert "expstream_changes_coalesced_total" in text
        assert "expstream_change_notices_received_total" in text
        assert "expstream_listener_reconnects_total 0.0" in text
        assert "expstream_listener_connected " in text
    assert 'expstream_close_codes_total{code="1000"}' in client.get("/metrics").text


def test_sigterm_closes_streams_with_1001_and_keeps_acknowledged_ingest(server_env: dict[str, str]) -> None:
    with (
        run_server(server_env) as srv,
        httpx.Client(base_url=srv.http, headers=bearer(), timeout=30) as client,
    ):
        eid = new_experiment(client)["id"]
        assert assign(client, eid, [(f"u{i}", "control") for i in range(100)])["accepted"] == 100
        with open_stream(srv.ws, eid) as ws:
            recv_json(ws)
            srv.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=TIMEOUT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        # uvicorn re-raises the signal after a clean shutdown, so the status is "killed by SIGTERM".
        assert srv.process.wait(timeout=30) in (0, -signal.SIGTERM)
        srv.wait_for_log(lambda e: "Application shutdown complete" in str(e.get("event")))
    with run_server(server_env) as again, httpx.Client(base_url=again.http, headers=bearer()) as client:
        assert client.get(f"/api/v1/experiments/{eid}/results").json()["total_participants"] == 100


def cli(*args: str, env: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "expstream.cli", *args], env=full, capture_output=True, text=True, timeout=60
    )


def test_serve_refuses_to_start_without_a_secret() -> None:
    result = cli("serve", "--port", "1", env={"EXPSTREAM_JWT_SECRET": None})
    assert result.returncode == 2
    assert "EXPSTREAM_JWT_SECRET is not set" in result.stderr
    short = cli("serve", "--port", "1", env={"EXPSTREAM_JWT_SECRET": "short"})
    assert short.returncode != 0 and "at least 32 bytes" in short.stderr


def test_token_command_prints_a_token_the_server_accepts() -> None:
    result = cli(
        "token",
        "--experiment",
        "*",
        "--scope",
        "write",
        "--ttl",
        "1h",
        "--tenant",
        "acme",
        env={"EXPSTREAM_JWT_SECRET": TEST_SECRET},
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), TEST_SECRET, algorithms=["HS256"])
    assert claims["scope"] == "write" and claims["experiments"] == ["*"] and claims["tenant"] == "acme"
    assert 3500 <= claims["exp"] - claims["iat"] <= 3600


def test_insecure_mode_is_explicit_and_loud(server_env: dict[str, str]) -> None:
    env = {**server_env, "EXPSTREAM_JWT_SECRET": None}
    with (
        run_server(env, extra_args=["--insecure-no-auth"]) as srv,
        httpx.Client(base_url=srv.http) as anonymous,
    ):
        assert anonymous.get("/api/v1/experiments").status_code == 200
        assert any("AUTHENTICATION IS OFF" in line for line in srv.log)
