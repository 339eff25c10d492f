"""Value objects of the stock ledger and of orders."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


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


@dataclass(frozen=True)
class StockFigure:
    """One line of a 1C stock message, with the warehouse already resolved to our code."""

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
