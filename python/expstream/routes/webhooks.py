"""REST: webhook subscriptions (admin scope, within the token's tenant) and an experiment's alerts."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response, status

from expstream import _core
from expstream.access import authorize
from expstream.auth import ForbiddenError, Principal
from expstream.deps import AdminDep, ReaderDep, ServiceDep, SettingsDep
from expstream.service import DatabaseUnavailableError
from expstream.webhook_guard import UnsafeUrlError, check
from expstream.webhook_models import AlertOut, DeliveryOut, WebhookCreatedOut, WebhookIn, WebhookOut

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

MAX_DELIVERIES_LISTED = 100
MAX_ALERTS_LISTED = 500

T = TypeVar("T")


async def call(function: Callable[..., T], *args: Any) -> T:
    """A WebhookStore call, off the event loop; an unreachable database is a 503 like elsewhere."""
    try:
        return await asyncio.to_thread(function, *args)
    except _core.DatabaseUnavailable as e:
        raise DatabaseUnavailableError(str(e)) from e


def store(request: Request) -> _core.WebhookStore:
    webhook_store: _core.WebhookStore = request.app.state.webhook_store
    return webhook_store


def tenant_of(principal: Principal) -> str:
    return principal.tenant or ""


async def _visible(request: Request, principal: Principal, webhook_id: uuid.UUID) -> dict[str, Any]:
    """The webhook, if it is this tenant's; other tenants' are 404 (they learn nothing)."""
    found: dict[str, Any] | None = await call(store(request).get, str(webhook_id), tenant_of(principal))
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"webhook {webhook_id} not found")
    return found


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookCreatedOut)
async def create_webhook(
    body: WebhookIn, request: Request, principal: AdminDep, service: ServiceDep, settings: SettingsDep
) -> dict[str, Any]:
    if principal.experiments is not None and (
        body.experiments == ["*"] or not set(body.experiments) <= principal.experiments
    ):
        raise ForbiddenError("this token may only subscribe to experiments it has access to")
    for experiment_id in body.experiments if body.experiments != ["*"] else []:
        await authorize(service, principal, experiment_id, "admin")
    try:
        await check(body.url, settings.webhook_allow_private)
    except UnsafeUrlError as e:
        raise HTTPException(422, str(e)) from None
    secret = "whsec_" + secrets.token_hex(32)
    created: dict[str, Any] = await call(
        store(request).create,
        tenant_of(principal),
        body.url,
        body.events,
        body.experiments,
        body.format,
        secret,
    )
    return created


@router.get("/webhooks", response_model=list[WebhookOut])
async def list_webhooks(request: Request, principal: AdminDep) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await call(store(request).list_webhooks, tenant_of(principal))
    return found


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: uuid.UUID, request: Request, principal: AdminDep) -> dict[str, Any]:
    return await _visible(request, principal, webhook_id)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: uuid.UUID, request: Request, principal: AdminDep) -> Response:
    if not await call(store(request).remove, str(webhook_id), tenant_of(principal)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"webhook {webhook_id} not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    webhook_id: uuid.UUID, request: Request, principal: AdminDep
) -> list[dict[str, Any]]:
    await _visible(request, principal, webhook_id)
    found: list[dict[str, Any]] = await call(
        store(request).deliveries, str(webhook_id), MAX_DELIVERIES_LISTED
    )
    return found


@router.get("/experiments/{experiment_id}/alerts", response_model=list[AlertOut])
async def list_alerts(
    experiment_id: uuid.UUID, request: Request, principal: ReaderDep, service: ServiceDep
) -> list[dict[str, Any]]:
    """The experiment's transitions, newest first."""
    await authorize(service, principal, str(experiment_id))
    found: list[dict[str, Any]] = await call(store(request).alerts, str(experiment_id), MAX_ALERTS_LISTED)
    return [a | {"detail": json.loads(a["detail"])} for a in found]
