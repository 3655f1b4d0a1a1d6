"""Limits and heartbeat: 1008 rate, 1009 size, 1013 caps and slow readers, dead peers pruned."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from helpers import RunningServer, bearer, new_experiment, raw_upgrade, run_server, token, wide_experiment
from wsclient import TIMEOUT, open_stream, recv_json


@pytest.fixture(scope="module")
def strict(server_env: dict[str, str]) -> Iterator[RunningServer]:
    """Small limits so each can be reached quickly."""
    env = {
        **server_env,
        "EXPSTREAM_WS_MAX_CONNECTIONS_PER_TOKEN": "2",
        "EXPSTREAM_WS_PING_INTERVAL_SECONDS": "1",
        "EXPSTREAM_WS_PING_TIMEOUT_SECONDS": "1",
        "EXPSTREAM_WS_SEND_TIMEOUT_SECONDS": "1",
        "EXPSTREAM_WS_AUTH_TIMEOUT_SECONDS": "1",
        "RESULTS_PUSH_MIN_INTERVAL_SECONDS": "0",
    }
    with run_server(env) as running:
        yield running


@pytest.fixture()
def strict_client(strict: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=strict.http, timeout=30, headers=bearer()) as c:
        yield c


def closed_with(ws: object) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=TIMEOUT)  # type: ignore[attr-defined]
    assert closed.value.rcvd is not None
    return int(closed.value.rcvd.code)


def test_a_message_over_the_default_4_kib_closes_with_1009(
    strict: RunningServer, strict_client: httpx.Client
) -> None:
    eid = new_experiment(strict_client)["id"]
    with open_stream(strict.ws, eid) as ws:
        recv_json(ws)
        ws.send(json.dumps({"action": "ping", "pad": "x" * 4096}))
        assert closed_with(ws) == 1009


def test_more_than_10_messages_in_10_seconds_closes_with_1008(
    strict: RunningServer, strict_client: httpx.Client
) -> None:
    eid = new_experiment(strict_client)["id"]
    with open_stream(strict.ws, eid) as ws:
        recv_json(ws)
        for _ in range(10):
            ws.send("malformed {")  # counted, never fatal by themselves
        ws.send(json.dumps({"action": "ping"}))
        assert closed_with(ws) == 1008


def test_connections_past_the_per_token_cap_close_with_1013(
    strict: RunningServer, strict_client: httpx.Client
) -> None:
    eid = new_experiment(strict_client)["id"]
    shared = token("read")
    with open_stream(strict.ws, eid, token=shared) as a, open_stream(strict.ws, eid, token=shared) as b:
        recv_json(a), recv_json(b)
        with open_stream(strict.ws, eid, token=shared) as c:
            assert closed_with(c) == 1013
        with open_stream(strict.ws, eid, token=token("read")) as other_token:
            assert recv_json(other_token)["event"] == "results_update"


def test_connections_past_the_per_address_cap_close_with_1013(server_env: dict[str, str]) -> None:
    with (
        run_server({**server_env, "EXPSTREAM_WS_MAX_CONNECTIONS_PER_ADDRESS": "3"}) as srv,
        httpx.Client(base_url=srv.http, headers=bearer()) as client,
    ):
        eid = new_experiment(client)["id"]
        with contextlib.ExitStack() as stack:
            for _ in range(3):
                recv_json(stack.enter_context(open_stream(srv.ws, eid)))
            with open_stream(srv.ws, eid) as extra:
                assert closed_with(extra) == 1013


def test_without_any_token_the_first_message_must_authenticate_in_time(
    strict: RunningServer, strict_client: httpx.Client
) -> None:
    eid = new_experiment(strict_client)["id"]
    with open_stream(strict.ws, eid, token=None) as ws:
        assert closed_with(ws) == 4401  # said nothing for EXPSTREAM_WS_AUTH_TIMEOUT_SECONDS


def test_a_silent_peer_is_dropped_by_the_heartbeat_and_counts_update(
    strict: RunningServer, strict_client: httpx.Client
) -> None:
    eid = new_experiment(strict_client)["id"]
    sock = raw_upgrade(
        strict.port, f"/api/v1/ws/experiments/{eid}/results?token={token('read', subject='silent')}"
    )
    try:
        entry = strict.wait_for_log(
            lambda e: e.get("event") == "ws_disconnect" and e.get("subject") == "silent"
        )
        assert entry["experiments"] == [eid]
        subscribers = strict_client.get(f"/api/v1/ws/experiments/{eid}/results/subscribers").json()
        assert subscribers["subscribers"] == 0
    finally:
        sock.close()


def test_a_reader_that_stays_behind_is_closed_with_1013_not_buffered(server_env: dict[str, str]) -> None:
    # Its own server: the strict one's 1 s heartbeat would drop the silent reader first.
    env = {**server_env, "EXPSTREAM_WS_SEND_TIMEOUT_SECONDS": "1", "RESULTS_PUSH_MIN_INTERVAL_SECONDS": "0"}
    with run_server(env) as srv, httpx.Client(base_url=srv.http, timeout=30, headers=bearer()) as client:
        _stalled_reader_scenario(srv, client)


def _stalled_reader_scenario(strict: RunningServer, strict_client: httpx.Client) -> None:
    eid = wide_experiment(strict_client)
    path = f"/api/v1/ws/experiments/{eid}/results?token={token('read', subject='slow')}"
    sock = raw_upgrade(strict.port, path, rcvbuf=4096)
    try:
        # Pushes of ~30 KB each until the server gives up on the stalled reader.
        for i in range(400):
            response = strict_client.post(
                f"/api/v1/experiments/{eid}/assignments",
                json={"assignments": [{"user_id": f"u{i}", "variant_key": "control"}]},
            )
            assert response.status_code == 200
            if any('"subject": "slow"' in line and "ws_disconnect" in line for line in strict.log):
                break
        entry = strict.wait_for_log(
            lambda e: e.get("event") == "ws_disconnect" and e.get("subject") == "slow"
        )
        assert entry["close_code"] == 1013
    finally:
        sock.close()


def test_each_websocket_has_a_fixed_kernel_send_buffer(server: RunningServer) -> None:
    """Left to autotuning, a client that stops reading pins up to 4 MiB of kernel memory; the
    server fixes the buffer (the kernel doubles what is asked: 2 x 128 KiB by default)."""
    with httpx.Client(base_url=server.http, headers=bearer("admin"), timeout=TIMEOUT) as client:
        eid = new_experiment(client)["id"]
    with open_stream(server.ws, eid) as ws:
        recv_json(ws)
        local_port = ws.socket.getsockname()[1]
        # The server's end of this very connection: source port = server port, peer = our port.
        out = subprocess.run(
            ["ss", "-tmnH", "state", "established", f"( sport = :{server.port} and dport = :{local_port} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        sizes = re.findall(r"tb(\d+)", out)
        assert sizes == [str(2 * 128 * 1024)], out


def test_a_request_head_that_never_completes_is_dropped(server_env: dict[str, str]) -> None:
    """Slowloris: half a request and then nothing must not hold a connection for ever; a complete
    request on a connection opened at the same time is unaffected."""
    import socket

    with run_server({**server_env, "EXPSTREAM_HTTP_HEADER_TIMEOUT_SECONDS": "1"}) as server:
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        prompt = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        try:
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # no blank line: never complete
            prompt.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert prompt.recv(4096).startswith(b"HTTP/1.1 200")
            # Blocks until the server drops it: an event, not a sleep.
            with contextlib.suppress(ConnectionResetError):
                assert slow.recv(4096) == b""
        finally:
            slow.close()
            prompt.close()


@pytest.fixture(scope="module")
def roomy(server_env: dict[str, str]) -> Iterator[RunningServer]:
    """Non-default message limits: larger messages, fewer of them."""
    env = {
        **server_env,
        "EXPSTREAM_WS_MAX_MESSAGE_BYTES": "16384",
        "EXPSTREAM_WS_RATE_LIMIT_MESSAGES": "3",
        "EXPSTREAM_WS_RATE_LIMIT_WINDOW_SECONDS": "60",
    }
    with run_server(env) as running:
        yield running


@pytest.fixture()
def roomy_experiment(roomy: RunningServer) -> str:
    with httpx.Client(base_url=roomy.http, headers=bearer()) as client:
        experiment_id: str = new_experiment(client)["id"]
        return experiment_id


def _ping(pad_bytes: int) -> str:
    return json.dumps({"action": "ping", "pad": "x" * pad_bytes})


def test_a_larger_message_limit_takes_messages_up_to_it(roomy: RunningServer, roomy_experiment: str) -> None:
    eid = roomy_experiment
    with open_stream(roomy.ws, eid) as ws:
        recv_json(ws)
        ws.send(_ping(12_000))  # over the default 4 KiB, within 16 KiB: parsed and answered
        assert recv_json(ws) == {"event": "pong"}
        ws.send(_ping(16_384))
        assert closed_with(ws) == 1009


def test_a_larger_limit_holds_for_the_first_message_auth_too(
    roomy: RunningServer, roomy_experiment: str
) -> None:
    eid = roomy_experiment
    with open_stream(roomy.ws, eid, token=None) as ws:
        ws.send(json.dumps({"action": "auth", "token": token("read"), "pad": "x" * 10_000}))
        assert recv_json(ws)["event"] == "results_update"
    with open_stream(roomy.ws, eid, token=None) as ws:
        ws.send(json.dumps({"action": "auth", "token": token("read"), "pad": "x" * 17_000}))
        assert closed_with(ws) == 1009


def test_the_message_limit_counts_utf8_bytes_not_characters(
    strict: RunningServer, strict_client: httpx.Client
) -> None:
    eid = new_experiment(strict_client)["id"]
    with open_stream(strict.ws, eid) as ws:
        recv_json(ws)
        message = json.dumps({"action": "ping", "pad": "€" * 1500}, ensure_ascii=False)
        assert len(message) < 4096 < len(message.encode())
        ws.send(message)
        assert closed_with(ws) == 1009


def test_a_smaller_rate_limit_closes_sooner(roomy: RunningServer, roomy_experiment: str) -> None:
    eid = roomy_experiment
    with open_stream(roomy.ws, eid) as ws:
        recv_json(ws)
        for _ in range(3):
            ws.send(_ping(0))
            assert recv_json(ws) == {"event": "pong"}
        ws.send(_ping(0))  # the 4th within EXPSTREAM_WS_RATE_LIMIT_WINDOW_SECONDS=60
        assert closed_with(ws) == 1008
