"""Client: the blocking client, thread-safe; a background thread sends what waits too long."""

from __future__ import annotations

import threading
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


class Client:
    """The HTTP API from Python. `assign` and `track` queue records and send them in batches: when a
    batch reaches batch_size (sent by that call), after flush_interval (by a background thread), on
    flush() and on close(). Use it as a context manager or call close()."""

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
        http_client: httpx.Client | None = None,
    ) -> None:
        check_options(batch_size, flush_interval, max_retries)
        self._url = base_url.rstrip("/")
        self._headers = auth_headers(token)
        self._retry = Retry(max_retries, backoff, max_backoff)
        self._interval = flush_interval
        self._http = http_client or httpx.Client(timeout=timeout)
        self._owns_http = http_client is None
        self._queue = Queue(batch_size)
        self._lock = threading.Condition()  # guards the queue, _error, _closed, _timer
        self._sending = threading.Lock()  # one batch in flight, in queue order
        self._error: Exception | None = None  # the timer's failure, raised by the next call
        self._error_batch: Batch | None = None  # ...unless this batch (still queued) gets through
        self._closed = False
        self._timer: threading.Thread | None = None
        report_unsent_at_exit(self, self._queue)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # Experiments

    def create_experiment(
        self,
        name: str,
        variants: Sequence[VariantIn | Mapping[str, Any]],
        metrics: Sequence[MetricIn | Mapping[str, Any]] | None = None,
        **fields: Any,
    ) -> Experiment:
        """A new draft experiment; `fields`: other fields of the API's body."""
        body = experiment_body(name, variants, metrics, fields)
        return experiment(self._request("POST", EXPERIMENTS, body, idempotent=False))

    def list_experiments(self) -> list[Experiment]:
        return [experiment(e) for e in self._request("GET", EXPERIMENTS)]

    def get_experiment(self, experiment_id: str) -> Experiment:
        return experiment(self._request("GET", f"{EXPERIMENTS}/{experiment_id}"))

    def set_status(self, experiment_id: str, status: Status) -> Experiment:
        return experiment(self._request("PATCH", f"{EXPERIMENTS}/{experiment_id}", {"status": status}))

    def set_metrics(self, experiment_id: str, metrics: Sequence[MetricIn | Mapping[str, Any]]) -> Experiment:
        """Replaces a draft's metrics."""
        body = {"metrics": definitions(metrics)}
        return experiment(self._request("PUT", f"{EXPERIMENTS}/{experiment_id}/metrics", body))

    def results(self, experiment_id: str) -> dict[str, Any]:
        """The current snapshot (README, "WebSocket protocol")."""
        snapshot: dict[str, Any] = self._request("GET", f"{EXPERIMENTS}/{experiment_id}/results")
        return snapshot

    def history(self, experiment_id: str) -> dict[str, Any]:
        """`{"experiment_id", "points": […]}`, at most 500 points."""
        history: dict[str, Any] = self._request("GET", f"{EXPERIMENTS}/{experiment_id}/results/history")
        return history

    # Ingest

    def assign(self, experiment_id: str, user_id: str, variant_key: str) -> None:
        """Queues an assignment (a user's first one wins)."""
        self._add("assignments", experiment_id, {"user_id": user_id, "variant_key": variant_key})

    def track(
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
        self._add("events", experiment_id, record)
        event_id_: str = record["event_id"]
        return event_id_

    @property
    def pending(self) -> int:
        """Records queued and not yet acknowledged by the server."""
        with self._lock:
            return len(self._queue)

    def flush(self) -> None:
        """Sends everything queued. Raises what failed after its retries, or the background thread's
        failure since the last call."""
        with self._lock:
            self._queue.seal_all()
        self._send_ready()
        self._raise_stored()

    def close(self) -> None:
        """Flushes, then stops. On failure, the error's `unsent` holds every record not delivered."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        try:
            if self._timer is not None:
                self._timer.join()
            self.flush()
        except ExpstreamError as exc:
            with self._lock:
                stored, self._error = self._error, None
                exc.unsent += (
                    stored.unsent if isinstance(stored, ExpstreamError) else []
                ) + self._queue.take_all()
            raise
        finally:
            if self._owns_http:
                self._http.close()

    def _add(self, kind: Kind, experiment_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("this expstream client is closed")
            was_empty = self._queue.empty()
            full = self._queue.add(kind, experiment_id, record, time.monotonic())
            if self._timer is None:
                self._timer = threading.Thread(target=self._run_timer, name="expstream-flush", daemon=True)
                self._timer.start()
            elif was_empty:
                self._lock.notify_all()
        if full:
            self._send_ready()
        self._raise_stored()

    def _raise_stored(self) -> None:
        with self._lock:
            error, self._error, self._error_batch = self._error, None, None
            if error is not None:
                self._lock.notify_all()  # the timer resumes
        if error is not None:
            raise error

    def _send_ready(self, background: bool = False) -> None:
        """Sends the ready batches in order. A batch the server refuses (4xx) leaves the queue in the
        error's `unsent`; one that did not get through stays first. In the background, the failure
        is kept for the next call to raise."""
        with self._sending:
            while True:
                with self._lock:
                    if not self._queue.ready:
                        return
                    batch = self._queue.ready[0]
                try:
                    self._request("POST", batch.path, {batch.kind: batch.records})
                except Exception as exc:
                    with self._lock:
                        gone = refused(exc, batch)
                        if gone:
                            self._queue.ready.popleft()
                        if background:
                            self._error, self._error_batch = exc, None if gone else batch
                            return
                    raise
                with self._lock:
                    self._queue.ready.popleft()
                    if self._error_batch is batch:  # the failure kept for later is moot
                        self._error = self._error_batch = None

    def _run_timer(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                due = None if self._error is not None else self._queue.due(self._interval)
                now = time.monotonic()
                if due is None or due > now:
                    self._lock.wait(None if due is None else due - now)
                    continue
                self._queue.seal_all()
            self._send_ready(background=True)

    def _request(self, method: str, path: str, body: Any = None, *, idempotent: bool = True) -> Any:
        attempt = 0
        while True:
            outcome: httpx.Response | Exception
            try:
                outcome = self._http.request(method, self._url + path, json=body, headers=self._headers)
            except httpx.TransportError as exc:
                outcome = exc
            delay = self._retry.delay(attempt, idempotent, outcome)
            if delay is None:
                if isinstance(outcome, Exception):
                    raise APIConnectionError(f"{method} {path}: {outcome!r}") from outcome
                return checked(outcome)
            self._retry.log(f"{method} {path}", outcome, attempt, delay)
            time.sleep(delay)
            attempt += 1
