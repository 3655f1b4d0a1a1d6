"""Bench-only variants of expstream's server, to measure levers the project has not built yet.

Nothing here is used by the product; it only answers "how much would this lever save". Import it
(with BENCH_LEVER set) before the server starts, then call apply(app) on the app; serve_lever.py
beside it does both and otherwise runs exactly like `expstream serve`.

BENCH_LEVER is a comma list of:

  asyncdeps the route dependencies of expstream.deps (settings, service, hub, metrics, the
            principal and the scope checks) as coroutines: FastAPI then awaits them inline instead
            of running each in its threadpool (today every WebSocket accept makes 4 thread hops and
            every ingest call 4-5).
  prebuilt  uvicorn's websockets-sansio protocol sends a text message by writing a frame built once
            per snapshot (cached by payload identity) instead of framing it for every connection.
  direct    Hub.deliver writes that prebuilt frame straight to every WebSocket subscriber whose
            outbox is idle, synchronously: no writer-task wake-up, no asyncio.wait_for, no ASGI send
            chain per subscriber. A subscriber with queued messages, a paused transport or another
            transport (SSE, long-poll) still goes through its outbox as today. Includes prebuilt.
  timeoutctx
            WebSocketSession._write_loop bounds each send with `async with asyncio.timeout()`
            (Python 3.11+) instead of `asyncio.wait_for()`, which on 3.11 wraps every send in a new
            Task plus a timer. Same semantics: a send that takes longer than the bound closes 1013.
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

from starlette.requests import HTTPConnection
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets import websockets_sansio_impl as sansio

from expstream import deps, ws_session
from expstream import hub as hub_module
from expstream.auth import ForbiddenError
from expstream.service import Delivery, DeliveryKind

LEVERS = {x.strip() for x in os.environ.get("BENCH_LEVER", "").split(",") if x.strip()}
if "direct" in LEVERS:
    LEVERS.add("prebuilt")

# ---------------------------------------------------------------------------------------------
# asyncdeps: swap the code of the dependency functions the routes already hold (expstream/__init__
# imports the app, so the routes exist before this module runs). FastAPI decides "threadpool or
# await" per callable at the first request.

if "asyncdeps" in LEVERS:

    async def _settings(conn: HTTPConnection) -> Any:
        return conn.app.state.settings

    async def _service(conn: HTTPConnection) -> Any:
        return conn.app.state.service

    async def _hub(conn: HTTPConnection) -> Any:
        return conn.app.state.hub

    async def _metrics(conn: HTTPConnection) -> Any:
        return conn.app.state.metrics

    async def _principal(conn: HTTPConnection) -> Any:
        return authenticate(conn.app.state.settings, token_from_connection(conn, allow_query=False))  # noqa: F821

    async def _stream_principal(conn: HTTPConnection) -> Any:
        return authenticate(conn.app.state.settings, token_from_connection(conn, allow_query=True))  # noqa: F821

    def _make_check(scope: str) -> Any:
        async def check(principal: Any) -> Any:
            if not principal.has_scope(scope):
                raise ForbiddenError(f"this token's scope is {principal.scope}; {scope} is needed")
            return principal

        return check

    for name, replacement in (
        ("get_settings", _settings),
        ("get_service", _service),
        ("get_hub", _hub),
        ("get_metrics", _metrics),
        ("get_principal", _principal),
        ("get_stream_principal", _stream_principal),
    ):
        fn = getattr(deps, name, None)
        if fn is not None:
            fn.__code__ = replacement.__code__  # globals stay deps'; names used above live there
    for alias in ("ReaderDep", "WriterDep", "AdminDep"):
        dep = getattr(deps, alias, None)
        check = getattr(dep.__metadata__[0], "dependency", None) if dep is not None else None
        if check is not None and check.__code__.co_freevars == ("scope",):
            check.__code__ = _make_check("x").__code__

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
# timeoutctx: ws_session._write_loop with asyncio.timeout() instead of asyncio.wait_for()

if "timeoutctx" in LEVERS:

    async def _write_loop_timeout(self: Any) -> None:
        assert self.sub is not None
        sent = self.metrics.messages_sent.labels("websocket")
        timeout = self.settings.ws_send_timeout_seconds
        try:
            while True:
                messages, close = await self.sub.outbox.take()
                for message in messages:
                    async with asyncio.timeout(timeout):
                        await self.ws.send_text(message.text)
                    sent.inc()
                if close is not None:
                    self.close_code = close[0]
                    async with asyncio.timeout(timeout):
                        await self.ws.close(code=close[0], reason=close[1])
                    return
        except TimeoutError:
            self.close_code = ws_session.CLOSE_TRY_AGAIN_LATER
            ws_session._abort(self.ws)
        except hub_module.OutboxStopped:
            return
        except (ws_session.WebSocketDisconnect, RuntimeError, OSError) as exc:
            ws_session.log.debug("writer of connection %d stopped: %r", self.sub.id, exc)

    if "direct" in LEVERS:
        # The direct lever's wrapper (installed above) calls whatever this global names at call time.
        _original_write_loop = _write_loop_timeout
    else:
        ws_session.WebSocketSession._write_loop = _write_loop_timeout

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
