"""Order intake: idempotent on (channel, external_id), each line routed and reserved at once.

Routing: a line is reserved in the first warehouse the channel serves that can hold the whole
quantity, online warehouses first, then stores by priority (why whole: docs/decisions.md, "A line is
reserved whole in one warehouse"). A store's stock is only a *hold* until its staff confirm the
item (the store-confirmation workflow asks them); the line then waits as
``awaiting_store_confirmation``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from workflows.channel_verdicts import cancel_reason, channel_order_lock, history_event
from workflows.errors import (
    ClientBlocked,
    DuplicateOrder,
    InvalidDelivery,
    OrderConflict,
    OrderNotFound,
    UnknownChannel,
)
from workflows.kits import KitBook, kit_needs, reserve_kit
from workflows.ledger import Ledger, free_stock
from workflows.model import (
    Customer,
    Delivery,
    LineStatus,
    Obligation,
    ObligationState,
    Order,
    OrderEvent,
    OrderLine,
    Reservation,
    ReservationState,
    Shipment,
    ShipmentState,
)
from workflows.ports import Clock, HeardOrderEvent, StockKey, UnitOfWork, UnitOfWorkFactory
from workflows.store_confirmation import StoreCascade
from workflows.tasks import TaskState, notify_closed
from workflows.topology import Topology, WarehouseKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineRequest:
    sku: str
    qty: int


@dataclass(frozen=True)
class PlaceOrder:
    channel: str
    external_id: str
    lines: Sequence[LineRequest]
    customer: Customer = field(default_factory=Customer)
    total: Decimal | None = None
    currency: str = "RUB"
    obligations: Sequence[Obligation] = ()
    delivery: Delivery | None = None  # to be registered with the carrier once allocated and paid
    ship_by: datetime | None = None  # the marketplace's shipping deadline, when it tells one


@dataclass(frozen=True)
class Intake:
    order: Order
    created: bool


class OrderDesk:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        topology: Topology,
        clock: Clock,
        ledger: Ledger,
        cascade: StoreCascade | None = None,
    ) -> None:
        self._uow = uow
        self._topology = topology
        self._clock = clock
        self._ledger = ledger
        self._cascade = cascade  # without one, a store hold simply waits (tests of the ledger alone)
        self._kits = KitBook(topology)

    async def place(self, command: PlaceOrder) -> Intake:
        """Take an order. A repeat of (channel, external_id) answers with the stored order and
        changes nothing; a repeat with different lines is refused as a conflict."""
        if command.channel not in self._topology.channels:
            raise UnknownChannel(
                f"unknown channel {command.channel!r}",
                [{"known": sorted(self._topology.channels)}],
            )
        if command.delivery is not None:
            _check_recipient(command.customer)
        try:
            async with self._uow() as uow:
                if await uow.payments.is_blocked(command.customer.phone, command.customer.email):
                    raise ClientBlocked("this client is blocked after a confirmed fraud; a manager can explain")
                # one decision at a time per channel order: a cancellation read meanwhile waits for this one
                await uow.locks.hold(channel_order_lock(command.channel, command.external_id))
                now = self._clock.now()
                order, cancellation_waits = await self._received(uow, command, now)
                cancelled = None
                if cancellation_waits:  # the channel cancelled it before it came in (read after the lock was held)
                    cancelled = await uow.heard_order_events.waiting_cancellation(command.channel, command.external_id)
                if cancelled is None:
                    order = await self._take(uow, order, command, now)
                else:
                    order = await self._take_cancelled(uow, order, cancelled, now)
                await uow.commit()
            log.info("order taken id=%s channel=%s status=%s", order.id, order.channel, order.status)
            return Intake(order, created=True)
        except DuplicateOrder:  # taken before, maybe by a concurrent request a moment ago
            async with self._uow(read_only=True) as uow:
                existing = await uow.orders.find(command.channel, command.external_id)
        assert existing is not None, "the order that conflicted is not there"  # orders are never deleted
        _check_same(existing, command)
        return Intake(existing, created=False)

    async def _take(self, uow: UnitOfWork, order: Order, command: PlaceOrder, now: datetime) -> Order:
        assert order.id is not None
        lines = order.lines
        order.history.extend(await self._route_lines(uow, order.id, command.channel, lines, now))
        await uow.orders.add_lines_and_events(order.id, lines, order.history)
        if command.delivery is not None:  # the shipping run registers it once the order may ship
            await uow.shipments.add(Shipment(order.id, command.delivery, ShipmentState.WAITING, now, now))
        if self._cascade is not None:
            for line in lines:
                if line.status == LineStatus.AWAITING_STORE_CONFIRMATION:
                    await self._cascade.ask(uow, order, line)
        return order

    async def _received(self, uow: UnitOfWork, command: PlaceOrder, now: datetime) -> tuple[Order, bool]:
        """The new order stored (its lines not yet): every line out of stock until routed; and whether the channel's
        cancellation of it waits."""
        lines = [OrderLine(n, line.sku, line.qty, LineStatus.OUT_OF_STOCK) for n, line in enumerate(command.lines, 1)]
        order = Order(
            None, command.channel, command.external_id, command.customer, command.total,
            command.currency, now, lines, list(command.obligations), ship_by=command.ship_by,
        )  # fmt: skip
        cancellation_waits = await uow.orders.add(order)
        order.history.append(OrderEvent(now, "received", {"channel": command.channel, "lines": len(lines)}))
        return order, cancellation_waits

    async def _take_cancelled(self, uow: UnitOfWork, order: Order, cancelled: HeardOrderEvent, now: datetime) -> Order:
        """The channel cancelled the order before we took it: it is kept for the record, already cancelled, and
        never routed, so it never holds stock, asks no store and ships nothing."""
        assert order.id is not None
        await uow.orders.add_lines(order.id, order.lines)
        await uow.orders.add_events(order.id, order.history)
        await self.cancel_in(uow, order.id, cancel_reason(cancelled))
        await uow.heard_order_events.settle(cancelled.channel, cancelled.external_id, cancelled.kind, order.id, now)
        await uow.orders.add_events(order.id, [history_event(cancelled, now)])
        log.info("order %s from %s was cancelled by the channel before it came in", order.external_id, order.channel)
        taken = await uow.orders.get(order.id)
        assert taken is not None
        return taken

    async def route_again(self, uow: UnitOfWork, order: Order, line_nos: Collection[int]) -> list[OrderLine]:
        """Inside the caller's transaction: route the order's lines ``line_nos`` again, as intake does (a store's
        hold asks the store); the lines as they now stand. For an order whose lines found no stock before."""
        assert order.id is not None
        now = self._clock.now()
        lines = [line for line in order.lines if line.line_no in line_nos]
        events = await self._route_lines(uow, order.id, order.channel, lines, now)
        await uow.orders.save_lines(order.id, lines)
        await uow.orders.add_events(order.id, events)
        if self._cascade is not None:
            for line in lines:
                if line.status == LineStatus.AWAITING_STORE_CONFIRMATION:
                    await self._cascade.ask(uow, order, line)
        return lines

    async def _route_lines(
        self, uow: UnitOfWork, order_id: int, channel_name: str, lines: Sequence[OrderLine], now: datetime
    ) -> list[OrderEvent]:
        """Route each line (a kit's components together); what happened, in the order it happened.

        Stock rows are locked in one global order, by SKU and then by warehouse in routing order, so concurrent
        orders cannot deadlock on PostgreSQL: plain lines lock them as they are routed, in SKU order; an order
        with a kit line, whose components are taken warehouse by warehouse, locks every row it may touch first."""
        events: list[OrderEvent] = []
        if any(line.sku in self._kits.skus for line in lines):
            await uow.stock.lock(self._rows(channel_name, lines, now))
        for line in sorted(lines, key=lambda item: (item.sku, item.line_no)):
            if line.sku in self._kits.skus:
                events.extend(await self._route_kit(uow, order_id, channel_name, line, now))
            else:
                events.extend(await self._route(uow, order_id, channel_name, line, now))
        return events

    async def _route(
        self, uow: UnitOfWork, order_id: int, channel_name: str, line: OrderLine, now: datetime
    ) -> list[OrderEvent]:
        """Take the line's stock in the first warehouse that has it all; say what happened."""
        channel = self._topology.channels[channel_name]
        events: list[OrderEvent] = []
        free: dict[str, int] | None = None  # read once the first choice turns out short
        for warehouse in self._topology.routing_order(channel):
            if (
                warehouse.kind == WarehouseKind.STORE
                and self._cascade is not None
                and self._cascade.skips(warehouse, now)
            ):
                detail = {"line": line.line_no, "store": warehouse.code, "reason": "closed"}
                events.append(OrderEvent(now, "store_skipped", detail))
                continue
            if free is not None and free.get(warehouse.code, 0) < line.qty:
                continue
            reservation = Reservation(
                None, order_id, line.line_no, line.sku, warehouse.code, line.qty, ReservationState.ACTIVE, now
            )
            short = await uow.reservations.take_else_free(reservation)  # the free units, read in the same trip
            if short is not None:
                free = free if free is not None else short
            else:
                line.warehouse = warehouse.code
                if warehouse.kind == WarehouseKind.ONLINE:
                    line.status, kind = LineStatus.RESERVED, "reserved"
                else:
                    line.status, kind = LineStatus.AWAITING_STORE_CONFIRMATION, "held_for_store_confirmation"
                detail = {"line": line.line_no, "sku": line.sku, "qty": line.qty, "warehouse": warehouse.code}
                return [*events, OrderEvent(now, kind, detail)]
        line.status = LineStatus.OUT_OF_STOCK
        return [*events, OrderEvent(now, "out_of_stock", {"line": line.line_no, "sku": line.sku, "qty": line.qty})]

    def _rows(self, channel_name: str, lines: Sequence[OrderLine], now: datetime) -> list[StockKey]:
        """Every stock row routing ``lines`` may take, in the global lock order."""
        warehouses = [w.code for w in self._topology.routing_order(self._topology.channels[channel_name])]
        skus = {line.sku for line in lines} - self._kits.skus
        skus |= self._kits.components({line.sku for line in lines}, now)
        return [(sku, code) for sku in sorted(skus) for code in warehouses]

    async def _route_kit(
        self, uow: UnitOfWork, order_id: int, channel_name: str, line: OrderLine, now: datetime
    ) -> list[OrderEvent]:
        """Take every component of a kit line in the first online warehouse that has them all, all or none. Kits
        are assembled in online warehouses only: no store is asked about one (docs/kits.md)."""
        components = self._kits.composition(line.sku, now)
        line.status = LineStatus.OUT_OF_STOCK
        detail: dict[str, object] = {"line": line.line_no, "sku": line.sku, "qty": line.qty}
        if components is None:  # its promotion ended and no composition follows it
            return [OrderEvent(now, "out_of_stock", {**detail, "reason": "no_composition"})]
        needs = kit_needs(components, line.qty)
        free: dict[str, dict[str, int]] | None = None  # read once the first choice turns out short
        for warehouse in self._topology.routing_order(self._topology.channels[channel_name]):
            if warehouse.code not in self._kits.assembled_in:
                continue
            if free is not None and any(free[sku].get(warehouse.code, 0) < qty for sku, qty in needs.items()):
                continue
            if await reserve_kit(uow, order_id, line.line_no, needs, warehouse.code, now):
                line.warehouse, line.status = warehouse.code, LineStatus.RESERVED
                return [OrderEvent(now, "reserved", {**detail, "warehouse": warehouse.code, "components": needs})]
            free = free if free is not None else {sku: await free_stock(uow, sku) for sku in needs}
        return [OrderEvent(now, "out_of_stock", detail)]

    async def get(self, order_id: int) -> Order:
        async with self._uow(read_only=True) as uow:
            order = await uow.orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        return order

    async def shipment(self, order_id: int) -> Shipment | None:
        """The order's delivery and how far its carrier registration got; ``None`` without a delivery."""
        async with self._uow(read_only=True) as uow:
            return await uow.shipments.get(order_id)

    async def cancel(self, order_id: int, reason: str = "") -> Order:
        """Cancel an order: its active reservations are released. A reservation 1C already
        absorbed stays absorbed — returning goods is 1C's business. Cancelling twice is a no-op."""
        async with self._uow() as uow:
            if await self.cancel_in(uow, order_id, reason):
                await uow.commit()
        return await self.get(order_id)

    async def cancel_in(self, uow: UnitOfWork, order_id: int, reason: str) -> bool:
        """Cancel inside the caller's transaction; ``False`` when it was cancelled already."""
        await uow.locks.hold(f"order-cancel:{order_id}")  # a manager and a channel cancelling at once: one releases
        order = await uow.orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        if order.cancelled_at is not None:
            return False
        now = self._clock.now()
        active = await uow.reservations.active_for_order(order_id)
        await self._ledger.release(uow, active)
        for line in order.lines:
            line.status = LineStatus.CANCELLED
        await uow.orders.save_lines(order_id, order.lines)
        await uow.orders.mark_cancelled(order_id, now)
        for task in await uow.tasks.open_about(f"order:{order_id}:"):  # no answer needed any more
            assert task.id is not None
            await uow.tasks.close(task.id, TaskState.CANCELLED, now, reason="order_cancelled")
            await notify_closed(uow, task, now)
        unpaid = [o for o in order.obligations if o.state in (ObligationState.PENDING, ObligationState.HELD)]
        for obligation in unpaid:  # no FX watch, no payout for goods that will not ship
            await uow.orders.save_obligation(replace(obligation, state=ObligationState.CANCELLED))
        detail = {"reason": reason, "released": len(active), "obligations_cancelled": len(unpaid)}
        await uow.orders.add_events(order_id, [OrderEvent(now, "cancelled", detail)])
        return True


def _check_recipient(customer: Customer) -> None:
    """The carrier delivers to the customer: a delivery needs their name and a phone it can call."""
    problems: list[dict[str, object]] = []
    if not customer.name.strip():
        problems.append({"field": "customer.name", "problem": "the recipient's name is needed for a delivery"})
    digits = sum(char.isdigit() for char in customer.phone)
    if not 10 <= digits <= 15 or not set(customer.phone) <= set("+0123456789 ()-"):
        problems.append(
            {"field": "customer.phone", "problem": "a delivery needs the recipient's phone, e.g. +79161234567"}
        )
    if problems:
        raise InvalidDelivery("the carrier needs the recipient's name and phone; nothing was taken", problems)


def _check_same(existing: Order, command: PlaceOrder) -> None:
    sent = [(line.sku, line.qty) for line in command.lines]
    held = [(line.sku, line.qty) for line in existing.lines]
    if sent != held:
        raise OrderConflict(
            f"order {existing.external_id!r} from {existing.channel} was already taken with other lines",
            [{"order_id": existing.id, "lines": [{"sku": s, "qty": q} for s, q in held]}],
        )
