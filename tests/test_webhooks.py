"""Webhooks (issue 16): the API, the SSRF guard, signed deliveries of each transition, the Alerts
list, final and retried statuses; against real servers, a real PostgreSQL and a real receiver."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from conftest import ADMIN_URL, TEST_DB
from expstream import _core
from helpers import RunningServer, assign, bearer, expstream_cli, new_experiment, psql, run_server
from webhook_receiver import Receiver

# Short backoff and a quick poll, so that retries happen within a test.
FAST = {
    "EXPSTREAM_WEBHOOK_ALLOW_PRIVATE": "true",
    "EXPSTREAM_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "EXPSTREAM_WEBHOOK_RETRY_MAX_SECONDS": "1",
    "EXPSTREAM_WEBHOOK_POLL_SECONDS": "0.5",
    "EXPSTREAM_PUBLIC_URL": "https://ab.example.com",
}


@pytest.fixture(scope="module")
def open_server(server_env: dict[str, str]) -> Iterator[RunningServer]:
    """A server that may call private addresses (the receiver is on 127.0.0.1)."""
    with run_server(server_env | FAST) as running:
        yield running


@pytest.fixture(scope="module")
def strict_database(database_url: str) -> Iterator[str]:
    """A database of its own for a server with the default guard: on the shared one its sender would
    claim the open server's deliveries and, rightly, refuse to send them to 127.0.0.1."""
    strict = f"{TEST_DB}_strict"
    psql(ADMIN_URL, f'DROP DATABASE IF EXISTS "{strict}" WITH (FORCE)')
    psql(ADMIN_URL, f'CREATE DATABASE "{strict}"')
    yield urlunsplit(urlsplit(database_url)._replace(path=f"/{strict}"))
    psql(ADMIN_URL, f'DROP DATABASE IF EXISTS "{strict}" WITH (FORCE)')


@pytest.fixture(scope="module")
def strict_server(strict_database: str) -> Iterator[RunningServer]:
    with run_server({"DATABASE_URL": strict_database}) as running:
        yield running


@pytest.fixture()
def api(open_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=open_server.http, timeout=30, headers=bearer("admin")) as c:
        yield c


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def subscribe(api: httpx.Client, url: str, events: list[str], **body: Any) -> dict[str, Any]:
    response = api.post("/api/v1/webhooks", json={"url": url, "events": events} | body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def set_status(api: httpx.Client, experiment_id: str, status: str) -> None:
    response = api.patch(f"/api/v1/experiments/{experiment_id}", json={"status": status})
    assert response.status_code == 200, response.text


def verify(secret: str, header: str, body: bytes) -> bool:
    """How a receiver checks X-Expstream-Signature (the README shows the same)."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def test_a_webhook_is_created_listed_read_and_deleted_and_its_secret_shown_once(
    api: httpx.Client, receiver: Receiver
) -> None:
    created = subscribe(api, receiver.url, ["significance", "srm"], format="slack")
    assert created["secret"].startswith("whsec_") and created["experiments"] == ["*"]
    assert created["events"] == ["significance", "srm"] and created["format"] == "slack"
    listed = api.get("/api/v1/webhooks").json()
    assert created["id"] in [w["id"] for w in listed]
    assert all("secret" not in w for w in listed)
    one = api.get(f"/api/v1/webhooks/{created['id']}")
    assert one.status_code == 200 and "secret" not in one.json() and one.json()["url"] == receiver.url
    assert api.delete(f"/api/v1/webhooks/{created['id']}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{created['id']}").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{created['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"events": ["significance", "weather"]}, "unknown event type 'weather'"),
        ({"events": []}, "at least 1"),
        ({"url": "ftp://example.com/hook"}, "scheme must be http or https"),
        ({"url": "http://user:pw@example.com/hook"}, "credentials"),
        ({"url": "http://no-such-host.invalid/hook"}, "does not resolve"),
        ({"experiments": ["not-an-id"]}, "experiments must be"),
        ({"format": "xml"}, "'json' or 'slack'"),
    ],
)
def test_bad_input_is_a_422_that_says_why(api: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = api.post("/api/v1/webhooks", json={"url": "http://example.com/hook", "events": ["srm"]} | body)
    assert response.status_code == 422
    assert message in response.text


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "https://10.1.2.3/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_addresses_are_refused_without_the_setting(strict_server: RunningServer, url: str) -> None:
    response = httpx.post(
        f"{strict_server.http}/api/v1/webhooks", headers=bearer("admin"), json={"url": url, "events": ["srm"]}
    )
    assert response.status_code == 422, response.text
    assert "EXPSTREAM_WEBHOOK_ALLOW_PRIVATE" in response.json()["detail"]


def test_other_tenants_and_lesser_scopes_see_no_webhooks(api: httpx.Client, receiver: Receiver) -> None:
    created = subscribe(api, receiver.url, ["srm"])
    other = bearer("admin", tenant="other")
    assert api.get(f"/api/v1/webhooks/{created['id']}", headers=other).status_code == 404
    assert api.delete(f"/api/v1/webhooks/{created['id']}", headers=other).status_code == 404
    assert api.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=other).status_code == 404
    assert created["id"] not in [w["id"] for w in api.get("/api/v1/webhooks", headers=other).json()]
    assert api.get("/api/v1/webhooks", headers=bearer("write")).status_code == 403
    eid = new_experiment(api)["id"]
    response = api.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": ["srm"], "experiments": [eid]}, headers=other
    )
    assert response.status_code in (403, 404)


def test_a_status_change_is_delivered_signed_and_listed(api: httpx.Client, receiver: Receiver) -> None:
    eid = new_experiment(api, "signed")["id"]
    hook = subscribe(api, receiver.url, ["status_changed"], experiments=[eid])
    set_status(api, eid, "active")
    (request,) = receiver.wait_for(lambda rs: len(rs) >= 1)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-expstream-event"] == "status_changed"
    assert verify(hook["secret"], request.headers["x-expstream-signature"], request.body)
    assert not verify("another secret", request.headers["x-expstream-signature"], request.body)
    timestamp = int(request.headers["x-expstream-signature"].split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 3600  # unix seconds
    payload = request.json
    assert (payload["event"], payload["state"], payload["detail"]) == (
        "status_changed", "active", {"from": "draft", "to": "active"}
    )  # fmt: skip
    assert payload["experiment"] == {"id": eid, "name": "signed", "status": "active"}
    deliveries = wait_delivered(api, hook["id"], 1)
    assert deliveries[0]["id"] == request.delivery and deliveries[0]["status_code"] == 200
    assert deliveries[0]["latency_ms"] >= 0 and deliveries[0]["error"] is None
    alerts = api.get(f"/api/v1/experiments/{eid}/alerts", headers=bearer("read")).json()
    assert [(a["type"], a["state"], a["metric"], a["variant"]) for a in alerts] == [
        ("status_changed", "active", None, None)
    ]


def wait_delivered(api: httpx.Client, webhook_id: str, count: int) -> list[dict[str, Any]]:
    """The deliveries list once `count` of them are settled (the sender records after the response)."""
    deadline = time.monotonic() + 30
    while True:
        deliveries: list[dict[str, Any]] = api.get(f"/api/v1/webhooks/{webhook_id}/deliveries").json()
        if sum(d["state"] != "pending" for d in deliveries) >= count or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.1)  # the sender's database write has no event to wait on from here


REFUND_METRICS = [
    {"key": "orders", "kind": "proportion", "event_type": "order", "role": "primary"},
    {
        "key": "refunds",
        "kind": "proportion",
        "event_type": "refund",
        "role": "guardrail",
        "direction": "decrease",
    },
]


def regressing_experiment(api: httpx.Client) -> str:
    body = {
        "name": "refunds",
        "variants": [{"key": "control", "name": "Control", "is_control": True}, {"key": "b", "name": "B"}],
        "metrics": REFUND_METRICS,
    }
    response = api.post("/api/v1/experiments", json=body)
    assert response.status_code == 201, response.text
    eid: str = response.json()["id"]
    assign(api, eid, [(f"c{i}", "control") for i in range(600)] + [(f"b{i}", "b") for i in range(600)])
    return eid


def regress(api: httpx.Client, eid: str) -> None:
    """Refunds: 5 % in control, 40 % in b (lower is better): b regressed."""
    refunds = [f"c{i}" for i in range(30)] + [f"b{i}" for i in range(240)]
    response = api.post(
        f"/api/v1/experiments/{eid}/events",
        json={"events": [{"user_id": u, "type": "refund"} for u in refunds]},
    )
    assert response.status_code == 200, response.text


def test_a_guardrail_regression_from_a_look_is_delivered_once_and_in_the_alerts(
    api: httpx.Client, receiver: Receiver
) -> None:
    eid = regressing_experiment(api)
    subscribe(api, receiver.url, ["guardrail", "status_changed"], experiments=[eid], format="slack")
    regress(api, eid)
    assert api.get(f"/api/v1/experiments/{eid}/results").status_code == 200  # a look
    assert api.get(f"/api/v1/experiments/{eid}/results").status_code == 200  # the same state: no transition
    set_status(api, eid, "active")  # queued after anything the looks queued
    requests = receiver.wait_for(
        lambda rs: any(r.headers["x-expstream-event"] == "status_changed" for r in rs)
    )
    assert [r.headers["x-expstream-event"] for r in requests] == ["guardrail", "status_changed"]
    text = requests[0].json["text"]
    assert "*refunds*: guardrail regressed, metric refunds, variant b, lift +" in text
    assert f"<https://ab.example.com/results/{eid}/|Open the dashboard>" in text  # EXPSTREAM_PUBLIC_URL
    alerts = api.get(f"/api/v1/experiments/{eid}/alerts").json()
    assert [(a["type"], a["state"], a["metric"], a["variant"]) for a in alerts] == [
        ("status_changed", "active", None, None), ("guardrail", "regressed", "refunds", "b")
    ]  # fmt: skip
    assert alerts[1]["detail"]["relative_lift"] > 0


def test_a_4xx_is_final_and_a_5xx_is_retried(api: httpx.Client, receiver: Receiver) -> None:
    eid = new_experiment(api)["id"]
    gone = subscribe(api, receiver.url + "/gone", ["status_changed"], experiments=[eid])
    flaky = subscribe(api, receiver.url + "/flaky", ["status_changed"], experiments=[eid])
    answers = {"/hook/gone": iter([410]), "/hook/flaky": iter([503, 500])}
    receiver.behaviour.status = lambda r: next(answers[r.path], 200)
    set_status(api, eid, "active")
    receiver.wait_for(lambda rs: sum(r.path == "/hook/flaky" and r.answered for r in rs) == 3)
    gone_log = wait_delivered(api, gone["id"], 1)
    assert (gone_log[0]["state"], gone_log[0]["status_code"], gone_log[0]["error"]) == (
        "failed",
        410,
        "HTTP 410",
    )
    flaky_log = wait_delivered(api, flaky["id"], 1)
    assert (flaky_log[0]["state"], flaky_log[0]["attempts"], flaky_log[0]["status_code"]) == (
        "delivered",
        3,
        200,
    )
    requests = receiver.requests
    assert [r.delivery for r in requests if r.path == "/hook/gone"] == [gone_log[0]["id"]]  # 410: never again
    assert [r.delivery for r in requests if r.path == "/hook/flaky"] == [
        flaky_log[0]["id"]
    ] * 3  # the same id


def test_the_cli_sends_a_test_delivery_and_prints_the_outcome(
    api: httpx.Client, receiver: Receiver, server_env: dict[str, str]
) -> None:
    hook = subscribe(api, receiver.url, ["srm"])
    done = expstream_cli("webhook", "test", hook["id"], env=server_env | FAST)
    assert done.returncode == 0, done.stderr
    assert "delivered after 1 attempt(s), HTTP 200" in done.stdout
    (request,) = receiver.wait_for(lambda rs: len(rs) >= 1)
    assert request.headers["x-expstream-event"] == "test" and request.json["webhook_id"] == hook["id"]
    assert verify(hook["secret"], request.headers["x-expstream-signature"], request.body)
    missing = expstream_cli("webhook", "test", "00000000-0000-0000-0000-000000000000", env=server_env)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_significance_and_multiple_exposures_transitions_are_delivered_in_order(
    api: httpx.Client, receiver: Receiver
) -> None:
    eid = new_experiment(api, "lift")["id"]
    hook = subscribe(api, receiver.url, ["significance", "multiple_exposures"], experiments=[eid])
    assign(api, eid, [(f"c{i}", "control") for i in range(600)] + [(f"t{i}", "v1") for i in range(600)])
    converted = [f"c{i}" for i in range(30)] + [f"t{i}" for i in range(240)]  # 5 % vs 40 %
    response = api.post(
        f"/api/v1/experiments/{eid}/events",
        json={"events": [{"user_id": u, "type": "conversion"} for u in converted]},
    )
    assert response.status_code == 200, response.text
    assert api.get(f"/api/v1/experiments/{eid}/results").json()["variants"][1]["is_significant"] is True
    assign(api, eid, [(f"c{i}", "v1") for i in range(13)])  # 13 of 1,200 users in both: above 1 %
    assert api.get(f"/api/v1/experiments/{eid}/results").json()["multiple_exposures"] == 13
    requests = receiver.wait_for(lambda rs: len(rs) >= 2)
    assert [(r.json["event"], r.json["state"], r.json["metric"], r.json["variant"]) for r in requests] == [
        ("significance", "significant", "conversion", "v1"),
        ("multiple_exposures", "raised", None, None),
    ]
    assert requests[0].json["detail"]["relative_lift"] == pytest.approx(7.0)  # 40 % / 5 % - 1
    assert requests[1].json["detail"] == {"users": 13, "share": pytest.approx(13 / 1200)}
    assert len(wait_delivered(api, hook["id"], 2)) == 2


def test_a_send_to_an_address_refused_at_send_time_is_a_final_failure(
    strict_server: RunningServer, strict_database: str, receiver: Receiver
) -> None:
    # As if DNS now pointed a once-public name at 127.0.0.1: the row exists, the guard runs again.
    hook = _core.WebhookStore(strict_database).create("", receiver.url, ["srm"], ["*"], "json", "s")
    done = expstream_cli("webhook", "test", hook["id"], env={"DATABASE_URL": strict_database})
    assert done.returncode == 1
    assert "failed after 1 attempt(s), no response" in done.stdout
    assert "refused: the host 127.0.0.1 resolves to 127.0.0.1 (loopback)" in done.stdout
    assert receiver.requests == []
    listed = httpx.get(
        f"{strict_server.http}/api/v1/webhooks/{hook['id']}/deliveries", headers=bearer("admin")
    )
    assert [(d["state"], d["status_code"], d["error"][:8]) for d in listed.json()] == [
        ("failed", None, "refused:")
    ]


def test_an_experiment_nobody_watches_still_alerts_its_webhooks(
    api: httpx.Client, receiver: Receiver
) -> None:
    eid = regressing_experiment(api)
    subscribe(api, receiver.url, ["guardrail"], experiments=[eid])
    regress(api, eid)  # ingest only: no stream open, no results read
    (request,) = receiver.wait_for(lambda rs: len(rs) >= 1)
    assert (request.json["event"], request.json["state"], request.json["variant"]) == (
        "guardrail",
        "regressed",
        "b",
    )
