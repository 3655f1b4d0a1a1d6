"""One WebSocket connection: origin, authentication, limits, subscriptions, and its writer.

Reading and writing run side by side: the reader notices a dead client and enforces limits, the
writer drains the outbox. The connection is dropped from the hub in exactly one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import uuid
from collections import deque
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from expstream import _core
from expstream.access import stream_refusal
from expstream.auth import AuthError, Principal, token_from_connection
from expstream.deps import authenticate
from expstream.hub import Hub, OutboxStopped, Subscriber
from expstream.logs import event
from expstream.metrics import Metrics
from expstream.protocol import CloseCode, parse_seq
from expstream.service import CoreService
from expstream.settings import Settings

log = logging.getLogger("expstream.ws")

PONG = _core.pong_json()
A = _core.ClientAction


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Against cross-site WebSocket hijacking: a browser page of another site may not connect."""
    origin = websocket.headers.get("origin")
    if origin is None or "*" in allowed:
        return True  # not a browser, or explicitly open
    origin = origin.rstrip("/")
    if origin in allowed:
        return True
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()


def _error(code: str, experiment_id: str | None, message: str) -> str:
    return _core.error_json(code, experiment_id or "", message)


class _Closed(Exception):
    """Ends the session after a close was requested."""


class WebSocketSession:
    def __init__(
        self,
        websocket: WebSocket,
        *,
        hub: Hub,
        service: CoreService,
        settings: Settings,
        metrics: Metrics,
        experiment_id: str | None,
    ) -> None:
        self.ws = websocket
        self.hub = hub
        self.service = service
        self.settings = settings
        self.metrics = metrics
        self.fixed_experiment = experiment_id  # None: the multiplexed endpoint
        self.sub: Subscriber | None = None
        self.close_code: int | None = None
        self._recent: deque[float] = deque()
        self._opened = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self) -> None:
        if not origin_allowed(self.ws, self.settings.allowed_origins):
            self.metrics.close_codes.labels("origin_refused").inc()
            await self.ws.close(code=CloseCode.POLICY_VIOLATION)  # before accept: the handshake gets 403
            return
        await self.ws.accept()
        _limit_send_buffer(self.ws, self.settings.ws_send_buffer_bytes)
        address = self.ws.client.host if self.ws.client else "unknown"
        writer: asyncio.Task[None] | None = None
        try:
            if self.fixed_experiment is not None:
                try:
                    self.fixed_experiment = str(uuid.UUID(self.fixed_experiment))
                except ValueError:
                    await self._close(CloseCode.POLICY_VIOLATION, "experiment id must be a UUID")
                    return
            if self.hub.streams_of_address(address) >= self.settings.ws_max_connections_per_address:
                await self._close(CloseCode.TRY_AGAIN_LATER, "too many connections from this address")
                return
            principal = await self._authenticate()
            if principal is None:
                return
            if self.hub.streams_of_token(principal) >= self.settings.ws_max_connections_per_token:
                await self._close(CloseCode.TRY_AGAIN_LATER, "too many connections for this token")
                return
            self.sub = self.hub.add(
                principal, address, "websocket", close_on_not_found=self.fixed_experiment is not None
            )
            writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.sub.id}")
            event(
                log,
                "ws_connect",
                connection_id=self.sub.id,
                subject=principal.subject,
                address=address,
                experiments=[self.fixed_experiment] if self.fixed_experiment else [],
                connections=self.hub.connection_count,
            )
            if self.fixed_experiment is not None:
                since = self.ws.query_params.get("since_seq")
                if not await self._subscribe(self.fixed_experiment, parse_seq(since), fatal=True):
                    return
            else:
                self.sub.outbox.put_control(
                    json.dumps(
                        {
                            "event": "connected",
                            "connection_id": str(self.sub.id),
                            "server_time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                        }
                    )
                )
            await self._read_loop()
        except _Closed:
            pass
        except WebSocketDisconnect as exc:
            self.close_code = self.close_code or exc.code
        finally:
            if writer is not None:
                if self.sub is not None and self.sub.outbox.closing:
                    # Let the writer send what it has and the close frame, within the send bound.
                    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                        await asyncio.wait_for(asyncio.shield(writer), self.settings.ws_send_timeout_seconds)
                if self.sub is not None:
                    self.sub.outbox.stop()
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            if self.sub is not None:
                experiments = sorted(self.sub.experiments)
                self.hub.remove(self.sub)
                event(
                    log,
                    "ws_disconnect",
                    connection_id=self.sub.id,
                    subject=self.sub.principal.subject,
                    experiments=experiments,
                    connections=self.hub.connection_count,
                    close_code=self.close_code,
                    duration_seconds=round(time.monotonic() - self._opened, 3),
                )
            self.metrics.close_codes.labels(str(self.close_code or 1005)).inc()

    async def _close(self, code: int, reason: str) -> None:
        self.close_code = code
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, reason=reason)

    def _request_close(self, code: int, reason: str) -> None:
        """Close after what is already queued: the writer sends it, then the close frame."""
        self.close_code = code
        if self.sub is not None:
            self.sub.outbox.close(code, reason)
        raise _Closed

    # -- authentication ----------------------------------------------------------------------
    async def _authenticate(self) -> Principal | None:
        token = token_from_connection(self.ws, allow_query=True)
        if token is None and not self.settings.insecure_no_auth:
            token = await self._token_from_first_message()
            if token is None:
                await self._close(CloseCode.UNAUTHORIZED, "authentication required")
                return None
        try:
            return authenticate(self.settings, token)
        except AuthError as exc:
            await self._close(CloseCode.UNAUTHORIZED, str(exc)[:120])
            return None

    async def _token_from_first_message(self) -> str | None:
        try:
            message = await asyncio.wait_for(self.ws.receive(), self.settings.ws_auth_timeout_seconds)
        except TimeoutError:
            return None
        text = message.get("text")
        if message["type"] != "websocket.receive" or text is None:
            return None
        if _size(text) > self.settings.ws_max_message_bytes:
            await self._close(CloseCode.TOO_BIG, self._too_big_reason)
            raise _Closed
        action, _reason, _experiment, token, _seq, _dimension = self._parse(text)
        return token if action == A.AUTH and token else None

    # -- subscriptions -----------------------------------------------------------------------
    async def _subscribe(
        self, experiment_id: str, after_seq: int | None, *, fatal: bool, dimension: str | None = None
    ) -> bool:
        assert self.sub is not None
        try:
            experiment_id = str(uuid.UUID(experiment_id))
        except ValueError:
            return self._refuse(
                CloseCode.POLICY_VIOLATION,
                "invalid_experiment_id",
                experiment_id,
                "experiment id must be a UUID",
                fatal,
            )
        refusal = await stream_refusal(self.service, self.sub.principal, experiment_id)
        if refusal is not None:
            close_code, code, message = refusal
            return self._refuse(close_code, code, experiment_id, message, fatal)
        if self.fixed_experiment is None:
            self.sub.outbox.put_control(
                json.dumps({"event": "subscription_confirmed", "experiment_id": experiment_id})
            )
        self.hub.subscribe(self.sub, experiment_id, after_seq=after_seq, dimension=dimension)
        return True

    def _refuse(self, close_code: int, code: str, experiment_id: str, message: str, fatal: bool) -> bool:
        assert self.sub is not None
        self.sub.outbox.put_control(_error(code, experiment_id, message))
        if fatal:
            self._request_close(close_code, message[:120])
        return False

    # -- reading -----------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        assert self.sub is not None
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self.close_code = self.close_code or message.get("code", 1005)
                return
            self._count_message()
            text = message.get("text")
            if text is None:
                self.metrics.client_messages_ignored.labels("binary").inc()
                continue
            if _size(text) > self.settings.ws_max_message_bytes:
                self._request_close(CloseCode.TOO_BIG, self._too_big_reason)
            await self._handle(text)

    @property
    def _too_big_reason(self) -> str:
        return f"messages are limited to {self.settings.ws_max_message_bytes} bytes"

    def _parse(self, text: str) -> tuple[_core.ClientAction, str, str, str, int | None, str]:
        return _core.parse_client_message(text, self.settings.ws_max_message_bytes)

    def _count_message(self) -> None:
        now = time.monotonic()
        window = self.settings.ws_rate_limit_window_seconds
        while self._recent and self._recent[0] <= now - window:
            self._recent.popleft()
        self._recent.append(now)
        if len(self._recent) > self.settings.ws_rate_limit_messages:
            self._request_close(CloseCode.POLICY_VIOLATION, "rate limit exceeded")

    async def _handle(self, text: str) -> None:
        assert self.sub is not None
        action, reason, experiment_id, _token, seq, dimension = self._parse(text)
        target = experiment_id or self.fixed_experiment or ""
        if action == A.PING:
            self.sub.outbox.put_control(PONG)
        elif action == A.REFRESH and target in self.sub.experiments:
            self.hub.refresh(self.sub, target)
        elif action == A.SUBSCRIBE and self.fixed_experiment is None:
            await self._subscribe(experiment_id, None, fatal=False, dimension=dimension)
        elif action == A.UNSUBSCRIBE and self.fixed_experiment is None:
            self.hub.unsubscribe(self.sub, experiment_id)
        elif action == A.RESUME and (self.fixed_experiment is None or target == self.fixed_experiment):
            await self._subscribe(target, seq, fatal=self.fixed_experiment is not None)
        else:
            self.metrics.client_messages_ignored.labels(reason or "not_applicable").inc()

    # -- writing -----------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        assert self.sub is not None
        sent = self.metrics.messages_sent.labels("websocket")
        timeout = self.settings.ws_send_timeout_seconds
        try:
            while True:
                messages, close = await self.sub.outbox.take()
                # asyncio.timeout, not wait_for: wait_for makes a task per send, half the loop's time
                # in a broadcast (bench/ profile), and on 3.11 it can swallow a cancellation.
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
            # A reader too slow to take one message within the bound: close it rather than buffer.
            self.close_code = CloseCode.TRY_AGAIN_LATER
            _abort(self.ws)
        except OutboxStopped:
            return
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            log.debug("writer of connection %d stopped: %r", self.sub.id, exc)


def transport_of(websocket: WebSocket) -> asyncio.Transport | None:
    """uvicorn's protocol object owns the receive callable and the transport (Starlette wraps send,
    not receive); ASGI itself exposes neither."""
    for channel in (websocket._receive, websocket._send):
        transport = getattr(getattr(channel, "__self__", None), "transport", None)
        if transport is not None:
            return transport  # type: ignore[no-any-return]
    return None


def _abort(websocket: WebSocket) -> bool:
    """Drops the TCP connection at once: a peer that does not read would never take a close frame."""
    transport = transport_of(websocket)
    if transport is None:
        log.warning("cannot abort a stalled connection: the server exposes no transport")
        return False
    transport.abort()
    return True


def _limit_send_buffer(websocket: WebSocket, size: int) -> None:
    """A fixed kernel send buffer: left to autotuning, a client that stops reading pins up to
    tcp_wmem's maximum (4 MiB) and its sends block only once that is full, long after the
    send timeout should have caught it."""
    transport = transport_of(websocket)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def _size(text: str) -> int:
    """A message's size as the limit counts it: UTF-8 bytes, as on the wire."""
    return len(text.encode())
