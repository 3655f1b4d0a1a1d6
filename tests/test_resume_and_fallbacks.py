"""Resume by seq without gaps or repeats; SSE and long-poll carry the WebSocket's exact payloads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx

from helpers import RunningServer, assign, new_experiment, token
from wsclient import open_stream, recv_json, recv_until


def test_reconnect_with_since_seq_skips_what_the_client_already_has(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        seq = recv_json(ws)["seq"]
    with open_stream(server.ws, eid, query=f"since_seq={seq}") as ws:
        ws.send(json.dumps({"action": "ping"}))
        assert recv_json(ws) == {"event": "pong"}  # no repeat of the snapshot it had
        assign(client, eid, [("u1", "control")])
        newer = recv_json(ws)
        assert newer["seq"] > seq and newer["total_participants"] == 1
    with open_stream(server.ws, eid, query=f"since_seq={seq}") as ws:
        missed = recv_json(ws)  # changed while away: delivered at once
        assert missed["seq"] == newer["seq"] and missed["total_participants"] == 1


def test_resume_message_delivers_only_newer_snapshots(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        current = recv_json(ws)["seq"]
        ws.send(json.dumps({"action": "resume", "experiment_id": eid, "seq": current}))
        ws.send(json.dumps({"action": "ping"}))
        assert recv_json(ws) == {"event": "pong"}
        ws.send(json.dumps({"action": "resume", "experiment_id": eid, "seq": current - 1}))
        assert recv_json(ws)["seq"] == current


def sse_events(response: httpx.Response) -> Iterator[dict[str, str]]:
    event: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = value


def test_sse_sends_the_same_payloads_as_the_websocket_with_seq_ids(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    url = f"/api/v1/experiments/{eid}/results/stream"
    with open_stream(server.ws, eid) as ws, client.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        first = next(events)
        ws_first = recv_json(ws)
        assert first["id"] == str(ws_first["seq"])
        assign(client, eid, [("u1", "control")])
        pushed = next(events)
        ws_pushed, _ = recv_until(ws, lambda m: m.get("total_participants") == 1)
        assert json.loads(pushed["data"]) == ws_pushed  # identical, timestamp included
        assert pushed["id"] == str(ws_pushed["seq"])


def test_sse_honours_last_event_id_and_token_in_the_query(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    seq = client.get(f"/api/v1/experiments/{eid}/results").json()["seq"]
    url = f"{server.http}/api/v1/experiments/{eid}/results/stream?token={token('read')}"
    with (
        httpx.Client(timeout=30) as browser,
        browser.stream("GET", url, headers={"Last-Event-ID": str(seq)}) as response,
    ):
        assert response.status_code == 200
        events = sse_events(response)
        assign(client, eid, [("u1", "control")])
        first = next(events)  # not the one it already had
        assert int(first["id"]) > seq
    with httpx.Client(timeout=30) as anonymous:
        assert anonymous.get(f"{server.http}/api/v1/experiments/{eid}/results/stream").status_code == 401


def test_long_poll_returns_when_a_newer_snapshot_exists(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    current = client.get(f"/api/v1/experiments/{eid}/results").json()
    result: dict[str, dict[str, object]] = {}

    def poll() -> None:
        response = client.get(
            f"/api/v1/experiments/{eid}/results", params={"after_seq": current["seq"], "wait": 30}
        )
        result["snapshot"] = response.json()

    poller = threading.Thread(target=poll)
    poller.start()
    # Whether this lands before the poll subscribes (answered at once) or after (answered by the
    # push), the poll must return the newer snapshot.
    assign(client, eid, [("u1", "control")])
    poller.join(timeout=30)
    snapshot = result["snapshot"]
    assert int(snapshot["seq"]) > current["seq"]  # type: ignore[call-overload]
    assert snapshot == client.get(f"/api/v1/experiments/{eid}/results").json() | {
        "timestamp": snapshot["timestamp"]
    }


def test_long_poll_times_out_with_the_current_snapshot(client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    current = client.get(f"/api/v1/experiments/{eid}/results").json()
    response = client.get(
        f"/api/v1/experiments/{eid}/results", params={"after_seq": current["seq"], "wait": 0.5}
    )
    assert response.status_code == 200
    assert response.json()["seq"] == current["seq"]
