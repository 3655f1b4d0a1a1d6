"""The streams of this process: caps per token and address, expiry, and the Python-served ones'
outboxes.

Streams the C++ core serves (handover.py) are only counted here (CoreStream): the core writes to
them. The others (Server-Sent Events, long-poll, the multiplexed socket, TLS) are Subscribers with
a small outbox that keeps only the newest snapshot per experiment, so a client that stops reading
costs one slot per experiment and never delays anyone else; their transport drains it in a task of
its own.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from expstream import _core
from expstream.auth import Principal
from expstream.metrics import Metrics
from expstream.protocol import CloseCode
from expstream.service import Delivery, DeliveryKind

if TYPE_CHECKING:
    from expstream.breakdown_feed import BreakdownFeed

log = logging.getLogger("expstream.hub")
T = TypeVar("T")

# Control messages (pongs, errors, lifecycle events) are few and small; past this many unsent,
# the oldest go.
CONTROL_QUEUE_LIMIT = 32


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    experiment_id: str | None = None
    seq: int | None = None  # set on snapshots


class OutboxStopped(Exception):
    """The subscriber is gone; its transport loop must end."""


class Outbox:
    """Newest unsent snapshot per experiment, a short queue of control messages, a close request."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._snapshots: dict[str, tuple[int, str]] = {}
        self._breakdowns: dict[str, str] = {}  # newest unsent breakdown per experiment
        self._sent: dict[str, int] = {}
        self._floor: dict[str, int] = {}
        self._control: deque[str] = deque(maxlen=CONTROL_QUEUE_LIMIT)
        self._close: tuple[int, str] | None = None
        self._stopped = False
        self._ready = asyncio.Event()

    def resume_after(self, experiment_id: str, seq: int) -> None:
        """Resume: deliver this experiment's snapshots only once they are newer than seq."""
        self._floor[experiment_id] = seq

    def forget(self, experiment_id: str) -> None:
        self._snapshots.pop(experiment_id, None)
        self._breakdowns.pop(experiment_id, None)
        self._sent.pop(experiment_id, None)
        self._floor.pop(experiment_id, None)

    def put_snapshot(self, experiment_id: str, seq: int, payload: str) -> None:
        # Never back in time, never a resumed client's old news; equal seq is a periodic refresh.
        if seq <= self._floor.get(experiment_id, -1) or seq < self._sent.get(experiment_id, -1):
            return
        queued = self._snapshots.get(experiment_id)
        if queued is not None:
            if seq < queued[0]:
                return
            self._metrics.snapshots_dropped.inc()  # replaced before it was sent
        self._snapshots[experiment_id] = (seq, payload)
        self._ready.set()

    def put_breakdown(self, experiment_id: str, payload: str) -> None:
        """A dimension breakdown of the experiment; a newer one replaces it unsent."""
        self._breakdowns[experiment_id] = payload
        self._ready.set()

    def put_control(self, payload: str) -> None:
        self._control.append(payload)
        self._ready.set()

    def close(self, code: int, reason: str) -> None:
        if self._close is None:
            self._close = (code, reason)
        self._ready.set()

    @property
    def closing(self) -> bool:
        return self._close is not None

    def stop(self) -> None:
        """Ends take() for good. Cancelling the transport's task is not enough on Python 3.11:
        asyncio.wait_for can swallow a cancellation that races with its inner send completing."""
        self._stopped = True
        self._ready.set()

    async def take(self) -> tuple[list[Message], tuple[int, str] | None]:
        """Waits for something to send; returns messages in order and any close request."""
        await self._ready.wait()
        if self._stopped:
            raise OutboxStopped
        self._ready.clear()
        messages = [Message(text) for text in self._control]
        self._control.clear()
        for experiment_id, (seq, payload) in self._snapshots.items():
            messages.append(Message(payload, experiment_id, seq))
            self._sent[experiment_id] = seq
        self._snapshots.clear()
        messages.extend(
            Message(payload, experiment_id) for experiment_id, payload in self._breakdowns.items()
        )
        self._breakdowns.clear()
        return messages, self._close


@dataclass(eq=False)
class Subscriber:
    id: int
    principal: Principal
    address: str
    transport: str  # "websocket" | "sse" | "poll"
    outbox: Outbox
    close_on_not_found: bool
    experiments: set[str] = field(default_factory=set)
    dimensions: dict[str, str] = field(default_factory=dict)  # experiment -> breakdown it streams too
    opened_at: float = field(default_factory=time.monotonic)
    done: asyncio.Event = field(default_factory=asyncio.Event)  # its transport loop has ended
    expiry: asyncio.TimerHandle | None = None  # ends the stream when its token expires


# Ids of streams whose socket the C++ core serves carry this bit (registry.hpp: kCoreServed).
CORE_SERVED = 1 << 62


@dataclass(eq=False, slots=True)
class CoreStream:
    """A WebSocket stream the core serves: what this layer still needs for caps, expiry and logs."""

    id: int
    principal: Principal | None  # None until its first-message token is accepted
    address: str
    experiment_id: str
    opened_at: float = field(default_factory=time.monotonic)
    expiry: asyncio.TimerHandle | None = None


_TOKEN_EXPIRED = _core.error_json("token_expired", "", "the access token expired; reconnect with a new one")


def _expire(outbox: Outbox) -> None:
    outbox.put_control(_TOKEN_EXPIRED)
    outbox.close(CloseCode.UNAUTHORIZED, "token expired")


def _at_expiry(principal: Principal, callback: Callable[[T], None], arg: T) -> asyncio.TimerHandle | None:
    """A token is checked when a stream opens; an open stream must not outlive it either."""
    if principal.expires_at is None:
        return None
    return asyncio.get_running_loop().call_later(max(0.0, principal.expires_at - time.time()), callback, arg)


def _release(counts: Counter[str], key: str) -> None:
    """One stream fewer for key; a key at zero is deleted, so the table holds only open streams."""
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


class Hub:
    def __init__(self, core: _core.Service, metrics: Metrics) -> None:
        self._core = core
        self._metrics = metrics
        self._subscribers: dict[int, Subscriber] = {}
        self._ids = itertools.count(1)
        self._per_token: Counter[str] = Counter()
        self._per_address: Counter[str] = Counter()
        # Per experiment, the subscriptions here that asked for a breakdown: a push to an experiment
        # nobody breaks down skips the breakdown feed without looking at its subscribers.
        self._breakdown_watchers: Counter[str] = Counter()
        # Streams breakdowns to the subscribers that asked (set once the service exists).
        self.breakdowns: BreakdownFeed | None = None
        self._core_streams: dict[int, CoreStream] = {}
        self._core_streams_gone = asyncio.Event()  # set while no core-served stream is open
        self._core_streams_gone.set()

    @property
    def connection_count(self) -> int:
        return len(self._subscribers) + len(self._core_streams)

    def streams_of_token(self, principal: Principal) -> int:
        return self._per_token[principal.token_id]

    def streams_of_address(self, address: str) -> int:
        return self._per_address[address]

    def add(
        self, principal: Principal, address: str, transport: str, *, close_on_not_found: bool
    ) -> Subscriber:
        sub = Subscriber(
            next(self._ids), principal, address, transport, Outbox(self._metrics), close_on_not_found
        )
        self._subscribers[sub.id] = sub
        sub.expiry = _at_expiry(principal, _expire, sub.outbox)
        self._per_token[principal.token_id] += 1
        self._per_address[address] += 1
        self._metrics.open_connections.labels(transport).inc()
        return sub

    def add_core_stream(self, principal: Principal | None, address: str, experiment_id: str) -> CoreStream:
        """Counts a stream the core is about to serve (its id carries CORE_SERVED); principal None:
        its token comes as its first message (admit_core_stream)."""
        stream = CoreStream(next(self._ids) | CORE_SERVED, None, address, experiment_id)
        self._core_streams[stream.id] = stream
        self._core_streams_gone.clear()
        self._per_address[address] += 1
        self._metrics.open_connections.labels("websocket").inc()
        if principal is not None:
            self.admit_core_stream(stream, principal)
        return stream

    def core_stream(self, stream_id: int) -> CoreStream | None:
        return self._core_streams.get(stream_id)

    def admit_core_stream(self, stream: CoreStream, principal: Principal) -> None:
        """The stream's token was accepted: it counts against the token and ends with it."""
        stream.principal = principal
        self._per_token[principal.token_id] += 1
        stream.expiry = _at_expiry(principal, self._expire_core_stream, stream.id)

    def _expire_core_stream(self, stream_id: int) -> None:
        self._core.close_stream(stream_id, CloseCode.UNAUTHORIZED, "token expired", _TOKEN_EXPIRED)

    def core_stream_ended(
        self, stream_id: int, close_code: int, ignored: list[tuple[str, int]]
    ) -> CoreStream | None:
        """The core says a stream it served is over: its counts go (the one place they do)."""
        stream = self._core_streams.pop(stream_id, None)
        if stream is None:
            return None
        if stream.expiry is not None:
            stream.expiry.cancel()
        if stream.principal is not None:
            _release(self._per_token, stream.principal.token_id)
        _release(self._per_address, stream.address)
        self._metrics.open_connections.labels("websocket").dec()
        self._metrics.close_codes.labels(str(close_code)).inc()
        for reason, count in ignored:
            self._metrics.client_messages_ignored.labels(reason).inc(count)
        if not self._core_streams:
            self._core_streams_gone.set()
        return stream

    def remove(self, sub: Subscriber) -> None:
        """The one place a subscriber is dropped: registry, counts and table together."""
        if self._subscribers.pop(sub.id, None) is None:
            return
        for experiment_id in list(sub.experiments):
            self._core.unsubscribe(experiment_id, sub.id)
            self.set_dimension(sub, experiment_id, None)
        sub.experiments.clear()
        if sub.expiry is not None:
            sub.expiry.cancel()
        _release(self._per_token, sub.principal.token_id)
        _release(self._per_address, sub.address)
        self._metrics.open_connections.labels(sub.transport).dec()
        sub.outbox.stop()
        sub.done.set()

    def subscribe(
        self,
        sub: Subscriber,
        experiment_id: str,
        *,
        after_seq: int | None = None,
        dimension: str | None = None,
    ) -> None:
        """Starts deliveries of an experiment (authorization is the caller's) and asks for its
        snapshot; with a dimension, its breakdown by it follows every snapshot ("": none; None:
        as before, e.g. on resume)."""
        if dimension is not None:
            self.set_dimension(sub, experiment_id, dimension or None)
        if after_seq is not None:
            sub.outbox.resume_after(experiment_id, after_seq)
        if experiment_id not in sub.experiments:
            sub.experiments.add(experiment_id)
            self._core.subscribe(experiment_id, sub.id)
        self._core.request_snapshot(experiment_id, sub.id)

    def unsubscribe(self, sub: Subscriber, experiment_id: str) -> None:
        if experiment_id in sub.experiments:
            sub.experiments.discard(experiment_id)
            self.set_dimension(sub, experiment_id, None)
            self._core.unsubscribe(experiment_id, sub.id)
            sub.outbox.forget(experiment_id)

    def set_dimension(self, sub: Subscriber, experiment_id: str, dimension: str | None) -> None:
        """The breakdown a subscription streams beside its snapshots (None: none): the one place
        sub.dimensions changes, so the per-experiment count stays right."""
        had = experiment_id in sub.dimensions
        if dimension is None:
            sub.dimensions.pop(experiment_id, None)
            if had:
                _release(self._breakdown_watchers, experiment_id)
            return
        sub.dimensions[experiment_id] = dimension
        if not had:
            self._breakdown_watchers[experiment_id] += 1

    def refresh(self, sub: Subscriber, experiment_id: str) -> None:
        self._core.request_snapshot(experiment_id, sub.id, fresh=True)

    def deliver(self, delivery: Delivery) -> None:
        if delivery.kind is DeliveryKind.CONTROL:
            self.publish(delivery.experiment_id, delivery.payload)
            return
        if delivery.target:
            sub = self._subscribers.get(delivery.target)
            targets = [sub] if sub is not None and delivery.experiment_id in sub.experiments else []
        else:
            targets = [
                s
                for sid in self._core.subscribers(delivery.experiment_id)
                if (s := self._subscribers.get(sid))
            ]
        if (
            delivery.kind is DeliveryKind.SNAPSHOT
            and self.breakdowns is not None
            and self._breakdown_watchers[delivery.experiment_id]
        ):
            self.breakdowns.on_snapshot(delivery.experiment_id, targets)
        for sub in targets:
            if delivery.kind is DeliveryKind.SNAPSHOT:
                sub.outbox.put_snapshot(delivery.experiment_id, delivery.seq, delivery.payload)
            else:
                sub.outbox.put_control(delivery.payload)
                if delivery.kind is DeliveryKind.NOT_FOUND and sub.close_on_not_found:
                    sub.outbox.close(CloseCode.NOT_FOUND, "experiment not found")

    def publish(self, experiment_id: str, payload: str) -> None:
        """A control message (e.g. a lifecycle event) to every subscriber of an experiment."""
        for sid in self._core.subscribers(experiment_id):
            if sub := self._subscribers.get(sid):
                sub.outbox.put_control(payload)

    def watching(self, experiment_id: str) -> list[Subscriber]:
        """The subscribers of an experiment on this node."""
        return [s for sid in self._core.subscribers(experiment_id) if (s := self._subscribers.get(sid))]

    def subscriber_counts(self) -> list[tuple[str, int]]:
        return [(eid, int(n)) for eid, n in self._core.active_experiments()]

    async def close_all(self, code: int, reason: str, timeout: float) -> None:
        """Asks every transport to close, and waits (bounded) until they have."""
        subs = list(self._subscribers.values())
        for sub in subs:
            sub.outbox.close(code, reason)
        waits = [asyncio.create_task(s.done.wait()) for s in subs]
        if self._core_streams:
            self._core.close_all_streams(code, reason)
            waits.append(asyncio.create_task(self._core_streams_gone.wait()))
        if waits:
            _done, pending = await asyncio.wait(waits, timeout=timeout)
            for task in pending:
                task.cancel()
