"""create_app(): the FastAPI application; `app` is what `uvicorn expstream.app:app` serves."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from expstream import _core, background, handover
from expstream.auth import AuthError, ForbiddenError
from expstream.background import BackgroundTask
from expstream.breakdown_feed import BreakdownFeed
from expstream.embedded_db import EmbeddedPostgres
from expstream.hub import Hub
from expstream.metrics import Metrics
from expstream.protocol import CloseCode
from expstream.routes import experiments, health, results, stream, webhooks
from expstream.service import (
    ConflictError,
    CoreService,
    DatabaseUnavailableError,
    ExperimentNotFoundError,
    InvalidInputError,
    StoreError,
)
from expstream.settings import Settings
from expstream.web import find_dashboard, mount_dashboard
from expstream.webhook_sender import WebhookSender

log = logging.getLogger("expstream")

_STORE_ERROR_STATUS: dict[type[Exception], int] = {
    ExperimentNotFoundError: status.HTTP_404_NOT_FOUND,
    InvalidInputError: 422,
    ConflictError: status.HTTP_409_CONFLICT,
    DatabaseUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
}


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    code = _STORE_ERROR_STATUS.get(type(exc))
    if code is None:
        # Unexpected: the database's own words (SQL, table names) stay in our log, not the client's.
        log.error("store call failed", extra={"fields": {"path": request.url.path, "error": str(exc)}})
        return JSONResponse({"detail": "internal error"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return JSONResponse({"detail": str(exc)}, status_code=code)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422, minus the echoed input: input that failed to validate may not even be
    encodable as JSON (lone surrogates, NaN), which would turn a 422 into a 500."""
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in error.items() if k != "input"} for error in exc.errors()]
    return JSONResponse(
        {"detail": jsonable_encoder(errors, custom_encoder={float: _finite_or_text})}, status_code=422
    )


def _finite_or_text(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


async def _auth_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


async def _forbidden(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=403)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    embedded: EmbeddedPostgres | None = None
    database_url = settings.database_url
    if database_url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        database_url = await asyncio.to_thread(embedded.start)
    core = _core.Service(
        database_url,
        threads=settings.core_threads,
        tick_seconds=settings.stream_interval_seconds,
        min_push_seconds=settings.push_min_interval_seconds,
        alpha=settings.significance_level,
        method=settings.stats_method,
        sequential_tuning=settings.sequential_tuning,
        correction=settings.correction,
        node_id=settings.process_node_id,
        presence_seconds=settings.node_heartbeat_seconds,
        listen=True,
    )
    # WebSocket streams the routes admit are served by the core from then on (handover.py).
    core.serve_streams(
        max_message_bytes=settings.ws_max_message_bytes,
        rate_limit_messages=settings.ws_rate_limit_messages,
        rate_limit_window_seconds=settings.ws_rate_limit_window_seconds,
        send_timeout_seconds=settings.ws_send_timeout_seconds,
        send_buffer_bytes=settings.ws_send_buffer_bytes,
        # Beast pings a peer silent for half of this, and drops it when silent for all of it.
        idle_timeout_seconds=settings.ws_ping_interval_seconds + settings.ws_ping_timeout_seconds,
        handshake_timeout_seconds=settings.ws_auth_timeout_seconds,
        auth_timeout_seconds=settings.ws_auth_timeout_seconds,
    )
    try:
        await asyncio.to_thread(core.migrate)
        metrics: Metrics = app.state.metrics
        metrics.core = core
        hub = Hub(core, metrics)
        # Webhooks: their own connections, so a slow receiver or a busy sender never waits on (or
        # holds up) the snapshots' pool.
        webhook_store = core.webhook_store(pool_size=2)
        sender = WebhookSender(webhook_store, settings, settings.process_node_id)
        service = CoreService(
            core,
            hub.deliver,
            on_outbox=sender.wake,
            on_stream_ended=functools.partial(handover.stream_ended, hub),
        )
        service.on_stream_auth = functools.partial(handover.check_first_message, hub, service, settings)
        feed = hub.breakdowns = BreakdownFeed(service.breakdown, hub)
        app.state.hub, app.state.service = hub, service
        app.state.webhook_store, app.state.webhook_sender = webhook_store, sender
        tasks = [*app.state.background_tasks, BackgroundTask("webhook-sender", sender.run)]
        running = background.start(tasks, service, app.state.request_exit)
        try:
            yield
        finally:
            await background.stop(running)
            await feed.stop()
            await hub.close_all(
                CloseCode.GOING_AWAY, "server shutting down", settings.shutdown_timeout_seconds
            )
            service.close()
    finally:
        core.stop()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="expstream",
        summary="Live A/B-experiment results streamed over WebSocket",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings or Settings()
    app.state.metrics = Metrics()
    app.state.background_tasks = []  # background.BackgroundTask: run while serving
    app.state.request_exit = None  # set by `expstream serve|demo`: stops the server with an exit status
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(ForbiddenError, _forbidden)
    app.add_middleware(handover.HandoverMiddleware)  # admitted result streams go to the core
    app.include_router(experiments.router)
    app.include_router(results.router)
    app.include_router(stream.router)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    mount_dashboard(app, find_dashboard(app.state.settings.web_dir))
    return app


app = create_app()
