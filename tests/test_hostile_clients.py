"""Hostile clients against a live server while 100 well-behaved watchers stream one experiment.

Every test is one attack. Afterwards the arena checks that nothing was harmed: /health answers ok,
the attack's connections are all gone (the hub counts only the watchers again, the server's open
file descriptors are back near their baseline), its resident memory is within a generous bound of
the baseline (a resource bound, not a timing one), and an ingest through HTTP reaches every one of
the 100 watchers, in order, on the connection each opened at the start.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import jwt
import pytest

from helpers import RunningServer, bearer, new_experiment, run_server, token, wide_experiment
from hostile import (
    OP_BINARY,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    RawWebSocket,
    Watchers,
    encode_frame,
    open_fds,
    poll_until,
    reset_socket,
    rss_bytes,
    upgrade_request,
    wait_peer_closed,
)

WATCHERS = 100
RSS_MARGIN = 30 * 1024 * 1024  # after the attack: at most this far above the baseline
FD_MARGIN = 10  # database reconnects and the like; a leak of attack connections is far more

pytestmark = pytest.mark.timeout(300)


@dataclass
class Arena:
    server: RunningServer
    client: httpx.Client
    experiment_id: str
    watchers: Watchers
    participants: int = 0
    baseline_rss: int = 0
    baseline_fds: int = 0

    @property
    def pid(self) -> int:
        return self.server.process.pid

    def path(self, subject: str = "attacker", tok: str | None = None) -> str:
        tok = tok or token("read", subject=subject)
        return f"/api/v1/ws/experiments/{self.experiment_id}/results?token={tok}"

    def ingest_and_wait(self) -> None:
        """One new participant through HTTP; every watcher must receive the snapshot that counts it."""
        self.participants += 1
        response = self.client.post(
            f"/api/v1/experiments/{self.experiment_id}/assignments",
            json={"assignments": [{"user_id": f"user-{self.participants}", "variant_key": "control"}]},
        )
        assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
        seq = int(self.client.get(f"/api/v1/experiments/{self.experiment_id}/results").json()["seq"])
        expected = self.participants
        self.watchers.wait_all(lambda w: w.latest[1] == expected and w.latest[0] >= seq)

    def check_unharmed(self) -> None:
        assert self.server.process.poll() is None, "the server died"
        health = self.client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        # The attack's connections are gone: only the watchers remain, and no descriptor leaked.
        poll_until(
            lambda: self.client.get("/health").json()["wsConnections"] == WATCHERS,
            what="the hub to count only the watchers",
        )
        poll_until(
            lambda: open_fds(self.pid) <= self.baseline_fds + FD_MARGIN,
            what=f"open fds back within {FD_MARGIN} of {self.baseline_fds}",
        )
        self.ingest_and_wait()
        self.watchers.check_in_order()
        rss = rss_bytes(self.pid)
        assert rss <= self.baseline_rss + RSS_MARGIN, (
            f"RSS {rss >> 20} MiB after the attack, baseline {self.baseline_rss >> 20} MiB"
        )


@pytest.fixture(scope="module")
def arena(server_env: dict[str, str]) -> Iterator[Arena]:
    env = {
        **server_env,
        "RESULTS_PUSH_MIN_INTERVAL_SECONDS": "0",  # every ingest is a push: many pushes, no coalescing delay
        "EXPSTREAM_WS_SEND_TIMEOUT_SECONDS": "3",  # a stalled reader is given up on sooner
        # Only the send bound may drop a stalled reader here: on a loaded machine its buffers can take
        # longer to fill than the default ping timeout (50 s), which would drop it first, as 1005.
        "EXPSTREAM_WS_PING_INTERVAL_SECONDS": "600",
    }
    with (
        run_server(env) as server,
        httpx.Client(base_url=server.http, timeout=30, headers=bearer()) as client,
    ):
        eid = new_experiment(client, "hostile")["id"]
        # One token each: the per-token cap (50) is for one client, and these are a hundred.
        tokens = [token("read", subject=f"watcher-{i}") for i in range(WATCHERS)]
        url = f"{server.ws}/api/v1/ws/experiments/{eid}/results?token="
        with Watchers(lambda i: url + tokens[i], WATCHERS) as watchers:
            arena = Arena(server, client, eid, watchers)
            watchers.wait_all(lambda w: w.latest[1] == 0)
            arena.ingest_and_wait()  # warm: every watcher has had a push
            poll_until(lambda: client.get("/health").json()["wsConnections"] == WATCHERS)
            arena.baseline_rss = rss_bytes(arena.pid)
            arena.baseline_fds = open_fds(arena.pid)
            yield arena


# -- handshakes dropped midway -----------------------------------------------------------------------
def test_a_thousand_handshakes_dropped_midway(arena: Arena) -> None:
    rng = random.Random(8)
    port = arena.server.port
    full = upgrade_request(port, arena.path())
    batch = 50
    upgraded = 0
    for start in range(0, 1000, batch):
        socks = []
        for i in range(start, start + batch):
            sock = socket.create_connection(("127.0.0.1", port), timeout=15)
            kind = i % 4
            if kind in (0, 1):
                # Part of the upgrade request, then FIN (0) or RST (1).
                sock.sendall(full[: rng.randrange(1, len(full) - 4)])
            else:
                sock.sendall(full if kind == 2 else upgrade_request(port, arena.path(f"rst-{i}")))
            socks.append((kind, sock))
        for kind, sock in socks:
            if kind == 3:
                # Upgraded (the 101 arrived), then RST without a close frame.
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = sock.recv(4096)
                    assert chunk, head
                    head += chunk
                assert head.startswith(b"HTTP/1.1 101"), head
                upgraded += 1
            if kind in (1, 2, 3):
                reset_socket(sock)  # 2: the whole request, then RST before reading the answer
            else:
                sock.close()
    assert upgraded == 250
    arena.check_unharmed()


# -- protocol violations -------------------------------------------------------------------------------
PING_JSON = json.dumps({"action": "ping"}).encode()

VIOLATIONS = {
    # name: (frames, the close code RFC 6455 asks for)
    "unmasked client frame": ([encode_frame(OP_TEXT, PING_JSON, mask=False)], 1002),
    "reserved bit 1 set": ([encode_frame(OP_TEXT, PING_JSON, rsv=4)], 1002),
    "reserved bits 2 and 3 set": ([encode_frame(OP_TEXT, PING_JSON, rsv=3)], 1002),
    "invalid UTF-8 in a text frame": ([encode_frame(OP_TEXT, b'{"action": "ping\xed\xa0\x80"}')], 1007),
    "invalid UTF-8 split across fragments": (
        [encode_frame(OP_TEXT, b'{"a": "\xce', fin=False), encode_frame(OP_CONT, b'\xff"}')],
        1007,
    ),
    "fragmented ping (FIN=0)": ([encode_frame(OP_PING, b"x", fin=False)], 1002),
    "ping payload over 125 bytes": ([encode_frame(OP_PING, b"x" * 126)], 1002),
    "unknown data opcode 0x3": ([encode_frame(0x3, b"x")], 1002),
    "unknown control opcode 0xB": ([encode_frame(0xB, b"x")], 1002),
    "continuation with nothing to continue": ([encode_frame(OP_CONT, b"x")], 1002),
    "new message inside a fragmented one": (
        [encode_frame(OP_TEXT, b"{", fin=False), encode_frame(OP_TEXT, b"}")],
        1002,
    ),
}


@pytest.mark.parametrize("name", list(VIOLATIONS))
def test_protocol_violations_fail_only_the_offending_connection(arena: Arena, name: str) -> None:
    frames, expected = VIOLATIONS[name]
    for _ in range(20):
        with RawWebSocket(arena.server.port, arena.path("violator")) as ws:
            assert ws.recv_json()["event"] == "results_update"
            for frame in frames:
                ws.send_raw(frame)
            assert ws.close_code() == expected
    arena.check_unharmed()


# -- a client that never reads -------------------------------------------------------------------------
def test_a_client_that_never_reads_is_dropped_and_delays_nobody(arena: Arena) -> None:
    wide = wide_experiment(arena.client)  # ~30 KB snapshots fill a stalled reader's buffers fast
    subject = "stalled"
    # The handshake's answer is read before any frame is sent, as RFC 6455 (4.1) asks of a client:
    # uvicorn drops bytes that arrive in the same read as the upgrade request.
    stalled = RawWebSocket(
        arena.server.port, f"/api/v1/ws?token={token('read', subject=subject)}", rcvbuf=4096
    )
    assert stalled.upgraded
    sock = stalled.sock
    for experiment in (arena.experiment_id, wide):
        stalled.send_text(json.dumps({"action": "subscribe", "experiment_id": experiment}))

    def dropped() -> bool:
        return any(f'"subject": "{subject}"' in line and "ws_disconnect" in line for line in arena.server.log)

    stop = threading.Event()

    def pump() -> None:
        """Pushes of the wide experiment, until the server gives up on the reader."""
        with httpx.Client(base_url=arena.server.http, timeout=30, headers=bearer()) as c:
            i = 0
            while not stop.is_set():
                response = c.post(
                    f"/api/v1/experiments/{wide}/assignments",
                    json={"assignments": [{"user_id": f"w{i}", "variant_key": "control"}]},
                )
                assert response.status_code == 200
                i += 1

    pumping = threading.Thread(target=pump, daemon=True)
    pumping.start()
    try:
        # While it stalls, and its kernel and transport buffers fill, every push of the watched
        # experiment still reaches all 100 watchers. The kernel's send buffer grows by autotuning for
        # tens of seconds before a send can block; then the send timeout closes the reader.
        updates = 0
        deadline = time.monotonic() + 150
        while not dropped() and time.monotonic() < deadline:
            arena.ingest_and_wait()
            updates += 1
        entry = arena.server.wait_for_log(
            lambda e: e.get("event") == "ws_disconnect" and e.get("subject") == subject
        )
        assert entry["close_code"] == 1013
        assert sorted(entry["experiments"]) == sorted([arena.experiment_id, wide])
        assert updates > 0
        assert wait_peer_closed(sock)
    finally:
        stop.set()
        pumping.join(timeout=60)
        sock.close()
    arena.check_unharmed()


# -- message floods ----------------------------------------------------------------------------------------
def _flood(ws: RawWebSocket, n: int = 10_000) -> None:
    frames = b"".join(encode_frame(OP_TEXT, b'{"action": malformed %d' % i) for i in range(n))
    ws.send_raw(frames)  # may fail part-way: the server is allowed to close first


def test_ten_thousand_malformed_messages_close_with_1008(arena: Arena) -> None:
    with RawWebSocket(arena.server.port, arena.path("spammer")) as ws:
        assert ws.recv_json()["event"] == "results_update"
        _flood(ws)
        code = ws.close_code()
    entry = arena.server.wait_for_log(
        lambda e: e.get("event") == "ws_disconnect" and e.get("subject") == "spammer"
    )
    assert entry["close_code"] == 1008
    assert code in (1008, None)  # None: the kernel reset the line over the unread flood; the log says why
    # The multiplexed endpoint too, and a connection that never authenticated (its first message must).
    with RawWebSocket(arena.server.port, f"/api/v1/ws?token={token('read', subject='mux-spammer')}") as ws:
        assert ws.recv_json()["event"] == "connected"
        _flood(ws)
        assert ws.close_code() in (1008, None)
    arena.server.wait_for_log(
        lambda e: (
            e.get("event") == "ws_disconnect"
            and e.get("subject") == "mux-spammer"
            and e["close_code"] == 1008
        )
    )
    with RawWebSocket(arena.server.port, f"/api/v1/ws/experiments/{arena.experiment_id}/results") as ws:
        _flood(ws)
        assert ws.close_code() in (4401, None)
    arena.check_unharmed()


def test_ten_thousand_binary_frames_count_against_the_rate_limit(arena: Arena) -> None:
    with RawWebSocket(arena.server.port, arena.path("binary-spammer")) as ws:
        assert ws.recv_json()["event"] == "results_update"
        ws.send_raw(b"".join(encode_frame(OP_BINARY, os.urandom(16)) for _ in range(10_000)))
        assert ws.close_code() in (1008, None)
    arena.server.wait_for_log(
        lambda e: (
            e.get("event") == "ws_disconnect"
            and e.get("subject") == "binary-spammer"
            and e["close_code"] == 1008
        )
    )
    arena.check_unharmed()


# -- oversized messages ----------------------------------------------------------------------------------
OVERSIZED = {
    # Over uvicorn's 64 KiB frame cap (ws_max_size): refused by the protocol layer.
    "a 70,000-byte frame": [encode_frame(OP_TEXT, b"x" * 70_000)],
    "a frame header declaring 2^62 bytes": [encode_frame(OP_TEXT, b"", declared_length=2**62)],
    "a 100 KB message in 100 small fragments": [
        encode_frame(OP_TEXT if i == 0 else OP_CONT, b"x" * 1000, fin=i == 99) for i in range(100)
    ],
    # Under the frame cap, over the 4 KiB message limit: refused by the application.
    "a 5,000-byte message": [encode_frame(OP_TEXT, b'{"action": "ping", "pad": "' + b"x" * 5000 + b'"}')],
    "a 6,000-byte message in 3 fragments": [
        encode_frame(OP_TEXT if i == 0 else OP_CONT, b" " * 2000, fin=i == 2) for i in range(3)
    ],
}


@pytest.mark.parametrize("name", list(OVERSIZED))
def test_oversized_messages_close_with_1009(arena: Arena, name: str) -> None:
    for _ in range(10):
        with RawWebSocket(arena.server.port, arena.path("big")) as ws:
            assert ws.recv_json()["event"] == "results_update"
            for frame in OVERSIZED[name]:
                ws.send_raw(frame)
            assert ws.close_code() == 1009
    arena.check_unharmed()


# -- an expired token replayed -----------------------------------------------------------------------------
def test_a_token_replayed_after_expiry_closes_with_4401(arena: Arena) -> None:
    short = token("read", subject="short-lived", ttl=1)
    expires = jwt.decode(short, options={"verify_signature": False})["exp"]
    with RawWebSocket(arena.server.port, arena.path(tok=short)) as ws:
        assert ws.recv_json()["event"] == "results_update"  # valid while it lasts
    # Wait for the expiry by the clock (PyJWT: expired once now >= exp, in whole seconds).
    poll_until(lambda: time.time() >= expires + 1, timeout=10, what="the token to expire")
    base = f"/api/v1/ws/experiments/{arena.experiment_id}/results"
    for _ in range(10):
        with RawWebSocket(arena.server.port, arena.path(tok=short)) as ws:
            assert ws.close_code() == 4401  # in the query
        with RawWebSocket(arena.server.port, base) as ws:
            ws.send_text(json.dumps({"action": "auth", "token": short}))
            assert ws.close_code() == 4401  # in the first message
        with RawWebSocket(arena.server.port, base, headers=f"Authorization: Bearer {short}\r\n") as ws:
            assert ws.close_code() == 4401  # in the Authorization header
    assert (
        arena.client.get(
            f"/api/v1/experiments/{arena.experiment_id}/results", headers={"Authorization": f"Bearer {short}"}
        ).status_code
        == 401
    )
    arena.check_unharmed()
