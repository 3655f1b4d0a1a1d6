"""REST: experiments and ingest. Reading needs read scope, changing needs write."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, HTTPException, Request, status

from expstream.access import authorize
from expstream.auth import ForbiddenError, Principal
from expstream.deps import ReaderDep, ServiceDep, SettingsDep, WriterDep
from expstream.models import (
    AssignmentBatch,
    AssignmentsOut,
    EventBatch,
    ExperimentIn,
    ExperimentOut,
    IngestOut,
    MetricsIn,
    StatusIn,
    attribute_value,
)
from expstream.service import AssignmentRow, CoreService
from expstream.settings import Settings

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


def _check_batch_size(size: int, limit: int) -> None:
    if size > limit:
        raise HTTPException(422, f"a batch holds at most {limit} records; got {size}")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ExperimentOut)
async def create_experiment(
    body: ExperimentIn, principal: WriterDep, service: ServiceDep
) -> dict[str, object]:
    if principal.experiments is not None:
        raise ForbiddenError("creating experiments needs a token for all experiments (experiments: ['*'])")
    variants = [(v.key, v.name, v.is_control, v.weight) for v in body.variants]
    metrics = [m.as_row() for m in body.metrics or []]
    return await service.create_experiment(
        body.name,
        variants,
        principal.tenant,
        metrics,
        body.exposures,
        body.analysis.cuped,
        body.dimensions,
    )


@router.get("", response_model=list[ExperimentOut])
async def list_experiments(principal: ReaderDep, service: ServiceDep) -> list[dict[str, object]]:
    return [e for e in await service.list_experiments() if principal.can_access(str(e["id"]), e["tenant"])]


@router.get("/{experiment_id}", response_model=ExperimentOut)
async def get_experiment(
    experiment_id: uuid.UUID, principal: ReaderDep, service: ServiceDep
) -> dict[str, object]:
    await authorize(service, principal, str(experiment_id))
    experiment = await service.get_experiment(str(experiment_id))
    if experiment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"experiment {experiment_id} not found")
    return experiment


@router.patch("/{experiment_id}", response_model=ExperimentOut)
async def change_status(
    experiment_id: uuid.UUID,
    body: StatusIn,
    request: Request,
    principal: WriterDep,
    service: ServiceDep,
) -> dict[str, object]:
    eid = str(experiment_id)
    await authorize(service, principal, eid, "write")
    # The core cuts it (it travels to the other nodes in a NOTIFY payload) the same way everywhere.
    trace_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    experiment, _previous, changed_at = await service.set_status(eid, body.status, trace_id)
    if changed_at:
        # The core told every subscriber at commit; the change may have queued webhook deliveries.
        request.app.state.webhook_sender.wake()
    return experiment


@router.put("/{experiment_id}/metrics", response_model=ExperimentOut)
async def set_metrics(
    experiment_id: uuid.UUID, body: MetricsIn, principal: WriterDep, service: ServiceDep
) -> dict[str, object]:
    """Replaces a draft's metrics (409 once it has started); data already sent is counted anew."""
    eid = str(experiment_id)
    await authorize(service, principal, eid, "write")
    return await service.set_metrics(eid, [m.as_row() for m in body.metrics])


async def _ingest(
    experiment_id: uuid.UUID,
    size: int,
    principal: Principal,
    service: CoreService,
    settings: Settings,
    store: Callable[[str], Awaitable[dict[str, object]]],
) -> dict[str, object]:
    """The path every ingest call takes: size, access, one store transaction."""
    eid = str(experiment_id)
    _check_batch_size(size, settings.max_batch)
    await authorize(service, principal, eid, "write")
    return await store(eid)  # the core schedules the push (and any webhook look) at commit


@router.post("/{experiment_id}/assignments", response_model=AssignmentsOut)
async def add_assignments(
    experiment_id: uuid.UUID,
    body: AssignmentBatch,
    principal: WriterDep,
    service: ServiceDep,
    settings: SettingsDep,
) -> dict[str, object]:
    rows: list[AssignmentRow] = []
    ignored = 0
    for a in body.assignments:
        attributes = [(key, attribute_value(value)) for key, value in a.attributes.items()]
        kept = [(key, value) for key, value in attributes if value is not None]
        ignored += len(attributes) - len(kept)
        rows.append((a.user_id, a.variant_key, list(a.covariates.items()), kept))
    result = await _ingest(
        experiment_id, len(rows), principal, service, settings, lambda eid: service.add_assignments(eid, rows)
    )
    return {**result, "ignored_attributes": ignored}


@router.post("/{experiment_id}/events", response_model=IngestOut)
async def add_events(
    experiment_id: uuid.UUID,
    body: EventBatch,
    principal: WriterDep,
    service: ServiceDep,
    settings: SettingsDep,
) -> dict[str, object]:
    rows = [(e.user_id, e.type, e.value, e.event_id) for e in body.events]
    return await _ingest(
        experiment_id, len(rows), principal, service, settings, lambda eid: service.add_events(eid, rows)
    )
