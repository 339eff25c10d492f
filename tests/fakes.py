"""In-memory implementations of the ports, with the same contracts as the SQL ones."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from tests.money_fakes import MemoryBoxBook, MemoryCustomsBook, MemoryMoneyBook, MoneyState
from workflows.carrier import Carrier, CarrierStatus, ShipmentRefused, ShipmentRequest, Verdict
from workflows.channels import ChannelClient, ChannelUnavailable
from workflows.clients import phone_key
from workflows.errors import DuplicateOrder
from workflows.fx import FeedDown
from workflows.model import (
    Obligation,
    ObligationState,
    Order,
    OrderEvent,
    OrderLine,
    Reservation,
    ReservationState,
    Shipment,
    ShipmentState,
    StockFigure,
    StockLevel,
    availability_of_free,
)
from workflows.office_model import FROM_GATEWAY, Alert, Payment, PaymentWatch, Phase
from workflows.payment_gateway import GatewayPayment
from workflows.ports import (
    BULK,
    URGENT,
    ActionCount,
    ChannelRule,
    ChannelState,
    CommitHooks,
    CrmExport,
    HeardOrderEvent,
    Heartbeat,
    HeldFigure,
    HeldPrice,
    InstanceRecord,
    LeaseKey,
    LeaseKind,
    OneCProduct,
    OrderAction,
    OrderFilter,
    PriceBatch,
    Push,
    ReportDelivery,
    SeenOrderEvent,
    StockKey,
    UnitOfWorkFactory,
)
from workflows.return_model import ReturnRecord, ReturnState
from workflows.shop import Instance, Outside, Rules, Shop, assemble
from workflows.tasks import Deadline, DeadlineKind, Task, TaskState
from workflows.topology import Topology
from workflows.typed_names import name_key
from workflows.vocabulary import NoticeTopic


class FakeTime:
    """A monotonic clock and a sleep that only moves it (for rate gates and pacers)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@dataclass
class MemoryState:
    stock: dict[StockKey, StockLevel] = field(default_factory=dict)
    reservations: dict[int, Reservation] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    offer_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, sku) -> offer_id
    conflicts: dict[tuple[str, str], tuple[str, str, datetime]] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    task_messages: list[tuple[int, str, str, str]] = field(default_factory=list)
    notices: dict[int, tuple[str, dict[str, object], datetime | None]] = field(default_factory=dict)
    notice_leases: dict[int, datetime] = field(default_factory=dict)
    notice_owners: dict[int, str] = field(default_factory=dict)
    notice_attempts: dict[int, datetime] = field(default_factory=dict)  # when each notice's first sending began
    deadlines: dict[int, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    # event_id -> (payment_id, phase, applied)
    payment_events: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    payment_event_sources: dict[str, str] = field(default_factory=dict)  # event_id -> gateway | status_poll
    payment_watches: dict[str, PaymentWatch] = field(default_factory=dict)
    gateway_payments: dict[str, GatewayPayment] = field(default_factory=dict)
    blocked: list[tuple[str, str]] = field(default_factory=list)
    alerts: dict[int, Alert] = field(default_factory=dict)
    mutes: dict[str, datetime] = field(default_factory=dict)
    fx: dict[tuple[str, date], Decimal] = field(default_factory=dict)
    fx_fetched: dict[tuple[str, date], datetime] = field(default_factory=dict)
    channel_states: dict[str, ChannelState] = field(default_factory=dict)
    heartbeats: dict[str, datetime] = field(default_factory=dict)  # source -> when 1C last sent it
    report_deliveries: dict[date, ReportDelivery] = field(default_factory=dict)
    pushes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (channel, sku) -> row
    channel_stock: dict[tuple[str, str], int] = field(default_factory=dict)
    shipments: dict[int, Shipment] = field(default_factory=dict)  # order_id -> its shipment
    # (channel, external_id, kind) -> what the channel said became of its order
    heard_order_events: dict[tuple[str, str, str], HeardOrderEvent] = field(default_factory=dict)
    order_actions: dict[tuple[int, str], OrderAction] = field(default_factory=dict)  # (order_id, action) -> row
    returns: dict[tuple[int, str], ReturnRecord] = field(default_factory=dict)  # (order_id, sku) -> its return
    event_log: list[tuple[int, OrderEvent]] = field(default_factory=list)  # (order_id, event), in writing order
    touched: set[str] = field(default_factory=set)  # SKUs the open unit of work changed
    urgent: set[str] = field(default_factory=set)  # of those, changed by an order
    next_id: int = 1
    crm_exports: dict[int, dict[str, Any]] = field(default_factory=dict)  # order_id -> the row
    crm_cursor: int = 0
    crm_customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # client key -> customer id and claim
    onec_products: dict[str, OneCProduct] = field(default_factory=dict)  # 1C id -> what 1C said of it
    onec_held: dict[tuple[str, str], HeldFigure] = field(default_factory=dict)  # (1C id, warehouse) -> figure
    price_pushes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (channel, sku) -> row
    channel_prices: dict[tuple[str, str], int] = field(default_factory=dict)
    onec_prices: dict[tuple[str, str], int] = field(default_factory=dict)  # (price type, sku) -> kopecks
    price_batches: dict[int, PriceBatch] = field(default_factory=dict)
    order_action_owners: dict[tuple[int, str], str] = field(default_factory=dict)  # claimed rows, until saved
    instances: dict[str, InstanceRecord] = field(default_factory=dict)
    money: MoneyState = field(default_factory=MoneyState)  # clients' virtual accounts (tests/money_fakes.py)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


class MemoryStock:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def skus_after(self, after: str, limit: int) -> list[str]:
        return sorted({sku for sku, _ in self._s.stock if sku > after})[:limit]

    async def for_skus(self, skus: Collection[str]) -> dict[str, list[StockLevel]]:
        found: dict[str, list[StockLevel]] = {}
        for (sku, _), level in sorted(self._s.stock.items()):
            if sku in skus:
                found.setdefault(sku, []).append(replace(level))
        return found

    async def for_sku(self, sku: str) -> list[StockLevel]:
        return [level for (s, _), level in sorted(self._s.stock.items()) if s == sku]

    async def for_keys(self, keys: Collection[StockKey]) -> dict[StockKey, StockLevel]:
        return {key: self._s.stock[key] for key in keys if key in self._s.stock}

    async def overdrawn(self, keys: Collection[StockKey]) -> list[StockLevel]:
        rows = [self._s.stock[key] for key in sorted(set(keys)) if key in self._s.stock]
        return [level for level in rows if level.reserved > level.on_hand]

    async def save_figures(self, figures: Sequence[StockFigure], as_of: datetime) -> set[StockKey]:
        self._s.touched.update(f.sku for f in figures)
        newer: set[StockKey] = set()
        for f in figures:
            held = self._s.stock.get((f.sku, f.warehouse))
            if held is not None and held.as_of > as_of:
                newer.add((f.sku, f.warehouse))  # a newer figure stays
                continue
            reserved = held.reserved if held else 0
            suspect = held.suspect_since if held and held.suspect_since and as_of <= held.suspect_since else None
            self._s.stock[(f.sku, f.warehouse)] = StockLevel(f.sku, f.warehouse, f.qty, reserved, as_of, suspect)
        return newer

    async def mark_suspect(self, sku: str, warehouse: str, since: datetime) -> None:
        self._s.touched.add(sku)
        self._s.urgent.add(sku)
        key = (sku, warehouse)
        if key in self._s.stock:
            self._s.stock[key] = replace(self._s.stock[key], suspect_since=since)

    async def set_as_of(self, sku: str, warehouse: str | None, as_of: datetime) -> int:
        keys = [key for key in self._s.stock if key[0] == sku and warehouse in (None, key[1])]
        for key in keys:
            self._s.stock[key] = replace(self._s.stock[key], as_of=as_of)
        return len(keys)

    async def lock(self, keys: Sequence[StockKey]) -> None:
        return None  # one unit of work at a time in memory

    async def receive(self, sku: str, warehouse: str, qty: int, as_of_if_new: datetime) -> None:
        self._s.touched.add(sku)
        held = self._s.stock.get((sku, warehouse))
        self._s.stock[(sku, warehouse)] = (
            replace(held, on_hand=held.on_hand + qty) if held else StockLevel(sku, warehouse, qty, 0, as_of_if_new)
        )

    async def write_off(self, sku: str, warehouse: str, qty: int) -> None:
        self._s.touched.add(sku)
        held = self._s.stock.get((sku, warehouse))
        if held is not None:
            self._s.stock[(sku, warehouse)] = replace(held, on_hand=max(0, held.on_hand - qty))

    async def unreserve(self, sku: str, warehouse: str, qty: int) -> None:
        self._s.touched.add(sku)
        self._s.urgent.add(sku)
        level = self._s.stock[(sku, warehouse)]
        self._s.stock[(sku, warehouse)] = replace(level, reserved=level.reserved - qty)


class MemoryReservations:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def take(self, reservation: Reservation) -> bool:
        key = (reservation.sku, reservation.warehouse)
        level = self._s.stock.get(key)
        if level is None or level.suspect_since is not None or level.on_hand - level.reserved < reservation.qty:
            return False
        self._s.touched.add(reservation.sku)
        self._s.urgent.add(reservation.sku)
        self._s.stock[key] = replace(level, reserved=level.reserved + reservation.qty)
        reservation.id = self._s.new_id()
        self._s.reservations[reservation.id] = copy.copy(reservation)
        return True

    async def take_else_free(self, reservation: Reservation) -> dict[str, int] | None:
        if await self.take(reservation):
            return None
        return {w: level.free for (sku, w), level in self._s.stock.items() if sku == reservation.sku}

    async def untake(self, reservation: Reservation) -> None:
        self._s.touched.add(reservation.sku)
        self._s.urgent.add(reservation.sku)
        assert reservation.id is not None
        del self._s.reservations[reservation.id]
        level = self._s.stock[(reservation.sku, reservation.warehouse)]
        self._s.stock[(reservation.sku, reservation.warehouse)] = replace(
            level, reserved=level.reserved - reservation.qty
        )
        reservation.id = None

    async def active_for_order(self, order_id: int) -> list[Reservation]:
        return [
            copy.copy(r)
            for r in self._s.reservations.values()
            if r.order_id == order_id and r.state == ReservationState.ACTIVE
        ]

    async def for_order(self, order_id: int) -> list[Reservation]:
        return [copy.copy(r) for _, r in sorted(self._s.reservations.items()) if r.order_id == order_id]

    async def deducted_active(self, keys: Collection[StockKey]) -> list[Reservation]:
        wanted = set(keys)
        return [
            copy.copy(r)
            for r in self._s.reservations.values()
            if (r.sku, r.warehouse) in wanted and r.state == ReservationState.ACTIVE and r.deducted_at is not None
        ]

    async def mark_deducted(self, ids: Collection[int], deducted_at: datetime) -> None:
        for i in ids:
            self._s.reservations[i].deducted_at = deducted_at

    async def end(self, ids: Collection[int], state: ReservationState, at: datetime) -> None:
        for i in ids:
            r = self._s.reservations[i]
            if r.state == ReservationState.ACTIVE:
                r.state, r.ended_at = state, at

    async def totals(self, state: ReservationState) -> dict[StockKey, int]:
        out: dict[StockKey, int] = {}
        for r in self._s.reservations.values():
            if r.state == state:
                out[(r.sku, r.warehouse)] = out.get((r.sku, r.warehouse), 0) + r.qty
        return out


class MemoryOrders:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, order: Order) -> bool:
        if await self.find(order.channel, order.external_id) is not None:
            raise DuplicateOrder(f"{order.channel}:{order.external_id}")
        order.id = self._s.new_id()
        stored = copy.deepcopy(order)
        stored.history, stored.lines = [], []
        # stored with their own ids, as the SQL rows get them (the caller's copies keep none)
        stored.obligations = [replace(o, id=self._s.new_id()) for o in stored.obligations]
        self._s.orders[order.id] = stored
        heard = self._s.heard_order_events.get((order.channel, order.external_id, "cancelled"))
        return heard is not None and heard.waiting

    async def add_lines(self, order_id: int, lines: Sequence[OrderLine]) -> None:
        self._s.orders[order_id].lines.extend(copy.deepcopy(list(lines)))

    async def find(self, channel: str, external_id: str) -> Order | None:
        for order in self._s.orders.values():
            if (order.channel, order.external_id) == (channel, external_id):
                return copy.deepcopy(order)
        return None

    async def named(self, channel: str, external_id: str) -> list[Order]:
        return [
            copy.deepcopy(order)
            for _, order in sorted(self._s.orders.items())
            if order.channel == channel and name_key(order.external_id) == name_key(external_id)
        ]

    async def of_phone(self, phone: str, limit: int) -> list[Order]:
        key = phone_key(phone)
        newest = sorted(self._s.orders.values(), key=lambda order: (order.created_at, order.id or 0), reverse=True)
        return [copy.deepcopy(order) for order in newest if key and phone_key(order.customer.phone) == key][:limit]

    async def ids_of_phone(self, phone: str, limit: int) -> list[int]:
        return [order.id for order in await self.of_phone(phone, limit) if order.id is not None]

    async def get(self, order_id: int) -> Order | None:
        order = self._s.orders.get(order_id)
        return copy.deepcopy(order) if order else None

    async def save_lines(self, order_id: int, lines: Sequence[OrderLine]) -> None:
        stored = {line.line_no: line for line in self._s.orders[order_id].lines}
        for line in lines:
            stored[line.line_no].status, stored[line.line_no].warehouse = line.status, line.warehouse

    async def mark_cancelled(self, order_id: int, at: datetime) -> None:
        self._s.orders[order_id].cancelled_at = at

    async def add_events(self, order_id: int, events: Sequence[OrderEvent]) -> None:
        self._s.orders[order_id].history.extend(events)
        self._s.event_log.extend((order_id, event) for event in events)

    async def add_lines_and_events(
        self, order_id: int, lines: Sequence[OrderLine], events: Sequence[OrderEvent]
    ) -> None:
        await self.add_lines(order_id, lines)
        await self.add_events(order_id, events)

    async def recent_events(self, kinds: Collection[str], limit: int) -> list[SeenOrderEvent]:
        found = [(order_id, e) for order_id, e in reversed(self._s.event_log) if e.kind in kinds][:limit]
        return [
            SeenOrderEvent(order_id, self._s.orders[order_id].channel, self._s.orders[order_id].external_id,
                           copy.deepcopy(event))
            for order_id, event in found
        ]  # fmt: skip

    async def listed(self, wanted: OrderFilter, limit: int) -> list[Order]:
        def passes(order: Order) -> bool:
            assert order.id is not None
            return (
                (wanted.ids is None or order.id in wanted.ids)
                and wanted.channel in (None, order.channel)
                and wanted.status in (None, order.status)
                and (wanted.since is None or order.created_at >= wanted.since)
                and (wanted.until is None or order.created_at < wanted.until)
                and (wanted.before_id is None or order.id < wanted.before_id)
            )

        newest = [order for _, order in sorted(self._s.orders.items(), reverse=True) if passes(order)]
        return [copy.deepcopy(order) for order in newest[:limit]]

    async def set_hold(self, order_id: int, hold: str | None) -> None:
        self._s.orders[order_id].shipping_hold = hold

    async def save_obligation(self, obligation: Obligation) -> None:
        for order in self._s.orders.values():
            order.obligations = [obligation if o.id == obligation.id else o for o in order.obligations]

    async def unexported(self, limit: int) -> list[Order]:
        found = [o for _, o in sorted(self._s.orders.items()) if o.exported_at is None and o.cancelled_at is None]
        return copy.deepcopy(found[:limit])

    async def open_external_ids(self, channel: str, limit: int) -> list[str]:
        found = [o for _, o in sorted(self._s.orders.items(), reverse=True) if o.channel == channel]
        return [o.external_id for o in found if o.cancelled_at is None][:limit]

    async def mark_exported(self, order_ids: Collection[int], at: datetime) -> None:
        for order_id in order_ids:
            order = self._s.orders.get(order_id)
            if order is not None and order.exported_at is None:
                order.exported_at = at

    async def watched_currencies(self) -> set[str]:
        open_states = (ObligationState.PENDING, ObligationState.HELD)
        return {
            o.currency for order in self._s.orders.values() for o in order.obligations
            if o.state in open_states and o.currency != "RUB"
        }  # fmt: skip

    async def obligations_due(self, now: datetime, limit: int) -> list[tuple[int, Obligation]]:
        due = [
            (o.due_at, o.id or 0, order_id, o)
            for order_id, order in self._s.orders.items()
            for o in order.obligations
            if o.state == ObligationState.PENDING and o.due_at <= now and o.rate_at_payment is not None
        ]
        return [(order_id, o) for _, _, order_id, o in sorted(due, key=lambda item: item[:2])[:limit]]

    async def awaiting_rate(self, limit: int) -> list[tuple[int, Obligation]]:
        cleared = {p.order_id for p in self._s.payments.values() if p.phase == Phase.CLEARED}
        awaiting = [
            (order_id, o.id or 0, o)
            for order_id, order in self._s.orders.items()
            if order_id in cleared
            for o in order.obligations
            if o.state == ObligationState.PENDING and o.rate_at_payment is None
        ]
        return [(order_id, o) for order_id, _, o in sorted(awaiting, key=lambda item: item[:2])[:limit]]


class MemoryPayments:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add_event(
        self, event_id: str, payment_id: str, phase: str, at: datetime, applied: str, payload: dict[str, object],
        source: str = FROM_GATEWAY,
    ) -> bool:  # fmt: skip
        if event_id in self._s.payment_events:
            return False
        self._s.payment_events[event_id] = (payment_id, phase, applied)
        self._s.payment_event_sources[event_id] = source
        return True

    async def get(self, payment_id: str) -> Payment | None:
        return copy.deepcopy(self._s.payments.get(payment_id))

    async def save(self, payment: Payment) -> None:
        self._s.payments[payment.payment_id] = copy.deepcopy(payment)

    async def for_order(self, order_id: int) -> list[Payment]:
        found = [p for p in self._s.payments.values() if p.order_id == order_id]
        return copy.deepcopy(sorted(found, key=lambda p: p.created_at))

    async def failed_attempts(self, order_id: int) -> int:
        failed = {p.payment_id for p in self._s.payments.values() if p.order_id == order_id and p.phase == Phase.FAILED}
        sources = self._s.payment_event_sources
        return len({
            pid for event_id, (pid, phase, _) in self._s.payment_events.items()
            if pid in failed and phase == Phase.FAILED and sources.get(event_id, FROM_GATEWAY) == FROM_GATEWAY
        })  # fmt: skip

    async def paid_before(self, phone: str, email: str, order_id: int) -> bool:
        for payment in self._s.payments.values():
            order = self._s.orders.get(payment.order_id)
            if order is None or order.id == order_id or payment.phase != Phase.CLEARED:
                continue
            key = phone_key(phone)
            if (key and phone_key(order.customer.phone) == key) or (email and order.customer.email == email):
                return True
        return False

    async def is_blocked(self, phone: str, email: str) -> bool:
        key = phone_key(phone)
        return any((key and phone_key(p) == key) or (email and e == email) for p, e in self._s.blocked)

    async def block(self, phone: str, email: str, reason: str, at: datetime) -> None:
        self._s.blocked.append((phone, email))


class MemoryPaymentWatches:
    LIVE = (Phase.INITIATED, Phase.THREE_DS, Phase.AUTHORIZED)

    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def claim(
        self, stuck_before: datetime, now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> list[tuple[Payment, PaymentWatch]]:
        stuck = {pid: p for pid, p in self._s.payments.items() if p.phase in self.LIVE and p.updated_at <= stuck_before}
        for pid in sorted(set(stuck) - set(self._s.payment_watches), key=lambda pid: (stuck[pid].updated_at, pid))[
            :limit
        ]:
            self._s.payment_watches[pid] = PaymentWatch(pid, now)
        due = sorted(
            (w.next_poll_at, pid) for pid, w in self._s.payment_watches.items()
            if pid in stuck and w.next_poll_at <= now and (w.leased_until is None or w.leased_until < now)
        )[:limit]  # fmt: skip
        for _, pid in due:
            self._s.payment_watches[pid].leased_until, self._s.payment_watches[pid].lease_owner = lease_until, owner
        return [(copy.deepcopy(stuck[pid]), copy.deepcopy(self._s.payment_watches[pid])) for _, pid in due]

    async def get(self, payment_id: str) -> PaymentWatch | None:
        return copy.deepcopy(self._s.payment_watches.get(payment_id))

    async def save(self, watch: PaymentWatch, owner: str) -> bool:
        held = self._s.payment_watches.get(watch.payment_id)
        if held is None or held.lease_owner not in (owner, None):
            return False
        self._s.payment_watches[watch.payment_id] = copy.deepcopy(watch)
        return True


class MemoryGatewayPayments:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, row: GatewayPayment) -> None:
        self._s.gateway_payments.setdefault(row.payment_id, copy.deepcopy(row))

    async def claim(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[GatewayPayment]:
        due = sorted(
            (r.next_attempt_at, pid) for pid, r in self._s.gateway_payments.items()
            if r.state == "pending" and r.next_attempt_at <= now and (r.leased_until is None or r.leased_until < now)
        )[:limit]  # fmt: skip
        for _, pid in due:
            self._s.gateway_payments[pid].leased_until, self._s.gateway_payments[pid].lease_owner = lease_until, owner
        return [copy.deepcopy(self._s.gateway_payments[pid]) for _, pid in due]

    async def get(self, payment_id: str) -> GatewayPayment | None:
        return copy.deepcopy(self._s.gateway_payments.get(payment_id))

    async def by_gateway_id(self, gateway_id: str) -> GatewayPayment | None:
        found = [r for r in self._s.gateway_payments.values() if r.gateway_id == gateway_id]
        return copy.deepcopy(found[0]) if found else None

    async def save(self, row: GatewayPayment, owner: str) -> bool:
        held = self._s.gateway_payments.get(row.payment_id)
        if held is None or held.state != "pending" or held.lease_owner not in (owner, None):
            return False
        self._s.gateway_payments[row.payment_id] = copy.deepcopy(row)
        return True


class MemoryAlerts:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def open_for(self, key: str) -> Alert | None:
        found = [a for a in self._s.alerts.values() if a.key == key and a.state == "open"]
        return copy.deepcopy(found[0]) if found else None

    async def get(self, alert_id: int) -> Alert | None:
        return copy.deepcopy(self._s.alerts.get(alert_id))

    async def by_task(self, task_id: int) -> Alert | None:
        found = [a for a in self._s.alerts.values() if a.task_id == task_id]
        return copy.deepcopy(found[0]) if found else None

    async def add(self, alert: Alert) -> None:
        alert.id = self._s.new_id()
        self._s.alerts[alert.id] = copy.deepcopy(alert)

    async def save(self, alert: Alert) -> None:
        assert alert.id is not None
        self._s.alerts[alert.id] = copy.deepcopy(alert)

    async def open_of_kind(self, kind: str) -> list[Alert]:
        return copy.deepcopy([a for _, a in sorted(self._s.alerts.items()) if a.state == "open" and a.kind == kind])

    async def stale_counts(self, shown_before: datetime, limit: int) -> list[Alert]:
        found = [
            a for _, a in sorted(self._s.alerts.items())
            if a.state == "open" and a.count > a.shown_count and a.shown_at is not None and a.shown_at <= shown_before
        ]  # fmt: skip
        return copy.deepcopy(found[:limit])

    async def recent(self, limit: int) -> list[Alert]:
        return copy.deepcopy([a for _, a in sorted(self._s.alerts.items(), reverse=True)][:limit])

    async def muted_until(self, key: str) -> datetime | None:
        return self._s.mutes.get(key)

    async def mute(self, key: str, until: datetime, by: str) -> None:
        self._s.mutes[key] = until


class MemoryFxRates:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def store(self, rate_date: date, rates: Mapping[str, Decimal], at: datetime) -> None:
        for currency, rate in rates.items():
            self._s.fx[(currency, rate_date)] = rate
            self._s.fx_fetched[(currency, rate_date)] = at

    async def latest(self, currency: str) -> tuple[date, Decimal] | None:
        dated = sorted((d, r) for (c, d), r in self._s.fx.items() if c == currency)
        return dated[-1] if dated else None

    async def latest_fetched_since(self, currency: str, since: datetime) -> Decimal | None:
        dated = sorted(d for c, d in self._s.fx if c == currency)
        if not dated or self._s.fx_fetched[(currency, dated[-1])] < since:
            return None
        return self._s.fx[(currency, dated[-1])]


class MemoryLocks:
    async def hold(self, name: str) -> None:
        return None  # one memory unit of work commits at a time: nothing to wait for


class MemoryOutbox:
    """The stock outbox, or (``prices=True``) the price outbox, whose lines may also be held for a decision."""

    def __init__(self, state: MemoryState, *, prices: bool = False) -> None:
        self._s = state
        self._pushes = state.price_pushes if prices else state.pushes
        self._shown = state.channel_prices if prices else state.channel_stock

    async def known(self, channel: str, skus: Collection[str]) -> dict[str, int]:
        found = {sku: qty for (ch, sku), qty in self._shown.items() if ch == channel and sku in skus}
        for (ch, sku), row in self._pushes.items():
            if ch == channel and sku in skus and row["state"] in ("pending", "held"):
                found[sku] = row["qty"]
        return found

    async def enqueue(
        self, channel: str, changes: Mapping[str, int], at: datetime, urgent: Collection[str] = frozenset()
    ) -> None:
        for sku, qty in changes.items():
            row = self._pushes.get((channel, sku))
            waiting = row is not None and row["state"] == "pending"
            first = row["first_pending_at"] if row is not None and waiting else at
            due = row["next_attempt_at"] if row is not None and waiting else at
            version = row["version"] + 1 if row is not None else 1
            priority = URGENT if sku in urgent else BULK
            if row is not None and waiting:
                priority = min(priority, row.get("priority", BULK))
            self._pushes[(channel, sku)] = {
                "qty": qty, "version": version, "first_pending_at": first, "attempts": 0, "next_attempt_at": due,
                "state": "pending", "leased_until": None, "error": None, "batch_id": None, "priority": priority,
            }  # fmt: skip

    async def enqueue_changed(
        self, values: Mapping[str, Mapping[str, int]], at: datetime, urgent: Collection[str] = frozenset()
    ) -> None:
        for channel, of in values.items():
            known = await self.known(channel, of)
            await self.enqueue(channel, {sku: qty for sku, qty in of.items() if known.get(sku) != qty}, at, urgent)

    async def enqueue_availability(
        self,
        skus: Collection[str],
        channels: Mapping[str, ChannelRule],
        at: datetime,
        urgent: Collection[str] = frozenset(),
    ) -> None:
        free: dict[str, dict[str, int]] = {}
        for (sku, warehouse), level in self._s.stock.items():
            if sku in skus:
                free.setdefault(sku, {})[warehouse] = level.free
        values = {
            name: {sku: availability_of_free(of, serves, safety) for sku, of in free.items()}
            for name, (serves, safety) in channels.items()
        }
        await self.enqueue_changed(values, at, urgent)

    async def claim(
        self,
        channel: str,
        now: datetime,
        lease_until: datetime,
        owner: str,
        limit: int,
        *,
        urgent_only: bool = False,
        mine_too: bool = False,
    ) -> list[Push]:
        due = sorted(
            (row.get("priority", BULK), row["first_pending_at"], sku)
            for (ch, sku), row in self._pushes.items()
            if ch == channel and row["state"] == "pending" and row["next_attempt_at"] <= now
            and (row["leased_until"] is None or row["leased_until"] < now or (mine_too and row.get("owner") == owner))
            and (row.get("priority", BULK) == URGENT or not urgent_only)
        )[:limit]  # fmt: skip
        claimed = []
        for _, _, sku in due:
            row = self._pushes[(channel, sku)]
            row["leased_until"], row["owner"] = lease_until, owner
            claimed.append(
                Push(channel, sku, row["qty"], row["version"], row["attempts"], row["first_pending_at"],
                     row.get("priority", BULK))
            )  # fmt: skip
        return claimed

    async def accepted(self, pushes: Sequence[Push], at: datetime) -> int:
        moved = 0
        for push in pushes:
            row = self._pushes.get((push.channel, push.sku))
            if row is not None and row["version"] == push.version:
                del self._pushes[(push.channel, push.sku)]
            elif row is not None:
                row["leased_until"] = None
                moved += 1
            self._shown[(push.channel, push.sku)] = push.qty
        return moved

    async def rejected(
        self, pushes: Sequence[Push], reasons: Mapping[str, str], retry_at: datetime, dead_after: int
    ) -> list[Push]:
        dead = []
        for push in pushes:
            row = self._pushes.get((push.channel, push.sku))
            if row is None or row["version"] != push.version:
                continue
            row["attempts"] = push.attempts + 1
            row.update(next_attempt_at=retry_at, error=reasons.get(push.sku, "rejected"), leased_until=None)
            if row["attempts"] >= dead_after:
                row["state"] = "dead"
                dead.append(push)
        return dead

    async def postpone(self, pushes: Sequence[Push], retry_at: datetime, error: str | None) -> None:
        for push in pushes:
            row = self._pushes.get((push.channel, push.sku))
            if row is not None:
                row.update(next_attempt_at=retry_at, error=error, leased_until=None)

    async def depth(self) -> dict[str, tuple[int, datetime | None]]:
        found: dict[str, tuple[int, datetime | None]] = {}
        for (channel, _), row in self._pushes.items():
            if row["state"] == "pending":
                count, oldest = found.get(channel, (0, None))
                first = row["first_pending_at"]
                found[channel] = (count + 1, first if oldest is None or first < oldest else oldest)
        return found


class MemoryPriceBook:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def onec(self, price_type: str, skus: Collection[str]) -> dict[str, int]:
        return {sku: v for (kind, sku), v in self._s.onec_prices.items() if kind == price_type and sku in skus}

    async def put_onec(self, price_type: str, prices: Mapping[str, int], at: datetime) -> None:
        for sku, value in prices.items():
            self._s.onec_prices[(price_type, sku)] = value

    async def shown(self, channel: str, skus: Collection[str]) -> dict[str, int]:
        return {sku: v for (ch, sku), v in self._s.channel_prices.items() if ch == channel and sku in skus}

    async def priced_after(self, channel: str, after: str, limit: int) -> list[str]:
        accepted = {sku for (ch, sku) in self._s.channel_prices if ch == channel}
        queued = {sku for (ch, sku) in self._s.price_pushes if ch == channel}
        return sorted(sku for sku in accepted | queued if sku > after)[:limit]

    async def waiting(self, channel: str, skus: Collection[str]) -> dict[str, str]:
        return {sku: row["state"] for (ch, sku), row in self._s.price_pushes.items() if ch == channel and sku in skus}

    async def resend(self, channel: str, prices: Mapping[str, int], at: datetime) -> None:
        for sku, value in prices.items():
            row = self._s.price_pushes.get((channel, sku))
            if row is not None and row["state"] != "dead":
                continue
            self._s.price_pushes[(channel, sku)] = {
                "qty": value, "version": row["version"] + 1 if row is not None else 1, "first_pending_at": at,
                "attempts": 0, "next_attempt_at": at, "state": "pending", "leased_until": None, "error": None,
                "batch_id": None,
            }  # fmt: skip

    async def open_batch(self, price_type: str, source: str, at: datetime, lines: int) -> int:
        batch_id = self._s.new_id()
        self._s.price_batches[batch_id] = PriceBatch(batch_id, price_type, source, at, lines, "held")
        return batch_id

    async def hold(self, channel: str, prices: Mapping[str, int], at: datetime, batch_id: int) -> None:
        for sku, value in prices.items():
            row = self._s.price_pushes.get((channel, sku))
            self._s.price_pushes[(channel, sku)] = {
                "qty": value, "version": row["version"] + 1 if row is not None else 1, "first_pending_at": at,
                "attempts": 0, "next_attempt_at": at, "state": "held", "leased_until": None, "error": None,
                "batch_id": batch_id,
            }  # fmt: skip

    async def batch(self, batch_id: int) -> PriceBatch | None:
        return self._s.price_batches.get(batch_id)

    async def held(self, batch_id: int) -> list[HeldPrice]:
        return [
            HeldPrice(channel, sku, row["qty"])
            for (channel, sku), row in sorted(self._s.price_pushes.items())
            if row["state"] == "held" and row["batch_id"] == batch_id
        ]

    async def release(self, batch_id: int, at: datetime) -> int:
        rows = [r for r in self._s.price_pushes.values() if r["state"] == "held" and r["batch_id"] == batch_id]
        for row in rows:
            row.update(state="pending", batch_id=None, first_pending_at=at, next_attempt_at=at, attempts=0)
        return len(rows)

    async def drop(self, batch_id: int) -> int:
        keys = [k for k, r in self._s.price_pushes.items() if r["state"] == "held" and r["batch_id"] == batch_id]
        for key in keys:
            del self._s.price_pushes[key]
        return len(keys)

    async def decide(self, batch_id: int, state: str, by: str, at: datetime) -> None:
        batch = self._s.price_batches[batch_id]
        self._s.price_batches[batch_id] = replace(batch, state=state, decided_by=by, decided_at=at)


class MemoryShipments:
    IN_PROGRESS = (ShipmentState.WAITING, ShipmentState.REGISTERING, ShipmentState.ACCEPTED)

    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, shipment: Shipment) -> None:
        assert shipment.order_id not in self._s.shipments, "one shipment per order"
        self._s.shipments[shipment.order_id] = copy.deepcopy(shipment)

    async def get(self, order_id: int) -> Shipment | None:
        return copy.deepcopy(self._s.shipments.get(order_id))

    async def claim(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[Shipment]:
        due = sorted(
            (s.next_attempt_at, s.order_id) for s in self._s.shipments.values()
            if s.state in self.IN_PROGRESS and s.next_attempt_at <= now
            and (s.leased_until is None or s.leased_until < now)
        )[:limit]  # fmt: skip
        for _, order_id in due:
            self._s.shipments[order_id].leased_until, self._s.shipments[order_id].lease_owner = lease_until, owner
        return [copy.deepcopy(self._s.shipments[order_id]) for _, order_id in due]

    async def save(self, shipment: Shipment, owner: str) -> bool:
        held = self._s.shipments.get(shipment.order_id)
        if held is None or held.lease_owner not in (owner, None):
            return False
        self._s.shipments[shipment.order_id] = copy.deepcopy(shipment)
        return True


class MemoryChannelStates:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def get(self, name: str) -> ChannelState:
        return self._s.channel_states.get(name, ChannelState(name))

    async def all(self) -> dict[str, ChannelState]:
        return dict(sorted(self._s.channel_states.items()))

    async def pause(self, name: str, by: str, at: datetime) -> None:
        self._set(name, paused_by=by, paused_at=at)

    async def resume(self, name: str) -> None:
        if name in self._s.channel_states:
            self._set(name, paused_by=None, paused_at=None)

    async def open_circuit(self, name: str, until: datetime) -> None:
        self._set(name, circuit_until=until)

    async def count_failure(self, name: str) -> int:
        self._set(name, failures_in_a_row=(await self.get(name)).failures_in_a_row + 1)
        return self._s.channel_states[name].failures_in_a_row

    async def reset_failures(self, name: str) -> bool:
        if not (await self.get(name)).failures_in_a_row:
            return False
        self._set(name, failures_in_a_row=0)
        return True

    async def request_sync(self, name: str, by: str, at: datetime) -> None:
        self._set(name, sync_requested_by=by, sync_requested_at=at)

    async def reconciled(self, name: str, summary: str, at: datetime) -> None:
        self._set(name, reconciled=summary, reconciled_at=at)

    async def save_order_events_cursor(self, name: str, cursor: str) -> None:
        self._set(name, order_events_cursor=cursor)

    def _set(self, name: str, **values: Any) -> None:
        self._s.channel_states[name] = replace(self._s.channel_states.get(name, ChannelState(name)), **values)


class MemoryHeardOrderEvents:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, event: HeardOrderEvent) -> bool:
        key = (event.channel, event.external_id, event.kind)
        if key in self._s.heard_order_events:
            return False
        self._s.heard_order_events[key] = event
        return True

    async def get(self, channel: str, external_id: str, kind: str) -> HeardOrderEvent | None:
        return self._s.heard_order_events.get((channel, external_id, kind))

    async def heard_of(self, channel: str, external_ids: Sequence[str]) -> set[tuple[str, str]]:
        wanted = set(external_ids)
        return {(e, k) for (c, e, k) in self._s.heard_order_events if c == channel and e in wanted}

    async def waiting_cancellation(self, channel: str, external_id: str) -> HeardOrderEvent | None:
        found = await self.get(channel, external_id, "cancelled")
        return found if found is not None and found.waiting else None

    async def settle(self, channel: str, external_id: str, kind: str, order_id: int, at: datetime) -> bool:
        found = await self.get(channel, external_id, kind)
        if found is None or not found.waiting:
            return False
        self._s.heard_order_events[(channel, external_id, kind)] = replace(found, order_id=order_id, applied_at=at)
        return True

    async def waiting_with_order(self, channel: str, limit: int) -> list[tuple[HeardOrderEvent, int]]:
        taken = {o.external_id: order_id for order_id, o in self._s.orders.items() if o.channel == channel}
        waiting = [e for e in self._s.heard_order_events.values() if e.channel == channel and e.waiting]
        waiting.sort(key=lambda e: (e.heard_at, e.external_id))
        return [(e, taken[e.external_id]) for e in waiting if e.external_id in taken][:limit]


class MemoryOrderActions:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, action: OrderAction) -> bool:
        key = (action.order_id, action.action)
        if key in self._s.order_actions:
            return False
        self._s.order_actions[key] = action
        return True

    async def get(self, order_id: int, action: str) -> OrderAction | None:
        return self._s.order_actions.get((order_id, action))

    async def for_order(self, order_id: int) -> list[OrderAction]:
        found = [a for a in self._s.order_actions.values() if a.order_id == order_id]
        return sorted(found, key=lambda a: (a.created_at, a.action))

    async def save(self, action: OrderAction) -> None:
        key = (action.order_id, action.action)
        stored = self._s.order_actions[key]
        self._s.order_actions[key] = replace(action, created_at=stored.created_at)
        self._s.order_action_owners.pop(key, None)

    async def claim(
        self,
        channel: str,
        actions: Collection[str],
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        owner: str | None = None,
    ) -> list[OrderAction]:
        due = [
            a for a in self._s.order_actions.values()
            if a.state == "pending" and a.next_attempt_at <= now and a.action in actions
            and self._s.orders[a.order_id].channel == channel
        ]  # fmt: skip
        due.sort(key=lambda a: (a.next_attempt_at, a.order_id, a.action))
        claimed = [replace(a, next_attempt_at=lease_until) for a in due[:limit]]
        for action in claimed:
            self._s.order_actions[(action.order_id, action.action)] = action
            if owner is not None:
                self._s.order_action_owners[(action.order_id, action.action)] = owner
        return claimed

    async def candidates(self, channel: str, limit: int) -> list[int]:
        busy = {order_id for order_id, _ in self._s.order_actions}
        return sorted(
            i for i, o in self._s.orders.items() if o.channel == channel and o.cancelled_at is None and i not in busy
        )[:limit]

    async def withdraw(self, order_id: int, action: str) -> None:
        self._s.order_actions.pop((order_id, action), None)
        self._s.order_action_owners.pop((order_id, action), None)

    async def counts(self) -> list[ActionCount]:
        rows: Counter[tuple[str, str]] = Counter()
        retrying: Counter[tuple[str, str]] = Counter()
        for a in self._s.order_actions.values():
            rows[(a.action, a.state)] += 1
            retrying[(a.action, a.state)] += int(a.attempts > 0)
        return [ActionCount(action, state, count, retrying[(action, state)]) for (action, state), count in
                sorted(rows.items())]  # fmt: skip


class MemoryHeartbeats:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def heard(self, source: str, at: datetime) -> None:
        self._s.heartbeats[source] = at

    async def last(self) -> Heartbeat | None:
        if not self._s.heartbeats:
            return None
        at, source = max((at, source) for source, at in self._s.heartbeats.items())
        return Heartbeat(source, at)


class MemoryReportDeliveries:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def get(self, day: date) -> ReportDelivery | None:
        return self._s.report_deliveries.get(day)

    async def save(self, delivery: ReportDelivery) -> None:
        self._s.report_deliveries[delivery.day] = delivery


class MemoryOfferIds:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def for_skus(self, channel: str, skus: Collection[str]) -> dict[str, str]:
        return {sku: self._s.offer_ids[(channel, sku)] for sku in skus if (channel, sku) in self._s.offer_ids}

    async def owners(self, channel: str, offer_ids: Collection[str]) -> dict[str, str]:
        wanted = set(offer_ids)
        return {oid: sku for (ch, sku), oid in self._s.offer_ids.items() if ch == channel and oid in wanted}

    async def on_every_channel(self, channels: Collection[str], skus: Collection[str]) -> set[str]:
        return {sku for sku in skus if all((channel, sku) in self._s.offer_ids for channel in channels)}

    async def mapped_on(self, channels: Collection[str], skus: Collection[str]) -> dict[str, dict[str, str]]:
        found = {channel: await self.for_skus(channel, skus) for channel in channels}
        return {channel: mapped for channel, mapped in found.items() if mapped}

    async def owners_on(self, offer_ids: Mapping[str, Collection[str]]) -> dict[str, dict[str, str]]:
        found = {channel: await self.owners(channel, ids) for channel, ids in offer_ids.items()}
        return {channel: owned for channel, owned in found.items() if owned}

    async def add(self, pairs: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        for channel, new in pairs.items():
            for sku, offer_id in new:
                assert (channel, sku) not in self._s.offer_ids
                assert offer_id not in (await self.owners(channel, [offer_id])), "offer id taken"
                self._s.offer_ids[(channel, sku)] = offer_id

    async def add_conflicts(self, channel: str, conflicts: Sequence[tuple[str, str, str]], at: datetime) -> None:
        for offer_id, sku, existing in conflicts:
            self._s.conflicts.setdefault((channel, sku), (offer_id, existing, at))

    async def conflicts(self) -> list[tuple[str, str, str, str]]:
        return sorted((ch, oid, sku, existing) for (ch, sku), (oid, existing, _) in self._s.conflicts.items())


class MemoryTasks:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, task: Task, deadlines: Sequence[tuple[DeadlineKind, datetime]]) -> None:
        task.id = self._s.new_id()
        self._s.tasks[task.id] = copy.deepcopy(task)
        for kind, due_at in deadlines:
            self._s.deadlines[self._s.new_id()] = {
                "task_id": task.id, "kind": kind, "due_at": due_at, "leased_until": None, "owner": None, "fired_at": None,
            }  # fmt: skip

    async def get(self, task_id: int) -> Task | None:
        task = self._s.tasks.get(task_id)
        return copy.deepcopy(task) if task else None

    async def close(
        self, task_id: int, state: TaskState, at: datetime, *, reason: str, answer: str | None = None,
        by: str | None = None,
    ) -> bool:  # fmt: skip
        task = self._s.tasks[task_id]
        if task.state != TaskState.OPEN:
            return False
        task.state, task.closed_at, task.end_reason, task.answer, task.answered_by = state, at, reason, answer, by
        return True

    async def closed_of_kind(self, kind: str, since: datetime) -> list[Task]:
        return [
            copy.deepcopy(task)
            for _, task in sorted(self._s.tasks.items())
            if task.kind == kind
            and task.state in (TaskState.ANSWERED, TaskState.EXPIRED)
            and task.closed_at is not None
            and task.closed_at >= since
        ]

    async def open_about(self, subject_prefix: str) -> list[Task]:
        return [
            copy.deepcopy(task)
            for _, task in sorted(self._s.tasks.items())
            if task.state == TaskState.OPEN and task.subject.startswith(subject_prefix)
        ]

    async def open_counts(self) -> dict[str, int]:
        return dict(Counter(str(task.kind) for task in self._s.tasks.values() if task.state == TaskState.OPEN))

    async def add_message(self, task_id: int, platform: str, chat: str, message_id: str) -> None:
        if (shown := (task_id, platform, chat, message_id)) not in self._s.task_messages:
            self._s.task_messages.append(shown)

    async def messages(self, task_id: int) -> list[tuple[str, str, str]]:
        return [(p, c, m) for t, p, c, m in self._s.task_messages if t == task_id]

    async def set_payload(self, task_id: int, payload: dict[str, object]) -> None:
        self._s.tasks[task_id].payload = copy.deepcopy(payload)


class MemoryDeadlines:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def claim_due(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[Deadline]:
        due = sorted(
            (row["due_at"], i)
            for i, row in self._s.deadlines.items()
            if row["fired_at"] is None
            and row["due_at"] <= now
            and (row["leased_until"] is None or row["leased_until"] < now)
        )[:limit]
        for _, i in due:
            self._s.deadlines[i].update(leased_until=lease_until, owner=owner)
        return [Deadline(i, self._s.deadlines[i]["task_id"], self._s.deadlines[i]["kind"], at) for at, i in due]

    async def fired(self, ids: Collection[int], owner: str, at: datetime) -> bool:
        rows = [self._s.deadlines[i] for i in ids]
        if any(row["owner"] != owner or row["fired_at"] is not None for row in rows):
            return False
        for row in rows:
            row["fired_at"] = at
        return True

    async def pending(self) -> int:
        return sum(1 for row in self._s.deadlines.values() if row["fired_at"] is None)


class MemoryNotices:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, topic: NoticeTopic, payload: dict[str, object], at: datetime) -> None:
        self._s.notices[self._s.new_id()] = (topic.value, copy.deepcopy(payload), None)

    async def claim(
        self, topics: Collection[NoticeTopic], now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> list[tuple[int, NoticeTopic, dict[str, object]]]:
        free = [
            (i, NoticeTopic(topic), copy.deepcopy(payload))
            for i, (topic, payload, done) in sorted(self._s.notices.items())
            if done is None and topic in topics and self._s.notice_leases.get(i, now - timedelta(1)) < now
        ][:limit]
        for i, _, _ in free:
            self._s.notice_leases[i], self._s.notice_owners[i] = lease_until, owner
        return free

    async def release(self, ids: Collection[int], owner: str) -> None:
        for i in ids:
            if self._s.notice_owners.get(i) == owner and self._s.notices[i][2] is None:
                self._s.notice_leases.pop(i, None)

    async def attempt(self, notice_id: int, at: datetime) -> datetime | None:
        earlier = self._s.notice_attempts.get(notice_id)
        self._s.notice_attempts.setdefault(notice_id, at)
        return earlier

    async def undelivered(
        self, limit: int, topics: Collection[str] | None = None
    ) -> list[tuple[int, str, dict[str, object]]]:
        waiting = [(i, topic, payload) for i, (topic, payload, done) in sorted(self._s.notices.items()) if done is None]
        return [row for row in waiting if topics is None or row[1] in topics][:limit]

    async def delivered(self, notice_id: int, at: datetime) -> None:
        topic, payload, _ = self._s.notices[notice_id]
        self._s.notices[notice_id] = (topic, payload, at)

    async def undelivered_counts(self) -> dict[str, int]:
        return dict(Counter(topic for topic, _, done in self._s.notices.values() if done is None))


class MemoryReturnRecords:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, record: ReturnRecord) -> bool:
        if (record.order_id, record.sku) in self._s.returns:
            return False
        self._s.returns[(record.order_id, record.sku)] = record
        return True

    async def get(self, order_id: int, sku: str) -> ReturnRecord | None:
        return self._s.returns.get((order_id, sku))

    async def settle(self, order_id: int, sku: str, state: ReturnState, at: datetime) -> None:
        self._s.returns[(order_id, sku)] = replace(self._s.returns[(order_id, sku)], state=state, decided_at=at)

    async def expected_back(self, sku: str) -> dict[str, int]:
        expected: dict[str, int] = {}
        for r in self._s.returns.values():
            level = self._s.stock.get((r.sku, r.warehouse))
            decided = r.decided_at
            settled = r.sku == sku and r.state == ReturnState.SELLABLE and decided is not None
            if settled and decided is not None and (level is None or decided > level.as_of):
                expected[r.warehouse] = expected.get(r.warehouse, 0) + r.qty
        return expected

    async def awaiting_receipt(self) -> int:
        return sum(1 for r in self._s.returns.values() if r.state == ReturnState.ANNOUNCED)

    async def take_back(self, sku: str, warehouse: str, qty: int, as_of_if_new: datetime) -> None:
        self._s.touched.add(sku)
        self._s.urgent.add(sku)
        held = self._s.stock.get((sku, warehouse))
        if held is None:
            self._s.stock[(sku, warehouse)] = StockLevel(sku, warehouse, qty, 0, as_of_if_new)
        else:
            self._s.stock[(sku, warehouse)] = replace(held, on_hand=held.on_hand + qty)


class MemoryCrmExports:
    """The CRM's copy of each order in memory: the version it took (own history events, ``crm_*`` not counted)."""

    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def due(self, now: datetime, limit: int, skip_channels: Collection[str] = ()) -> list[CrmExport]:
        found: list[CrmExport] = []
        for order_id in sorted(self._s.orders):
            if self._s.orders[order_id].channel in skip_channels:
                continue
            export = await self.get(order_id) or CrmExport(order_id, await self.version(order_id))
            retry = export.next_attempt_at
            if export.sent_version != export.version and (retry is None or retry <= now):
                found.append(export)
        return found[:limit]

    async def version(self, order_id: int) -> int:
        return sum(1 for event in self._s.orders[order_id].history if not event.kind.startswith("crm_"))

    async def get(self, order_id: int) -> CrmExport | None:
        row = self._s.crm_exports.get(order_id)
        return None if row is None else CrmExport(order_id, await self.version(order_id), **row)

    async def sent(self, order_id: int, version: int, at: datetime) -> None:
        self._s.crm_exports[order_id] = {"sent_version": version, "attempts": 0, "next_attempt_at": None,
                                         "last_error": None}  # fmt: skip

    async def failed(self, order_id: int, attempts: int, retry_at: datetime, error: str) -> None:
        row = self._s.crm_exports.setdefault(order_id, {"sent_version": None})
        row.update(attempts=attempts, next_attempt_at=retry_at, last_error=error)

    async def cursor(self) -> int:
        return self._s.crm_cursor

    async def move_cursor(self, since_id: int, at: datetime) -> None:
        self._s.crm_cursor = since_id

    async def customer_id(self, client: str) -> int | None:
        row = self._s.crm_customers.get(client)
        return None if row is None else row["customer_id"]

    async def claim_customer(self, client: str, owner: str, now: datetime, until: datetime) -> bool:
        row = self._s.crm_customers.get(client)
        if row is not None and (row["customer_id"] is not None or (row["by"] != owner and row["until"] > now)):
            return False
        self._s.crm_customers[client] = {"customer_id": None, "by": owner, "until": until}
        return True

    async def customer_made(self, client: str, customer_id: int, at: datetime) -> None:
        self._s.crm_customers[client] = {"customer_id": customer_id, "by": None, "until": None}


class MemoryOneCCatalogue:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def learn(self, products: Sequence[OneCProduct]) -> None:
        for product in products:
            stored = self._s.onec_products.get(product.onec_id, OneCProduct(product.onec_id))
            said = {name: value for name in ("article", "name", "barcode", "size", "updated_at")
                    if (value := getattr(product, name)) is not None}  # fmt: skip
            self._s.onec_products[product.onec_id] = replace(stored, **said)

    async def get(self, onec_ids: Collection[str]) -> dict[str, OneCProduct]:
        return {i: self._s.onec_products[i] for i in onec_ids if i in self._s.onec_products}

    async def without_article(self, after: str, limit: int) -> list[OneCProduct]:
        found = sorted(
            (p for p in self._s.onec_products.values() if p.article is None and p.onec_id > after),
            key=lambda p: p.onec_id,
        )
        return found[:limit]

    async def hold(self, figures: Sequence[HeldFigure]) -> None:
        for figure in figures:
            key = (figure.onec_id, figure.warehouse)
            stored = self._s.onec_held.get(key)
            if stored is None or figure.as_of >= stored.as_of:
                self._s.onec_held[key] = figure

    async def held(self) -> list[HeldFigure]:
        return sorted(self._s.onec_held.values(), key=lambda f: (f.as_of, f.onec_id, f.warehouse))

    async def release(self, keys: Collection[tuple[str, str]]) -> None:
        for key in keys:
            self._s.onec_held.pop(key, None)


class MemoryInstances:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def get(self, instance: str) -> InstanceRecord | None:
        return self._s.instances.get(instance)

    async def take(self, record: InstanceRecord, replacing: str | None) -> bool:
        stored = self._s.instances.get(record.instance)
        if (stored is None) != (replacing is None) or (stored is not None and stored.incarnation != replacing):
            return False
        self._s.instances[record.instance] = record
        return True

    async def beat(self, instance: str, incarnation: str, at: datetime) -> bool:
        stored = self._s.instances.get(instance)
        if stored is None or stored.incarnation != incarnation:
            return False
        self._s.instances[instance] = replace(stored, heartbeat_at=at)
        return True

    async def leave(self, instance: str, incarnation: str) -> None:
        stored = self._s.instances.get(instance)
        if stored is not None and stored.incarnation == incarnation:
            self._s.instances[instance] = replace(stored, heartbeat_at=None)


class MemoryLeases:
    """The leases of the memory tables, as ``storage/lease_repositories.py`` keeps them."""

    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def _leased(self, kind: LeaseKind) -> dict[LeaseKey, tuple[str | None, datetime | None]]:
        """Every row of ``kind`` whose lease stands for work under way: key -> (owner, lease end)."""
        s = self._s
        if kind in (LeaseKind.STOCK_PUSH, LeaseKind.PRICE_PUSH):
            rows = s.pushes if kind == LeaseKind.STOCK_PUSH else s.price_pushes
            return {key: (row.get("owner"), row["leased_until"]) for key, row in rows.items() if row["leased_until"]}
        if kind == LeaseKind.DEADLINE:
            return {(i,): (r["owner"], r["leased_until"]) for i, r in s.deadlines.items()
                    if r["leased_until"] and r["fired_at"] is None}  # fmt: skip
        if kind == LeaseKind.NOTICE:
            return {(i,): (s.notice_owners.get(i), until) for i, until in s.notice_leases.items()
                    if s.notices[i][2] is None}  # fmt: skip
        if kind == LeaseKind.SHIPMENT:
            return {(i,): (x.lease_owner, x.leased_until) for i, x in s.shipments.items() if x.leased_until}
        if kind == LeaseKind.PAYMENT_WATCH:
            return {(i,): (x.lease_owner, x.leased_until) for i, x in s.payment_watches.items() if x.leased_until}
        if kind == LeaseKind.GATEWAY_PAYMENT:
            return {(i,): (x.lease_owner, x.leased_until) for i, x in s.gateway_payments.items() if x.leased_until}
        return {key: (owner, s.order_actions[key].next_attempt_at) for key, owner in s.order_action_owners.items()
                if key in s.order_actions and s.order_actions[key].state == "pending"}  # fmt: skip

    def _set(self, kind: LeaseKind, key: LeaseKey, until: datetime | None) -> None:
        s = self._s
        if kind in (LeaseKind.STOCK_PUSH, LeaseKind.PRICE_PUSH):
            (s.pushes if kind == LeaseKind.STOCK_PUSH else s.price_pushes)[(str(key[0]), str(key[1]))][
                "leased_until"
            ] = until
        elif kind == LeaseKind.DEADLINE:
            s.deadlines[int(key[0])]["leased_until"] = until
        elif kind == LeaseKind.NOTICE and until is None:
            s.notice_leases.pop(int(key[0]), None)
        elif kind == LeaseKind.NOTICE and until is not None:
            s.notice_leases[int(key[0])] = until
        elif kind == LeaseKind.SHIPMENT:
            s.shipments[int(key[0])].leased_until = until
        elif kind == LeaseKind.PAYMENT_WATCH:
            s.payment_watches[str(key[0])].leased_until = until
        elif kind == LeaseKind.GATEWAY_PAYMENT:
            s.gateway_payments[str(key[0])].leased_until = until
        else:
            action_key = (int(key[0]), str(key[1]))
            due = until if until is not None else s.order_actions[action_key].next_attempt_at
            s.order_actions[action_key] = replace(s.order_actions[action_key], next_attempt_at=due)

    async def renew(self, kind: LeaseKind, keys: Collection[LeaseKey], owner: str, until: datetime) -> int:
        leased = self._leased(kind)
        mine = [key for key in set(keys) if key in leased and leased[key][0] == owner]
        for key in mine:
            self._set(kind, key, until)
        return len(mine)

    async def release(self, kind: LeaseKind, keys: Collection[LeaseKey], owner: str, now: datetime) -> int:
        leased = self._leased(kind)
        mine = [key for key in set(keys) if key in leased and leased[key][0] == owner]
        for key in mine:
            self._set(kind, key, now if kind == LeaseKind.ORDER_ACTION else None)
            if kind == LeaseKind.ORDER_ACTION:
                self._s.order_action_owners.pop((int(key[0]), str(key[1])), None)
        return len(mine)

    async def release_instance(self, instance: str, keep: str | None, now: datetime) -> int:
        released = 0
        for kind in LeaseKind:
            for key, (owner, _) in self._leased(kind).items():
                if owner is not None and owner.startswith(f"{instance}/") and owner != keep:
                    self._set(kind, key, now if kind == LeaseKind.ORDER_ACTION else None)
                    if kind == LeaseKind.ORDER_ACTION:
                        self._s.order_action_owners.pop((int(key[0]), str(key[1])), None)
                    released += 1
        return released


class MemoryUnitOfWork:
    """Works on a copy of the shared state and swaps it in on commit: rollback is free."""

    def __init__(self, shared: list[MemoryState], read_only: bool, hooks: CommitHooks) -> None:
        self._shared = shared
        self._read_only = read_only
        self._hooks = hooks

    async def __aenter__(self) -> Self:
        self._state = copy.deepcopy(self._shared[0])
        self.stock = MemoryStock(self._state)
        self.reservations = MemoryReservations(self._state)
        self.orders = MemoryOrders(self._state)
        self.offer_ids = MemoryOfferIds(self._state)
        self.tasks = MemoryTasks(self._state)
        self.deadlines = MemoryDeadlines(self._state)
        self.notices = MemoryNotices(self._state)
        self.payments = MemoryPayments(self._state)
        self.payment_watches = MemoryPaymentWatches(self._state)
        self.gateway_payments = MemoryGatewayPayments(self._state)
        self.alerts = MemoryAlerts(self._state)
        self.fx = MemoryFxRates(self._state)
        self.channel_states = MemoryChannelStates(self._state)
        self.heartbeats = MemoryHeartbeats(self._state)
        self.report_deliveries = MemoryReportDeliveries(self._state)
        self.locks = MemoryLocks()
        self.outbox = MemoryOutbox(self._state)
        self.price_outbox = MemoryOutbox(self._state, prices=True)
        self.prices = MemoryPriceBook(self._state)
        self.shipments = MemoryShipments(self._state)
        self.heard_order_events = MemoryHeardOrderEvents(self._state)
        self.order_actions = MemoryOrderActions(self._state)
        self.returns = MemoryReturnRecords(self._state)
        self.crm_exports = MemoryCrmExports(self._state)
        self.onec_catalogue = MemoryOneCCatalogue(self._state)
        self.instances = MemoryInstances(self._state)
        self.leases = MemoryLeases(self._state)
        self.money = MemoryMoneyBook(self._state.money, self._state.orders)
        self.customs = MemoryCustomsBook(self._state.money, self._state.orders)
        self.boxes = MemoryBoxBook(self._state.money)
        self._state.touched, self._state.urgent = set(), set()
        return self

    def touched_skus(self) -> set[str]:
        return set(self._state.touched)

    def urgent_skus(self) -> set[str]:
        return set(self._state.urgent)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        touched = bool(self._state.touched)
        if touched:
            for before in self._hooks.before:
                await before(self)
        self._state.touched, self._state.urgent = set(), set()
        self._shared[0] = self._state
        if touched:
            for after in self._hooks.after:
                after()


class MemoryUnitOfWorkFactory:
    def __init__(self) -> None:
        self.shared = [MemoryState()]
        self._hooks = CommitHooks()

    @property
    def hooks(self) -> CommitHooks:
        return self._hooks

    def __call__(self, *, read_only: bool = False) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.shared, read_only, self._hooks)

    @property
    def state(self) -> MemoryState:
        return self.shared[0]


class FakeCarrier:
    """The carrier port in memory, behaving as CDEK does behind ``integrations/cdek_carrier.py``: it takes a
    number once (a second registration gets the first one's id), validates later (:meth:`settle`), and fails on
    demand. Every call yields to the event loop, as a network call would, so concurrent runs interleave."""

    name = "cdek"

    def __init__(self) -> None:
        self.held: dict[str, dict[str, Any]] = {}  # carrier id -> {"request", "verdict", "tracking", "reason"}
        self.calls: list[tuple[str, str]] = []  # (method, number or carrier id), answered or not
        self.down: Exception | None = None  # raised by every call while set
        self.refusals: list[str] = []  # the next registrations settle refused with these reasons
        self.refuse_at_once: str | None = None  # the next registration is refused outright
        self.lose_next_answer = False  # the next registration gets there, but its answer is lost (a timeout)

    def registrations(self, number: str) -> int:
        """Registration requests that reached the carrier for ``number``."""
        return sum(1 for method, key in self.calls if method == "register" and key == number)

    def settle(self) -> None:
        """Decide every shipment still pending."""
        for n, shipment in enumerate(self.held.values(), 1):
            if shipment["verdict"] == Verdict.PENDING:
                reason = shipment.pop("refusal", None)
                if reason is None:
                    shipment.update(verdict=Verdict.REGISTERED, tracking=f"11060000{n:02d}")
                else:
                    shipment.update(verdict=Verdict.REFUSED, reason=reason)

    async def register(self, request: ShipmentRequest) -> str:
        await self._call("register", request.number)
        if self.refuse_at_once is not None:
            reason, self.refuse_at_once = self.refuse_at_once, None
            raise ShipmentRefused(reason)
        for carrier_id, shipment in self.held.items():
            if shipment["request"].number == request.number and shipment["verdict"] != Verdict.REFUSED:
                return carrier_id
        carrier_id = f"uuid-{len(self.held) + 1}"
        self.held[carrier_id] = {"request": request, "verdict": Verdict.PENDING, "tracking": None, "reason": None}
        if self.refusals:
            self.held[carrier_id]["refusal"] = self.refusals.pop(0)
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise ChannelUnavailable("the carrier did not answer in time")
        return carrier_id

    async def status(self, carrier_id: str) -> CarrierStatus:
        await self._call("status", carrier_id)
        return self._status(carrier_id)

    async def find(self, number: str) -> CarrierStatus | None:
        await self._call("find", number)
        found = [cid for cid, shipment in self.held.items() if shipment["request"].number == number]
        return self._status(found[-1]) if found else None

    async def _call(self, method: str, key: str) -> None:
        await asyncio.sleep(0)
        self.calls.append((method, key))
        if self.down is not None:
            raise self.down

    def _status(self, carrier_id: str) -> CarrierStatus:
        shipment = self.held[carrier_id]
        return CarrierStatus(shipment["verdict"], carrier_id, shipment["tracking"], shipment["reason"])


class FakeRates:
    """The Central Bank's sheet as a port double: today's date (by the fake clock) and the rates set;
    ``down`` makes it fail as the feed does."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.rates, self.down, self.calls = clock, {"CNY": Decimal("12.00")}, "", 0

    async def latest(self) -> tuple[date, dict[str, Decimal]]:
        self.calls += 1
        if self.down:
            raise FeedDown(self.down)
        return self.clock.now().date(), dict(self.rates)

    def set(self, rate: str) -> None:
        self.rates["CNY"] = Decimal(rate)


def assembled(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, *, rates: FakeRates | None = None,
    carrier: Carrier | None = None, channels: Mapping[str, ChannelClient] | None = None, rules: Rules | None = None,
) -> Shop:  # fmt: skip
    """The shop's workflows wired as production wires them (``workflows.shop.assemble``), on fakes."""
    outside = Outside(rates or FakeRates(clock), channels or {}, carrier)
    return assemble(uow, topology, clock, outside, rules or Rules(), Instance(owner="test"))
