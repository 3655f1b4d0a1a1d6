"""Liveness (open), details and metrics (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from expstream.deps import AdminDep, HubDep, MetricsDep, ServiceDep
from expstream.models import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
async def health(service: ServiceDep, hub: HubDep) -> HealthOut:
    database_ok = await service.ping()
    return HealthOut(
        status="ok" if database_ok else "degraded",
        database="ok" if database_ok else "unavailable",
        wsConnections=hub.connection_count,
    )


@router.get("/health/details")
async def health_details(_admin: AdminDep, service: ServiceDep, hub: HubDep) -> dict[str, Any]:
    database_ok = await service.ping()
    core = service.core
    return {
        "status": "ok" if database_ok else "degraded",
        "database": "ok" if database_ok else "unavailable",
        "connections": hub.connection_count,
        "active_experiments": [{"experiment_id": e, "subscribers": n} for e, n in hub.subscriber_counts()],
        "snapshots_computed": core.snapshots_computed,
        "snapshot_compute_seconds": core.snapshot_compute_seconds,
        "changes_coalesced": core.changes_coalesced,
        "node_id": core.node_id,
        "listener": {
            "connected": core.listener_connected,
            "reconnects": core.listener_reconnects,
            "notices_received": core.notices_received,
        },
    }


@router.get("/metrics", response_class=Response)
async def metrics(_admin: AdminDep, metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
