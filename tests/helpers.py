"""Test helpers: a real server process, and short API calls."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from expstream.auth import issue_token
from expstream.embedded_db import free_port

# Every test server signs tokens with this; tests mint what they need.
TEST_SECRET = "test-secret-" + uuid.uuid4().hex


def token(
    scope: str = "admin",
    experiments: list[str] | None = None,
    tenant: str | None = None,
    ttl: float = 600,
    subject: str = "tester",
) -> str:
    return issue_token(
        TEST_SECRET,
        subject=subject,
        scope=scope,
        experiments=experiments or ["*"],
        ttl_seconds=ttl,  # type: ignore[arg-type]
        tenant=tenant,
    )


def bearer(scope: str = "admin", **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(scope, **kwargs)}"}


class RunningServer:
    """`expstream serve` in its own process (its own GIL, as in production), on a free port."""

    def __init__(self, process: subprocess.Popen[str], port: int, log: list[str]) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"
        self._log_changed = threading.Condition()

    def follow_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._log_changed:
                self.log.append(line)
                self._log_changed.notify_all()

    def wait_for_log(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        """Blocks until the server logs a JSON line matching predicate (an event, not a sleep)."""
        seen = 0

        def find() -> dict[str, Any] | None:
            nonlocal seen
            for line in self.log[seen:]:
                seen += 1
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and predicate(entry):
                    return entry
            return None

        with self._log_changed:
            found = self._log_changed.wait_for(find, timeout)
        if not found:
            raise AssertionError("no matching log line; last lines:\n" + "".join(self.log[-20:]))
        return found


READY_LINES = ("Application startup complete", "Uvicorn running on")


@contextmanager
def run_server(
    env: dict[str, str | None], port: int | None = None, extra_args: list[str] | None = None
) -> Iterator[RunningServer]:
    port = port or free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "expstream.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *(extra_args or []),
        ],
        env={
            k: v
            for k, v in {**os.environ, "EXPSTREAM_JWT_SECRET": TEST_SECRET, **env}.items()
            if v is not None
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    log: list[str] = []
    # Block on the server's own lines rather than polling the port: uvicorn reports the app's
    # startup before it binds the socket (one process) or after (--workers), so wait for both.
    pending = set(READY_LINES)
    for line in process.stderr:
        log.append(line)
        pending -= {ready for ready in pending if ready in line}
        if not pending:
            break
    else:
        process.wait(timeout=30)
        raise RuntimeError("server exited before it was ready:\n" + "".join(log))
    running = RunningServer(process, port, log)
    drain = threading.Thread(target=running.follow_log, daemon=True)
    drain.start()
    try:
        yield running
    finally:
        terminate(process)
        drain.join(timeout=5)
        process.stderr.close()


def terminate(process: subprocess.Popen[str], timeout: float = 30) -> None:
    """SIGTERM, as an operator stops a server; SIGKILL if it has not ended within timeout."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def new_experiment(client: httpx.Client, name: str = "checkout", variants: int = 2) -> dict[str, Any]:
    body = {
        "name": name,
        "variants": [{"key": "control", "name": "Control", "is_control": True}]
        + [{"key": f"v{i}", "name": f"Variant {i}"} for i in range(1, variants)],
    }
    response = client.post("/api/v1/experiments", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def assign(client: httpx.Client, experiment_id: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/experiments/{experiment_id}/assignments",
        json={"assignments": [{"user_id": u, "variant_key": k} for u, k in pairs]},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def convert(
    client: httpx.Client, experiment_id: str, users: list[str], event_ids: bool = False
) -> dict[str, Any]:
    events = [
        {"user_id": u, "type": "conversion"} | ({"event_id": f"e-{u}"} if event_ids else {}) for u in users
    ]
    response = client.post(f"/api/v1/experiments/{experiment_id}/events", json={"events": events})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def random_id() -> str:
    return str(uuid.uuid4())


def wide_experiment(client: httpx.Client) -> str:
    """61 variants with 200-character names: ~30 KB snapshots that fill a stalled reader's buffers fast."""
    body = {
        "name": "wide",
        "variants": [{"key": "control", "name": "C" * 200, "is_control": True}]
        + [{"key": f"v{i}", "name": f"{i:02d}" * 100} for i in range(60)],
    }
    response = client.post("/api/v1/experiments", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def raw_upgrade(port: int, path: str, rcvbuf: int | None = None) -> socket.socket:
    """A client that completes the WebSocket handshake and then neither reads nor answers pings."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float = 30, what: str = "condition", interval: float = 0.05
) -> T:
    """Polls condition until it returns something truthy (and returns that); fails after timeout."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last value: {last!r}")
        time.sleep(interval)
        last = condition()
    return last


def psql(database_url: str, sql: str) -> list[list[str]]:
    """Runs SQL with the real psql; returns the rows as lists of text fields."""
    done = subprocess.run(
        ["psql", database_url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-F", "\t", "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def expstream_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The installed `expstream` console script (the one beside this interpreter)."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("expstream")), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
