"""The ports the workflows talk through. Each has a SQL implementation in ``storage/`` and an
in-memory one in ``tests/fakes.py``; the same contract tests run against both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import TracebackType
from typing import NamedTuple, Protocol, Self

from workflows.box_model import Box, BoxScan, BoxStatus
from workflows.customs_model import CustomsPlan
from workflows.model import (
    Obligation,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Reservation,
    ReservationState,
    Shipment,
    StockFigure,
    StockLevel,
)
from workflows.money_model import MoneyAccount, MoneyEntry, Payout, ReserveTotals
from workflows.office_model import FROM_GATEWAY, Alert, Payment, PaymentWatch
from workflows.payment_gateway import GatewayPayment
from workflows.return_model import ReturnRecord, ReturnState
from workflows.task_model import Deadline, DeadlineKind, Task, TaskState
from workflows.vocabulary import NoticeTopic

StockKey = tuple[str, str]  # (sku, warehouse)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class StockLevels(Protocol):
    async def for_sku(self, sku: str) -> list[StockLevel]:
        """Every warehouse row of ``sku``; empty if 1C never reported it."""
        ...

    async def for_skus(self, skus: Collection[str]) -> dict[str, list[StockLevel]]:
        """Every warehouse row of each of ``skus`` (a SKU 1C never reported is absent)."""
        ...

    async def skus_after(self, after: str, limit: int) -> list[str]:
        """SKUs 1C reported, in order, the ``limit`` next after ``after`` (paging through all)."""
        ...

    async def for_keys(self, keys: Collection[StockKey]) -> dict[StockKey, StockLevel]:
        """The rows that exist among ``keys``."""
        ...

    async def save_figures(self, figures: Sequence[StockFigure], as_of: datetime) -> set[StockKey]:
        """Insert each figure's row, or overwrite ``on_hand`` and ``as_of`` of its row (``reserved`` is kept) — unless
        the row holds a figure computed after ``as_of``: those rows stay as they are, and are answered."""
        ...

    async def overdrawn(self, keys: Collection[StockKey]) -> list[StockLevel]:
        """The rows among ``keys`` with more reserved than on hand, in key order."""
        ...

    async def mark_suspect(self, sku: str, warehouse: str, since: datetime) -> None:
        """Nothing of this row is free until 1C sends a figure computed after ``since``."""
        ...

    async def set_as_of(self, sku: str, warehouse: str | None, as_of: datetime) -> int:
        """Set ``as_of`` of ``sku``'s rows (only ``warehouse``'s when given); the number of rows changed."""
        ...

    async def unreserve(self, sku: str, warehouse: str, qty: int) -> None:
        """Subtract ``qty`` from ``reserved`` (a reservation was released or absorbed)."""
        ...

    async def receive(self, sku: str, warehouse: str, qty: int, as_of_if_new: datetime) -> None:
        """Add ``qty`` to the on-hand of ``sku`` at ``warehouse`` (goods that arrived: a row 1C never sent is made
        with ``as_of_if_new``); marks the SKU touched, so the commit queues the channels' pushes."""
        ...

    async def write_off(self, sku: str, warehouse: str, qty: int) -> None:
        """Take ``qty`` off the on-hand of ``sku`` at ``warehouse`` (goods that left), never below 0; marks it
        touched."""
        ...

    async def lock(self, keys: Sequence[StockKey]) -> None:
        """Hold these rows until the transaction ends, taking them one by one in the order given (rows that do not
        exist are passed over). Only where writers run at once (PostgreSQL); elsewhere one writer holds all."""
        ...


class Reservations(Protocol):
    async def take(self, reservation: Reservation) -> bool:
        """Atomically take ``reservation.qty`` from the free stock (``on_hand - reserved``) of its
        SKU and warehouse and store the reservation with its ``id`` set — or, when the free stock
        is short or the row missing, do neither and answer ``False``.

        Must hold under any concurrency, in one process or several: two callers racing for the
        last unit get one ``True`` and one ``False``.
        """
        ...

    async def take_else_free(self, reservation: Reservation) -> dict[str, int] | None:
        """:meth:`take`, answering ``None`` when taken; when not, the SKU's free units per warehouse (as
        :func:`workflows.ledger.free_stock` reads them, read without locking), which routing reads next."""
        ...

    async def untake(self, reservation: Reservation) -> None:
        """Undo a :meth:`take` made earlier in this unit of work: the reservation row is gone and its quantity
        free again, as if never taken (a kit whose later component was short gives back the earlier ones)."""
        ...

    async def active_for_order(self, order_id: int) -> list[Reservation]: ...

    async def for_order(self, order_id: int) -> list[Reservation]:
        """Every reservation the order ever had, in any state, oldest first."""
        ...

    async def deducted_active(self, keys: Collection[StockKey]) -> list[Reservation]:
        """Active reservations on ``keys`` whose order 1C has already deducted."""
        ...

    async def mark_deducted(self, ids: Collection[int], deducted_at: datetime) -> None: ...

    async def end(self, ids: Collection[int], state: ReservationState, at: datetime) -> None:
        """Move active reservations to ``released`` or ``absorbed``."""
        ...

    async def totals(self, state: ReservationState) -> dict[StockKey, int]:
        """Sum of quantities per (sku, warehouse) in ``state`` (for audits and tests)."""
        ...


class Orders(Protocol):
    async def add(self, order: Order) -> bool:
        """Store a new order with its obligations (not its lines or history) and set its ``id``; answer whether the
        channel's cancellation of it waits (:meth:`HeardOrderEvents.waiting_cancellation`), as read once the order
        is in — in the same trip to the database where it can.

        Raises :class:`workflows.errors.DuplicateOrder` when (channel, external_id) exists.
        """
        ...

    async def add_lines(self, order_id: int, lines: Sequence[OrderLine]) -> None: ...

    async def find(self, channel: str, external_id: str) -> Order | None: ...

    async def named(self, channel: str, external_id: str) -> list[Order]:
        """``channel``'s orders whose own number is ``external_id`` in any case (:func:`~workflows.typed_names.
        name_key`), oldest first."""
        ...

    async def of_phone(self, phone: str, limit: int) -> list[Order]:
        """The ``limit`` newest orders whose customer's phone is ``phone`` however either is written
        (:func:`~workflows.clients.phone_key`); none for text that is no phone."""
        ...

    async def ids_of_phone(self, phone: str, limit: int) -> list[int]:
        """The ids of :meth:`of_phone`'s orders, in its order, without reading the orders."""
        ...

    async def get(self, order_id: int) -> Order | None:
        """The order with its lines and history, oldest event first."""
        ...

    async def save_lines(self, order_id: int, lines: Sequence[OrderLine]) -> None:
        """Overwrite status and warehouse of the given lines."""
        ...

    async def mark_cancelled(self, order_id: int, at: datetime) -> None: ...

    async def add_events(self, order_id: int, events: Sequence[OrderEvent]) -> None:
        """Append to the order's history, in the given order."""
        ...

    async def add_lines_and_events(
        self, order_id: int, lines: Sequence[OrderLine], events: Sequence[OrderEvent]
    ) -> None:
        """:meth:`add_lines` and then :meth:`add_events`, in one trip to the database where it can."""
        ...

    async def set_hold(self, order_id: int, hold: str | None) -> None:
        """Block shipping for a reason (``None`` lifts it)."""
        ...

    async def save_obligation(self, obligation: Obligation) -> None:
        """Overwrite state, rates and top-up of a stored obligation (by its ``id``)."""
        ...

    async def unexported(self, limit: int) -> list[Order]:
        """Orders 1C has not taken yet (not cancelled), oldest first."""
        ...

    async def mark_exported(self, order_ids: Collection[int], at: datetime) -> None: ...

    async def watched_currencies(self) -> set[str]:
        """Foreign currencies of obligations not yet released: what the FX watch needs rates for."""
        ...

    async def obligations_due(self, now: datetime, limit: int) -> list[tuple[int, Obligation]]:
        """``(order_id, obligation)`` pending with ``due_at <= now`` and a rate recorded at payment."""
        ...

    async def awaiting_rate(self, limit: int) -> list[tuple[int, Obligation]]:
        """``(order_id, obligation)`` pending with no rate recorded at payment although the order has a
        cleared payment (its money came in when no fresh rate was at hand), oldest order first."""
        ...

    async def open_external_ids(self, channel: str, limit: int) -> list[str]:
        """The channel's order ids of its orders that are not cancelled, the ``limit`` newest first."""
        ...

    async def recent_events(self, kinds: Collection[str], limit: int) -> list[SeenOrderEvent]:
        """The ``limit`` newest history events of ``kinds`` across all orders, newest written first, each with
        its order's channel and the channel's number: one query, for screens."""
        ...

    async def listed(self, wanted: OrderFilter, limit: int) -> list[Order]:
        """Up to ``limit`` orders ``wanted`` names, the highest id (the newest) first, each with its lines and
        history: a few queries whatever the page's size, walking the primary key down from ``before_id``."""
        ...


@dataclass(frozen=True)
class OrderFilter:
    """Which orders a listing wants; each field set narrows it."""

    ids: Collection[int] | None = None  # only these (what an order number or a phone resolved to)
    channel: str | None = None
    status: OrderStatus | None = None  # as :func:`workflows.model.order_status` derives it from the lines
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    before_id: int | None = None  # keyset paging: ids below this one


@dataclass(frozen=True)
class SeenOrderEvent:
    """One event of an order's history as a screen lists it among other orders' events."""

    order_id: int
    channel: str
    external_id: str  # the channel's number for the order
    event: OrderEvent


class Payments(Protocol):
    async def add_event(
        self, event_id: str, payment_id: str, phase: str, at: datetime, applied: str, payload: dict[str, object],
        source: str = FROM_GATEWAY,
    ) -> bool:  # fmt: skip
        """Record a payment event once; ``False`` (nothing written) when ``event_id`` was seen. ``source``: the
        gateway's notice, or our status poll (``office_model.FROM_STATUS_POLL``)."""
        ...

    async def get(self, payment_id: str) -> Payment | None: ...

    async def save(self, payment: Payment) -> None:
        """Insert or overwrite the payment."""
        ...

    async def for_order(self, order_id: int) -> list[Payment]: ...

    async def failed_attempts(self, order_id: int) -> int:
        """The order's payments that failed by the gateway's own word: each such payment once, however often it
        said so. A failure only our status poll saw is not counted (until the gateway's notice arrives)."""
        ...

    async def paid_before(self, phone: str, email: str, order_id: int) -> bool:
        """Whether a client with this phone or e-mail has a cleared payment on another order."""
        ...

    async def is_blocked(self, phone: str, email: str) -> bool: ...

    async def block(self, phone: str, email: str, reason: str, at: datetime) -> None: ...


class Alerts(Protocol):
    async def open_for(self, key: str) -> Alert | None: ...

    async def get(self, alert_id: int) -> Alert | None: ...

    async def by_task(self, task_id: int) -> Alert | None: ...

    async def add(self, alert: Alert) -> None:
        """Store a new alert and set its ``id``."""
        ...

    async def save(self, alert: Alert) -> None: ...

    async def open_of_kind(self, kind: str) -> list[Alert]: ...

    async def stale_counts(self, shown_before: datetime, limit: int) -> list[Alert]:
        """Open alerts whose message shows fewer repeats than happened, last shown before then."""
        ...

    async def recent(self, limit: int) -> list[Alert]: ...

    async def muted_until(self, key: str) -> datetime | None: ...

    async def mute(self, key: str, until: datetime, by: str) -> None: ...


class FxRates(Protocol):
    async def store(self, rate_date: date, rates: Mapping[str, Decimal], at: datetime) -> None:
        """Keep a fetched sheet (a repeat of the same date overwrites it)."""
        ...

    async def latest(self, currency: str) -> tuple[date, Decimal] | None:
        """The newest stored rate of ``currency``: the last good one when the feed is down."""
        ...

    async def latest_fetched_since(self, currency: str, since: datetime) -> Decimal | None:
        """The newest stored rate of ``currency`` if its sheet was fetched at or after ``since``, else
        ``None``: a rate that is known to be the current one, without asking the bank."""
        ...


# what a channel shows of a SKU is worked out from: the warehouses it serves, and its safety stock
ChannelRule = tuple[Sequence[str], int]

URGENT, BULK = 0, 1  # an outbox line's priority: what an order changed goes ahead of 1C's bulk figures


class Push(NamedTuple):
    """One line of the sync outbox: ``channel`` should show ``qty`` of ``sku``. A named tuple, not a frozen dataclass:
    a drain makes one for every line it claims, and a frozen dataclass's ``__init__`` costs several times as much."""

    channel: str
    sku: str
    qty: int
    version: int
    attempts: int
    first_pending_at: datetime
    priority: int = BULK  # URGENT: an order changed it


class Outbox(Protocol):
    async def known(self, channel: str, skus: Collection[str]) -> dict[str, int]:
        """What the channel will show for each SKU once the outbox drains: the pending quantity,
        else what it last accepted (SKUs never sent are absent)."""
        ...

    async def enqueue(self, channel: str, changes: Mapping[str, int], at: datetime) -> None:
        """Set the quantity to send per SKU (a newer value replaces a pending one, a dead line
        comes back to life)."""
        ...

    async def enqueue_changed(
        self, values: Mapping[str, Mapping[str, int]], at: datetime, urgent: Collection[str] = frozenset()
    ) -> None:
        """Per channel (``channel -> sku -> value``), :meth:`enqueue` each value that differs from what :meth:`known`
        says the channel will show (one never sent is queued): the two in one step, without reading lines back.
        The lines of the ``urgent`` SKUs (an order changed them) are :data:`URGENT`, the others :data:`BULK`; a
        line keeps the more urgent of the two until it is sent."""
        ...

    async def enqueue_availability(
        self,
        skus: Collection[str],
        channels: Mapping[str, ChannelRule],
        at: datetime,
        urgent: Collection[str] = frozenset(),
    ) -> None:
        """:meth:`enqueue_changed` of what each of ``channels`` should show of each of ``skus`` that has stock rows,
        worked out from its rows as this unit of work sees them by
        :func:`workflows.model.availability_of_free`'s rule (none of ``skus`` is a kit's: a kit has no rows of its
        own). The values are never read back: a 1C message touches a thousand SKUs."""
        ...

    async def claim(
        self, channel: str, now: datetime, lease_until: datetime, owner: str, limit: int, *, urgent_only: bool = False,
        mine_too: bool = False,
    ) -> list[Push]:  # fmt: skip
        """Lease up to ``limit`` pending lines due now, the :data:`URGENT` ones first and then the oldest first
        (``urgent_only``: none but those); never the same to two callers. ``mine_too``: lines ``owner`` holds a lease
        on as well (read again with their newest value: a drain takes an order's value of a line it claimed and has
        not sent yet)."""
        ...

    async def accepted(self, pushes: Sequence[Push], at: datetime) -> int:
        """The channel took them: each line goes unless a newer value came meanwhile; those stay, free to go at
        once, and their number is returned."""
        ...

    async def rejected(self, pushes: Sequence[Push], reasons: Mapping[str, str], retry_at: datetime,
                       dead_after: int) -> list[Push]:  # fmt: skip
        """The channel refused these SKUs: count an attempt; those at ``dead_after`` attempts
        stop (state dead) and are returned."""
        ...

    async def postpone(self, pushes: Sequence[Push], retry_at: datetime, error: str | None) -> None:
        """Not sent (the channel was unavailable, or asked to wait): try again at ``retry_at``."""
        ...

    async def depth(self) -> dict[str, tuple[int, datetime | None]]:
        """Per channel: pending lines and since when the oldest has waited."""
        ...


class Shipments(Protocol):
    async def add(self, shipment: Shipment) -> None:
        """Store the delivery of a new order (one shipment per order)."""
        ...

    async def get(self, order_id: int) -> Shipment | None: ...

    async def claim(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[Shipment]:
        """Lease to ``owner`` up to ``limit`` shipments still in progress (waiting, registering, accepted) that are
        due (``next_attempt_at <= now``) and that nobody holds or whose lease ran out, the longest due first. Two
        concurrent callers never get the same one (``SKIP LOCKED`` on PostgreSQL)."""
        ...

    async def save(self, shipment: Shipment, owner: str) -> bool:
        """Overwrite the shipment's state, counters, carrier ids, times and lease — only if ``owner`` still holds
        it (its lease was not taken over since); ``False`` and nothing written otherwise."""
        ...


class GatewayPayments(Protocol):
    """Top-up payments to create at the gateway (``workflows/topup_checkout.py``): an outbox written in the
    transaction that asks the client, leased while a row is being created, as the shipments are."""

    async def add(self, row: GatewayPayment) -> None:
        """Record ``row`` unless its payment has one already (then nothing changes)."""
        ...

    async def claim(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[GatewayPayment]:
        """Lease to ``owner`` up to ``limit`` pending rows due (``next_attempt_at <= now``) that nobody holds or whose
        lease ran out, the longest due first. Two concurrent callers never get the same one."""
        ...

    async def get(self, payment_id: str) -> GatewayPayment | None: ...

    async def by_gateway_id(self, gateway_id: str) -> GatewayPayment | None: ...

    async def save(self, row: GatewayPayment, owner: str) -> bool:
        """Overwrite the row — only while it is still ``pending`` and ``owner`` still holds it or nobody does (a row
        another instance created or dropped meanwhile stays as it is); ``False`` and nothing written otherwise."""
        ...


class PaymentWatches(Protocol):
    """The payment watch's records (``workflows/payment_watch.py``), leased like the shipments."""

    async def claim(
        self, stuck_before: datetime, now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> list[tuple[Payment, PaymentWatch]]:
        """Lease to ``owner`` up to ``limit`` payments not in a final phase (initiated, 3ds, authorized) whose phase
        has not changed since ``stuck_before``, whose watch is due (``next_poll_at <= now``; a payment without a
        watch gets one due now) and that nobody holds or whose lease ran out, the longest due first. Two concurrent
        callers never get the same one (``SKIP LOCKED`` on PostgreSQL)."""
        ...

    async def get(self, payment_id: str) -> PaymentWatch | None: ...

    async def save(self, watch: PaymentWatch, owner: str) -> bool:
        """Overwrite the watch — only if ``owner`` still holds it or nobody does; ``False`` and nothing written
        otherwise."""
        ...


class Locks(Protocol):
    async def hold(self, name: str) -> None:
        """Hold the lock called ``name`` until this unit of work ends: another one asking for it
        waits (across processes on PostgreSQL; SQLite has a single writer anyway)."""
        ...


@dataclass(frozen=True)
class ChannelState:
    """What operators and the sync engine keep about one sales channel — or the carrier, of which only
    ``failures_in_a_row`` is used. A channel nothing was ever kept about has this default state."""

    name: str
    paused_by: str | None = None  # who paused pushes to it; ``None`` while it runs
    paused_at: datetime | None = None
    circuit_until: datetime | None = None  # left alone until then after repeated failures
    failures_in_a_row: int = 0  # pushes (or carrier calls) that failed since the last that got through
    sync_requested_at: datetime | None = None  # the newest ``/sync`` asking for a full reconciliation
    sync_requested_by: str | None = None
    reconciled_at: datetime | None = None  # when the last reconciliation ended, and what it found
    reconciled: str | None = None  # "checked=… corrected=…[ failed=…][ prices_checked=… price_drift=… …]"
    order_events_cursor: str | None = None  # the channel's bookmark after the last order events we applied

    @property
    def paused(self) -> bool:
        return self.paused_by is not None

    def circuit_open(self, now: datetime) -> bool:
        return self.circuit_until is not None and self.circuit_until > now


class ChannelStates(Protocol):
    """One :class:`ChannelState` per channel name (or the carrier's name)."""

    async def get(self, name: str) -> ChannelState:
        """Its state; the default one when nothing was kept about it."""
        ...

    async def all(self) -> dict[str, ChannelState]:
        """Every name something was kept about."""
        ...

    async def pause(self, name: str, by: str, at: datetime) -> None:
        """Stop pushes to the channel (pausing a paused one names the newer pauser)."""
        ...

    async def resume(self, name: str) -> None:
        """Let pushes go again; nothing happens to a running channel."""
        ...

    async def open_circuit(self, name: str, until: datetime) -> None: ...

    async def count_failure(self, name: str) -> int:
        """One more failure in a row, counted atomically; the count now."""
        ...

    async def reset_failures(self, name: str) -> bool:
        """Something got through: the count goes back to 0. ``True`` when it was not 0."""
        ...

    async def request_sync(self, name: str, by: str, at: datetime) -> None: ...

    async def reconciled(self, name: str, summary: str, at: datetime) -> None: ...

    async def save_order_events_cursor(self, name: str, cursor: str) -> None:
        """Keep the channel's bookmark to hand back on the next read of its order events."""
        ...


@dataclass(frozen=True)
class HeardOrderEvent:
    """What a channel said became of one of its orders (``workflows.channels.ChannelOrderEvent``), as kept: its
    row is the claim that it was applied once. A cancellation of an order we do not hold yet waits
    (``applied_at`` is ``None``) until the order comes in."""

    channel: str
    external_id: str  # the channel's order id
    kind: str  # workflows.channels.OrderEventKind: cancelled | delivered | returned
    at: datetime  # when the channel says it happened
    reason: str  # the channel's words or code
    heard_at: datetime  # when we read it
    order_id: int | None = None  # our order, when we hold it
    applied_at: datetime | None = None  # None: waiting for its order

    @property
    def waiting(self) -> bool:
        return self.applied_at is None


class HeardOrderEvents(Protocol):
    """Order events read from the channels, one row per (channel, external_id, kind)."""

    async def add(self, event: HeardOrderEvent) -> bool:
        """Keep the event; ``False`` and nothing written when (channel, external_id, kind) is kept already.

        The insert is the claim: of two transactions adding the same event at once, the second waits for
        the first and gets ``False`` once it committed (or inserts when it rolled back)."""
        ...

    async def get(self, channel: str, external_id: str, kind: str) -> HeardOrderEvent | None: ...

    async def heard_of(self, channel: str, external_ids: Sequence[str]) -> set[tuple[str, str]]:
        """Of the channel's orders ``external_ids``, the (external_id, kind) pairs kept already: one read that lets
        a page of mostly repeated events skip them without a transaction each."""
        ...

    async def waiting_cancellation(self, channel: str, external_id: str) -> HeardOrderEvent | None:
        """The channel's cancellation of this order, if one waits for the order to come in."""
        ...

    async def settle(self, channel: str, external_id: str, kind: str, order_id: int, at: datetime) -> bool:
        """A waiting event is now applied to ``order_id``; ``False`` (no change) when it was not waiting."""
        ...

    async def waiting_with_order(self, channel: str, limit: int) -> list[tuple[HeardOrderEvent, int]]:
        """Waiting events of the channel whose order we now hold, with its id, oldest heard first."""
        ...


@dataclass(frozen=True)
class OrderAction:
    """One step a marketplace must take about one of its orders (``workflows.fulfilment``): sent through the channel's
    client until it is done or refused, at most one row per (order, action). ``ask_unfillable`` is the same kind of
    row for a question to the managers, due when they should be asked (again)."""

    order_id: int
    action: str  # workflows.fulfilment.Action: ready_to_ship | cancel_unfillable | ask_unfillable
    state: str  # workflows.fulfilment.ActionState: pending | done | refused | dropped | asked
    next_attempt_at: datetime  # when the job looks at it again (a claim moves it on by a lease)
    created_at: datetime
    attempts: int = 0  # sends tried
    last_error: str | None = None  # the channel's last failure or refusal
    done_at: datetime | None = None


class OrderActions(Protocol):
    async def add(self, action: OrderAction) -> bool:
        """Queue the action; ``False`` and nothing written when the order has that action already (the insert is
        the claim: of two concurrent adds, the second gets ``False`` once the first committed)."""
        ...

    async def get(self, order_id: int, action: str) -> OrderAction | None: ...

    async def for_order(self, order_id: int) -> list[OrderAction]: ...

    async def save(self, action: OrderAction) -> None:
        """Overwrite state, attempts, next attempt, last error and ``done_at`` of the stored row; its claim is over."""
        ...

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
        """Up to ``limit`` pending rows of ``actions`` for the channel's orders due at ``now``, oldest due first,
        their next attempt moved to ``lease_until`` (a claimer that dies leaves them due again then) and claimed by
        ``owner`` until the next :meth:`save`. Two concurrent callers never get the same row (``SKIP LOCKED`` on
        PostgreSQL)."""
        ...

    async def candidates(self, channel: str, limit: int) -> list[int]:
        """Ids of the channel's orders that are not cancelled and have no action yet, oldest first."""
        ...

    async def withdraw(self, order_id: int, action: str) -> None:
        """Forget the order's action (no longer needed, nothing was sent): the order is a candidate again."""
        ...

    async def counts(self) -> list[ActionCount]:
        """How many rows there are per action and state, counted where they are stored (no row is read)."""
        ...


@dataclass(frozen=True)
class ActionCount:
    action: str
    state: str
    rows: int
    retrying: int  # of them, rows tried at least once (pending ones are backing off after a failure)


@dataclass(frozen=True)
class OneCProduct:
    """What 1C said of one of its products or of one characteristic of it (``product#characteristic``): read from
    the catalogue (``import.xml``) and from the offers files. ``None`` is "not said": a later file that says it
    fills it in, one that does not leaves it as it was."""

    onec_id: str
    article: str | None = None
    name: str | None = None
    barcode: str | None = None
    size: str | None = None  # a characteristic's size (``[onec] size_characteristic``), or its values together
    updated_at: datetime | None = None


@dataclass(frozen=True)
class HeldFigure:
    """A 1C figure keyed by 1C's id that no article could be found for yet: held, with the time 1C computed it,
    until the catalogue names the product."""

    onec_id: str
    warehouse: str  # ours
    qty: int
    as_of: datetime
    received_at: datetime


class OneCCatalogueRecords(Protocol):
    async def learn(self, products: Sequence[OneCProduct]) -> None:
        """Insert or update by ``onec_id``: a field given replaces the stored one, a ``None`` keeps it."""
        ...

    async def get(self, onec_ids: Collection[str]) -> dict[str, OneCProduct]: ...

    async def without_article(self, after: str, limit: int) -> list[OneCProduct]:
        """Products (and characteristics) with no article, by ``onec_id`` after ``after``."""
        ...

    async def hold(self, figures: Sequence[HeldFigure]) -> None:
        """Keep figures for later: per (1C id, warehouse) the one 1C computed last wins (a tie: the newer)."""
        ...

    async def held(self) -> list[HeldFigure]:
        """Every figure held, oldest ``as_of`` first."""
        ...

    async def release(self, keys: Collection[tuple[str, str]]) -> None:
        """Forget the held figures of these (1C id, warehouse) pairs."""
        ...


@dataclass(frozen=True)
class HeldPrice:
    """One channel price the guard holds for a manager's decision (kopecks)."""

    channel: str
    sku: str
    price_minor: int


@dataclass(frozen=True)
class PriceBatch:
    """One price type's held prices from one 1C upload: one question to the managers."""

    id: int
    price_type: str
    source: str
    created_at: datetime
    lines: int
    state: str  # held | approved | rejected
    decided_by: str | None = None
    decided_at: datetime | None = None


class PriceBook(Protocol):
    """1C's prices per price type, what each channel accepted, and the batches the price guard holds. The price
    outbox itself is :class:`Outbox` (``UnitOfWork.price_outbox``), with values in kopecks."""

    async def onec(self, price_type: str, skus: Collection[str]) -> dict[str, int]:
        """1C's price of each SKU for this price type (kopecks); SKUs without one are absent."""
        ...

    async def put_onec(self, price_type: str, prices: Mapping[str, int], at: datetime) -> None:
        """Store 1C's prices for this price type (a newer upload replaces each SKU's)."""
        ...

    async def shown(self, channel: str, skus: Collection[str]) -> dict[str, int]:
        """What the channel last accepted from us (kopecks)."""
        ...

    async def priced_after(self, channel: str, after: str, limit: int) -> list[str]:
        """Up to ``limit`` SKUs after ``after``, in order, that we priced on ``channel``: it accepted a price of
        ours, or a line of the price outbox waits for it (in any state)."""
        ...

    async def waiting(self, channel: str, skus: Collection[str]) -> dict[str, str]:
        """The state of the price outbox's line of each SKU that has one: ``pending``, ``held`` or ``dead``."""
        ...

    async def resend(self, channel: str, prices: Mapping[str, int], at: datetime) -> None:
        """Queue these prices (kopecks) to send again, due at ``at``, leaving alone a SKU whose line is pending
        (it goes anyway) or held (it waits for a manager's decision); a dead line comes back to life."""
        ...

    async def open_batch(self, price_type: str, source: str, at: datetime, lines: int) -> int:
        """A new held batch; its id."""
        ...

    async def hold(self, channel: str, prices: Mapping[str, int], at: datetime, batch_id: int) -> None:
        """Queue these channel prices held for ``batch_id`` (not sent until released); a line waiting for this
        channel and SKU is replaced."""
        ...

    async def batch(self, batch_id: int) -> PriceBatch | None: ...

    async def held(self, batch_id: int) -> list[HeldPrice]:
        """The lines still held for this batch (a newer price of a SKU takes it out of its batch)."""
        ...

    async def release(self, batch_id: int, at: datetime) -> int:
        """The batch's held lines become pending, due at ``at``; how many."""
        ...

    async def drop(self, batch_id: int) -> int:
        """The batch's held lines are forgotten (the channel keeps its price); how many."""
        ...

    async def decide(self, batch_id: int, state: str, by: str, at: datetime) -> None:
        """Record the decision on a batch."""
        ...


@dataclass(frozen=True)
class Heartbeat:
    source: str  # what 1C sent: "stock", …
    at: datetime


class Heartbeats(Protocol):
    """When 1C last sent something, per kind of message."""

    async def heard(self, source: str, at: datetime) -> None: ...

    async def last(self) -> Heartbeat | None:
        """The newest of any kind; ``None`` when 1C never spoke."""
        ...


@dataclass(frozen=True)
class ReportDelivery:
    """Where the scheduled send of one day's report stands."""

    day: date
    state: str  # workflows.daily_report.Delivery: sending | sent | failed
    owner: str | None  # the instance that claimed the send
    at: datetime


class ReportDeliveries(Protocol):
    async def get(self, day: date) -> ReportDelivery | None: ...

    async def save(self, delivery: ReportDelivery) -> None:
        """Insert or overwrite the day's row."""
        ...


class OfferIds(Protocol):
    async def for_skus(self, channel: str, skus: Collection[str]) -> dict[str, str]:
        """Stored ``sku -> offer_id`` of ``channel`` among ``skus``."""
        ...

    async def owners(self, channel: str, offer_ids: Collection[str]) -> dict[str, str]:
        """Stored ``offer_id -> sku`` of ``channel`` among ``offer_ids``."""
        ...

    async def on_every_channel(self, channels: Collection[str], skus: Collection[str]) -> set[str]:
        """Those of ``skus`` that have an offer id on each of ``channels``."""
        ...

    async def mapped_on(self, channels: Collection[str], skus: Collection[str]) -> dict[str, dict[str, str]]:
        """:meth:`for_skus` of several channels at once: ``channel -> sku -> offer_id``."""
        ...

    async def owners_on(self, offer_ids: Mapping[str, Collection[str]]) -> dict[str, dict[str, str]]:
        """:meth:`owners` of several channels at once (``channel -> offer ids``): ``channel -> offer_id -> sku``."""
        ...

    async def add(self, pairs: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        """Store ``(sku, offer_id)`` pairs, per channel; the caller has checked both are free."""
        ...

    async def add_conflicts(self, channel: str, conflicts: Sequence[tuple[str, str, str]], at: datetime) -> None:
        """Record ``(offer_id, sku, existing_sku)`` collisions, once each."""
        ...

    async def conflicts(self) -> list[tuple[str, str, str, str]]:
        """Every recorded collision as ``(channel, offer_id, sku, existing_sku)``."""
        ...


class Notices(Protocol):
    async def add(self, topic: NoticeTopic, payload: dict[str, object], at: datetime) -> None:
        """Queue a message to people (delivered by a chat adapter after commit)."""
        ...

    async def undelivered(
        self, limit: int, topics: Collection[str] | None = None
    ) -> list[tuple[int, str, dict[str, object]]]:
        """Oldest undelivered notices (of ``topics``, if given) as ``(id, topic, payload)``, as
        stored: for counting and inspecting, not for delivering."""
        ...

    async def claim(
        self, topics: Collection[NoticeTopic], now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> list[tuple[int, NoticeTopic, dict[str, object]]]:
        """Lease up to ``limit`` of the oldest undelivered notices of ``topics`` that nobody holds
        (or whose lease ran out) to ``owner``. Two concurrent callers never get the same one."""
        ...

    async def release(self, ids: Collection[int], owner: str) -> None:
        """Give back notices ``owner`` claimed but did not deliver, so the next run takes them."""
        ...

    async def attempt(self, notice_id: int, at: datetime) -> datetime | None:
        """Note that the notice is about to be sent (a chat may take it even if we never hear back): the time
        of the first attempt when one came before this (``None`` when this is the first), kept from then on."""
        ...

    async def delivered(self, notice_id: int, at: datetime) -> None: ...

    async def undelivered_counts(self) -> dict[str, int]:
        """How many notices wait for delivery, by topic (a topic with none is absent), counted where
        they are stored: no notice is read (the metrics call it on every scrape)."""
        ...


class Tasks(Protocol):
    async def add(self, task: Task, deadlines: Sequence[tuple[DeadlineKind, datetime]]) -> None:
        """Store a new task with its deadline rows and set its ``id``."""
        ...

    async def get(self, task_id: int) -> Task | None: ...

    async def close(
        self,
        task_id: int,
        state: TaskState,
        at: datetime,
        *,
        reason: str,
        answer: str | None = None,
        by: str | None = None,
    ) -> bool:
        """Atomically move the task from ``open`` to ``state``; ``False`` (and no change) when it
        is no longer open — whoever closed it first stands."""
        ...

    async def closed_of_kind(self, kind: str, since: datetime) -> list[Task]:
        """Tasks of ``kind`` answered or expired at or after ``since``."""
        ...

    async def open_about(self, subject_prefix: str) -> list[Task]:
        """Open tasks whose subject starts with ``subject_prefix`` (e.g. ``"order:12:"``)."""
        ...

    async def add_message(self, task_id: int, platform: str, chat: str, message_id: str) -> None:
        """Remember a chat message that shows the task (to update it when the task closes). A chat may
        show a task several times (delivered, then sent again on request): each copy is kept, and
        the same message remembered again is still one."""
        ...

    async def messages(self, task_id: int) -> list[tuple[str, str, str]]:
        """``(platform, chat, message_id)`` of every message showing the task, every copy in a chat
        included, in no particular order."""
        ...

    async def set_payload(self, task_id: int, payload: dict[str, object]) -> None:
        """Overwrite what the task's message shows (a checklist's ticks, a reminder said), whatever its state."""
        ...

    async def open_counts(self) -> dict[str, int]:
        """How many tasks are open, by kind (a kind with none is absent), counted where they are
        stored: no task is read (the metrics call it on every scrape)."""
        ...


class Deadlines(Protocol):
    async def claim_due(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[Deadline]:
        """Lease up to ``limit`` unfired deadlines due at ``now`` that nobody holds (or whose lease
        ran out), oldest first. Two concurrent callers never get the same row."""
        ...

    async def fired(self, ids: Collection[int], owner: str, at: datetime) -> bool:
        """Mark deadlines fired if ``owner`` still holds them; ``False`` (nothing marked) if not."""
        ...

    async def pending(self) -> int:
        """How many deadlines have not fired yet."""
        ...


class LeaseKind(StrEnum):
    """What a lease holds: a row of one of the leased tables (``workflows/leases.py``)."""

    STOCK_PUSH = "stock_push"  # a line of the stock outbox: (channel, sku)
    PRICE_PUSH = "price_push"  # a line of the price outbox: (channel, sku)
    DEADLINE = "deadline"  # a task's deadline: (id,)
    NOTICE = "notice"  # a message to people: (id,)
    SHIPMENT = "shipment"  # a carrier registration: (order_id,)
    ORDER_ACTION = "order_action"  # a marketplace action: (order_id, action)
    PAYMENT_WATCH = "payment_watch"  # a payment's status poll: (payment_id,)
    GATEWAY_PAYMENT = "gateway_payment"  # a top-up being created at the gateway: (payment_id,)


LeaseKey = tuple[str | int, ...]  # a leased row's primary key, in the order the kind names it


@dataclass(frozen=True)
class InstanceRecord:
    """One storeops instance as the database knows it: its stable id, the process that runs it now (its
    incarnation) and that process's last heartbeat (``None``: it stopped cleanly)."""

    instance: str
    incarnation: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime | None


class Instances(Protocol):
    async def get(self, instance: str) -> InstanceRecord | None: ...

    async def take(self, record: InstanceRecord, replacing: str | None) -> bool:
        """Make ``record`` the instance's incarnation: inserted when ``replacing`` is ``None`` (``False`` when a
        row exists), else only over the incarnation ``replacing`` (``False`` when another took it meanwhile)."""
        ...

    async def beat(self, instance: str, incarnation: str, at: datetime) -> bool:
        """The incarnation's heartbeat; ``False`` (nothing written) when the instance has another incarnation."""
        ...

    async def leave(self, instance: str, incarnation: str) -> None:
        """The incarnation stopped cleanly: its heartbeat is cleared (a restart need not wait to see it dead)."""
        ...


class Leases(Protocol):
    """The leases of every leased table, by kind and key: renewed by whoever holds them, released at once when
    they belonged to a dead incarnation of this very instance."""

    async def renew(self, kind: LeaseKind, keys: Collection[LeaseKey], owner: str, until: datetime) -> int:
        """Move the lease of those rows ``owner`` still holds to ``until``; a row whose lease was lifted, taken by
        another owner, or whose work is over (delivered, fired, done) is left alone. How many were renewed."""
        ...

    async def release_instance(self, instance: str, keep: str | None, now: datetime) -> int:
        """Lift every lease held by an owner ``<instance>/…`` other than ``keep``, so they may be claimed now; how
        many were lifted."""
        ...

    async def release(self, kind: LeaseKind, keys: Collection[LeaseKey], owner: str, now: datetime) -> int:
        """Lift the leases of those rows ``owner`` still holds (work of its that ended unsettled, say when the
        database went away under it), so they may be claimed now; rows leased by another owner, or whose work is
        over, are left alone. How many were lifted."""
        ...


# -- customs plans: an order's document checklist and planned FTS payment on full clearance --------------------


class CustomsBook(Protocol):
    """Each order's customs plan (at most one). The caller holds the order's money lock when it adds or covers a plan,
    and ``workflows.customs_model.customs_lock`` when it ticks a document."""

    async def plan(self, order_id: int) -> CustomsPlan | None: ...

    async def add(self, plan: CustomsPlan) -> bool:
        """Store a new plan unless the order has one; ``False`` then, and nothing written."""
        ...

    async def save(self, plan: CustomsPlan) -> None:
        """Overwrite a stored plan's documents, tasks and cover."""
        ...

    async def uncovered(self, until: datetime) -> list[CustomsPlan]:
        """Plans of orders not cancelled whose FTS payment no payout covers yet, due before ``until`` (overdue ones
        too), by due date."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without :meth:`commit` rolls everything back.

    The repositories are valid only inside the ``async with`` block.
    """

    @property
    def stock(self) -> StockLevels: ...

    @property
    def reservations(self) -> Reservations: ...

    @property
    def orders(self) -> Orders: ...

    @property
    def offer_ids(self) -> OfferIds: ...

    @property
    def tasks(self) -> Tasks: ...

    @property
    def notices(self) -> Notices: ...

    @property
    def deadlines(self) -> Deadlines: ...

    @property
    def payments(self) -> Payments: ...

    @property
    def payment_watches(self) -> PaymentWatches: ...

    @property
    def gateway_payments(self) -> GatewayPayments: ...

    @property
    def alerts(self) -> Alerts: ...

    @property
    def fx(self) -> FxRates: ...

    @property
    def channel_states(self) -> ChannelStates: ...

    @property
    def heartbeats(self) -> Heartbeats: ...

    @property
    def report_deliveries(self) -> ReportDeliveries: ...

    @property
    def locks(self) -> Locks: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def price_outbox(self) -> Outbox:
        """The prices' outbox: values are kopecks."""
        ...

    @property
    def prices(self) -> PriceBook: ...

    @property
    def shipments(self) -> Shipments: ...

    @property
    def heard_order_events(self) -> HeardOrderEvents: ...

    @property
    def order_actions(self) -> OrderActions: ...

    @property
    def returns(self) -> ReturnRecords: ...

    @property
    def crm_exports(self) -> CrmExports: ...

    @property
    def onec_catalogue(self) -> OneCCatalogueRecords: ...

    @property
    def instances(self) -> Instances: ...

    @property
    def leases(self) -> Leases: ...

    @property
    def money(self) -> MoneyBook: ...

    @property
    def customs(self) -> CustomsBook: ...

    @property
    def boxes(self) -> BoxBook: ...

    def touched_skus(self) -> set[str]:
        """SKUs whose stock rows this unit of work changed so far (on-hand, reserved, suspect)."""
        ...

    def urgent_skus(self) -> set[str]:
        """Those of :meth:`touched_skus` an order changed (a reservation taken, undone or released, a return):
        the channels' lines of these go ahead of a bulk backlog."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


BeforeCommit = Callable[[UnitOfWork], Awaitable[None]]
AfterCommit = Callable[[], None]


@dataclass
class CommitHooks:
    """Work that rides on every commit that changed stock rows (see :meth:`UnitOfWork.touched_skus`).

    ``before`` runs inside the committing transaction, in order, and may write (the sync outbox queues
    what each channel should now show, so a stock change and its pushes commit together); ``after``
    runs once the commit succeeded and must not block (wake the channels' dispatchers). The composition
    root registers them; a test that drives the dispatchers by hand clears ``after``.
    """

    before: list[BeforeCommit] = field(default_factory=list)
    after: list[AfterCommit] = field(default_factory=list)


class UnitOfWorkFactory(Protocol):
    @property
    def hooks(self) -> CommitHooks:
        """What runs with each commit that changed stock, on every unit of work this factory makes."""
        ...

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work. ``read_only`` ones may run beside writers and must not write."""
        ...


class ReturnRecords(Protocol):
    """Returns, one per order and SKU, and the stock they bring back."""

    async def add(self, record: ReturnRecord) -> bool:
        """Store ``record`` unless its order and SKU have one already; ``False`` then (nothing changed)."""
        ...

    async def get(self, order_id: int, sku: str) -> ReturnRecord | None: ...

    async def settle(self, order_id: int, sku: str, state: ReturnState, at: datetime) -> None:
        """Record what became of the return, decided at ``at``."""
        ...

    async def expected_back(self, sku: str) -> dict[str, int]:
        """Per warehouse, the units of ``sku`` that came back sellable and that 1C's figure for that warehouse
        does not reflect yet: those decided after the figure's ``as_of`` (or with no figure held)."""
        ...

    async def take_back(self, sku: str, warehouse: str, qty: int, as_of_if_new: datetime) -> None:
        """Add ``qty`` to the on-hand of ``sku`` at ``warehouse`` at once (a row 1C never sent is made with
        ``as_of_if_new``); marks the SKU touched, so the commit queues the channels' pushes."""
        ...

    async def awaiting_receipt(self) -> int:
        """How many returns are announced and not yet answered by their warehouse (counted, not read)."""
        ...


# -- the CRM's copy of each order ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrmExport:
    """One order as its CRM copy stands: ``version`` is the number of the order's own history events now
    (the CRM's status changes, recorded as ``crm_*`` events, do not count), ``sent_version`` the one the CRM
    last took (``None``: never)."""

    order_id: int
    version: int
    sent_version: int | None = None
    attempts: int = 0  # failures in a row (the backoff)
    next_attempt_at: datetime | None = None
    last_error: str | None = None


class CrmExports(Protocol):
    async def due(self, now: datetime, limit: int, skip_channels: Collection[str] = ()) -> list[CrmExport]:
        """Orders whose version the CRM has not taken, not waiting for a retry after ``now``, oldest first; none
        of ``skip_channels``."""
        ...

    async def version(self, order_id: int) -> int: ...

    async def get(self, order_id: int) -> CrmExport | None:
        """The export row, ``None`` when the order was never tried."""
        ...

    async def sent(self, order_id: int, version: int, at: datetime) -> None:
        """The CRM took ``version``: no retry pending, no error."""
        ...

    async def failed(self, order_id: int, attempts: int, retry_at: datetime, error: str) -> None: ...

    async def cursor(self) -> int:
        """The CRM history id read up to (0 at first)."""
        ...

    async def move_cursor(self, since_id: int, at: datetime) -> None: ...

    # one client, one CRM customer: the CRM's customer id per client key (``workflows.crm.crm_client_key``)

    async def customer_id(self, client: str) -> int | None:
        """The CRM's id of the customer of ``client``; ``None`` while it is not known."""
        ...

    async def claim_customer(self, client: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take the right to find or make the CRM's customer of ``client`` until ``until``: ``True`` when its row is
        new (the key's uniqueness decides between instances), or has no customer yet and its claim is ``owner``'s or
        ran out by ``now``."""
        ...

    async def customer_made(self, client: str, customer_id: int, at: datetime) -> None:
        """The CRM's customer of ``client`` is ``customer_id`` (the claim ends)."""
        ...


# -- clients' money per order: virtual accounts, earmarks, payouts -----------------------------------------------


class MoneyBook(Protocol):
    """Each order's virtual account with its earmarks, the payments out drawn from them and the journal. The caller
    holds the order's money lock (``Locks.hold(f"order:{id}:money")``) while it reads and writes an account."""

    async def account(self, order_id: int) -> MoneyAccount | None:
        """The account with its earmarks (in :data:`~workflows.money_model.PURPOSES` order), or ``None``."""
        ...

    async def open_account(self, account: MoneyAccount) -> None:
        """Store a new account and its earmarks; the earmarks get their ids."""
        ...

    async def save_account(self, account: MoneyAccount) -> None:
        """Overwrite the account's totals and modes and each earmark's ``planned``, ``reserved`` and ``absorbed``
        (an earmark without an id is added and gets one). ``drawn`` is never written here: only :meth:`draw`."""
        ...

    async def draw(self, earmark_id: int, amount: Decimal) -> bool:
        """Add ``amount`` to the earmark's ``drawn`` if that leaves ``drawn`` ≤ ``reserved``, in one statement;
        ``False`` and nothing written otherwise (two draws racing on one earmark cannot both overdraw it)."""
        ...

    async def release(self, earmark_id: int, amount: Decimal) -> bool:
        """Add ``amount`` to the earmark's ``released`` (what was drawn and has materialised as goods moved) if that
        leaves 0 ≤ ``released`` ≤ ``drawn``, in one statement; ``False`` and nothing written otherwise. A negative
        ``amount`` takes a release back (a box's scan undone)."""
        ...

    async def record(self, entry: MoneyEntry) -> bool:
        """Add a journal line unless its key is taken; ``False`` then, and nothing written."""
        ...

    async def entries(self, order_id: int) -> list[MoneyEntry]:
        """The order's journal, oldest first."""
        ...

    async def entry(self, key: str) -> MoneyEntry | None:
        """The journal line under ``key``, if there is one."""
        ...

    async def purchase_due(self, now: datetime, limit: int) -> list[int]:
        """The orders whose purchase watch is due (``purchase_ask_at`` at or before ``now``), earliest first."""
        ...

    async def payout(self, key: str) -> Payout | None: ...

    async def payout_by_id(self, payout_id: int) -> Payout | None: ...

    async def add_payout(self, payout: Payout) -> None:
        """Store a new payout (its ``earmark_id`` set); it gets its id."""
        ...

    async def save_payout(self, payout: Payout) -> None:
        """Overwrite a stored payout's state, due date, rate, figures and links (by its id)."""
        ...

    async def payouts_of(self, order_id: int) -> list[Payout]:
        """The order's payouts, by due date then id."""
        ...

    async def postponed_due(self, now: datetime, limit: int) -> list[Payout]:
        """Postponed payouts whose due date has come, earliest first."""
        ...

    async def open_payouts(self, until: datetime) -> list[Payout]:
        """Payouts not yet paid (drawn or waiting) due before ``until``, by due date: the obligations calendar."""
        ...

    async def planned_obligations(self, since: datetime, until: datetime) -> list[tuple[int, Obligation]]:
        """``(order_id, obligation)`` of the orders' planned payments out (``Order.obligations``) due in
        ``[since, until)`` that no payout draws yet and that are not cancelled, by due date."""
        ...

    async def totals(self) -> ReserveTotals:
        """Sums over every account and earmark."""
        ...


# -- the boxes a purchase's goods travel in, and their scans ------------------------------------------------------


class BoxBook(Protocol):
    """Boxes by purchase (a ``goods`` payout) and the statuses each reached. The caller holds the order's money lock
    (``order:{id}:money``) while it writes a box's status, its scans and the money they release."""

    async def add(self, boxes: Sequence[Box]) -> None:
        """Store new boxes (a purchase's, all at once); each gets its id."""
        ...

    async def of_payout(self, payout_id: int) -> list[Box]:
        """The purchase's boxes by number."""
        ...

    async def of_order(self, order_id: int) -> list[Box]:
        """The order's boxes by purchase, then number."""
        ...

    async def with_key(self, key: str) -> list[Box]:
        """The boxes registered under the idempotency ``key``."""
        ...

    async def by_barcode(self, barcode: str) -> Box | None: ...

    async def move(self, box_id: int, came_from: BoxStatus, to: BoxStatus, at: datetime) -> bool:
        """Set the box's status to ``to`` if it is still ``came_from``, in one statement; ``False`` otherwise."""
        ...

    async def add_scan(self, scan: BoxScan) -> bool:
        """Record the box reaching a status unless that box has reached it in the scan's round, or the scan's key is
        taken; ``False`` then, and nothing written."""
        ...

    async def scans(self, box_id: int) -> list[BoxScan]:
        """The box's scans in status order, then round; those undone included (marked)."""
        ...

    async def scan_by_key(self, key: str) -> BoxScan | None: ...

    async def set_released(self, box_id: int, status: BoxStatus, round_: int, released: dict[str, Decimal]) -> None:
        """Overwrite what the box's scan of ``status`` in ``round_`` released (a payout drawn after it added to it)."""
        ...

    async def undo_scan(self, box_id: int, status: BoxStatus, round_: int, at: datetime, key: str) -> bool:
        """Mark the box's scan of ``status`` in ``round_`` undone at ``at`` by the correction ``key``, if it is not
        undone yet, in one statement; ``False`` otherwise."""
        ...

    async def undone_by(self, key: str) -> list[BoxScan]:
        """The scans the correction ``key`` undid."""
        ...
