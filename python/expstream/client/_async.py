"""AsyncClient: the asyncio client; a background task sends what waits too long."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from expstream.client._base import (
    EXPERIMENTS,
    APIConnectionError,
    Batch,
    Experiment,
    ExpstreamError,
    Kind,
    Queue,
    Retry,
    auth_headers,
    check_options,
    checked,
    definitions,
    event_record,
    experiment,
    experiment_body,
    refused,
    report_unsent_at_exit,
)
from expstream.models import MetricIn, Status, VariantIn


class AsyncClient:
    """Client's twin for asyncio, on one event loop. `assign` and `track` queue records and send them
    in batches: when a batch reaches batch_size (sent by that call), after flush_interval (by a
    background task), on flush() and on close(). Use `async with` or call close()."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_retries: int = 8,
        backoff: float = 0.25,
        max_backoff: float = 10.0,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        check_options(batch_size, flush_interval, max_retries)
        self._url = base_url.rstrip("/")
        self._headers = auth_headers(token)
        self._retry = Retry(max_retries, backoff, max_backoff)
        self._interval = flush_interval
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http_client is None
        self._queue = Queue(batch_size)
        self._sending = asyncio.Lock()  # one batch in flight, in queue order
        self._wake = asyncio.Event()  # the timer's due time may have changed
        self._error: Exception | None = None  # the timer's failure, raised by the next call
        self._error_batch: Batch | None = None  # ...unless this batch (still queued) gets through
        self._closed = False
        self._timer: asyncio.Task[None] | None = None
        report_unsent_at_exit(self, self._queue)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # Experiments

    async def create_experiment(
        self,
        name: str,
        variants: Sequence[VariantIn | Mapping[str, Any]],
        metrics: Sequence[MetricIn | Mapping[str, Any]] | None = None,
        **fields: Any,
    ) -> Experiment:
        """A new draft experiment; `fields`: other fields of the API's body."""
        body = experiment_body(name, variants, metrics, fields)
        return experiment(await self._request("POST", EXPERIMENTS, body, idempotent=False))

    async def list_experiments(self) -> list[Experiment]:
        return [experiment(e) for e in await self._request("GET", EXPERIMENTS)]

    async def get_experiment(self, experiment_id: str) -> Experiment:
        return experiment(await self._request("GET", f"{EXPERIMENTS}/{experiment_id}"))

    async def set_status(self, experiment_id: str, status: Status) -> Experiment:
        return experiment(await self._request("PATCH", f"{EXPERIMENTS}/{experiment_id}", {"status": status}))

    async def set_metrics(
        self, experiment_id: str, metrics: Sequence[MetricIn | Mapping[str, Any]]
    ) -> Experiment:
        """Replaces a draft's metrics."""
        body = {"metrics": definitions(metrics)}
        return experiment(await self._request("PUT", f"{EXPERIMENTS}/{experiment_id}/metrics", body))

    async def results(self, experiment_id: str) -> dict[str, Any]:
        """The current snapshot (README, "WebSocket protocol")."""
        snapshot: dict[str, Any] = await self._request("GET", f"{EXPERIMENTS}/{experiment_id}/results")
        return snapshot

    async def history(self, experiment_id: str) -> dict[str, Any]:
        """`{"experiment_id", "points": […]}`, at most 500 points."""
        path = f"{EXPERIMENTS}/{experiment_id}/results/history"
        history: dict[str, Any] = await self._request("GET", path)
        return history

    # Ingest

    async def assign(self, experiment_id: str, user_id: str, variant_key: str) -> None:
        """Queues an assignment (a user's first one wins)."""
        await self._add("assignments", experiment_id, {"user_id": user_id, "variant_key": variant_key})

    async def track(
        self,
        experiment_id: str,
        user_id: str,
        type: str = "conversion",
        value: float = 1.0,
        *,
        event_id: str | None = None,
    ) -> str:
        """Queues an event; returns its event_id (a new uuid4 unless given), which makes it count once."""
        record = event_record(user_id, type, value, event_id)
        await self._add("events", experiment_id, record)
        event_id_: str = record["event_id"]
        return event_id_

    @property
    def pending(self) -> int:
        """Records queued and not yet acknowledged by the server."""
        return len(self._queue)

    async def flush(self) -> None:
        """Sends everything queued. Raises what failed after its retries, or the background task's
        failure since the last call."""
        self._queue.seal_all()
        await self._send_ready()
        self._raise_stored()

    async def close(self) -> None:
        """Flushes, then stops. On failure, the error's `unsent` holds every record not delivered."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._timer is not None:
                # A batch it was sending stays queued with the same ids: flush sends it again.
                self._timer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._timer
            await self.flush()
        except ExpstreamError as exc:
            stored, self._error = self._error, None
            exc.unsent += (
                stored.unsent if isinstance(stored, ExpstreamError) else []
            ) + self._queue.take_all()
            raise
        finally:
            if self._owns_http:
                await self._http.aclose()

    async def _add(self, kind: Kind, experiment_id: str, record: dict[str, Any]) -> None:
        if self._closed:
            raise RuntimeError("this expstream client is closed")
        was_empty = self._queue.empty()
        full = self._queue.add(kind, experiment_id, record, time.monotonic())
        if self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(self._run_timer(), name="expstream-flush")
        elif was_empty:
            self._wake.set()
        if full:
            await self._send_ready()
        self._raise_stored()

    def _raise_stored(self) -> None:
        error, self._error, self._error_batch = self._error, None, None
        if error is not None:
            self._wake.set()  # the timer resumes
            raise error

    async def _send_ready(self, background: bool = False) -> None:
        """Sends the ready batches in order. A batch the server refuses (4xx) leaves the queue in the
        error's `unsent`; one that did not get through stays first. In the background, the failure
        is kept for the next call to raise."""
        async with self._sending:
            while self._queue.ready:
                batch = self._queue.ready[0]
                try:
                    await self._request("POST", batch.path, {batch.kind: batch.records})
                except Exception as exc:
                    gone = refused(exc, batch)
                    if gone:
                        self._queue.ready.popleft()
                    if background:
                        self._error, self._error_batch = exc, None if gone else batch
                        return
                    raise
                self._queue.ready.popleft()
                if self._error_batch is batch:  # the failure kept for later is moot
                    self._error = self._error_batch = None

    async def _run_timer(self) -> None:
        while True:
            self._wake.clear()
            due = None if self._error is not None else self._queue.due(self._interval)
            now = time.monotonic()
            if due is None or due > now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), None if due is None else due - now)
                continue
            self._queue.seal_all()
            await self._send_ready(background=True)

    async def _request(self, method: str, path: str, body: Any = None, *, idempotent: bool = True) -> Any:
        attempt = 0
        while True:
            outcome: httpx.Response | Exception
            try:
                outcome = await self._http.request(method, self._url + path, json=body, headers=self._headers)
            except httpx.TransportError as exc:
                outcome = exc
            delay = self._retry.delay(attempt, idempotent, outcome)
            if delay is None:
                if isinstance(outcome, Exception):
                    raise APIConnectionError(f"{method} {path}: {outcome!r}") from outcome
                return checked(outcome)
            self._retry.log(f"{method} {path}", outcome, attempt, delay)
            await asyncio.sleep(delay)
            attempt += 1
