"""Operators' switches and the service's vital signs: paused channels, requested syncs, when 1C
last spoke (and the alert when it goes quiet in its working time), and the figures ``/status`` shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from workflows.alerts import AlertDesk, alert_key
from workflows.errors import UnknownChannel
from workflows.ledger import Shortfall
from workflows.model import StockFigure
from workflows.ports import ChannelState, Clock, UnitOfWork, UnitOfWorkFactory
from workflows.topology import Topology
from workflows.working_time import ALL_DAY

ONEC_SILENT_KEY = "onec_silent"
STOCK_NEGATIVE = "stock_negative"
ONEC_TOTALS_UNPLACED = "onec_totals_unplaced"  # 1C gave totals without a warehouse and none is configured


def _stock_key(sku: str, warehouse: str) -> str:
    return alert_key(STOCK_NEGATIVE, sku, warehouse)


@dataclass(frozen=True)
class Status:
    channels: dict[str, bool]  # channel -> paused
    sync_requested: dict[str, datetime]
    onec_last_update: datetime | None
    undelivered_messages: int
    open_tasks: int
    queued: dict[str, int] = field(default_factory=dict)  # channel -> stock lines waiting to be sent
    failures: dict[str, int] = field(default_factory=dict)  # channel -> failed pushes in a row


class Operations:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, topology: Topology, alerts: AlertDesk, onec_silence: timedelta
    ) -> None:
        self._uow, self._clock, self._topology, self._alerts = uow, clock, topology, alerts
        self._onec_silence = onec_silence
        self._marks: dict[str, int] = {}  # pauses and resumes told through this process, per channel

    def pause_mark(self, channel: str) -> int:
        """Moves on whenever this process pauses or resumes ``channel``: a drain that keeps the channel's pause
        state between its pushes looks again at once (another instance's pause it sees at its next look)."""
        return self._marks.get(channel, 0)

    def _channel(self, name: str) -> str:
        if name not in self._topology.channels:
            raise UnknownChannel(f"unknown channel {name!r}", [{"known": sorted(self._topology.channels)}])
        return name

    async def pause(self, channel: str, by: str) -> None:
        async with self._uow() as uow:
            await uow.channel_states.pause(self._channel(channel), by, self._clock.now())
            await uow.commit()
        self._marks[channel] = self._marks.get(channel, 0) + 1

    async def resume(self, channel: str, by: str) -> None:
        async with self._uow() as uow:
            await uow.channel_states.resume(self._channel(channel))
            await uow.commit()
        self._marks[channel] = self._marks.get(channel, 0) + 1

    async def request_sync(self, channel: str | None, by: str) -> list[str]:
        """Ask for a full reconciliation of one channel or all; the sync engine picks it up."""
        names = [self._channel(channel)] if channel else sorted(self._topology.channels)
        async with self._uow() as uow:
            for name in names:
                await uow.channel_states.request_sync(name, by, self._clock.now())
            await uow.commit()
        return names

    async def heard_from_onec(self, uow: UnitOfWork, source: str) -> None:
        """Inside the caller's unit of work: 1C sent something — note when, and end a "1C is silent" alert."""
        await uow.heartbeats.heard(source, self._clock.now())
        await self._alerts.resolve(uow, ONEC_SILENT_KEY)

    async def report_stock(
        self, uow: UnitOfWork, figures: Sequence[StockFigure], shortfalls: Sequence[Shortfall]
    ) -> None:
        """Inside the caller's unit of work, after 1C's stock: 1C shows less on hand than we promised — the
        owner hears of each SKU and warehouse; a later figure that covers the promises ends that alert."""
        short = {(s.sku, s.warehouse) for s in shortfalls}
        for s in shortfalls:
            detail: dict[str, object] = {"sku": s.sku, "warehouse": s.warehouse, "on_hand": s.on_hand,
                                         "reserved": s.reserved}  # fmt: skip
            await self._alerts.raise_alert(uow, _stock_key(s.sku, s.warehouse), STOCK_NEGATIVE, detail)
        open_alerts = await uow.alerts.open_of_kind(STOCK_NEGATIVE)
        reported = {(f.sku, f.warehouse) for f in figures} if open_alerts else set()
        for alert in open_alerts:
            where = (str(alert.detail.get("sku")), str(alert.detail.get("warehouse")))
            if where in reported and where not in short:
                await self._alerts.resolve(uow, alert.key)

    async def report_totals(self, uow: UnitOfWork, source: str, unplaced: Sequence[str]) -> None:
        """Inside the caller's unit of work, after 1C sent totals without a warehouse: those it could not place
        (``unplaced``, their articles) raise the alert — the operator must set ``[onec] totals_warehouse``; none
        unplaced (they went to that warehouse) ends it."""
        if not unplaced:
            await self._alerts.resolve(uow, ONEC_TOTALS_UNPLACED)
            return
        detail: dict[str, object] = {"offers": len(unplaced), "example": unplaced[0], "source": source}
        await self._alerts.raise_alert(uow, ONEC_TOTALS_UNPLACED, ONEC_TOTALS_UNPLACED, detail)

    async def watch_onec(self) -> bool:
        """Scheduled: raise (or keep counting) the alert when 1C has been quiet too long in the time it is expected
        to talk (``[onec] working_hours`` / ``working_days``): a night without 1C is no silence, and outside that
        time an open alert waits, not counted, for the morning."""
        working = self._topology.onec.working_time
        async with self._uow() as uow:
            heard = await uow.heartbeats.last()
            now = self._clock.now()
            if heard is None or not working.covers(now):
                return False
            silent = working.between(heard.at, now)
            if silent <= self._onec_silence:
                return False
            minutes = int(silent.total_seconds() // 60)
            detail: dict[str, object] = {"last_update": heard.at.isoformat(), "minutes": minutes}
            if not working.always:  # the minutes are working minutes: the text says so
                detail["working_hours"] = working.hours or ALL_DAY
            await self._alerts.raise_alert(uow, ONEC_SILENT_KEY, ONEC_SILENT_KEY, detail)
            await uow.commit()
        return True

    async def status(self) -> Status:
        async with self._uow(read_only=True) as uow:
            states = await uow.channel_states.all()
            heard = await uow.heartbeats.last()
            undelivered = len(await uow.notices.undelivered(10_000))
            open_tasks = len(await uow.tasks.open_about(""))
            depth = await uow.outbox.depth()
        channels = {name: states.get(name, ChannelState(name)) for name in sorted(self._topology.channels)}
        return Status(
            channels={name: state.paused for name, state in channels.items()},
            sync_requested={name: s.sync_requested_at for name, s in states.items() if s.sync_requested_at},
            onec_last_update=heard.at if heard else None,
            undelivered_messages=undelivered,
            open_tasks=open_tasks,
            queued={name: count for name, (count, _) in depth.items()},
            failures={name: state.failures_in_a_row for name, state in channels.items() if state.failures_in_a_row},
        )

    async def is_paused(self, channel: str) -> bool:
        async with self._uow(read_only=True) as uow:
            return (await uow.channel_states.get(channel)).paused
