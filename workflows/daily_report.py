"""The owner's daily report: what one shop-local day looked like, from what the database records.

The day runs from local midnight to the next in the shop's time zone (the topology's
``onec.timezone``, the zone every office message already uses). The figures:

* **orders** — orders received that day, per channel and local hour of arrival;
* **median processing time** — over the orders received that day whose every line was allocated
  (reserved in the online warehouse, or confirmed by a store's staff, whenever that happened):
  the time from the order's arrival to its last line's allocation;
* **cancelled for lack of stock** — order lines that ended without stock that day: found no free
  unit anywhere at intake (``out_of_stock``) plus those no store confirmed (``unfulfillable``);
* **oversells prevented** — sales of stock that was not really there, stopped before anything was
  promised to the buyer: lines refused at intake because every unit was already held for other
  orders (``out_of_stock``; without the reservation buffer they would have been sold twice) plus
  store answers ``missing`` / ``defective`` that day (1C's figure said the item was there; without
  the check the line would have been allocated to nothing);
* **stores' answers** — per store, its confirmation questions settled that day (answered or timed
  out; a question cancelled with its order is not counted): the share answered and the median time
  to answer;
* **channels' uptime** — the share of the day (of the part gone by, for today) outside
  ``sync_failing:<channel>`` alert episodes, i.e. while pushes to the channel did not keep failing.

The report only reads; :class:`DayRecords` is the port it reads through.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from statistics import median
from typing import Protocol
from zoneinfo import ZoneInfo

from workflows.liquidity import Liquidity
from workflows.model import Order, OrderEvent
from workflows.office_model import Alert
from workflows.payloads import StoreQuestion
from workflows.ports import Clock, ReportDelivery, UnitOfWorkFactory
from workflows.store_confirmation import KIND as STORE_CONFIRMATION
from workflows.tasks import Task, TaskState
from workflows.topology import Topology

SYNC_FAILING = "sync_failing"
ALLOCATED = ("reserved", "store_confirmed")  # events that give a line its stock for good


class DayRecords(Protocol):
    """What the report reads. Every window is ``[start, end)`` in UTC."""

    async def orders_created(self, start: datetime, end: datetime) -> list[Order]:
        """Orders received in the window, with their lines and whole history (oldest event first)."""
        ...

    async def order_events(self, kinds: Collection[str], start: datetime, end: datetime) -> list[OrderEvent]:
        """Order events of ``kinds`` that happened in the window, whatever day their order came."""
        ...

    async def tasks_closed(self, kind: str, start: datetime, end: datetime) -> list[Task]:
        """Tasks of ``kind`` answered or expired in the window (not cancelled ones)."""
        ...

    async def alert_episodes(self, kind: str, start: datetime, end: datetime) -> list[Alert]:
        """Alert episodes of ``kind`` that overlap the window: begun before its end and not
        resolved before its start (still open ones included)."""
        ...


@dataclass(frozen=True)
class StoreFigures:
    store: str
    title: str
    asked: int  # questions settled that day: answered or timed out
    answered: int
    timeouts: int
    missing: int
    defective: int
    median_answer_seconds: float | None  # over the answered ones

    @property
    def answer_rate(self) -> float:
        return self.answered / self.asked if self.asked else 0.0


@dataclass(frozen=True)
class ChannelUptime:
    channel: str
    down_seconds: float  # inside sync_failing episodes
    uptime: float  # 0..1 of the part of the day gone by


@dataclass(frozen=True)
class MoneyWeek:
    """Clients' money when the report is made (docs/client_money.md): what falls due this week against what the
    earmarks hold for it, next week's, and unpaid payouts already overdue. Roubles."""

    due: Decimal
    covered: Decimal  # drawn from earmarks: laid in
    uncovered: Decimal  # waiting for a decision or the client's money, or planned and not drawn yet
    next_week: Decimal
    overdue: int
    overdue_rub: Decimal
    available: Decimal  # what the earmarks hold beyond every drawn payout


@dataclass(frozen=True)
class DailyReport:
    day: date
    timezone: str
    start: datetime  # UTC
    end: datetime  # UTC; the report covers [start, min(end, as_of))
    as_of: datetime  # when it was computed
    orders_by_hour: dict[str, tuple[int, ...]]  # channel -> 24 counts by local hour of arrival
    allocated_orders: int  # orders of the day whose every line got its stock
    median_processing_seconds: float | None
    out_of_stock_lines: int
    unfulfillable_lines: int
    store_declines: int  # answers missing / defective
    stores: tuple[StoreFigures, ...]
    channels: tuple[ChannelUptime, ...]
    money: MoneyWeek | None = None  # None while no order has a money plan or a payout

    @property
    def complete(self) -> bool:
        """The whole day is behind us (a report for today is so far)."""
        return self.as_of >= self.end

    @property
    def orders(self) -> int:
        return sum(sum(hours) for hours in self.orders_by_hour.values())

    @property
    def orders_by_channel(self) -> dict[str, int]:
        return {channel: sum(hours) for channel, hours in self.orders_by_hour.items()}

    @property
    def cancelled_for_stock(self) -> int:
        return self.out_of_stock_lines + self.unfulfillable_lines

    @property
    def oversells_prevented(self) -> int:
        return self.out_of_stock_lines + self.store_declines

    @property
    def worst_store(self) -> StoreFigures | None:
        asked = [s for s in self.stores if s.asked]
        return min(asked, key=lambda s: (s.answer_rate, s.store)) if asked else None

    @property
    def lowest_uptime(self) -> ChannelUptime | None:
        return min(self.channels, key=lambda c: (c.uptime, c.channel)) if self.channels else None


class Delivery(enum.StrEnum):
    """Where the scheduled send of one day's report stands (``UnitOfWork.report_deliveries``)."""

    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class DailyReports:
    def __init__(
        self,
        records: DayRecords,
        uow: UnitOfWorkFactory,
        topology: Topology,
        clock: Clock,
        *,
        send_lease: timedelta = timedelta(minutes=10),
    ) -> None:
        self._records, self._uow, self._topology, self._clock = records, uow, topology, clock
        self._zone = ZoneInfo(topology.onec.timezone)
        self._send_lease = send_lease

    @property
    def timezone(self) -> str:
        return self._topology.onec.timezone

    def today(self) -> date:
        return self._clock.now().astimezone(self._zone).date()

    def bounds(self, day: date) -> tuple[datetime, datetime]:
        """The day's ``[start, end)`` as aware datetimes (right across a DST change too)."""
        start = datetime.combine(day, time(0), self._zone)
        end = datetime.combine(day + timedelta(days=1), time(0), self._zone)
        return start, end

    async def for_day(self, day: date) -> DailyReport:
        start, end = self.bounds(day)
        now = self._clock.now()
        orders = await self._records.orders_created(start, end)
        ended = await self._records.order_events(("out_of_stock", "unfulfillable"), start, end)
        questions = await self._records.tasks_closed(STORE_CONFIRMATION, start, end)
        failing = await self._records.alert_episodes(SYNC_FAILING, start, end)
        times = [t for t in (_processing_seconds(order) for order in orders) if t is not None]
        return DailyReport(
            day=day, timezone=self.timezone, start=start, end=end, as_of=now,
            orders_by_hour=self._by_hour(orders),
            allocated_orders=len(times),
            median_processing_seconds=median(times) if times else None,
            out_of_stock_lines=sum(1 for e in ended if e.kind == "out_of_stock"),
            unfulfillable_lines=sum(1 for e in ended if e.kind == "unfulfillable"),
            store_declines=sum(1 for t in questions if t.answer in ("missing", "defective")),
            stores=self._stores(questions),
            channels=self._uptime(failing, start, min(end, max(start, now)), now), money=await self._money(),
        )  # fmt: skip

    async def _money(self) -> MoneyWeek | None:
        """This week's payments out against the reserves, as they stand now (a past day's report shows today's)."""
        view = await Liquidity(self._uow, self._clock, self.timezone).view(weeks=2)
        this, following = view.weeks
        if not (view.reserves.planned or this.payments or following.payments or view.overdue.payments):
            return None
        return MoneyWeek(
            this.due_rub, this.covered_rub, this.waiting_rub + this.planned_rub, following.due_rub,
            view.overdue.payments, view.overdue.due_rub, view.reserves.available,
        )  # fmt: skip

    def _by_hour(self, orders: Sequence[Order]) -> dict[str, tuple[int, ...]]:
        counts = {name: [0] * 24 for name in sorted(self._topology.channels)}
        for order in orders:
            counts.setdefault(order.channel, [0] * 24)[order.created_at.astimezone(self._zone).hour] += 1
        return {channel: tuple(hours) for channel, hours in counts.items()}

    def _stores(self, questions: Sequence[Task]) -> tuple[StoreFigures, ...]:
        by_store: dict[str, list[Task]] = {}
        for task in questions:
            by_store.setdefault(StoreQuestion.from_payload(task.payload).store, []).append(task)
        out = []
        for code, asked in sorted(by_store.items()):
            answered = [t for t in asked if t.state == TaskState.ANSWERED and t.closed_at is not None]
            waits = [(t.closed_at - t.created_at).total_seconds() for t in answered if t.closed_at is not None]
            warehouse = self._topology.warehouse(code)
            out.append(
                StoreFigures(
                    code, warehouse.display_name if warehouse else code, len(asked), len(answered),
                    sum(1 for t in asked if t.state == TaskState.EXPIRED),
                    sum(1 for t in answered if t.answer == "missing"),
                    sum(1 for t in answered if t.answer == "defective"),
                    median(waits) if waits else None,
                )
            )  # fmt: skip
        return tuple(out)

    def _uptime(
        self, episodes: Sequence[Alert], start: datetime, until: datetime, now: datetime
    ) -> tuple[ChannelUptime, ...]:
        span = (until - start).total_seconds()
        down: dict[str, list[tuple[datetime, datetime]]] = {name: [] for name in sorted(self._topology.channels)}
        for alert in episodes:
            channel = alert.key.removeprefix(f"{SYNC_FAILING}:")
            begun, over = max(alert.first_at, start), min(alert.resolved_at or now, until)
            if channel in down and over > begun:
                down[channel].append((begun, over))
        out = []
        for channel, spans in down.items():
            seconds = _covered_seconds(spans)
            out.append(ChannelUptime(channel, seconds, 1 - seconds / span if span > 0 else 1.0))
        return tuple(out)

    async def claim_delivery(self, day: date, owner: str) -> bool:
        """Take the scheduled send of ``day``'s report; ``False`` when it was sent already or
        another instance is sending it now. One wins however many instances ask at once."""
        async with self._uow() as uow:
            await uow.locks.hold(f"report:daily:{day.isoformat()}")  # PostgreSQL: across instances; SQLite: one writer
            now = self._clock.now()
            found = await uow.report_deliveries.get(day)
            if found is not None and (
                found.state == Delivery.SENT or (found.state == Delivery.SENDING and now - found.at < self._send_lease)
            ):
                return False
            await uow.report_deliveries.save(ReportDelivery(day, Delivery.SENDING, owner[:255], now))
            await uow.commit()
        return True

    async def delivery_done(self, day: date, *, sent: bool) -> None:
        """After a claimed send: ``sent`` for good, or failed (the next claim may try again)."""
        async with self._uow() as uow:
            state = Delivery.SENT if sent else Delivery.FAILED
            found = await uow.report_deliveries.get(day)
            owner = found.owner if found is not None else None
            await uow.report_deliveries.save(ReportDelivery(day, state, owner, self._clock.now()))
            await uow.commit()


def _processing_seconds(order: Order) -> float | None:
    """From arrival to the moment the last line got its stock; ``None`` while a line has none."""
    allocated: dict[object, datetime] = {}
    for event in order.history:
        if event.kind in ALLOCATED:
            allocated[event.detail.get("line")] = event.at
    moments = [allocated.get(line.line_no) for line in order.lines]
    if not moments or any(m is None for m in moments):
        return None
    return max((m - order.created_at).total_seconds() for m in moments if m is not None)


def _covered_seconds(spans: Sequence[tuple[datetime, datetime]]) -> float:
    """Length of the union of the spans (two episodes of one channel never overlap, but be sure)."""
    total, reach = 0.0, None
    for begun, over in sorted(spans):
        if reach is not None and begun < reach:
            begun = reach
        if over > begun:
            total += (over - begun).total_seconds()
            reach = over if reach is None else max(reach, over)
    return total
