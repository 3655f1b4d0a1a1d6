"""`expstream serve --workers 2`: pushes and subscriber counts cross worker processes through
PostgreSQL (LISTEN/NOTIFY and the node table), as they do across hosts."""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

import httpx
from websockets.sync.client import ClientConnection

from helpers import assign, bearer, new_experiment, run_server
from wsclient import open_stream, participants, recv_json, recv_until


def _details(port: int) -> dict[str, Any]:
    # A fresh TCP connection each time, so the kernel may hand it to either worker.
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=bearer("admin"), timeout=30) as c:
        response = c.get("/health/details")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def test_ingest_through_any_worker_reaches_subscribers_on_every_worker(server_env: dict[str, str]) -> None:
    env = {
        **server_env,
        "RESULTS_STREAM_INTERVAL_SECONDS": "3600",  # pushes can only come from notices
        "RESULTS_PUSH_MIN_INTERVAL_SECONDS": "0",
        "EXPSTREAM_NODE_HEARTBEAT_SECONDS": "0.3",
    }
    with (
        run_server(env, extra_args=["--workers", "2"]) as server,
        httpx.Client(base_url=server.http, headers=bearer("admin"), timeout=30) as client,
    ):
        experiment = new_experiment(client)["id"]
        streams: list[ClientConnection] = []
        holding: dict[str, int] = {}  # worker node id -> its connections, as it reports them
        with ExitStack() as opened:
            # Open streams until both workers hold some (the kernel decides who accepts).
            deadline = time.monotonic() + 60
            while len([n for n in holding.values() if n > 0]) < 2:
                assert time.monotonic() < deadline, f"connections never spread over both workers: {holding}"
                ws = opened.enter_context(open_stream(server.ws, experiment))
                recv_json(ws)  # the initial snapshot
                streams.append(ws)
                details = _details(server.port)
                holding[details["node_id"]] = details["connections"]
            assign(client, experiment, [("u1", "control"), ("u2", "v1"), ("u3", "v1")])
            for ws in streams:
                snapshot, _ = recv_until(
                    ws, lambda m: m.get("event") == "results_update" and participants(m) == 3
                )
                assert snapshot["experiment_id"] == experiment
            # Every worker counts every stream: its own live, the other's from the node table.
            deadline = time.monotonic() + 30
            while True:
                counts = client.get(f"/api/v1/ws/experiments/{experiment}/results/subscribers").json()
                if counts["subscribers"] == len(streams):
                    break
                assert time.monotonic() < deadline, f"{counts} != {len(streams)}"
