"""The webhook sender: a background task that claims due deliveries from the outbox and POSTs them.

At least once: a delivery is settled as delivered only after a 2xx; one claimed but never settled
(the process died) is due again when its lease expires. Per endpoint one request at a time, in
order (the store hands out only each endpoint's oldest unsettled delivery). Independent of the
snapshot path: its own connections, its own task; a slow receiver holds only its own delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from expstream import _core, webhook_messages
from expstream.settings import Settings
from expstream.webhook_guard import UnresolvableHostError, UnsafeUrlError, check

log = logging.getLogger("expstream.webhooks")

REQUEST_TIMEOUT_SECONDS = 10.0
RETRY_WINDOW_SECONDS = 24 * 3600.0  # then a delivery is recorded as failed for good
MAX_IN_FLIGHT = 16  # deliveries (so endpoints) sent at once by one process
RETRIED_STATUSES = frozenset({408, 429})
MAX_ERROR_CHARS = 500
MAX_OUTAGE_POLL_SECONDS = 30.0  # while the database is away, polls back off up to this


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    webhook_id: str
    url: str
    format: str
    secret: str
    event: str
    payload: str
    attempts: int
    age_seconds: float


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str  # delivered | retry | failed
    status: int  # 0: no HTTP response
    error: str


def classify_status(status: int) -> str:
    """2xx delivered; 408, 429 and 5xx retried; anything else (3xx included: no redirects) final."""
    if 200 <= status < 300:
        return "delivered"
    if status in RETRIED_STATUSES or 500 <= status < 600:
        return "retry"
    return "failed"


def backoff_seconds(
    attempts: int, base: float, ceiling: float, rng: Callable[[], float] = random.random
) -> float:
    """Full jitter: uniform in [0, min(ceiling, base * 2^(attempts-1)))."""
    return rng() * min(ceiling, base * 2.0 ** min(attempts - 1, 60))


def _client() -> httpx.AsyncClient:
    # No redirects (a 3xx is final); no proxies from the environment: the request goes to the
    # address the SSRF guard just checked, nowhere else.
    return httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False)


class WebhookSender:
    def __init__(self, store: _core.WebhookStore, settings: Settings, node_id: str) -> None:
        self._store = store
        self._settings = settings
        self._lease_token = f"{node_id}-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._claim_failures = 0  # in a row: the database is away, poll less often

    def wake(self) -> None:
        """Something was queued in this process: look now, not at the next poll."""
        self._wake.set()

    async def run(self, _service: object = None) -> None:
        """Runs until cancelled; database outages are logged and waited out."""
        async with _client() as client:
            try:
                while True:
                    await self._claim_and_send(client)
                    with contextlib.suppress(TimeoutError):  # the poll: other processes' deliveries
                        await asyncio.wait_for(self._wake.wait(), self._poll_seconds())
            finally:
                for task in self._in_flight:
                    task.cancel()
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def run_until_settled(self, delivery_id: str, timeout: float) -> dict[str, Any] | None:
        """`expstream webhook test`: sends what is due (this delivery among it) until it is settled."""
        deadline = time.monotonic() + timeout
        async with _client() as client:
            while time.monotonic() < deadline:
                await self._claim_and_send(client)
                await asyncio.gather(*self._in_flight, return_exceptions=True)
                row: dict[str, Any] | None = await asyncio.to_thread(self._store.delivery, delivery_id)
                if row is None or row["state"] != "pending" or row["last_attempt_at"] is not None:
                    return row
                await asyncio.sleep(
                    min(self._settings.webhook_poll_seconds, max(0.0, deadline - time.monotonic()))
                )
        row = await asyncio.to_thread(self._store.delivery, delivery_id)
        return row

    def _poll_seconds(self) -> float:
        poll = self._settings.webhook_poll_seconds
        return min(poll * 2.0 ** min(self._claim_failures, 10), max(poll, MAX_OUTAGE_POLL_SECONDS))

    async def _claim_and_send(self, client: httpx.AsyncClient) -> None:
        self._wake.clear()
        room = MAX_IN_FLIGHT - len(self._in_flight)
        if room <= 0:
            return
        try:
            rows = await asyncio.to_thread(
                self._store.claim, self._lease_token, self._settings.webhook_lease_seconds, room
            )
        except _core.DatabaseUnavailable as e:  # a later poll tries again
            self._claim_failures += 1
            log.warning("claiming webhook deliveries failed (%d in a row): %s", self._claim_failures, e)
            return
        except Exception as e:  # a bug: said loudly, and the sender keeps going
            self._claim_failures += 1
            log.error("claiming webhook deliveries failed: %s: %s", type(e).__name__, e, exc_info=True)
            return
        self._claim_failures = 0
        for row in rows:
            task = asyncio.create_task(self._deliver(client, Claimed(*row)), name=f"webhook-{row[0]}")
            self._in_flight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("webhook delivery task failed: %s: %s", type(error).__name__, error, exc_info=error)
        self._wake.set()  # the endpoint's next delivery may be due now

    async def _deliver(self, client: httpx.AsyncClient, d: Claimed) -> None:
        started = time.monotonic()
        outcome = await self._attempt(client, d)
        latency_ms = (time.monotonic() - started) * 1000.0
        result, retry_in = outcome.result, 0.0
        if result == "retry":
            retry_in = backoff_seconds(
                d.attempts,
                self._settings.webhook_retry_base_seconds,
                self._settings.webhook_retry_max_seconds,
            )
            if d.age_seconds + retry_in > RETRY_WINDOW_SECONDS:
                result = "failed"
        fields = {"delivery": d.id, "webhook": d.webhook_id, "event_type": d.event, "attempt": d.attempts,
                  "result": result, "status": outcome.status, "error": outcome.error}  # fmt: skip
        level = logging.INFO if result == "delivered" else logging.WARNING
        log.log(level, "webhook delivery %s: %s", d.id, result, extra={"fields": fields})
        try:
            settled = await asyncio.to_thread(
                self._store.finish, d.id, self._lease_token, result, retry_in, outcome.status, latency_ms,
                outcome.error[:MAX_ERROR_CHARS],
            )  # fmt: skip
        except Exception as e:  # not recorded: the lease expires and it is sent again (at least once)
            log.warning(
                "recording webhook delivery %s failed: %s: %s", d.id, type(e).__name__, e, exc_info=True
            )
            return
        if not settled:
            log.warning("webhook delivery %s: the lease expired before the attempt was recorded", d.id)

    async def _attempt(self, client: httpx.AsyncClient, d: Claimed) -> Outcome:
        try:
            target = await check(d.url, self._settings.webhook_allow_private)
        except UnresolvableHostError as e:  # DNS trouble may pass, like a refused connection
            return Outcome("retry", 0, f"connection error: {e}")
        except UnsafeUrlError as e:
            return Outcome("failed", 0, f"refused: {e}")
        body = webhook_messages.body(d.format, d.payload, self._settings.public_url)
        headers = webhook_messages.headers(d.event, d.id, d.secret, int(time.time()), body)
        headers["Host"] = target.host_header
        # Connect to the address just checked; TLS still verifies the name in the URL.
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            # 10 s for the whole exchange, not per read: a trickling receiver must not outlive the lease.
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                # Streamed and never read: a receiver's answer body costs nothing, however large.
                request = client.stream(
                    "POST", target.address_url, content=body, headers=headers, extensions=extensions
                )
                async with request as response:
                    status = response.status_code
        except (TimeoutError, httpx.TimeoutException) as e:
            return Outcome("retry", 0, f"timeout: {type(e).__name__}")
        except httpx.TransportError as e:
            return Outcome("retry", 0, f"connection error: {type(e).__name__}: {e}")
        result = classify_status(status)
        return Outcome(result, status, "" if result == "delivered" else f"HTTP {status}")
