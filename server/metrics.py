"""Prometheus metrics of one hub process, in a registry owned by the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["HubMetrics"]


class _QueueCollector(Collector):
    def __init__(self, depths: Callable[[], list[int]]) -> None:
        self._depths = depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depths = self._depths()
        total = GaugeMetricFamily("dispatch_queue_depth_total", "Frames queued for all connections")
        total.add_metric([], float(sum(depths)))
        worst = GaugeMetricFamily("dispatch_queue_depth_max", "Frames queued for the most backed-up connection")
        worst.add_metric([], float(max(depths, default=0)))
        yield total
        yield worst


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections = Gauge("dispatch_connections", "Open WebSocket sessions", registry=r)
        self.connects = Counter("dispatch_connects", "WebSocket sessions accepted", registry=r)
        self.events_in = Counter("dispatch_events_in", "Events read from the bus", ["topic"], registry=r)
        self.events_out = Counter("dispatch_events_out", "Event frames queued to clients", ["topic"], registry=r)
        self.commands = Counter("dispatch_commands", "Commands answered", ["command", "outcome"], registry=r)
        self.slow_closes = Counter("dispatch_slow_client_closes", "Connections closed 4108 for not reading", registry=r)
        self.bus_lag = Gauge("dispatch_bus_lag_seconds", "Age of the newest event when the reader got it", registry=r)
        self.archiver_lag = Gauge("dispatch_archiver_lag_entries", "Events not yet in the records store", registry=r)
        self.redis_up = Gauge("dispatch_redis_up", "1 when Redis answers", registry=r)
        self.probe_silence = Gauge(
            "dispatch_bus_probe_silence_seconds",
            "How long a probe the hub wrote has not come back through its reader (0: every one has)",
            registry=r,
        )
        self.archived = Counter("dispatch_archived_events", "Events written to SQLite", registry=r)
        self.intake = Counter(
            "dispatch_intake_submissions",
            "Submissions at the intake doors (queued, repeated, refused, limited)",
            ["door", "outcome"],
            registry=r,
        )
        self.bad_events = Counter(
            "dispatch_undecodable_events", "Stream entries this hub could not decode (skipped, kept raw)", registry=r
        )

    def watch_queues(self, depths: Callable[[], list[int]]) -> None:
        self.registry.register(_QueueCollector(depths))

    def watch(self, collector: Collector) -> None:
        """Add a collector that reads its numbers when scraped (the admission's, for one)."""
        self.registry.register(collector)
