"""One socket, many experiments; lifecycle events on both endpoints."""

from __future__ import annotations

import json

import httpx
from websockets.sync.client import connect

from helpers import RunningServer, assign, new_experiment, token
from wsclient import TIMEOUT, open_stream, recv_json, recv_until


def test_subscribe_confirms_then_streams_each_experiment_and_unsubscribe_stops_it(
    server: RunningServer, client: httpx.Client
) -> None:
    a, b = new_experiment(client)["id"], new_experiment(client)["id"]
    with connect(f"{server.ws}/api/v1/ws?token={token('read')}", open_timeout=TIMEOUT) as ws:
        hello = recv_json(ws)
        assert hello["event"] == "connected" and hello["connection_id"]
        for eid in (a, b):
            ws.send(json.dumps({"action": "subscribe", "experiment_id": eid}))
            assert recv_json(ws) == {"event": "subscription_confirmed", "experiment_id": eid}
            assert recv_json(ws)["experiment_id"] == eid
        assign(client, b, [("u1", "control")])
        snap, _ = recv_until(ws, lambda m: m.get("event") == "results_update")
        assert snap["experiment_id"] == b and snap["total_participants"] == 1
        ws.send(json.dumps({"action": "unsubscribe", "experiment_id": b}))
        assign(client, b, [("u2", "control")])
        assign(client, a, [("u3", "control")])
        snap, seen = recv_until(ws, lambda m: m.get("event") == "results_update")
        assert snap["experiment_id"] == a
        assert all(m.get("experiment_id") != b for m in seen)


def test_authorisation_is_checked_per_subscription(server: RunningServer, client: httpx.Client) -> None:
    mine, other = new_experiment(client)["id"], new_experiment(client)["id"]
    with connect(f"{server.ws}/api/v1/ws?token={token('read', experiments=[mine])}") as ws:
        recv_json(ws)
        ws.send(json.dumps({"action": "subscribe", "experiment_id": other}))
        denied = recv_json(ws)
        assert denied["event"] == "error" and denied["code"] == "forbidden"
        ws.send(json.dumps({"action": "subscribe", "experiment_id": mine}))
        assert recv_json(ws) == {"event": "subscription_confirmed", "experiment_id": mine}
        assert recv_json(ws)["experiment_id"] == mine  # the socket stayed up


def test_status_changes_arrive_as_a_lifecycle_envelope_on_both_endpoints(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    with (
        open_stream(server.ws, eid) as single,
        connect(f"{server.ws}/api/v1/ws?token={token('read')}") as multi,
    ):
        recv_json(single)
        recv_json(multi)
        multi.send(json.dumps({"action": "subscribe", "experiment_id": eid}))
        recv_until(multi, lambda m: m.get("event") == "results_update")
        response = client.patch(
            f"/api/v1/experiments/{eid}", json={"status": "active"}, headers={"X-Request-ID": "trace-123"}
        )
        assert response.status_code == 200
        for ws in (single, multi):
            envelope, _ = recv_until(ws, lambda m: m.get("event") == "STATUS_CHANGED")
            assert envelope["topic"] == f"experiment:{eid}"
            assert envelope["trace_id"] == "trace-123"
            assert envelope["data"]["entity_id"] == eid
            assert envelope["data"]["payload"] == {"status": "active", "previous_status": "draft"}
            assert envelope["data"]["timestamp"]
