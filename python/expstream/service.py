"""Async bridge to the C++ Service: store calls become awaitables, snapshots become deliveries.

The core signals an eventfd when it has results; the event loop reads them in one batch. No C++
thread ever takes the GIL, and no Python code blocks on the database.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from expstream import _core

# What the core's store calls take (see _core.pyi).
# (key, name, kind, event_type or "", role, direction, cap or None, numerator or "", denominator or "")
MetricRow = tuple[str, str, str, str, str, str, float | None, str, str]
# (user id, type, value, event id or None)
EventRow = tuple[str, str, float, str | None]
# (user id, variant key, [(metric key, pre-exposure covariate)])
# (user id, variant key, covariates, attributes of the experiment's dimensions)
AssignmentRow = tuple[str, str, list[tuple[str, float]], list[tuple[str, str]]]


class StoreError(Exception):
    """A store call failed; subclasses say why."""


class DatabaseUnavailableError(StoreError):
    pass


class ExperimentNotFoundError(StoreError):
    pass


class InvalidInputError(StoreError):
    pass


class ConflictError(StoreError):
    pass


_ERRORS: dict[str, type[StoreError]] = {
    "unavailable": DatabaseUnavailableError,
    "not_found": ExperimentNotFoundError,
    "invalid": InvalidInputError,
    "conflict": ConflictError,
}


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _log_core_record(level: str, logger: str, message: str, experiment_id: str) -> None:
    """A log record of the C++ core, into the same JSON log as everything else."""
    fields = {"experiment_id": experiment_id} if experiment_id else {}
    logging.getLogger(logger).log(_LEVELS.get(level, logging.ERROR), message, extra={"fields": fields})


class DeliveryKind(enum.IntEnum):
    SNAPSHOT = 0
    NOT_FOUND = 1
    UNAVAILABLE = 2
    CONTROL = 3  # any other message for every subscriber (e.g. an SRM anomaly)


# Kinds of the core's stream events (stream_server.hpp: StreamEvent::Kind).
STREAM_ENDED = 0
STREAM_AUTHENTICATE = 1


@dataclass(frozen=True, slots=True)
class Delivery:
    kind: DeliveryKind
    experiment_id: str
    target: int  # 0: every subscriber of the experiment
    seq: int
    payload: str  # JSON text, shared by every recipient


# Authorization looks up an experiment's tenant on every stream and request; it never changes, so
# the answers are kept, the least recently used dropped past this many.
TENANT_CACHE_SIZE = 10_000


class TenantCache:
    """experiment id -> tenant, bounded; an experiment found gone is forgotten."""

    def __init__(self, size: int = TENANT_CACHE_SIZE) -> None:
        self._size = size
        self._tenants: OrderedDict[str, str | None] = OrderedDict()

    def __contains__(self, experiment_id: str) -> bool:
        return experiment_id in self._tenants

    def __len__(self) -> int:
        return len(self._tenants)

    def get(self, experiment_id: str) -> str | None:
        """The tenant (raises KeyError when unknown); marks it recently used."""
        self._tenants.move_to_end(experiment_id)
        return self._tenants[experiment_id]

    def put(self, experiment_id: str, tenant: str | None) -> None:
        self._tenants[experiment_id] = tenant
        self._tenants.move_to_end(experiment_id)
        while len(self._tenants) > self._size:
            self._tenants.popitem(last=False)

    def forget(self, experiment_id: str) -> None:
        self._tenants.pop(experiment_id, None)


class CoreService:
    def __init__(
        self,
        core: _core.Service,
        on_delivery: Callable[[Delivery], None],
        on_outbox: Callable[[], None] | None = None,
        on_stream_ended: Callable[[int, int, list[tuple[str, int]]], None] | None = None,
    ) -> None:
        self.core = core
        self._on_delivery = on_delivery
        # A stream the core served is over: (connection id, close code, [(reason, ignored)]).
        self._on_stream_ended = on_stream_ended
        # A stream the core serves sent its token as its first message: (connection id, token).
        # Set after construction: checking the token needs this service.
        self.on_stream_auth: Callable[[int, str], None] | None = None
        # Called when this process's looks queued webhook deliveries (the sender wakes at once).
        self._on_outbox = on_outbox
        self._outbox_seen = 0
        self._loop = asyncio.get_running_loop()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._tokens = itertools.count(1)
        self.tenants = TenantCache()
        self._loop.add_reader(core.ready_fd, self._on_ready)

    def _on_ready(self) -> None:
        deliveries, completions, logs, stream_events = self.core.drain()
        # A look queues deliveries before its snapshot is handed over: checked on the same wake-up.
        queued = self.core.outbox_queued
        if queued != self._outbox_seen and self._on_outbox is not None:
            self._outbox_seen = queued
            self._on_outbox()
        for token, error_kind, value in completions:
            future = self._pending.pop(token, None)
            if future is None or future.done():
                continue  # the caller went away
            if error_kind is None:
                future.set_result(value)
            else:
                future.set_exception(_ERRORS.get(error_kind, StoreError)(value))
        for level, logger, message, experiment_id in logs:
            _log_core_record(level, logger, message, experiment_id)
        for kind, experiment_id, target, seq, payload in deliveries:
            if kind == DeliveryKind.NOT_FOUND:
                self.tenants.forget(experiment_id)
            self._on_delivery(Delivery(DeliveryKind(kind), experiment_id, target, seq, payload))
        for kind, connection, close_code, auth_token, ignored in stream_events:
            if kind == STREAM_ENDED and self._on_stream_ended is not None:
                self._on_stream_ended(connection, close_code, ignored)
            elif kind == STREAM_AUTHENTICATE and self.on_stream_auth is not None:
                self.on_stream_auth(connection, auth_token)

    async def _call(self, submit: Callable[..., None], *args: Any) -> Any:
        token = next(self._tokens)
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending[token] = future
        submit(token, *args)
        return await future

    async def ping(self) -> bool:
        return bool(await self._call(self.core.submit_ping))

    async def history(self, experiment_id: str, max_points: int) -> str:
        """The results history's JSON text, thinned to at most max_points."""
        result: str = await self._call(self.core.submit_history, experiment_id, max_points)
        return result

    async def breakdown(self, experiment_id: str, dimension: str) -> str:
        """The experiment broken down by one of its dimensions, as JSON text (InvalidInputError for
        a dimension it did not declare)."""
        result: str = await self._call(self.core.submit_breakdown, experiment_id, dimension)
        return result

    async def snapshot(self, experiment_id: str) -> str:
        """The current snapshot's JSON text, exactly as subscribers receive it."""
        result: str = await self._call(self.core.submit_snapshot, experiment_id)
        return result

    async def create_experiment(
        self,
        name: str,
        variants: list[tuple[str, str, bool, float]],
        tenant: str | None = None,
        metrics: list[MetricRow] | None = None,
        exposures: str = "first",
        cuped: bool = True,
        dimensions: list[str] | None = None,
    ) -> dict[str, Any]:
        """metrics None or empty: today's single metric, conversion."""
        result: dict[str, Any] = await self._call(
            self.core.submit_create_experiment,
            name,
            variants,
            tenant,
            metrics or [],
            exposures,
            cuped,
            dimensions or [],
        )
        self.tenants.put(result["id"], tenant)
        return result

    async def experiment_tenant(self, experiment_id: str) -> tuple[bool, str | None]:
        """(exists, tenant) of an experiment, from cache after the first look."""
        if experiment_id in self.tenants:
            return True, self.tenants.get(experiment_id)
        experiment = await self.get_experiment(experiment_id)
        if experiment is None:
            return False, None
        self.tenants.put(experiment_id, experiment["tenant"])
        return True, experiment["tenant"]

    async def list_experiments(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call(self.core.submit_list_experiments)
        return result

    async def get_experiment(self, experiment_id: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self._call(self.core.submit_get_experiment, experiment_id)
        return result

    async def set_status(
        self, experiment_id: str, status: str, trace_id: str
    ) -> tuple[dict[str, Any], str, str]:
        """Returns the experiment, its previous status and when it changed (empty: it did not).
        Every other server process hears of the change, with trace_id in its envelope."""
        result: tuple[dict[str, Any], str, str] = await self._call(
            self.core.submit_set_status, experiment_id, status, trace_id
        )
        return result

    async def other_nodes_subscribers(self, alive_within_seconds: float) -> list[tuple[str, str | None, int]]:
        """(experiment id, tenant, subscribers) summed over the other live nodes."""
        result: list[tuple[str, str | None, int]] = await self._call(
            self.core.submit_other_nodes_subscribers, alive_within_seconds
        )
        return result

    async def add_assignments(self, experiment_id: str, rows: list[AssignmentRow]) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(self.core.submit_add_assignments, experiment_id, rows)
        return result

    async def set_metrics(self, experiment_id: str, metrics: list[MetricRow]) -> dict[str, Any]:
        """A draft's metric definitions, replaced; its data counted the new way. Conflict otherwise."""
        result: dict[str, Any] = await self._call(self.core.submit_set_metrics, experiment_id, metrics)
        return result

    async def add_events(self, experiment_id: str, rows: list[EventRow]) -> dict[str, Any]:
        """(user id, type, value, event id or None) each."""
        result: dict[str, Any] = await self._call(self.core.submit_add_events, experiment_id, rows)
        return result

    def close(self) -> None:
        self._loop.remove_reader(self.core.ready_fd)
        self.core.stop()
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
