"""What the operator's dashboard shows: each channel's health and queue, open tasks with their deadlines, recent
alerts, 1C's last word, what reconciliation last corrected, and the orders' lifecycle (the newest steps across
orders and what waits on people or marketplaces, :mod:`workflows.order_lifecycle`) — one read, no writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workflows.office_model import Alert
from workflows.order_lifecycle import LIFECYCLE_KINDS, OrderCounters, order_counters
from workflows.ports import ChannelState, Clock, SeenOrderEvent, UnitOfWorkFactory
from workflows.tasks import Task
from workflows.topology import Topology


@dataclass(frozen=True)
class ChannelHealth:
    name: str
    paused: bool
    circuit_open: bool
    failures_in_row: int
    outbox_depth: int
    oldest_pending_at: datetime | None
    reconciled: str | None  # "checked=… corrected=…", as the last reconciliation recorded it
    reconciled_at: datetime | None


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    channels: list[ChannelHealth]
    open_tasks: list[Task]
    alerts: list[Alert]
    onec_last_update: datetime | None
    order_events: list[SeenOrderEvent]  # the newest lifecycle steps across orders, newest first
    orders: OrderCounters


class Dashboard:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, topology: Topology) -> None:
        self._uow, self._clock, self._topology = uow, clock, topology

    @property
    def topology(self) -> Topology:
        return self._topology

    async def snapshot(self, alerts: int = 20, order_events: int = 30) -> Snapshot:
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            states = await uow.channel_states.all()
            heard = await uow.heartbeats.last()
            depth = await uow.outbox.depth()
            tasks = await uow.tasks.open_about("")
            recent = await uow.alerts.recent(alerts)
            events = await uow.orders.recent_events(LIFECYCLE_KINDS, order_events)
            counters = await order_counters(uow)
        channels = []
        for name in self._topology.channels:
            state = states.get(name, ChannelState(name))
            count, oldest = depth.get(name, (0, None))
            channels.append(ChannelHealth(
                name=name, paused=state.paused, circuit_open=state.circuit_open(now),
                failures_in_row=state.failures_in_a_row, outbox_depth=count, oldest_pending_at=oldest,
                reconciled=state.reconciled, reconciled_at=state.reconciled_at,
            ))  # fmt: skip
        tasks.sort(key=lambda t: t.deadline)
        return Snapshot(now, channels, tasks, recent, heard.at if heard else None, events, counters)
