"""WebSocket results stream and its HTTP companions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, WebSocket

from expstream import _core
from expstream.deps import HubDep, ServiceDep
from expstream.models import SubscribersOut

router = APIRouter(prefix="/api/v1/ws", tags=["stream"])

CLOSE_POLICY_VIOLATION = 1008
PONG = _core.pong_json()


@router.websocket("/experiments/{experiment_id}/results")
async def results_stream(websocket: WebSocket, experiment_id: str, hub: HubDep, service: ServiceDep) -> None:
    await websocket.accept()
    try:
        experiment_id = str(uuid.UUID(experiment_id))
    except ValueError:
        await websocket.close(code=CLOSE_POLICY_VIOLATION, reason="experiment id must be a UUID")
        return
    conn = hub.open(websocket, experiment_id)
    try:
        service.core.request_snapshot(experiment_id, conn.id)
        # Always keep reading beside the writer: that is how a dead client is noticed.
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                continue  # binary frames are ignored
            action, _reason = _core.parse_client_message(text)
            if action == _core.ClientAction.PING:
                conn.outbox.put_control(PONG)
            elif action == _core.ClientAction.REFRESH:
                service.core.request_snapshot(experiment_id, conn.id)
    finally:
        await hub.close(conn)


@router.get("/experiments/{experiment_id}/results/subscribers", response_model=SubscribersOut)
async def subscriber_count(experiment_id: uuid.UUID, service: ServiceDep) -> SubscribersOut:
    return SubscribersOut(
        experiment_id=str(experiment_id), subscribers=service.core.subscriber_count(str(experiment_id))
    )


@router.get("/active-experiments", response_model=list[SubscribersOut])
async def active_experiments(service: ServiceDep) -> list[SubscribersOut]:
    return [
        SubscribersOut(experiment_id=eid, subscribers=count) for eid, count in service.core.active_experiments()
    ]
