"""WebSocket endpoints and their HTTP companions."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from expstream.deps import AdminDep, HubDep, MetricsDep, ServiceDep, SettingsDep
from expstream.models import SubscribersOut
from expstream.ws_session import WebSocketSession

router = APIRouter(prefix="/api/v1/ws", tags=["stream"])


@router.websocket("/experiments/{experiment_id}/results")
async def results_stream(
    websocket: WebSocket,
    experiment_id: str,
    hub: HubDep,
    service: ServiceDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> None:
    """One experiment's snapshots, for the streams the core does not serve (handover.py: refusals,
    first-message authentication, TLS)."""
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


async def _cluster_counts(
    hub: HubDep, service: ServiceDep, settings: SettingsDep
) -> dict[str, tuple[str | None, int]]:
    """experiment id -> (tenant, subscribers on every live node): ours counted live, the others'
    as of their last heartbeat (a node silent for settings.node_ttl_seconds no longer counts)."""
    counts: dict[str, tuple[str | None, int]] = {}
    for eid, n in hub.subscriber_counts():
        _exists, tenant = await service.experiment_tenant(eid)  # cached: every subscriber was authorized
        counts[eid] = (tenant, n)
    for eid, tenant, n in await service.other_nodes_subscribers(settings.node_ttl_seconds):
        counts[eid] = (tenant, counts.get(eid, (tenant, 0))[1] + n)
    return counts


def _visible(principal: AdminDep, tenant: str | None) -> bool:
    # An admin sees only its own tenant's experiments.
    return principal.tenant == tenant


@router.get("/experiments/{experiment_id}/results/subscribers", response_model=SubscribersOut)
async def subscriber_count(
    experiment_id: str, principal: AdminDep, hub: HubDep, service: ServiceDep, settings: SettingsDep
) -> SubscribersOut:
    tenant, count = (await _cluster_counts(hub, service, settings)).get(experiment_id, (principal.tenant, 0))
    return SubscribersOut(
        experiment_id=experiment_id, subscribers=count if _visible(principal, tenant) else 0
    )


@router.get("/active-experiments", response_model=list[SubscribersOut])
async def active_experiments(
    principal: AdminDep, hub: HubDep, service: ServiceDep, settings: SettingsDep
) -> list[SubscribersOut]:
    counts = await _cluster_counts(hub, service, settings)
    return [
        SubscribersOut(experiment_id=eid, subscribers=count)
        for eid, (tenant, count) in sorted(counts.items())
        if _visible(principal, tenant)
    ]
