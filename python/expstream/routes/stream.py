"""WebSocket endpoints and their HTTP companions."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from expstream.deps import AdminDep, HubDep, MetricsDep, ServiceDep, SettingsDep
from expstream.models import SubscribersOut
from expstream.ws_session import WebSocketSession

router = APIRouter(prefix="/api/v1/ws", tags=["stream"])


@router.websocket("/experiments/{experiment_id}/results")
async def results_stream(
    websocket: WebSocket, experiment_id: str, hub: HubDep, service: ServiceDep, settings: SettingsDep,
    metrics: MetricsDep,
) -> None:
    """One experiment's snapshots."""
    await WebSocketSession(
        websocket, hub=hub, service=service, settings=settings, metrics=metrics, experiment_id=experiment_id
    ).run()


@router.websocket("")
async def multiplexed_stream(
    websocket: WebSocket, hub: HubDep, service: ServiceDep, settings: SettingsDep, metrics: MetricsDep
) -> None:
    """Many experiments over one socket: subscribe / unsubscribe / resume by message."""
    await WebSocketSession(
        websocket, hub=hub, service=service, settings=settings, metrics=metrics, experiment_id=None
    ).run()


def _visible(principal: AdminDep, hub: HubDep, experiment_id: str) -> bool:
    # Tenants are learnt when a subscription is authorized; an admin sees only its own tenant's.
    return principal.tenant == hub.tenants.get(experiment_id, principal.tenant)


@router.get("/experiments/{experiment_id}/results/subscribers", response_model=SubscribersOut)
async def subscriber_count(
    experiment_id: str, principal: AdminDep, hub: HubDep, service: ServiceDep
) -> SubscribersOut:
    counts = dict(hub.subscriber_counts())
    visible = _visible(principal, hub, experiment_id)
    return SubscribersOut(experiment_id=experiment_id, subscribers=counts.get(experiment_id, 0) if visible else 0)


@router.get("/active-experiments", response_model=list[SubscribersOut])
async def active_experiments(principal: AdminDep, hub: HubDep) -> list[SubscribersOut]:
    return [
        SubscribersOut(experiment_id=eid, subscribers=count)
        for eid, count in hub.subscriber_counts()
        if _visible(principal, hub, eid)
    ]
