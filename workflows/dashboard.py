"""What the operator's dashboard shows: each channel's health and queue, open tasks with their deadlines, recent
alerts, 1C's last word and what reconciliation last corrected — one read, no writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workflows.office_model import Alert
from workflows.ports import ChannelState, Clock, UnitOfWorkFactory
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


class Dashboard:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, topology: Topology) -> None:
        self._uow, self._clock, self._topology = uow, clock, topology

    async def snapshot(self, alerts: int = 20) -> Snapshot:
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            states = await uow.channel_states.all()
            heard = await uow.heartbeats.last()
            depth = await uow.outbox.depth()
            tasks = await uow.tasks.open_about("")
            recent = await uow.alerts.recent(alerts)
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
        return Snapshot(now, channels, tasks, recent, heard.at if heard else None)
