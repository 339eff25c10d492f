"""What 1C did with the orders we handed it, read from its order documents (``type=sale`` upload of the exchange).

1C sends back a ``Документ`` per order it holds, with Bitrix's conventional requisites: a payment document
(``Номер оплаты по 1С``/``Дата оплаты по 1С``), a shipment (``Номер отгрузки по 1С``/``Дата отгрузки по 1С``),
``Отменен`` and the deletion mark. :meth:`OneCOrderStatus.apply` turns one package of them into our order's
history and state:

* paid in 1C → a ``paid_in_1c`` event with 1C's payment number and date, once per order;
* shipped from 1C → a ``shipped_in_1c`` event, once per order;
* cancelled or marked for deletion in 1C → the order is cancelled through :meth:`OrderDesk.cancel_in` with the
  reason ``cancelled_in_1c`` (its reservations released once; an order cancelled already is left as it is).

A document is matched to our order by its ``Ид`` (our order id, as the export writes it), else by its ``Номер``
when exactly one channel order has that number. A document for an order we do not know, or of another business
operation than «Заказ товара», is skipped and counted; it does not refuse the package.

The whole package is applied in one unit of work, under one lock, as 1C's stock is: what the exchange answers is
what was committed, a failure leaves nothing half-applied, and a second import of the same file (or the same
package on another instance) finds the events written and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from workflows.model import Order, OrderEvent
from workflows.order_lookup import LARGEST_ID
from workflows.orders import OrderDesk
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

ORDER_OPERATION = "Заказ товара"  # ХозОперация of a customer's order; 1C sends others (returns, invoices) too
CANCEL_REASON = "cancelled_in_1c"  # a code, worded per locale where the history is shown
PAID_EVENT, SHIPPED_EVENT = "paid_in_1c", "shipped_in_1c"
_LOCK = "onec:order-documents"


@dataclass(frozen=True)
class OrderDocument:
    """One ``Документ`` of 1C's order package, reduced to what the shop acts on."""

    ref: str  # Ид: our order id when 1C took the order from us
    number: str = ""  # Номер: the number we sent (the channel's order number)
    onec_number: str = ""  # Номер1С: 1C's own number of its order
    operation: str = ORDER_OPERATION  # ХозОперация
    deletion_mark: bool = False  # ПометкаУдаления
    posted: bool = False  # Проведен
    cancelled: bool = False  # Отменен
    payment_number: str = ""  # Номер оплаты по 1С
    paid_at: datetime | None = None  # Дата оплаты по 1С, 1C's local time as written
    shipment_number: str = ""  # Номер отгрузки по 1С
    shipped_at: datetime | None = None  # Дата отгрузки по 1С
    status_id: str = ""  # Статуса заказа ИД
    final: bool = False  # Финальный статус

    @property
    def paid(self) -> bool:
        return self.paid_at is not None or bool(self.payment_number)

    @property
    def shipped(self) -> bool:
        return self.shipped_at is not None or bool(self.shipment_number)

    @property
    def withdrawn(self) -> bool:
        """1C cancelled the order or marked its document for deletion."""
        return self.cancelled or self.deletion_mark


@dataclass(frozen=True)
class StatusSummary:
    documents: int = 0
    paid: int = 0  # paid_in_1c events written now
    shipped: int = 0
    cancelled: int = 0  # orders cancelled now
    unchanged: int = 0  # known orders in which nothing new was said
    unknown_orders: tuple[str, ...] = ()  # refs of documents matching none of our orders
    other_operations: int = 0  # documents that are not a customer's order


@dataclass
class _Tally:
    paid: int = 0
    shipped: int = 0
    cancelled: int = 0
    unchanged: int = 0
    other: int = 0


class OneCOrderStatus:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, desk: OrderDesk, channels: Iterable[str]) -> None:
        self._uow, self._clock, self._desk = uow, clock, desk
        self._channels = tuple(channels)

    async def apply(self, documents: Sequence[OrderDocument]) -> StatusSummary:
        """Apply a package of 1C's order documents, all in one transaction."""
        tally, unknown = _Tally(), list[str]()
        async with self._uow() as uow:
            await uow.locks.hold(_LOCK)  # two imports at once: the second finds the first one's events
            for document in documents:
                if document.operation.strip().lower() != ORDER_OPERATION.lower():
                    tally.other += 1
                    continue
                order = await self._order_of(uow, document)
                if order is None or order.id is None:
                    unknown.append(document.ref or document.number)
                    continue
                await self._apply_one(uow, order, document, tally)
            await uow.commit()
        summary = StatusSummary(len(documents), tally.paid, tally.shipped, tally.cancelled, tally.unchanged,
                                tuple(unknown), tally.other)  # fmt: skip
        if unknown:
            log.info("1C order documents: %d name no order of ours (first: %s)", len(unknown), unknown[:3])
        return summary

    async def _order_of(self, uow: UnitOfWork, document: OrderDocument) -> Order | None:
        """Ours by ``Ид`` first, then the one channel order numbered ``Номер``."""
        ref = document.ref.strip()
        if ref.isdigit() and int(ref) <= LARGEST_ID:
            ours = await uow.orders.get(int(ref))
            if ours is not None:
                return ours
        number = document.number.strip()
        if not number:
            return None
        found = [order for channel in self._channels if (order := await uow.orders.find(channel, number))]
        return found[0] if len(found) == 1 else None

    async def _apply_one(self, uow: UnitOfWork, order: Order, document: OrderDocument, tally: _Tally) -> None:
        assert order.id is not None
        now, seen = self._clock.now(), {event.kind for event in order.history}
        events: list[OrderEvent] = []
        if document.paid and PAID_EVENT not in seen:
            detail = {"number": document.payment_number, "at": _moment(document.paid_at)}
            events.append(OrderEvent(now, PAID_EVENT, {**detail, "onec_number": document.onec_number}))
            tally.paid += 1
        if document.shipped and SHIPPED_EVENT not in seen:
            detail = {"number": document.shipment_number, "at": _moment(document.shipped_at)}
            events.append(OrderEvent(now, SHIPPED_EVENT, {**detail, "onec_number": document.onec_number}))
            tally.shipped += 1
        if events:
            await uow.orders.add_events(order.id, events)
        cancelled = document.withdrawn and await self._desk.cancel_in(uow, order.id, CANCEL_REASON)
        tally.cancelled += cancelled
        if not events and not cancelled:
            tally.unchanged += 1


def _moment(at: datetime | None) -> str:
    """1C's date as the history shows it (1C's local time, as 1C wrote it); a dash when 1C gave none."""
    return "—" if at is None else at.strftime("%Y-%m-%d %H:%M")
