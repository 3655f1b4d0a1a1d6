"""expstream.Client and AsyncClient against the real server and PostgreSQL: experiments, batched ingest
(size and time bounds, counted on the wire), retries through a server restart and through a lost
response (each record counted once), idempotent resends and the typed errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import expstream
from expstream.client import (
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from expstream.embedded_db import free_port
from helpers import RunningServer, random_id, run_server, token

VARIANTS: list[dict[str, Any]] = [
    {"key": "control", "name": "Control", "is_control": True},
    {"key": "b", "name": "B"},
]
METRICS: list[dict[str, Any]] = [
    {"key": "spend", "name": "Spend per user", "kind": "mean", "event_type": "purchase", "role": "primary"},
    {"key": "converted", "kind": "proportion", "event_type": "conversion"},
]
NEVER = 3600.0  # a flush_interval that leaves sending to the size bound and flush()
WAIT = 60.0  # how long a test waits for an event before failing


class Wire:
    """httpx event hooks: every request the client makes (with its batch size) and every answer."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, int]] = []  # method, path, records in the body
        self.answers: list[tuple[str, int, Any]] = []  # path, status, body
        self.changed = threading.Condition()

    def on_request(self, request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else {}
        size = sum(len(v) for v in body.values() if isinstance(v, list)) if isinstance(body, dict) else 0
        self.requests.append((request.method, request.url.path, size))

    def on_response(self, response: httpx.Response) -> None:
        response.read()
        with self.changed:
            self.answers.append((response.request.url.path, response.status_code, response.json()))
            self.changed.notify_all()

    async def on_request_async(self, request: httpx.Request) -> None:
        self.on_request(request)

    async def on_response_async(self, response: httpx.Response) -> None:
        await response.aread()
        self.on_response(response)

    def http(self) -> httpx.Client:
        return httpx.Client(
            timeout=30, event_hooks={"request": [self.on_request], "response": [self.on_response]}
        )

    def async_http(self) -> httpx.AsyncClient:
        hooks = {"request": [self.on_request_async], "response": [self.on_response_async]}
        return httpx.AsyncClient(timeout=30, event_hooks=hooks)  # type: ignore[arg-type]

    def sizes(self, kind: str) -> list[int]:
        return [size for method, path, size in self.requests if method == "POST" and path.endswith(kind)]

    def wait_for_answers(self, kind: str, count: int) -> list[tuple[int, Any]]:
        """Blocks until count answers to POST .../kind have arrived; returns (status, body) of each."""

        def answers() -> list[tuple[int, Any]]:
            return [(status, body) for path, status, body in self.answers if path.endswith(kind)]

        with self.changed:
            assert self.changed.wait_for(lambda: len(answers()) >= count, WAIT), self.answers
            return answers()


class RetryLog(logging.Handler):
    """The client's retry warnings, and an event set by the first."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.retrying = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.retrying.set()


@pytest.fixture()
def retry_log() -> Iterator[RetryLog]:
    handler = RetryLog()
    logger = logging.getLogger("expstream.client")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def per_variant(snapshot: dict[str, Any], metric: str) -> dict[str, tuple[int, float]]:
    """users and value of one metric, per variant."""
    (entry,) = [m for m in snapshot["metrics"] if m["key"] == metric]
    return {v["key"]: (v["users"], v["value"]) for v in entry["variants"]}


def participants(snapshot: dict[str, Any]) -> dict[str, int]:
    return {v["key"]: v["participant_count"] for v in snapshot["variants"]}


def active_experiment(client: expstream.Client) -> str:
    created = client.create_experiment("client", VARIANTS, METRICS)
    client.set_status(created.id, "active")
    return created.id


def test_experiments_with_metrics_status_results_and_history(server: RunningServer) -> None:
    with expstream.Client(server.http, token("write")) as client:
        created = client.create_experiment("checkout", VARIANTS, METRICS, exposures="first")
        assert created.status == "draft"
        assert [(m.key, m.kind, m.role) for m in created.metrics] == [
            ("spend", "mean", "primary"),
            ("converted", "proportion", "secondary"),
        ]
        assert client.get_experiment(created.id) == created
        assert created.id in [e.id for e in client.list_experiments()]
        redefined = client.set_metrics(created.id, [{**METRICS[0], "cap": 100}])
        assert [(m.key, m.cap) for m in redefined.metrics] == [("spend", 100)]
        active = client.set_status(created.id, "active")
        assert active.status == "active" and active.activated_at is not None
        snapshot = client.results(created.id)
        assert snapshot["experiment_id"] == created.id and snapshot["status"] == "active"
        assert [m["key"] for m in snapshot["metrics"]] == ["spend"]
        history = client.history(created.id)
        assert history["experiment_id"] == created.id and history["points"]


def test_batches_are_cut_at_batch_size_and_flush_sends_the_rest(server: RunningServer) -> None:
    wire = Wire()
    with (
        wire.http() as http,
        expstream.Client(
            server.http, token("write"), batch_size=100, flush_interval=NEVER, http_client=http
        ) as client,
    ):
        eid = active_experiment(client)
        for i in range(250):
            client.assign(eid, f"u{i}", "control" if i % 2 else "b")
        assert wire.sizes("assignments") == [100, 100] and client.pending == 50
        for i in range(250):
            client.track(eid, f"u{i}", "purchase", 2.5)
            client.track(eid, f"u{i}", "purchase", 0.5)
        assert wire.sizes("events") == [100] * 5 and client.pending == 50
        client.flush()
        assert wire.sizes("assignments") == [100, 100, 50] and client.pending == 0
        snapshot = client.results(eid)
    ingest = [status for path, status, _ in wire.answers if path.endswith(("assignments", "events"))]
    assert ingest == [200] * 8
    assert participants(snapshot) == {"control": 125, "b": 125}
    assert per_variant(snapshot, "spend") == {"control": (125, 3.0), "b": (125, 3.0)}


def test_the_time_bound_sends_small_batches_in_the_background(server: RunningServer) -> None:
    wire = Wire()
    with (
        wire.http() as http,
        expstream.Client(server.http, token("write"), flush_interval=0.05, http_client=http) as client,
    ):
        eid = active_experiment(client)
        for i in range(7):
            client.assign(eid, f"u{i}", "b")
        # No flush: the background thread sends them (in one batch, unless the loop took 50 ms).
        answers: list[tuple[int, Any]] = []
        while sum(body["accepted"] for _, body in answers) < 7:
            answers = wire.wait_for_answers("assignments", len(answers) + 1)
        assert sum(wire.sizes("assignments")) == 7
        assert participants(client.results(eid)) == {"control": 0, "b": 7}


def test_a_pending_batch_survives_a_server_restart_and_counts_once(
    server_env: dict[str, str], retry_log: RetryLog
) -> None:
    port = free_port()
    wire = Wire()
    with wire.http() as http:
        client = expstream.Client(**restart_options(port), http_client=http)
        with run_server(server_env, port=port):
            eid = active_experiment(client)
            for i in range(100):
                client.assign(eid, f"u{i}", "control" if i % 2 else "b")
            for i in range(150):
                client.track(eid, f"u{i % 100}", "purchase", 1.0)
            assert client.pending == 50
        # That server has stopped; the 50 pending events wait for the next one on the same port.
        failure: list[Exception] = []
        flusher = threading.Thread(target=_capture, args=(client.flush, failure))
        flusher.start()
        assert retry_log.retrying.wait(WAIT), "the flush did not retry"
        with run_server(server_env, port=port):
            flusher.join(WAIT)
            assert not flusher.is_alive() and not failure, failure
            assert client.pending == 0
            snapshot = client.results(eid)
            client.close()
    check_restart(eid, snapshot, wire, retry_log)


def restart_options(port: int) -> dict[str, Any]:
    return {
        "base_url": f"http://127.0.0.1:{port}",
        "token": token("write"),
        "batch_size": 100,
        "flush_interval": NEVER,
        "max_retries": 1000,  # a budget, not a deadline: the flush ends when the second server answers
        "backoff": 0.05,
        "max_backoff": 0.5,
    }


def check_restart(eid: str, snapshot: dict[str, Any], wire: Wire, retry_log: RetryLog) -> None:
    """The pending batch arrived once, after retries that met the stopped server."""
    events = f"POST /api/v1/experiments/{eid}/events failed"
    assert all(events in m for m in retry_log.messages)
    assert any("ConnectError" in m for m in retry_log.messages)
    delivered = [body for status, body in wire.wait_for_answers("events", 2)]
    assert delivered == [{"accepted": 100, "duplicates": 0}, {"accepted": 50, "duplicates": 0}]
    assert participants(snapshot) == {"control": 50, "b": 50}
    # 150 purchases of 1 over 100 users: 1.5 a user; had a batch counted twice, more.
    assert per_variant(snapshot, "spend") == {"control": (50, 1.5), "b": (50, 1.5)}


def test_async_client_resends_a_pending_batch_after_a_server_restart(
    server_env: dict[str, str], retry_log: RetryLog
) -> None:
    port = free_port()
    wire = Wire()

    async def scenario() -> tuple[str, dict[str, Any]]:
        async with (
            wire.async_http() as http,
            expstream.AsyncClient(**restart_options(port), http_client=http) as client,
        ):
            with contextlib.ExitStack() as first:
                await asyncio.to_thread(first.enter_context, run_server(server_env, port=port))
                created = await client.create_experiment("restart", VARIANTS, METRICS)
                eid = (await client.set_status(created.id, "active")).id
                for i in range(100):
                    await client.assign(eid, f"u{i}", "control" if i % 2 else "b")
                for i in range(150):
                    await client.track(eid, f"u{i % 100}", "purchase", 1.0)
                assert client.pending == 50
                await asyncio.to_thread(first.close)
            flushing = asyncio.create_task(client.flush())
            assert await asyncio.to_thread(retry_log.retrying.wait, WAIT), "the flush did not retry"
            with contextlib.ExitStack() as second:
                await asyncio.to_thread(second.enter_context, run_server(server_env, port=port))
                await asyncio.wait_for(flushing, WAIT)
                assert client.pending == 0
                snapshot = await client.results(eid)
                await asyncio.to_thread(second.close)
        return eid, snapshot

    eid, snapshot = asyncio.run(scenario())
    check_restart(eid, snapshot, wire, retry_log)


def _capture(call: Any, failures: list[Exception]) -> None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 (the test thread hands it to the test)
        failures.append(exc)


class LosingProxy:
    """A TCP proxy to the server that, while armed, cuts the connection instead of passing on the
    server's answer: the server has stored the batch, the client never hears so."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lose = 0  # answers still to lose
        self.lost = 0
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self.sockets += [client, server]
            threading.Thread(target=self.pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, True), daemon=True).start()

    def pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(65536):
                if answers and self.take_loss():
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def take_loss(self) -> bool:
        with self.lock:
            if self.lose == 0:
                return False
            self.lose -= 1
            self.lost += 1
            return True

    def close(self) -> None:
        self.listener.close()
        for s in self.sockets:
            s.close()


def test_a_batch_whose_answer_was_lost_is_resent_with_the_same_ids_and_counts_once(
    server: RunningServer, retry_log: RetryLog
) -> None:
    proxy = LosingProxy(server.port)
    wire = Wire()
    try:
        with (
            wire.http() as http,
            expstream.Client(
                proxy.url,
                token("write"),
                batch_size=100,
                flush_interval=NEVER,
                backoff=0.01,
                http_client=http,
            ) as client,
        ):
            eid = active_experiment(client)
            for i in range(40):
                client.assign(eid, f"u{i}", "b")
            client.flush()
            proxy.lose = 1
            ids = [client.track(eid, f"u{i}", "purchase", 4.0) for i in range(40)]
            client.flush()
            snapshot = client.results(eid)
    finally:
        proxy.close()
    assert proxy.lost == 1 and len(retry_log.messages) == 1
    assert wire.sizes("events") == [40, 40]  # sent twice...
    # ...the first answer never arrived; the second says the server already had every event.
    assert wire.wait_for_answers("events", 1) == [(200, {"accepted": 0, "duplicates": 40})]
    assert len(set(ids)) == 40
    assert per_variant(snapshot, "spend")["b"] == (40, 4.0)


def test_the_same_event_id_sent_twice_counts_once(server: RunningServer) -> None:
    with expstream.Client(server.http, token("write"), flush_interval=NEVER) as client:
        eid = active_experiment(client)
        client.assign(eid, "u1", "b")
        assert client.track(eid, "u1", "purchase", 59.9, event_id="order-991") == "order-991"
        client.flush()
        client.assign(eid, "u1", "control")  # the first assignment wins
        client.track(eid, "u1", "purchase", 59.9, event_id="order-991")
        client.track(eid, "u1", "purchase", 59.9, event_id="order-991")
        client.flush()
        snapshot = client.results(eid)
    assert participants(snapshot) == {"control": 0, "b": 1}
    assert per_variant(snapshot, "spend")["b"] == (1, 59.9)


def test_typed_errors_carry_the_servers_detail(server: RunningServer) -> None:
    with (
        expstream.Client(server.http, "not-a-token") as anonymous,
        pytest.raises(AuthenticationError) as unauthenticated,
    ):
        anonymous.list_experiments()
    assert unauthenticated.value.status_code == 401 and "invalid token" in unauthenticated.value.detail

    with expstream.Client(server.http, token("write"), flush_interval=NEVER) as client:
        with pytest.raises(ValidationError) as invalid:
            client.create_experiment("one variant", VARIANTS[:1])
        assert invalid.value.status_code == 422 and "at least two variants" in str(invalid.value.detail)
        with pytest.raises(NotFoundError) as missing:
            client.get_experiment(random_id())
        assert missing.value.status_code == 404 and "not found" in missing.value.detail

        eid = active_experiment(client)
        client.assign(eid, "u1", "no-such-variant")
        with pytest.raises(ValidationError):
            client.flush()
        with pytest.raises(ValueError, match="finite"):
            client.track(eid, "u1", "purchase", float("nan"))

        with expstream.Client(server.http, token("read"), flush_interval=NEVER) as reader:
            assert reader.get_experiment(eid).id == eid
            with pytest.raises(PermissionDeniedError) as forbidden:
                reader.set_status(eid, "paused")
            assert forbidden.value.status_code == 403 and "scope" in forbidden.value.detail
            reader.assign(eid, "u1", "b")
            with pytest.raises(PermissionDeniedError) as denied:
                reader.flush()
            # Refused for good: handed back, not queued again.
            assert [(b.kind, b.records) for b in denied.value.unsent] == [
                ("assignments", [{"user_id": "u1", "variant_key": "b"}])
            ]
            assert reader.pending == 0

        client.set_status(eid, "completed")
        with pytest.raises(ConflictError) as conflict:
            client.set_status(eid, "active")
        assert conflict.value.status_code == 409
        late = client.track(eid, "u1")
        with pytest.raises(ConflictError) as refused:
            client.flush()
        assert [r["event_id"] for r in refused.value.unsent[0].records] == [late]
        assert client.pending == 0
    with pytest.raises(ValueError, match="batch_size"):
        expstream.Client(server.http, batch_size=10_001)


def test_a_background_failure_is_raised_by_the_next_call(server: RunningServer) -> None:
    wire = Wire()
    with (
        wire.http() as http,
        expstream.Client(server.http, token("write"), flush_interval=0.05, http_client=http) as client,
    ):
        eid = active_experiment(client)
        client.set_status(eid, "completed")
        event_id = client.track(eid, "u1")
        assert wire.wait_for_answers("events", 1)[0][0] == 409  # the background thread sent it
        with pytest.raises(ConflictError) as refused:
            client.flush()
        assert refused.value.unsent[0].records[0]["event_id"] == event_id
        client.flush()  # raised once


def test_async_client_batches_flushes_in_the_background_and_raises_from_close(server: RunningServer) -> None:
    async def scenario() -> None:
        wire = Wire()
        async with (
            wire.async_http() as http,
            expstream.AsyncClient(
                server.http, token("write"), batch_size=100, flush_interval=NEVER, http_client=http
            ) as client,
        ):
            created = await client.create_experiment("async", VARIANTS, METRICS)
            assert (await client.get_experiment(created.id)).metrics == created.metrics
            eid = (await client.set_status(created.id, "active")).id
            for i in range(120):
                await client.assign(eid, f"u{i}", "control" if i % 2 else "b")
            for i in range(120):
                await client.track(eid, f"u{i}", "purchase", 1.0)
                await client.track(eid, f"u{i}", "conversion")
            assert wire.sizes("assignments") == [100] and wire.sizes("events") == [100, 100]
            assert client.pending == 20 + 40
            await client.flush()
            assert wire.sizes("assignments") == [100, 20] and wire.sizes("events") == [100, 100, 40]
            snapshot = await client.results(eid)
            assert participants(snapshot) == {"control": 60, "b": 60}
            assert per_variant(snapshot, "spend") == {"control": (60, 1.0), "b": (60, 1.0)}
            assert per_variant(snapshot, "converted") == {"control": (60, 1.0), "b": (60, 1.0)}
            assert (await client.history(eid))["points"]
            with pytest.raises(NotFoundError):
                await client.results(random_id())

        answered = asyncio.Event()

        async def on_response(_response: httpx.Response) -> None:
            answered.set()

        async with httpx.AsyncClient(event_hooks={"response": [on_response]}) as http:
            background = expstream.AsyncClient(
                server.http, token("write"), flush_interval=0.05, http_client=http
            )
            await background.assign(eid, "late", "b")
            await asyncio.wait_for(answered.wait(), WAIT)  # no flush: the background task sent it
            await background.set_status(eid, "completed")
            await background.assign(eid, "later", "b")
            with pytest.raises(ConflictError) as refused:
                await background.close()
        assert [b.records for b in refused.value.unsent] == [[{"user_id": "later", "variant_key": "b"}]]
        async with expstream.AsyncClient(server.http, token("read")) as reader:
            assert participants(await reader.results(eid)) == {"control": 60, "b": 61}

    asyncio.run(scenario())


def test_close_hands_back_what_it_could_not_deliver() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    client = expstream.Client(nobody, token("write"), max_retries=2, backoff=0.001, flush_interval=NEVER)
    eid = random_id()
    tracked = [client.track(eid, "u1", "purchase", 2.0) for _ in range(3)]
    client.assign(eid, "u1", "b")
    with pytest.raises(APIConnectionError) as failed:
        client.close()
    unsent = {b.kind: b.records for b in failed.value.unsent}
    assert [r["event_id"] for r in unsent["events"]] == tracked
    assert unsent["assignments"] == [{"user_id": "u1", "variant_key": "b"}]
    with pytest.raises(RuntimeError, match="closed"):
        client.track(eid, "u2")
