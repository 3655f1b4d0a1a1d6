"""Bench-only variants of expstream's server, to measure levers the project has not built yet.
(Levers that landed in the product leave this file: async route dependencies, asyncio.timeout
per send.)

Nothing here is used by the product; it only answers "how much would this lever save". Import it
(with BENCH_LEVER set) before the server starts, then call apply(app) on the app; serve_lever.py
beside it does both and otherwise runs exactly like `expstream serve`.

BENCH_LEVER is a comma list of:

  prebuilt  uvicorn's websockets-sansio protocol sends a text message by writing a frame built once
            per snapshot (cached by payload identity) instead of framing it for every connection.
  direct    Hub.deliver writes that prebuilt frame straight to every WebSocket subscriber whose
            outbox is idle, synchronously: no writer-task wake-up, no asyncio.wait_for, no ASGI send
            chain per subscriber. A subscriber with queued messages, a paused transport or another
            transport (SSE, long-poll) still goes through its outbox as today. Includes prebuilt.
  gc        Python's cyclic garbage collector tuned for many long-lived objects: gc.freeze() once
            a second moves everything that survived into the permanent generation (collections stop
            rescanning 10,000 connections' objects), and gen-0 runs every 50,000 allocations.
  nogc      the cyclic collector off (an upper bound of what the GC costs; not for production).
"""

from __future__ import annotations

import asyncio
import gc
import os
from contextlib import asynccontextmanager
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets import websockets_sansio_impl as sansio

from expstream import hub as hub_module
from expstream import ws_session
from expstream.service import Delivery, DeliveryKind

LEVERS = {x.strip() for x in os.environ.get("BENCH_LEVER", "").split(",") if x.strip()}
if "direct" in LEVERS:
    LEVERS.add("prebuilt")

# ---------------------------------------------------------------------------------------------
# prebuilt / direct

_cache: tuple[str, bytes] | None = None


def frame(text: str) -> bytes:
    """One unmasked text frame; the bytes are reused while the same payload object is broadcast."""
    global _cache
    cached = _cache
    if cached is not None and cached[0] is text:
        return cached[1]
    data = text.encode()
    n = len(data)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    built = header + data
    _cache = (text, built)
    return built


Protocol = sansio.WebSocketsSansIOProtocol
_original_send = Protocol.send

if "prebuilt" in LEVERS:

    async def _send(self: Any, message: Any) -> None:
        text = message.get("text") if message["type"] == "websocket.send" else None
        if (
            text is not None
            and self.handshake_complete
            and not self.close_sent
            and self.initial_response is None
        ):
            await self.writable.wait()
            if self.disconnected:
                raise ClientDisconnected()
            self.transport.write(frame(text))
            return
        await _original_send(self, message)

    Protocol.send = _send

_protocols: dict[int, Any] = {}  # subscriber id -> uvicorn protocol of its WebSocket

if "direct" in LEVERS:
    _original_write_loop = ws_session.WebSocketSession._write_loop

    async def _write_loop(self: Any) -> None:
        proto = getattr(getattr(self.ws, "_receive", None), "__self__", None)  # uvicorn owns receive
        if self.sub is not None and isinstance(proto, Protocol):
            _protocols[self.sub.id] = proto
        try:
            await _original_write_loop(self)
        finally:
            if self.sub is not None:
                _protocols.pop(self.sub.id, None)

    ws_session.WebSocketSession._write_loop = _write_loop
    _original_deliver = hub_module.Hub.deliver

    def _deliver(self: Any, delivery: Delivery) -> None:
        if delivery.kind is not DeliveryKind.SNAPSHOT or delivery.target:
            _original_deliver(self, delivery)
            return
        eid, seq = delivery.experiment_id, delivery.seq
        data = frame(delivery.payload)
        sent = self._metrics.messages_sent.labels("websocket")
        for sid in self._core.subscribers(eid):
            sub = self._subscribers.get(sid)
            if sub is None:
                continue
            outbox = sub.outbox
            proto = _protocols.get(sid)
            if (
                proto is not None
                and not outbox._snapshots
                and not outbox._control
                and outbox._close is None
                and proto.writable.is_set()
                and not proto.close_sent
                and not proto.transport.is_closing()
            ):
                if seq <= outbox._floor.get(eid, -1) or seq < outbox._sent.get(eid, -1):
                    continue
                proto.transport.write(data)
                outbox._sent[eid] = seq
                sent.inc()
            else:
                outbox.put_snapshot(eid, seq, delivery.payload)

    hub_module.Hub.deliver = _deliver

# ---------------------------------------------------------------------------------------------
# gc / nogc

if "nogc" in LEVERS:
    gc.disable()


def apply(app: Any) -> Any:
    """App-level parts of the levers (call once on the app that will be served)."""
    if "gc" in LEVERS:
        gc.set_threshold(50_000, 20, 20)
        original = app.router.lifespan_context

        async def freezer() -> None:
            while True:
                await asyncio.sleep(1.0)
                gc.freeze()

        @asynccontextmanager
        async def lifespan(a: Any) -> Any:
            async with original(a):
                task = asyncio.create_task(freezer())
                try:
                    yield
                finally:
                    task.cancel()

        app.router.lifespan_context = lifespan
    return app
