"""The WebSocket protocol, rule by rule, against the real server."""

from __future__ import annotations

import http.client
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from helpers import RunningServer, assign, bearer, convert, new_experiment, random_id, token
from wsclient import open_stream, participants, recv_json, recv_until


def is_update(m: dict[str, object]) -> bool:
    return m.get("event") == "results_update"


def test_initial_snapshot_arrives_on_connect(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    assign(client, eid, [("u1", "control")])
    with open_stream(server.ws, eid) as ws:
        snap = recv_json(ws)
        assert snap["event"] == "results_update"
        assert snap["experiment_id"] == eid
        assert participants(snap) == 1
        assert snap["seq"] >= 1


def test_ping_gets_pong(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        recv_json(ws)
        ws.send(json.dumps({"action": "ping"}))
        assert recv_json(ws) == {"event": "pong"}


def test_refresh_gets_a_fresh_snapshot(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        first = recv_json(ws)
        ws.send(json.dumps({"action": "refresh"}))
        fresh = recv_json(ws)
        assert is_update(fresh)
        assert fresh["timestamp"] > first["timestamp"]


@pytest.mark.parametrize(
    "message",
    ['{"action":"dance"}', "[1,2,3]", "not json {", '"ping"', '{"action":42}', '{"action":"subscribe"}'],
)
def test_unknown_or_malformed_messages_are_ignored_and_the_connection_stays(
    server: RunningServer, client: httpx.Client, message: str
) -> None:
    eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        recv_json(ws)
        ws.send(message)
        ws.send(b"\x00\x01binary frame")
        ws.send(json.dumps({"action": "ping"}))
        assert recv_json(ws) == {"event": "pong"}  # nothing came for the ignored ones


def test_id_that_is_not_a_uuid_is_refused_with_1008(server: RunningServer) -> None:
    with open_stream(server.ws, "not-a-uuid") as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_unknown_experiment_gets_an_error_then_close_4404(server: RunningServer) -> None:
    eid = random_id()
    with open_stream(server.ws, eid) as ws:
        assert recv_json(ws) == {
            "event": "error",
            "code": "experiment_not_found",
            "experiment_id": eid,
            "message": "experiment not found",
        }
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


def test_ingest_pushes_a_new_snapshot_to_subscribers(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        first = recv_json(ws)
        assign(client, eid, [("a", "control"), ("b", "v1")])
        pushed, _ = recv_until(ws, lambda m: is_update(m) and participants(m) == 2)
        assert pushed["seq"] > first["seq"]
        convert(client, eid, ["b"])
        converted, _ = recv_until(ws, lambda m: is_update(m) and m["variants"][1]["conversion_count"] == 1)
        assert converted["variants"][1]["conversion_rate"] == 1.0


def test_status_change_pushes_a_snapshot_with_the_new_status(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        assert recv_json(ws)["status"] == "draft"
        client.patch(f"/api/v1/experiments/{eid}", json={"status": "active"})
        snap, _ = recv_until(ws, lambda m: is_update(m) and m["status"] == "active")
        assert snap["days_running"] == 0


def test_seq_never_goes_backwards_on_a_connection(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        seqs = [recv_json(ws)["seq"]]
        for i in range(8):  # within the 10-messages-per-10-s limit
            assign(client, eid, [(f"u{i}", "control")])
            ws.send(json.dumps({"action": "refresh"}))
        last, seen = recv_until(ws, lambda m: is_update(m) and participants(m) == 8)
        seqs += [m["seq"] for m in seen if is_update(m)] + [last["seq"]]
        assert seqs == sorted(seqs)


def test_a_burst_of_ingest_calls_is_coalesced_into_a_few_snapshots(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    calls, workers = 10_000, 8
    auth = bearer("write")

    def send(worker: int) -> None:
        # Plain keep-alive HTTP from threads: the test client must not be the bottleneck.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        for i in range(worker, calls, workers):
            body = json.dumps({"assignments": [{"user_id": f"u{i}", "variant_key": "control"}]})
            conn.request(
                "POST",
                f"/api/v1/experiments/{eid}/assignments",
                body,
                {"Content-Type": "application/json", **auth},
            )
            response = conn.getresponse()
            response.read()
            assert response.status == 200
        conn.close()

    # The client buffers every frame while the burst runs and does not ping: it only counts.
    with open_stream(server.ws, eid, max_queue=None, ping_interval=None) as ws:
        recv_json(ws)
        started = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(send, range(workers)))
        final, seen = recv_until(ws, lambda m: is_update(m) and participants(m) == calls, timeout=60)
        elapsed = time.monotonic() - started
    pushed = [m for m in seen if is_update(m)] + [final]
    # The throttle's own law, whatever the machine's speed: at most one push per 0.2 s (+ the last).
    assert len(pushed) <= elapsed / 0.2 + 2, f"{len(pushed)} snapshots in {elapsed:.1f} s"
    assert len(pushed) <= calls // 10, f"{len(pushed)} snapshots for {calls} ingest calls"
    times = [datetime.fromisoformat(m["timestamp"]) for m in pushed]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.2 for gap in gaps), gaps


def test_companion_endpoints_count_subscribers(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    url = f"/api/v1/ws/experiments/{eid}/results/subscribers"
    assert client.get(url).json() == {"experiment_id": eid, "subscribers": 0}
    watcher, other = token("read", subject=f"companion-{eid}"), token("read", subject=f"other-{eid}")
    with open_stream(server.ws, eid, token=watcher) as ws1, open_stream(server.ws, eid, token=other) as ws2:
        recv_json(ws1)
        recv_json(ws2)
        assert client.get(url).json() == {"experiment_id": eid, "subscribers": 2}
        active = {
            e["experiment_id"]: e["subscribers"] for e in client.get("/api/v1/ws/active-experiments").json()
        }
        assert active[eid] == 2
        assert client.get("/health").json()["wsConnections"] >= 2
        ws1.close()
        # The server logs the disconnect once the connection is gone from every count.
        server.wait_for_log(
            lambda e: e.get("event") == "ws_disconnect" and e.get("subject") == f"companion-{eid}"
        )
        assert client.get(url).json()["subscribers"] == 1
    server.wait_for_log(lambda e: e.get("event") == "ws_disconnect" and e.get("subject") == f"other-{eid}")
    assert client.get(url).json()["subscribers"] == 0
    assert eid not in {e["experiment_id"] for e in client.get("/api/v1/ws/active-experiments").json()}
