"""REST: experiments, ingest, and results over HTTP."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response

from expstream.deps import ServiceDep, SettingsDep
from expstream.models import (
    AssignmentBatch,
    EventBatch,
    ExperimentIn,
    ExperimentOut,
    IngestOut,
    StatusIn,
)

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


def _check_batch_size(size: int, limit: int) -> None:
    if size > limit:
        raise HTTPException(
            422, f"a batch holds at most {limit} records; got {size}"
        )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ExperimentOut)
async def create_experiment(body: ExperimentIn, service: ServiceDep) -> dict[str, object]:
    return await service.create_experiment(body.name, [(v.key, v.name, v.is_control) for v in body.variants])


@router.get("", response_model=list[ExperimentOut])
async def list_experiments(service: ServiceDep) -> list[dict[str, object]]:
    return await service.list_experiments()


@router.get("/{experiment_id}", response_model=ExperimentOut)
async def get_experiment(experiment_id: uuid.UUID, service: ServiceDep) -> dict[str, object]:
    experiment = await service.get_experiment(str(experiment_id))
    if experiment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"experiment {experiment_id} not found")
    return experiment


@router.patch("/{experiment_id}", response_model=ExperimentOut)
async def change_status(experiment_id: uuid.UUID, body: StatusIn, service: ServiceDep) -> dict[str, object]:
    experiment = await service.set_status(str(experiment_id), body.status)
    service.core.mark_changed(str(experiment_id))
    return experiment


@router.post("/{experiment_id}/assignments", response_model=IngestOut)
async def add_assignments(
    experiment_id: uuid.UUID, body: AssignmentBatch, service: ServiceDep, settings: SettingsDep
) -> dict[str, object]:
    _check_batch_size(len(body.assignments), settings.max_batch)
    rows = [(a.user_id, a.variant_key) for a in body.assignments]
    result = await service.add_assignments(str(experiment_id), rows)
    if result["changed"]:
        service.core.mark_changed(str(experiment_id))
    return result


@router.post("/{experiment_id}/events", response_model=IngestOut)
async def add_events(
    experiment_id: uuid.UUID, body: EventBatch, service: ServiceDep, settings: SettingsDep
) -> dict[str, object]:
    _check_batch_size(len(body.events), settings.max_batch)
    rows = [(e.user_id, e.event_id) for e in body.events]
    result = await service.add_conversions(str(experiment_id), rows)
    if result["changed"]:
        service.core.mark_changed(str(experiment_id))
    return result


@router.get("/{experiment_id}/results", response_class=Response)
async def get_results(experiment_id: uuid.UUID, service: ServiceDep) -> Response:
    """The current snapshot: the same JSON the WebSocket sends."""
    return Response(await service.snapshot(str(experiment_id)), media_type="application/json")
