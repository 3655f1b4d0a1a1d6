"""Hands an admitted WebSocket upgrade to the C++ core, which serves the stream from then on.

The route keeps the decisions: origin, token, caps, access. Once they all say yes (or only the
token is missing: then the core reads it from the first message and asks here), the TCP socket
leaves uvicorn: a duplicate of its descriptor goes to the core, uvicorn's transport is aborted (it
sends nothing), and the core answers the upgrade itself (101), so no client byte can be lost in
between. Every refusal at the upgrade and TLS (`uvicorn --ssl-*`: the bytes on the socket are not
ours to write) stay with WebSocketSession, which gives each its close code.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from expstream import _core
from expstream.access import stream_refusal
from expstream.auth import AuthError, Principal, token_from_connection
from expstream.deps import authenticate
from expstream.hub import CoreStream, Hub
from expstream.logs import event
from expstream.protocol import CloseCode, parse_seq
from expstream.service import CoreService
from expstream.settings import Settings
from expstream.ws_session import origin_allowed, transport_of

log = logging.getLogger("expstream.ws")


class _DeclinedHandshakeFilter(logging.Filter):
    """uvicorn logs a handed-over upgrade as refused (403), but its answer goes to a transport
    already gone and the core answers 101: the two lines it writes would only mislead."""

    ACCESS = '%s - "WebSocket %s" 403'  # uvicorn's line, with the client's host:port
    REJECTED = "connection rejected (%d %s)"  # then the websockets library's, without it

    def __init__(self) -> None:
        super().__init__()
        self.peers: set[str] = set()
        self.rejections = 0

    def expect(self, peer: str) -> None:
        if _uvicorn_log.isEnabledFor(logging.INFO):  # else no record comes to take it back
            self.peers.add(peer)
            self.rejections += 1

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.msg == self.ACCESS and args and args[0] in self.peers:
            self.peers.discard(str(args[0]))
            return False
        if record.msg == self.REJECTED and self.rejections and args and args[0] == 403:
            self.rejections -= 1
            return False
        return True


_uvicorn_log = logging.getLogger("uvicorn.error")
_declined = _DeclinedHandshakeFilter()
_uvicorn_log.addFilter(_declined)


async def hand_over(
    websocket: WebSocket, experiment_id: str, *, hub: Hub, service: CoreService, settings: Settings
) -> bool:
    """True: the core now serves this stream. False: nothing happened; serve it here."""
    transport = transport_of(websocket)
    if transport is None or websocket.scope.get("scheme") != "ws":
        return False
    sock = transport.get_extra_info("socket")
    if sock is None or not origin_allowed(websocket, settings.allowed_origins):
        return False
    try:
        eid = str(uuid.UUID(experiment_id))
    except ValueError:
        return False
    address = websocket.client.host if websocket.client else "unknown"
    if hub.streams_of_address(address) >= settings.ws_max_connections_per_address:
        return False
    token = token_from_connection(websocket, allow_query=True)
    principal: Principal | None = None
    if token is not None or settings.insecure_no_auth:
        try:
            principal = authenticate(settings, token)
        except AuthError:
            return False
        if hub.streams_of_token(principal) >= settings.ws_max_connections_per_token:
            return False
        if await stream_refusal(service, principal, eid) is not None:
            return False  # the session says why, with the close code
    # else the token comes as the first message: the core reads it, check_first_message decides.
    since = parse_seq(websocket.query_params.get("since_seq"))
    scope = websocket.scope
    target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
    fd = os.dup(sock.fileno())
    stream = hub.add_core_stream(principal, address, eid)
    transport.abort()  # closes uvicorn's descriptor only: the duplicate keeps the connection
    try:
        service.core.adopt_stream(
            fd, stream.id, eid, target, headers, -1 if since is None else since, principal is not None
        )
    except Exception:
        os.close(fd)
        hub.core_stream_ended(stream.id, 1011, [])
        raise
    if principal is not None:
        _log_connect(hub, stream, principal)
    # Declines uvicorn's side of the handshake: its answer goes to a transport that is already gone.
    _declined.expect(f"{address}:{websocket.client.port if websocket.client else 0}")
    await websocket.close()
    return True


def _log_connect(hub: Hub, stream: CoreStream, principal: Principal) -> None:
    event(
        log,
        "ws_connect",
        connection_id=stream.id,
        subject=principal.subject,
        address=stream.address,
        experiments=[stream.experiment_id],
        connections=hub.connection_count,
        served_by="core",
    )


def check_first_message(
    hub: Hub, service: CoreService, settings: Settings, connection_id: int, token: str
) -> None:
    """A stream the core serves sent {"action":"auth"}: the token is checked here, as at the
    upgrade; the stream is admitted, or closed with the code a session would give."""
    task = asyncio.get_running_loop().create_task(
        _check_first_message(hub, service, settings, connection_id, token)
    )
    _checks.add(task)
    task.add_done_callback(_check_done)


_checks: set[asyncio.Task[None]] = set()  # running checks (the loop keeps only weak references)


def _check_done(task: asyncio.Task[None]) -> None:
    _checks.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("checking a stream's first-message token failed", exc_info=exc)


async def _check_first_message(
    hub: Hub, service: CoreService, settings: Settings, connection_id: int, token: str
) -> None:
    stream = hub.core_stream(connection_id)
    if stream is None:
        return  # it ended meanwhile
    core, eid = service.core, stream.experiment_id
    try:
        principal = authenticate(settings, token)
    except AuthError as exc:
        core.close_stream(connection_id, CloseCode.UNAUTHORIZED, str(exc)[:120])
        return
    if hub.streams_of_token(principal) >= settings.ws_max_connections_per_token:
        core.close_stream(connection_id, CloseCode.TRY_AGAIN_LATER, "too many connections for this token")
        return
    refusal = await stream_refusal(service, principal, eid)
    if refusal is not None:
        code, error, message = refusal
        core.close_stream(connection_id, code, message[:120], _core.error_json(error, eid, message))
    elif hub.core_stream(connection_id) is stream:  # still open after the lookup
        hub.admit_core_stream(stream, principal)
        core.admit_stream(connection_id)
        _log_connect(hub, stream, principal)


def stream_ended(hub: Hub, connection_id: int, close_code: int, ignored: list[tuple[str, int]]) -> None:
    """The core closed or lost a stream it served: counts released, the end logged."""
    stream = hub.core_stream_ended(connection_id, close_code, ignored)
    if stream is None:
        return
    event(
        log,
        "ws_disconnect",
        connection_id=stream.id,
        subject=stream.principal.subject if stream.principal is not None else None,
        experiments=[stream.experiment_id],
        connections=hub.connection_count,
        close_code=close_code,
        duration_seconds=round(time.monotonic() - stream.opened_at, 3),
    )


# The one endpoint the core serves; everything else (and every stream not handed over) goes on to
# the app's routes.
_RESULTS_STREAM = re.compile(r"/api/v1/ws/experiments/([^/]+)/results")


class HandoverMiddleware:
    """Tries the handover before FastAPI routes the upgrade: its routing and dependency injection
    would be most of a connection's cost. A stream not handed over reaches the route unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and (match := _RESULTS_STREAM.fullmatch(scope["path"])):
            state = scope["app"].state
            hub = getattr(state, "hub", None)
            if hub is not None and await hand_over(
                WebSocket(scope, receive, send),
                match.group(1),
                hub=hub,
                service=state.service,
                settings=state.settings,
            ):
                return
        await self.app(scope, receive, send)
