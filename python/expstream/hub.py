"""Bridges core deliveries to live sockets.

Every connection has its own writer task and a small outbox that keeps only the newest snapshot,
so a client that stops reading costs one slot of memory and never delays anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque

from starlette.websockets import WebSocket

from expstream import _core
from expstream.service import Delivery, DeliveryKind

log = logging.getLogger("expstream.hub")

# Control messages (pongs, errors) are few and small; past this many unsent, the oldest go.
CONTROL_QUEUE_LIMIT = 16
CLOSE_NOT_FOUND = 4404


class Outbox:
    """One slot for the newest snapshot, a short queue of control messages, and a close request."""

    def __init__(self) -> None:
        self._snapshot: str | None = None
        self._snapshot_seq = -1
        self._sent_seq = -1
        self._control: deque[str] = deque(maxlen=CONTROL_QUEUE_LIMIT)
        self._close: tuple[int, str] | None = None
        self._ready = asyncio.Event()

    def put_snapshot(self, seq: int, payload: str) -> None:
        # Never go back in time: a snapshot older than one already queued or sent is dropped.
        if seq < self._snapshot_seq or seq < self._sent_seq:
            return
        self._snapshot, self._snapshot_seq = payload, seq
        self._ready.set()

    def put_control(self, payload: str) -> None:
        self._control.append(payload)
        self._ready.set()

    def close(self, code: int, reason: str) -> None:
        if self._close is None:
            self._close = (code, reason)
        self._ready.set()

    async def take(self) -> tuple[list[str], tuple[int, str] | None]:
        """Waits for something to send; returns the messages in order and any close request."""
        await self._ready.wait()
        self._ready.clear()
        messages = list(self._control)
        self._control.clear()
        if self._snapshot is not None:
            messages.append(self._snapshot)
            self._sent_seq = self._snapshot_seq
            self._snapshot = None
        return messages, self._close


class Connection:
    def __init__(self, connection_id: int, websocket: WebSocket, experiment_id: str) -> None:
        self.id = connection_id
        self.websocket = websocket
        self.experiment_id = experiment_id
        self.outbox = Outbox()
        self.writer: asyncio.Task[None] | None = None

    async def write_loop(self) -> None:
        try:
            while True:
                messages, close = await self.outbox.take()
                for text in messages:
                    await self.websocket.send_text(text)
                if close is not None:
                    await self.websocket.close(code=close[0], reason=close[1])
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away mid-send; the reader sees the disconnect
            log.debug("writer of connection %d stopped: %r", self.id, exc)


class Hub:
    def __init__(self, core: _core.Service) -> None:
        self._core = core
        self._connections: dict[int, Connection] = {}
        self._ids = itertools.count(1)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def open(self, websocket: WebSocket, experiment_id: str) -> Connection:
        conn = Connection(next(self._ids), websocket, experiment_id)
        self._connections[conn.id] = conn
        self._core.subscribe(experiment_id, conn.id)
        conn.writer = asyncio.create_task(conn.write_loop(), name=f"ws-writer-{conn.id}")
        return conn

    async def close(self, conn: Connection) -> None:
        """The one place a connection is dropped: registry, table and writer together."""
        if self._connections.pop(conn.id, None) is None:
            return
        self._core.unsubscribe(conn.experiment_id, conn.id)
        if conn.writer is not None:
            conn.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conn.writer

    def deliver(self, delivery: Delivery) -> None:
        if delivery.target:
            conn = self._connections.get(delivery.target)
            targets = [conn] if conn is not None else []
        else:
            targets = [
                c for cid in self._core.subscribers(delivery.experiment_id) if (c := self._connections.get(cid))
            ]
        for conn in targets:
            if delivery.kind is DeliveryKind.SNAPSHOT:
                conn.outbox.put_snapshot(delivery.seq, delivery.payload)
            elif delivery.kind is DeliveryKind.NOT_FOUND:
                conn.outbox.put_control(delivery.payload)
                conn.outbox.close(CLOSE_NOT_FOUND, "experiment not found")
            else:
                conn.outbox.put_control(delivery.payload)

    async def close_all(self, code: int, reason: str) -> None:
        for conn in list(self._connections.values()):
            conn.outbox.close(code, reason)
        writers = [c.writer for c in self._connections.values() if c.writer is not None]
        if writers:
            await asyncio.wait(writers, timeout=5)
