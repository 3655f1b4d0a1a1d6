"""Webhook deliveries survive everything (issue 16): a receiver that is down, a server killed with
deliveries pending, two nodes on one database, a slow receiver beside live snapshots."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from helpers import RunningServer, assign, bearer, new_experiment, run_server
from test_webhooks import FAST, regress, regressing_experiment, set_status, subscribe
from webhook_receiver import Receiver
from wsclient import open_stream, recv_json, recv_until

# A dead sender's lease runs out quickly (it must exceed the 10 s request timeout).
ENV = FAST | {"EXPSTREAM_WEBHOOK_LEASE_SECONDS": "11"}
STATUSES = ["active", "paused", "active", "paused", "active"]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def api(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.http, timeout=30, headers=bearer("admin"))


def deliveries(client: httpx.Client, webhook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def states(requests: list[Any]) -> list[str]:
    return [r.json["state"] for r in requests]


def assert_once_each_in_order(requests: list[Any], expected_states: list[str]) -> None:
    """Each delivery id at least once (a repeat only as the same id), first arrivals in order."""
    first: dict[str, Any] = {}
    for r in requests:
        first.setdefault(r.delivery, r)
    assert states(list(first.values())) == expected_states
    assert all(r.json == first[r.delivery].json for r in requests)


def test_a_receiver_down_gets_every_delivery_after_it_comes_back_in_order(
    server_env: dict[str, str], receiver: Receiver
) -> None:
    with run_server(server_env | ENV) as server, api(server) as client:
        eid = new_experiment(client)["id"]
        hook = subscribe(client, receiver.url, ["status_changed"], experiments=[eid])
        receiver.stop()  # connection refused from here on
        for status in STATUSES:
            set_status(client, eid, status)
        # Failed attempts are recorded, so the outage is visible to the operator.
        server.wait_for_log(lambda e: "connection error" in str(e.get("error", "")), timeout=30)
        assert any(d["error"] and "connection error" in d["error"] for d in deliveries(client, hook["id"]))
        receiver.start()
        requests = receiver.wait_for(lambda rs: len({r.delivery for r in rs}) == len(STATUSES))
        assert_once_each_in_order(requests, STATUSES)
        assert {d["state"] for d in deliveries(client, hook["id"])} <= {"delivered", "pending"}


def test_deliveries_pending_when_a_server_is_killed_are_sent_after_the_restart(
    server_env: dict[str, str], receiver: Receiver
) -> None:
    with run_server(server_env | ENV) as server, api(server) as client:
        eid = new_experiment(client)["id"]
        subscribe(client, receiver.url, ["status_changed"], experiments=[eid])
        receiver.stop()
        for status in STATUSES[:3]:
            set_status(client, eid, status)
        server.wait_for_log(lambda e: "connection error" in str(e.get("error", "")), timeout=30)
        server.process.kill()  # SIGKILL: no shutdown, perhaps mid-attempt holding a lease
        server.process.wait()
    receiver.start()
    with run_server(server_env | ENV):
        requests = receiver.wait_for(lambda rs: len({r.delivery for r in rs}) == 3, timeout=90)
    assert_once_each_in_order(requests, STATUSES[:3])


def test_two_nodes_deliver_each_transition_once(server_env: dict[str, str], receiver: Receiver) -> None:
    with (
        run_server(server_env | ENV) as one,
        run_server(server_env | ENV) as two,
        api(one) as client_one,
        api(two) as client_two,
    ):
        eid = regressing_experiment(client_one)
        subscribe(
            client_one, receiver.url, ["guardrail", "significance", "status_changed"], experiments=[eid]
        )
        with open_stream(one.ws, eid) as ws_one, open_stream(two.ws, eid) as ws_two:
            recv_json(ws_one), recv_json(ws_two)
            regress(client_one, eid)
            # Both nodes look at the regressed numbers (each records its look); one records the transition.
            for ws in (ws_one, ws_two):
                recv_until(
                    ws, lambda m: m.get("event") == "results_update" and bool(m.get("alerts")), timeout=30
                )
            for client in (client_one, client_two):
                assert client.get(f"/api/v1/experiments/{eid}/results").status_code == 200
        set_status(client_two, eid, "active")  # a sentinel: delivered after everything before it
        requests = receiver.wait_for(lambda rs: any(r.json.get("event") == "status_changed" for r in rs))
    events = [(r.json["event"], r.json["state"], r.json.get("metric")) for r in requests]
    assert events.count(("guardrail", "regressed", "refunds")) == 1
    assert events[-1] == ("status_changed", "active", None)
    assert len({r.delivery for r in requests}) == len(requests)


def participants_are(n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("event") == "results_update" and m["total_participants"] == n


def test_a_slow_receiver_never_delays_snapshots(server_env: dict[str, str], receiver: Receiver) -> None:
    release = threading.Event()
    receiver.behaviour.hold = release  # every request waits until the test lets it go
    try:
        with run_server(server_env | ENV) as server, api(server) as client:
            eid = new_experiment(client)["id"]
            subscribe(client, receiver.url, ["status_changed"], experiments=[eid])
            with open_stream(server.ws, eid) as ws:
                recv_json(ws)
                set_status(client, eid, "active")
                receiver.wait_for(lambda rs: len(rs) == 1)  # the sender is stuck in this request
                for n in range(1, 4):
                    assign(client, eid, [(f"u{n}", "control")])
                    snapshot, _ = recv_until(ws, participants_are(n))
                    assert snapshot["status"] == "active"
                assert not receiver.requests[0].answered  # the snapshots did not wait for it
                release.set()
                receiver.wait_for(lambda rs: rs[0].answered)
    finally:
        release.set()
