"""Annotated dependency aliases for routes, including who is calling and what they may do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from expstream.auth import (
    INSECURE,
    AuthError,
    ForbiddenError,
    Principal,
    Scope,
    decode_token,
    token_from_connection,
)
from expstream.hub import Hub
from expstream.metrics import Metrics
from expstream.service import CoreService
from expstream.settings import Settings


async def get_settings(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.settings
    return settings


async def get_service(conn: HTTPConnection) -> CoreService:
    service: CoreService = conn.app.state.service
    return service


async def get_hub(conn: HTTPConnection) -> Hub:
    hub: Hub = conn.app.state.hub
    return hub


async def get_metrics(conn: HTTPConnection) -> Metrics:
    metrics: Metrics = conn.app.state.metrics
    return metrics


def authenticate(settings: Settings, token: str | None) -> Principal:
    if settings.insecure_no_auth:
        return INSECURE
    if token is None:
        raise AuthError("missing token: send Authorization: Bearer <token> or the expstream_token cookie")
    if settings.jwt_secret is None:
        raise AuthError("this server has no EXPSTREAM_JWT_SECRET and accepts no tokens")
    return decode_token(settings.jwt_secret.get_secret_value(), token)


async def get_principal(conn: HTTPConnection) -> Principal:
    return authenticate(conn.app.state.settings, token_from_connection(conn, allow_query=False))


async def get_stream_principal(conn: HTTPConnection) -> Principal:
    """Streams opened by browsers (EventSource) cannot set headers: ?token= is accepted too."""
    return authenticate(conn.app.state.settings, token_from_connection(conn, allow_query=True))


def require_scope(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    # async: FastAPI runs sync dependencies in its threadpool, a thread hop per request for a lookup.
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.has_scope(scope):
            raise ForbiddenError(f"this token's scope is {principal.scope}; {scope} is needed")
        return principal

    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[CoreService, Depends(get_service)]
HubDep = Annotated[Hub, Depends(get_hub)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ReaderDep = Annotated[Principal, Depends(require_scope("read"))]
WriterDep = Annotated[Principal, Depends(require_scope("write"))]
AdminDep = Annotated[Principal, Depends(require_scope("admin"))]
StreamReaderDep = Annotated[Principal, Depends(get_stream_principal)]
