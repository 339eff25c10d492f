"""``GET /metrics`` in the Prometheus text format (prometheus-client): what the sync engine did
since start (pushes, rejections, failures, propagation latency from the change to the channel's
acceptance) and, read at each scrape, the outbox depth and age per channel, circuits, the last
1C update and open tasks. One registry per service, so tests and several apps never collide."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from workflows.ports import Clock, UnitOfWorkFactory

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0, 900.0)


class Metrics:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, channels: Sequence[str]) -> None:
        self._uow, self._clock, self._channels = uow, clock, list(channels)
        self.registry = r = CollectorRegistry()
        self._pushed = Counter("storeops_sync_pushed_lines", "Stock lines a channel accepted", ["channel"], registry=r)
        self._rejected = Counter(
            "storeops_sync_rejected_lines", "Stock lines a channel refused", ["channel"], registry=r
        )
        self._failures = Counter("storeops_sync_failures", "Pushes that failed as a whole", ["channel"], registry=r)
        self._latency = Histogram(
            "storeops_sync_propagation_seconds", "From a stock change to the channel accepting it", ["channel"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self._depth = Gauge("storeops_outbox_depth", "Stock lines waiting to be sent", ["channel"], registry=r)
        self._age = Gauge("storeops_outbox_oldest_age_seconds", "How long the oldest waiting line has waited",
                          ["channel"], registry=r)  # fmt: skip
        self._circuit = Gauge("storeops_channel_circuit_open", "1 while a failing channel is left alone", ["channel"],
                              registry=r)  # fmt: skip
        self._onec = Gauge("storeops_onec_last_update_timestamp_seconds", "When 1C last sent stock", registry=r)
        self._tasks = Gauge("storeops_open_tasks", "Questions to people still open", registry=r)
        self._notices = Gauge("storeops_undelivered_messages", "Chat messages not delivered yet", registry=r)
        for channel in self._channels:  # every channel shows from the start, at 0
            self._pushed.labels(channel)
            self._rejected.labels(channel)
            self._failures.labels(channel)

    # -- SyncObserver -----------------------------------------------------------------------------------------
    def accepted(self, channel: str, latencies_s: Sequence[float]) -> None:
        self._pushed.labels(channel).inc(len(latencies_s))
        for seconds in latencies_s:
            self._latency.labels(channel).observe(max(0.0, seconds))

    def rejected(self, channel: str, count: int) -> None:
        self._rejected.labels(channel).inc(count)

    def failed(self, channel: str) -> None:
        self._failures.labels(channel).inc()

    # -- a scrape ---------------------------------------------------------------------------------------------
    async def render(self) -> bytes:
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            depth = await uow.outbox.depth()
            states = await uow.channel_states.all()
            heard = await uow.heartbeats.last()
            open_tasks = sum((await uow.tasks.open_counts()).values())  # counted in the database, none loaded
            undelivered = sum((await uow.notices.undelivered_counts()).values())
        for channel in sorted({*self._channels, *depth}):
            count, oldest = depth.get(channel, (0, None))
            self._depth.labels(channel).set(count)
            self._age.labels(channel).set((now - oldest).total_seconds() if oldest else 0)
        for channel in self._channels:
            self._circuit.labels(channel).set(1 if channel in states and states[channel].circuit_open(now) else 0)
        self._onec.set(heard.at.timestamp() if heard else 0)
        self._tasks.set(open_tasks)
        self._notices.set(undelivered)
        return generate_latest(self.registry)
