"""Value objects of the stock ledger and of orders."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple


class ReservationState(enum.StrEnum):
    ACTIVE = "active"
    RELEASED = "released"  # the order was cancelled before 1C deducted it
    ABSORBED = "absorbed"  # 1C's stock figure now reflects the deduction


class LineStatus(enum.StrEnum):
    RESERVED = "reserved"
    AWAITING_STORE_CONFIRMATION = "awaiting_store_confirmation"
    OUT_OF_STOCK = "out_of_stock"
    UNFULFILLABLE = "unfulfillable"  # every store that held it was asked; none confirmed
    CANCELLED = "cancelled"


class OrderStatus(enum.StrEnum):
    RESERVED = "reserved"
    AWAITING_STORE_CONFIRMATION = "awaiting_store_confirmation"
    PARTIALLY_RESERVED = "partially_reserved"
    OUT_OF_STOCK = "out_of_stock"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StockLevel:
    """On-hand stock of one SKU in one warehouse, as 1C computed it at ``as_of``.

    ``reserved`` is the sum of the active reservations held against this row.
    """

    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    as_of: datetime
    # Store staff said the item is not there (or not sellable): nothing is free here until 1C
    # sends a figure computed after that moment.
    suspect_since: datetime | None = None

    @property
    def free(self) -> int:
        return 0 if self.suspect_since is not None else max(0, self.on_hand - self.reserved)


def channel_availability(levels: Mapping[str, StockLevel], serves: Sequence[str], safety_stock: int) -> int:
    """What a channel may sell: the free stock of the warehouses it serves less its safety stock, never below 0."""
    return availability_of_free({code: level.free for code, level in levels.items()}, serves, safety_stock)


def availability_of_free(free: Mapping[str, int], serves: Sequence[str], safety_stock: int) -> int:
    """:func:`channel_availability` from each warehouse's free units, worked out once for several channels."""
    return max(0, sum(free.get(code, 0) for code in serves) - safety_stock)


class StockFigure(NamedTuple):
    """One line of a 1C stock message, with the warehouse already resolved to our code. A named tuple, not a frozen
    dataclass: a 1C snapshot makes a million of them, and a frozen dataclass takes several times as long to make."""

    sku: str
    warehouse: str
    qty: int


@dataclass
class Reservation:
    id: int | None
    order_id: int
    line_no: int
    sku: str
    warehouse: str
    qty: int
    state: ReservationState
    created_at: datetime
    deducted_at: datetime | None = None  # when 1C deducted the order (its own clock)
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Customer:
    name: str = ""
    phone: str = ""
    email: str = ""


class ObligationState(enum.StrEnum):
    PENDING = "pending"  # not due yet, or due but waiting for the client's money to clear
    RELEASED = "released"  # may be paid out
    HELD = "held"  # the rate moved too far: a manager decides
    TOPUP = "topup"  # the client is asked to pay the difference first
    CANCELLED = "cancelled"  # the order was cancelled before it was paid out: nothing to pay


@dataclass(frozen=True)
class Obligation:
    """A later payment out for the order (supplier in CNY, carrier in EUR) whose FX risk is watched."""

    payee: str
    currency: str
    amount: Decimal
    due_at: datetime
    id: int | None = None
    state: ObligationState = ObligationState.PENDING
    rate_at_payment: Decimal | None = None  # CBR roubles per unit when the client's money cleared
    rate_at_due: Decimal | None = None
    topup_rub: Decimal | None = None


@dataclass
class OrderLine:
    line_no: int
    sku: str
    qty: int
    status: LineStatus
    warehouse: str | None = None


@dataclass(frozen=True)
class OrderEvent:
    at: datetime
    kind: str
    detail: dict[str, object]


@dataclass
class Order:
    id: int | None
    channel: str
    external_id: str
    customer: Customer
    total: Decimal | None
    currency: str
    created_at: datetime
    lines: list[OrderLine]
    obligations: list[Obligation] = field(default_factory=list)
    cancelled_at: datetime | None = None
    history: list[OrderEvent] = field(default_factory=list)
    shipping_hold: str | None = None  # why nothing may ship yet (an open fraud call check)
    exported_at: datetime | None = None  # when 1C took the order over the exchange
    ship_by: datetime | None = None  # the marketplace's shipping deadline, when it tells one

    @property
    def status(self) -> OrderStatus:
        return order_status(self.lines, cancelled=self.cancelled_at is not None)


def order_status(lines: list[OrderLine], *, cancelled: bool) -> OrderStatus:
    """The order's status follows from its lines: it is never stored separately."""
    if cancelled:
        return OrderStatus.CANCELLED
    statuses = {line.status for line in lines}
    if LineStatus.AWAITING_STORE_CONFIRMATION in statuses:
        return OrderStatus.AWAITING_STORE_CONFIRMATION
    if statuses == {LineStatus.RESERVED}:
        return OrderStatus.RESERVED
    if statuses <= {LineStatus.OUT_OF_STOCK, LineStatus.UNFULFILLABLE, LineStatus.CANCELLED}:
        return OrderStatus.OUT_OF_STOCK
    return OrderStatus.PARTIALLY_RESERVED


@dataclass(frozen=True)
class Delivery:
    """Where and how an order goes out with the carrier (CDEK), as the channel sent it with the order.

    The recipient is the order's customer (name and phone). ``pickup_point`` (a CDEK office or parcel locker code)
    replaces the door address; ``city_code`` is CDEK's code of the city when the channel knows it."""

    tariff_code: int
    country_code: str  # ISO 3166 alpha-2
    city: str
    address: str  # street, house, flat: "" when delivered to a pickup point
    postal_code: str = ""
    city_code: int | None = None
    pickup_point: str | None = None
    weight_g: int | None = None  # the parcel's weight when the channel knows it

    @property
    def international(self) -> bool:
        return self.country_code.upper() != "RU"


class ShipmentState(enum.StrEnum):
    WAITING = "waiting"  # until the order is allocated, paid and free to ship (or the carrier answers again)
    REGISTERING = "registering"  # claimed and being sent; a lease that runs out means the sender died
    ACCEPTED = "accepted"  # the carrier took it for validation: its id is known, its verdict is polled
    REGISTERED = "registered"  # the carrier registered it: a tracking number
    REFUSED = "refused"  # the carrier refused it, with its reason; people fix it
    DROPPED = "dropped"  # the order was cancelled before anything reached the carrier


@dataclass
class Shipment:
    """The carrier registration of one order: its delivery data and how far the registration got."""

    order_id: int
    delivery: Delivery
    state: ShipmentState
    created_at: datetime
    next_attempt_at: datetime  # when the shipping run looks at it again
    attempts: int = 0  # registration tries (a request sent, or maybe sent): after one, the carrier is asked first
    failures: int = 0  # the carrier's failures in a row (the backoff)
    carrier_id: str | None = None  # CDEK's uuid of the order
    tracking_number: str | None = None  # CDEK's order number (cdek_number)
    reason: str | None = None  # the carrier's refusal, or the last failure
    updated_at: datetime | None = None
    leased_until: datetime | None = None
    lease_owner: str | None = None
