"""Liveness and database reachability."""

from __future__ import annotations

from fastapi import APIRouter

from expstream.deps import HubDep, ServiceDep
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
