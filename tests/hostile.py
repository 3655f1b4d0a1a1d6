"""Generic helpers for abuse and fault tests: a raw RFC 6455 client, many cheap watchers, /proc readings.

RawWebSocket speaks the protocol byte by byte so that a test can send what no real client library
would (unmasked frames, reserved bits, unknown opcodes, fragmented pings, broken UTF-8, lying
lengths). Watchers keeps many well-behaved subscribers on one asyncio loop in a thread of its own,
so a hundred of them cost one thread and a few sockets.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


# -- one raw connection ----------------------------------------------------------------------------
def upgrade_request(port: int, path: str, key: str | None = None, extra: str = "") -> bytes:
    key = key or base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()


def encode_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    declared_length: int | None = None,
) -> bytes:
    """One frame as a client would send it; rsv is the 3 reserved bits (0-7); declared_length lies
    about the payload length when given."""
    length = len(payload) if declared_length is None else declared_length
    head = bytes([(0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)])
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode != OP_CLOSE:
            return None
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else 1005

    @property
    def text(self) -> str:
        return self.payload.decode()


class ConnectionEnded(Exception):
    """The peer closed the TCP connection (FIN or RST) without a frame we could read."""


class RawWebSocket:
    """A client on a plain socket: handshake, then frames exactly as the caller builds them."""

    def __init__(
        self, port: int, path: str, *, rcvbuf: int | None = None, timeout: float = 15.0, headers: str = ""
    ) -> None:
        self.port = port
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self._buffer = b""
        self.handshake = self._handshake(path, headers)

    def _handshake(self, path: str, headers: str) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(upgrade_request(self.port, path, key, headers))
        while b"\r\n\r\n" not in self._buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionEnded("closed during the handshake: " + repr(self._buffer))
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 101"):
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest())
            assert b"sec-websocket-accept: " + accept.lower() in head.lower(), head
        return head

    @property
    def upgraded(self) -> bool:
        return self.handshake.startswith(b"HTTP/1.1 101")

    def send_raw(self, data: bytes) -> bool:
        """False when the peer has already gone (it may close first: that is allowed)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def send(self, opcode: int, payload: bytes = b"", **kwargs: Any) -> bool:
        return self.send_raw(encode_frame(opcode, payload, **kwargs))

    def send_text(self, text: str) -> bool:
        return self.send(OP_TEXT, text.encode())

    def _read_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError as exc:
                raise ConnectionEnded("reset") from exc
            if not chunk:
                raise ConnectionEnded("closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def recv_frame(self) -> Frame:
        b0, b1 = self._read_exact(2)
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read_exact(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read_exact(8))[0]
        key = self._read_exact(4) if b1 & 0x80 else None
        payload = self._read_exact(length)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload)

    def recv_json(self) -> dict[str, Any]:
        """The next text frame as JSON, answering pings on the way."""
        while True:
            frame = self.recv_frame()
            if frame.opcode == OP_PING:
                self.send(OP_PONG, frame.payload)
            elif frame.opcode == OP_TEXT:
                message: dict[str, Any] = json.loads(frame.payload)
                return message
            elif frame.opcode == OP_CLOSE:
                raise ConnectionEnded(f"close frame {frame.close_code}")

    def close_code(self) -> int | None:
        """Reads until the server's close frame; its code, or None when the TCP connection ended first.
        Answers the close (echo) like a well-behaved client."""
        try:
            while True:
                frame = self.recv_frame()
                if frame.opcode == OP_CLOSE:
                    self.send(OP_CLOSE, frame.payload[:2])
                    return frame.close_code
        except (ConnectionEnded, TimeoutError, OSError):
            return None

    def reset(self) -> None:
        """Drops the connection with a TCP RST (SO_LINGER 0) instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_peer_closed(sock: socket.socket, timeout: float = 15.0) -> bool:
    """True once the peer has ended the connection (EOF or reset), reading and discarding data."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if readable:
            try:
                if not sock.recv(65536):
                    return True
            except OSError:
                return True
    return False


def reset_socket(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- many watchers ---------------------------------------------------------------------------------
@dataclass
class Watcher:
    index: int
    snapshots: list[tuple[int, int]] = field(default_factory=list)  # (seq, total_participants)
    closed: str | None = None  # why the connection ended, if it did

    @property
    def latest(self) -> tuple[int, int]:
        return self.snapshots[-1] if self.snapshots else (-1, -1)


class Watchers:
    """n subscribers of one experiment on one asyncio loop in a thread; each records what it got."""

    def __init__(self, url_for: Callable[[int], str], n: int) -> None:
        self._url_for = url_for
        self.watchers = [Watcher(i) for i in range(n)]
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="watchers", daemon=True)
        self._tasks: list[asyncio.Task[None]] = []
        self._stop: asyncio.Event | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=120)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _start(self) -> None:
        self._stop = asyncio.Event()
        opened: list[asyncio.Future[None]] = []
        for w in self.watchers:
            ready: asyncio.Future[None] = self._loop.create_future()
            opened.append(ready)
            self._tasks.append(asyncio.create_task(self._watch(w, ready)))
        await asyncio.gather(*opened)

    async def _watch(self, w: Watcher, ready: asyncio.Future[None]) -> None:
        from websockets.asyncio.client import connect

        try:
            async with connect(
                self._url_for(w.index), open_timeout=60, ping_interval=None, max_size=2**20
            ) as ws:
                ready.set_result(None)
                assert self._stop is not None
                stop = asyncio.ensure_future(self._stop.wait())
                try:
                    while True:
                        recv = asyncio.ensure_future(ws.recv())
                        done, _ = await asyncio.wait({recv, stop}, return_when=asyncio.FIRST_COMPLETED)
                        if stop in done:
                            recv.cancel()
                            return
                        message = json.loads(recv.result())
                        if message.get("event") == "results_update":
                            with self._changed:
                                w.snapshots.append((int(message["seq"]), int(message["total_participants"])))
                                self._changed.notify_all()
                finally:
                    stop.cancel()
        except Exception as exc:  # noqa: BLE001 - recorded, and the test fails on it
            if not ready.done():
                ready.set_exception(exc)
            with self._changed:
                w.closed = repr(exc)
                self._changed.notify_all()

    async def _shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def wait_all(self, predicate: Callable[[Watcher], bool], timeout: float = 60) -> None:
        """Until every watcher satisfies predicate; fails at once when one has lost its connection."""

        def settled() -> bool:
            return all(predicate(w) or w.closed for w in self.watchers)

        with self._changed:
            self._changed.wait_for(settled, timeout)
            lost = [(w.index, w.closed) for w in self.watchers if w.closed]
            behind = [(w.index, w.latest) for w in self.watchers if not predicate(w) and not w.closed]
        assert not lost, f"watchers lost their connection: {lost[:5]}"
        assert not behind, f"{len(behind)} watchers never got the update; e.g. {behind[:5]}"

    def check_in_order(self) -> None:
        """No watcher ever went back in time."""
        for w in self.watchers:
            seqs = [s for s, _ in w.snapshots]
            assert seqs == sorted(seqs), f"watcher {w.index} got seqs out of order: {seqs}"


# -- /proc ------------------------------------------------------------------------------------------
def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def poll_until(
    condition: Callable[[], Any], timeout: float = 30, interval: float = 0.05, what: str = ""
) -> Any:
    """Polls a condition with a deadline (for state that has no event to await); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(interval)


# -- PostgreSQL and the CLI ---------------------------------------------------------------------------
def psql_rows(database_url: str, sql: str) -> list[list[str]]:
    """Runs SQL with the real psql (unaligned, tuples only); the rows as lists of text fields."""
    done = subprocess.run(
        ["psql", database_url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-F", "\t", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines() if line]
