"""Prometheus metrics, in a registry of the app's own (several apps may share a process in tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from expstream import _core


class _CoreCollector(Collector):
    """Reads the C++ runtime's own counters at scrape time."""

    def __init__(self, core: Callable[[], _core.Service | None]) -> None:
        self._core = core

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        core = self._core()
        if core is None:
            return
        yield CounterMetricFamily(
            "expstream_snapshots_computed",
            "Snapshots read, computed and serialized",
            value=core.snapshots_computed,
        )
        yield CounterMetricFamily(
            "expstream_snapshots_reused",
            "Snapshots a new subscriber got without a database read: nothing had changed since",
            value=core.snapshots_reused,
        )
        yield CounterMetricFamily(
            "expstream_snapshot_compute_seconds",
            "Time spent computing snapshots (database read included)",
            value=core.snapshot_compute_seconds,
        )
        yield CounterMetricFamily(
            "expstream_changes_coalesced",
            "Change signals absorbed into a push already scheduled or running",
            value=core.changes_coalesced,
        )
        yield CounterMetricFamily(
            "expstream_change_notices_received",
            "Changes announced by other server processes (LISTEN/NOTIFY)",
            value=core.notices_received,
        )
        yield CounterMetricFamily(
            "expstream_listener_reconnects",
            "Times the LISTEN connection was re-established",
            value=core.listener_reconnects,
        )
        yield GaugeMetricFamily(
            "expstream_listener_connected",
            "1 while the LISTEN connection is up",
            value=int(core.listener_connected),
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.core: _core.Service | None = None
        self.open_connections = Gauge(
            "expstream_open_connections", "Open streams", ["transport"], registry=self.registry
        )
        self.messages_sent = Counter(
            "expstream_messages_sent", "Messages sent to clients", ["transport"], registry=self.registry
        )
        self.snapshots_dropped = Counter(
            "expstream_snapshots_dropped",
            "Snapshots replaced by a newer one before a slow client took them",
            registry=self.registry,
        )
        self.close_codes = Counter(
            "expstream_close_codes", "WebSocket closes by code", ["code"], registry=self.registry
        )
        self.client_messages_ignored = Counter(
            "expstream_client_messages_ignored",
            "Client messages ignored, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.registry.register(_CoreCollector(lambda: self.core))
        self._core_stream_messages = 0  # the core's count of messages its streams sent, as of the last sync

    def render(self) -> bytes:
        self.sync_core_streams()
        return generate_latest(self.registry)

    def sync_core_streams(self) -> None:
        """Messages the core's own streams sent since the last look, into the shared counter."""
        if self.core is None:
            return
        sent = self.core.stream_messages_sent
        if sent > self._core_stream_messages:
            self.messages_sent.labels("websocket").inc(sent - self._core_stream_messages)
            self._core_stream_messages = sent
