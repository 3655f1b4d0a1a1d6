"""Results over HTTP: the current snapshot, long-poll, and Server-Sent Events (the stream's fallbacks)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from expstream.access import authorize
from expstream.deps import HubDep, MetricsDep, ServiceDep, StreamReaderDep
from expstream.hub import OutboxStopped
from expstream.protocol import parse_seq

router = APIRouter(prefix="/api/v1/experiments", tags=["results"])

SSE_KEEPALIVE_SECONDS = 15.0  # a comment line this often lets proxies and us notice dead clients
SSE_RETRY_MILLISECONDS = 3000
MAX_WAIT_SECONDS = 60.0


@router.get("/{experiment_id}/results", response_class=Response)
async def get_results(
    experiment_id: uuid.UUID,
    request: Request,
    principal: StreamReaderDep,
    service: ServiceDep,
    hub: HubDep,
    after_seq: Annotated[
        int | None, Query(description="long-poll: wait for a snapshot newer than this")
    ] = None,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS, description="long-poll: seconds to wait")] = 25.0,
    dimension: Annotated[
        str | None, Query(description="the results broken down by one of the experiment's dimensions")
    ] = None,
) -> Response:
    """The current snapshot (same JSON as the WebSocket); with after_seq, waits for a newer one;
    with dimension, the breakdown by it instead (event "breakdown")."""
    eid = str(experiment_id)
    await authorize(service, principal, eid)
    if after_seq is not None and wait > 0:
        sub = hub.add(
            principal, request.client.host if request.client else "unknown", "poll", close_on_not_found=True
        )
        try:
            hub.subscribe(sub, eid, after_seq=after_seq)
            with contextlib.suppress(asyncio.TimeoutError, OutboxStopped):
                while True:
                    messages, _close = await asyncio.wait_for(sub.outbox.take(), wait)
                    if any(message.seq is not None for message in messages):
                        if dimension is None:
                            text = next(m.text for m in messages if m.seq is not None)
                            return Response(text, media_type="application/json")
                        break
        finally:
            hub.remove(sub)
    if dimension is not None:
        return Response(await service.breakdown(eid, dimension), media_type="application/json")
    return Response(await service.snapshot(eid), media_type="application/json")


HISTORY_MAX_POINTS = 500


@router.get("/{experiment_id}/results/history", response_class=Response)
async def results_history(
    experiment_id: uuid.UUID, principal: StreamReaderDep, service: ServiceDep
) -> Response:
    """Each computed snapshot's numbers (seq, time, per variant counts, lift and its interval), oldest first,
    evenly thinned to at most 500 points (the newest always kept)."""
    eid = str(experiment_id)
    await authorize(service, principal, eid)
    return Response(await service.history(eid, HISTORY_MAX_POINTS), media_type="application/json")


@router.get("/{experiment_id}/results/stream")
async def stream_results(
    experiment_id: uuid.UUID,
    request: Request,
    principal: StreamReaderDep,
    service: ServiceDep,
    hub: HubDep,
    metrics: MetricsDep,
    since_seq: int | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: the WebSocket's payloads as `data:` lines, `id:` = seq (Last-Event-ID honoured)."""
    eid = str(experiment_id)
    await authorize(service, principal, eid)
    after = parse_seq(last_event_id) if last_event_id is not None else since_seq
    address = request.client.host if request.client else "unknown"
    sent = metrics.messages_sent.labels("sse")

    async def events() -> AsyncIterator[str]:
        # Subscribed only once the response streams, so nothing is left behind if it never does.
        sub = hub.add(principal, address, "sse", close_on_not_found=True)
        try:
            hub.subscribe(sub, eid, after_seq=after)
            yield f"retry: {SSE_RETRY_MILLISECONDS}\n\n"
            while True:
                try:
                    messages, close = await asyncio.wait_for(sub.outbox.take(), SSE_KEEPALIVE_SECONDS)
                except OutboxStopped:
                    return
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                for message in messages:
                    prefix = f"id: {message.seq}\n" if message.seq is not None else ""
                    yield f"{prefix}data: {message.text}\n\n"
                    sent.inc()
                if close is not None:
                    return
        finally:
            hub.remove(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
