"""What Client and AsyncClient share: errors, batches, the queue, the retry policy, request bodies."""

from __future__ import annotations

import logging
import math
import random
import uuid
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from expstream.models import ExperimentOut, MetricIn, VariantIn

log = logging.getLogger("expstream.client")

Experiment = ExperimentOut  # what the experiment calls return
Kind = Literal["assignments", "events"]
SERVER_MAX_BATCH = 10_000  # the server's default EXPSTREAM_MAX_BATCH
EXPERIMENTS = "/api/v1/experiments"


@dataclass
class Batch:
    """One ingest call's records. Their event ids are fixed, so sending it again counts once."""

    kind: Kind
    experiment_id: str
    records: list[dict[str, Any]]
    since: float = field(default=0.0, repr=False)  # time.monotonic() of its first record

    @property
    def path(self) -> str:
        return f"{EXPERIMENTS}/{self.experiment_id}/{self.kind}"


class ExpstreamError(Exception):
    """Base of the client's errors. `unsent`: batches the client gave up on and hands back to you."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.unsent: list[Batch] = []


class APIConnectionError(ExpstreamError):
    """No answer from the server (after the retries, where the request is retried)."""


class APIStatusError(ExpstreamError):
    """The server answered with an error; `detail` is its `{"detail": …}`."""

    def __init__(self, status_code: int, detail: Any, request: str) -> None:
        super().__init__(f"{request}: {status_code} {detail}")
        self.status_code = status_code
        self.detail = detail


class AuthenticationError(APIStatusError):
    """401: missing, malformed, expired or badly signed token."""


class PermissionDeniedError(APIStatusError):
    """403: a valid token without the access this needs."""


class NotFoundError(APIStatusError):
    """404: no such experiment."""


class ConflictError(APIStatusError):
    """409: the experiment's lifecycle forbids it (e.g. it is completed)."""


class ValidationError(APIStatusError):
    """422: invalid input; `detail` names the rule."""


class ServerError(APIStatusError):
    """5xx, after the retries."""


_ERRORS: dict[int, type[APIStatusError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
}


def retryable_status(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def refused(exc: Exception, batch: Batch) -> bool:
    """Whether the server refused batch for good (4xx); if so, exc hands it back in `unsent`."""
    if isinstance(exc, APIStatusError) and not retryable_status(exc.status_code):
        exc.unsent = [batch]
        return True
    return False


def checked(response: httpx.Response) -> Any:
    """The response's JSON, or its typed error."""
    if response.is_success:
        return response.json()
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        detail = response.text
    code = response.status_code
    error = _ERRORS.get(code, ServerError if code >= 500 else APIStatusError)
    raise error(code, detail, f"{response.request.method} {response.request.url.path}")


@dataclass(frozen=True)
class Retry:
    """Exponential backoff with jitter: retry n waits between half and all of min(max_backoff, backoff * 2**n)."""

    max_retries: int
    backoff: float
    max_backoff: float

    def delay(self, attempt: int, idempotent: bool, outcome: httpx.Response | Exception) -> float | None:
        """Seconds to wait before retrying after this outcome, or None: do not retry."""
        if attempt >= self.max_retries:
            return None
        if isinstance(outcome, httpx.Response):
            ok = idempotent and retryable_status(outcome.status_code)
        elif isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            ok = True  # the request never reached the server
        else:
            ok = idempotent and isinstance(
                outcome, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError
            )
        if not ok:
            return None
        ceiling = min(self.max_backoff, self.backoff * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def log(self, request: str, outcome: httpx.Response | Exception, attempt: int, delay: float) -> None:
        what = f"{outcome.status_code}" if isinstance(outcome, httpx.Response) else repr(outcome)
        log.warning(
            "%s failed (%s); retry %d of %d in %.2f s", request, what, attempt + 1, self.max_retries, delay
        )


class Queue:
    """Records waiting to be sent: an open batch per (kind, experiment), full ones ready in order.
    Not thread-safe."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.open: dict[tuple[Kind, str], Batch] = {}
        self.ready: deque[Batch] = deque()

    def __len__(self) -> int:
        return sum(len(b.records) for b in self.ready) + sum(len(b.records) for b in self.open.values())

    def empty(self) -> bool:
        return not self.open and not self.ready

    def add(self, kind: Kind, experiment_id: str, record: dict[str, Any], now: float) -> bool:
        """Queues record; True when that filled its batch (now ready)."""
        key = (kind, experiment_id)
        batch = self.open.get(key)
        if batch is None:
            batch = self.open[key] = Batch(kind, experiment_id, [], now)
        batch.records.append(record)
        if len(batch.records) < self.batch_size:
            return False
        self.ready.append(self.open.pop(key))
        return True

    def seal_all(self) -> None:
        self.ready.extend(self.open.values())
        self.open.clear()

    def due(self, interval: float) -> float | None:
        """When the oldest queued record has waited interval seconds (None: nothing queued)."""
        times = [b.since for b in self.ready] + [b.since for b in self.open.values()]
        return min(times) + interval if times else None

    def take_all(self) -> list[Batch]:
        self.seal_all()
        taken = list(self.ready)
        self.ready.clear()
        return taken


def report_unsent_at_exit(client: object, queue: Queue) -> None:
    """Logs an error should client be collected, or the interpreter exit, with records still queued."""
    weakref.finalize(client, _report_unsent, queue)


def _report_unsent(queue: Queue) -> None:
    if not queue.empty():
        log.error("an expstream client was not closed: %d queued records were never sent", len(queue))


def check_options(batch_size: int, flush_interval: float, max_retries: int) -> None:
    if not 1 <= batch_size <= SERVER_MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {SERVER_MAX_BATCH}; got {batch_size}")
    if not flush_interval > 0:
        raise ValueError(f"flush_interval must be positive; got {flush_interval}")
    if max_retries < 0:
        raise ValueError(f"max_retries must be at least 0; got {max_retries}")


def auth_headers(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def definitions(items: Sequence[BaseModel | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Variants or metrics as the API takes them, from models or mappings."""
    return [i.model_dump(exclude_none=True) if isinstance(i, BaseModel) else dict(i) for i in items]


def experiment_body(
    name: str,
    variants: Sequence[VariantIn | Mapping[str, Any]],
    metrics: Sequence[MetricIn | Mapping[str, Any]] | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "variants": definitions(variants), **extra}
    if metrics is not None:
        body["metrics"] = definitions(metrics)
    return body


def event_record(user_id: str, type: str, value: float, event_id: str | None) -> dict[str, Any]:
    """An event as the API takes it, with a fresh uuid4 event_id unless one is given."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"value must be a finite number; got {value!r}")
    return {"user_id": user_id, "type": type, "value": value, "event_id": event_id or str(uuid.uuid4())}


def experiment(data: Any) -> Experiment:
    return Experiment.model_validate(data)
