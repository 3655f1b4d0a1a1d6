"""Who may read and write what: tokens over HTTP and WebSocket, origins, tenants."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from helpers import TEST_SECRET, RunningServer, assign, bearer, new_experiment, random_id, token
from wsclient import TIMEOUT, open_stream, recv_json, recv_until


def close_code(ws: Any) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None
    return int(closed.value.rcvd.code)


def expired_token() -> str:
    now = int(time.time())
    claims = {"sub": "x", "scope": "read", "experiments": ["*"], "iat": now - 100, "exp": now - 10}
    return jwt.encode(claims, TEST_SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "not-a-jwt",
        "Bearer",
        expired_token,
        lambda: jwt.encode({"sub": "x", "exp": 9e9}, "wrong-secret-" + "x" * 32, "HS256"),
    ],
    ids=["missing", "malformed", "garbage", "expired", "bad-signature"],
)
def test_websocket_without_a_valid_token_is_closed_4401(
    server: RunningServer, client: httpx.Client, bad: Any
) -> None:
    eid = new_experiment(client)["id"]
    value = bad() if callable(bad) else bad
    with open_stream(server.ws, eid, token=value) as ws:
        if value is None:
            ws.send(json.dumps({"action": "ping"}))  # a first message that is not auth
        assert close_code(ws) == 4401


def test_token_may_come_as_query_cookie_or_first_message(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    url = f"{server.ws}/api/v1/ws/experiments/{eid}/results"
    with connect(f"{url}?token={token('read')}") as ws:
        assert recv_json(ws)["event"] == "results_update"
    with connect(url, additional_headers={"Cookie": f"expstream_token={token('read')}"}) as ws:
        assert recv_json(ws)["event"] == "results_update"
    with connect(url) as ws:
        ws.send(json.dumps({"action": "auth", "token": token("read")}))
        assert recv_json(ws)["event"] == "results_update"


def test_valid_token_without_access_to_the_experiment_is_closed_4403(
    server: RunningServer, client: httpx.Client
) -> None:
    mine, other = new_experiment(client)["id"], new_experiment(client)["id"]
    with open_stream(server.ws, other, token=token("read", experiments=[mine])) as ws:
        assert recv_json(ws)["code"] == "forbidden"
        assert close_code(ws) == 4403
    with open_stream(server.ws, mine, token=token("read", experiments=[mine])) as ws:
        assert recv_json(ws)["event"] == "results_update"


@pytest.mark.parametrize(
    ("scope", "experiments", "gone", "code", "close"),
    [
        ("read", "other", False, "forbidden", 4403),
        ("read", "*", True, "experiment_not_found", 4404),
    ],
    ids=["no-access", "no-such-experiment"],
)
def test_a_first_message_token_is_checked_like_one_in_the_upgrade(
    server: RunningServer,
    client: httpx.Client,
    scope: str,
    experiments: str,
    gone: bool,
    code: str,
    close: int,
) -> None:
    """The core reads the first message of a stream it serves; the same refusals follow."""
    eid = new_experiment(client)["id"]
    target = random_id() if gone else eid
    allowed = [new_experiment(client)["id"]] if experiments == "other" else ["*"]
    with connect(f"{server.ws}/api/v1/ws/experiments/{target}/results", open_timeout=TIMEOUT) as ws:
        ws.send(json.dumps({"action": "auth", "token": token(scope, experiments=allowed)}))
        assert recv_json(ws)["code"] == code
        assert close_code(ws) == close


def test_http_needs_a_token_and_the_right_scope(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    body = {"assignments": [{"user_id": "u", "variant_key": "control"}]}
    with httpx.Client(base_url=server.http) as anonymous:
        response = anonymous.get("/api/v1/experiments")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "missing token" in response.json()["detail"]
        assert (
            anonymous.get("/api/v1/experiments", headers={"Authorization": "Bearer junk"}).status_code == 401
        )
        assert anonymous.get("/health").status_code == 200  # liveness stays open
    reader = bearer("read")
    assert client.get(f"/api/v1/experiments/{eid}", headers=reader).status_code == 200
    assert client.post(f"/api/v1/experiments/{eid}/assignments", json=body, headers=reader).status_code == 403
    assert (
        client.patch(f"/api/v1/experiments/{eid}", json={"status": "active"}, headers=reader).status_code
        == 403
    )
    writer = bearer("write")
    assert client.post(f"/api/v1/experiments/{eid}/assignments", json=body, headers=writer).status_code == 200
    assert client.get("/api/v1/ws/active-experiments", headers=writer).status_code == 403
    assert client.get("/metrics", headers=writer).status_code == 403
    assert client.get("/health/details", headers=writer).status_code == 403
    assert client.get("/health/details").status_code == 200  # admin
    # A token for one experiment cannot create others or touch others.
    scoped = bearer("write", experiments=[eid])
    assert client.post(
        "/api/v1/experiments", json={"name": "x", "variants": []}, headers=scoped
    ).status_code in (403, 422)
    assert client.get(f"/api/v1/experiments/{random_id()}", headers=scoped).status_code == 403


def test_cookie_works_for_http_too(server: RunningServer, client: httpx.Client) -> None:
    with httpx.Client(base_url=server.http, cookies={"expstream_token": token("read")}) as browser:
        assert browser.get("/api/v1/experiments").status_code == 200


def test_websocket_from_a_disallowed_origin_is_refused(server: RunningServer, client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    url = f"{server.ws}/api/v1/ws/experiments/{eid}/results?token={token('read')}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    # The page's own origin is fine.
    with connect(url, origin=f"http://127.0.0.1:{server.port}") as ws:  # type: ignore[arg-type]
        assert recv_json(ws)["event"] == "results_update"


def test_tenants_never_see_each_others_experiments_or_messages(server: RunningServer) -> None:
    with (
        httpx.Client(base_url=server.http, headers=bearer("admin", tenant="acme")) as acme,
        httpx.Client(base_url=server.http, headers=bearer("admin", tenant="globex")) as globex,
    ):
        a = new_experiment(acme, name="acme test")["id"]
        g = new_experiment(globex, name="globex test")["id"]
        assert [e["id"] for e in acme.get("/api/v1/experiments").json()] == [a]
        assert acme.get(f"/api/v1/experiments/{g}").status_code == 403
        assert (
            acme.post(
                f"/api/v1/experiments/{g}/assignments",
                json={"assignments": [{"user_id": "u", "variant_key": "control"}]},
            ).status_code
            == 403
        )
        with open_stream(server.ws, g, token=token("read", tenant="acme")) as ws:
            assert close_code(ws) == 4403
        # Both watch their own experiment; ingest into each reaches only its own watcher.
        with (
            open_stream(server.ws, a, token=token("read", tenant="acme")) as wa,
            open_stream(server.ws, g, token=token("read", tenant="globex")) as wg,
        ):
            recv_json(wa), recv_json(wg)
            assign(acme, a, [("a1", "control")])
            assign(globex, g, [("g1", "control"), ("g2", "control")])
            got_a, seen_a = recv_until(wa, lambda m: m.get("total_participants") == 1)
            got_g, seen_g = recv_until(wg, lambda m: m.get("total_participants") == 2)
            assert {m.get("experiment_id") for m in [got_a, *seen_a]} == {a}
            assert {m.get("experiment_id") for m in [got_g, *seen_g]} == {g}
            acme_active = {e["experiment_id"] for e in acme.get("/api/v1/ws/active-experiments").json()}
            assert g not in acme_active


def test_an_open_stream_ends_when_its_token_expires(server: RunningServer, client: httpx.Client) -> None:
    """A token is not only checked at the door: the stream it opened closes 4401 at its expiry,
    after an error message saying why; SSE streams end the same way."""
    eid = new_experiment(client)["id"]
    short = token("read", experiments=[eid], ttl=2)
    with open_stream(server.ws, eid, token=short) as ws:
        recv_json(ws)  # the snapshot: the stream was open and authorized
        expired, _ = recv_until(ws, lambda m: m.get("code") == "token_expired", timeout=TIMEOUT)
        assert "expired" in expired["message"]
        assert close_code(ws) == 4401
    with (
        httpx.Client(base_url=server.http, timeout=TIMEOUT) as sse_client,
        sse_client.stream(
            "GET",
            f"/api/v1/experiments/{eid}/results/stream",
            headers={"Authorization": f"Bearer {token('read', ttl=2)}"},
        ) as response,
    ):
        assert response.status_code == 200
        body = "".join(response.iter_text())  # returns only because the server ends the stream
    assert "token_expired" in body


def test_a_token_verified_once_is_still_refused_once_it_has_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verified principals are kept for the next connection of the same token, expiry still
    checked on every use."""
    from expstream import auth

    issued = auth.issue_token(TEST_SECRET, subject="tab", scope="read", experiments=["*"], ttl_seconds=60)
    first = auth.decode_token(TEST_SECRET, issued)
    assert auth.decode_token(TEST_SECRET, issued) is first  # no second verification
    with pytest.raises(auth.AuthError, match="invalid token"):
        auth.decode_token(TEST_SECRET + "x", issued)  # the same token under another secret is verified anew
    assert first.expires_at is not None
    later = first.expires_at + 1
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(auth.AuthError, match="token expired"):
        auth.decode_token(TEST_SECRET, issued)
