"""The CRM's side of an order, as a port: what the managers' CRM (RetailCRM) is told about each of our orders, and
the status changes its managers make there (:class:`CrmOrderBook`). ``workflows/crm_orders.py`` drives it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from workflows.clients import phone_key
from workflows.model import Customer, Delivery

EXTERNAL_PREFIX = "storeops-"


def crm_external_id(order_id: int) -> str:
    """Our order's ``externalId`` in the CRM: stable for the order's life, unique across channels."""
    return f"{EXTERNAL_PREFIX}{order_id}"


def order_id_of(external_id: str) -> int | None:
    """Our order id from a CRM ``externalId`` we gave; ``None`` for an order the CRM got elsewhere."""
    if not external_id.startswith(EXTERNAL_PREFIX):
        return None
    digits = external_id.removeprefix(EXTERNAL_PREFIX)
    return int(digits) if digits.isdigit() and len(digits) <= 18 else None


def crm_client_key(customer: Customer) -> str | None:
    """Who the CRM's customer is, in our table of them: the phone as compared (``workflows.clients.phone_key``:
    ``+7 916 123-45-67`` and ``89161234567`` are one), else the e-mail in lower case; ``None`` with neither."""
    phone = phone_key(customer.phone)
    if phone is not None:
        return f"phone:{phone}"
    email = customer.email.strip().lower()
    return f"email:{email}" if email else None


@dataclass(frozen=True)
class CrmLine:
    sku: str  # our article: the CRM's offer ``xmlId``
    qty: int
    price: Decimal | None = None  # per unit, when the channel gave one


@dataclass(frozen=True)
class CrmOrder:
    """The whole order as a manager needs it: who bought, what, through which channel, paid or not, where it goes."""

    order_id: int
    number: str  # what the manager sees and tells the client: the channel's own number
    channel: str
    customer: Customer
    lines: tuple[CrmLine, ...]
    total: Decimal | None
    currency: str
    paid: bool
    cancelled: bool
    status: str  # ours (``OrderStatus``)
    created_at: datetime
    delivery: Delivery | None = None
    customer_id: int | None = None  # the CRM's customer the order names (``CrmOrderBook.customer_id``)

    @property
    def external_id(self) -> str:
        return crm_external_id(self.order_id)


@dataclass(frozen=True)
class CrmStatusChange:
    """A manager moved one of our orders to ``status`` in the CRM (history entry ``history_id``)."""

    history_id: int
    order_id: int
    status: str
    old_status: str | None = None
    at: datetime | None = None


@runtime_checkable
class CrmOrderBook(Protocol):
    name: str

    async def customer_id(self, customer: Customer) -> int:
        """The CRM's customer with this phone (however the CRM has it written), else this e-mail; made when there is
        none. A repeat after a create whose answer was lost finds the one made (``Unavailable`` / ``Refused``)."""

    async def upsert(self, order: CrmOrder) -> None:
        """Create the order in the CRM under ``order.customer_id``, or bring the one there up to date; a repeat
        makes nothing new. ``workflows.outside.Unavailable`` / ``Refused`` when it could not."""

    async def status_changes(self, since: int) -> tuple[list[CrmStatusChange], int]:
        """Status changes of our orders after history entry ``since``, oldest first, and the id to continue
        from (``since`` when nothing is new)."""
