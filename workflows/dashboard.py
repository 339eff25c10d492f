"""What the operator's dashboard shows: each channel's health and queue, open tasks with their deadlines, recent
alerts, 1C's last word and what reconciliation last corrected — one read, no writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workflows.channel_upkeep import RECONCILED
from workflows.office_model import Alert
from workflows.operations import FAILURES, ONEC_HEARD, PAUSED
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.sync import CIRCUIT
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
            controls = {
                **await uow.controls.with_prefix(PAUSED), **await uow.controls.with_prefix(CIRCUIT),
                **await uow.controls.with_prefix(FAILURES), **await uow.controls.with_prefix(RECONCILED),
            }  # fmt: skip
            heard = await uow.controls.get(ONEC_HEARD)
            depth = await uow.outbox.depth()
            tasks = await uow.tasks.open_about("")
            recent = await uow.alerts.recent(alerts)
        channels = []
        for name in self._topology.channels:
            circuit = controls.get(CIRCUIT + name)
            failures = controls.get(FAILURES + name, ("0", now))[0]
            reconciled = controls.get(RECONCILED + name)
            count, oldest = depth.get(name, (0, None))
            channels.append(ChannelHealth(
                name=name, paused=bool(controls.get(PAUSED + name, ("", now))[0]),
                circuit_open=circuit is not None and _after(circuit[0], now),
                failures_in_row=int(failures) if failures.isdigit() else 0,
                outbox_depth=count, oldest_pending_at=oldest,
                reconciled=reconciled[0] if reconciled else None, reconciled_at=reconciled[1] if reconciled else None,
            ))  # fmt: skip
        tasks.sort(key=lambda t: t.deadline)
        return Snapshot(now, channels, tasks, recent, heard[1] if heard else None)


def _after(stamp: str, now: datetime) -> bool:
    try:
        return datetime.fromisoformat(stamp) > now
    except ValueError:
        return False
