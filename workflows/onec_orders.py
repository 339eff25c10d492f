"""Orders handed to 1C through the standard exchange (``type=sale``): each order goes until 1C
says it took it (``mode=success``); 1C's later deduction of the order absorbs its reservation
(``POST /api/1c/deductions``, the ledger's rule). Each order goes with what 1C's order needs beside its
lines: whether the client's money cleared (and when) and where it is delivered, when it is."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from workflows.model import Delivery, LineStatus, Order, OrderEvent
from workflows.office_model import Phase
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory

# A line 1C can act on: goods we hold for the order.
HELD = {LineStatus.RESERVED}


@dataclass(frozen=True)
class OrderForOneC:
    """An order as 1C is told it."""

    order: Order
    paid_at: datetime | None = None  # when the client's payment cleared; None while it has not
    delivery: Delivery | None = None  # the carrier's delivery, when the order goes by one

    @property
    def paid(self) -> bool:
        return self.paid_at is not None


class OrderExport:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, batch: int = 200) -> None:
        self._uow, self._clock, self._batch = uow, clock, batch

    async def pending(self) -> list[OrderForOneC]:
        """Orders to send now: not cancelled, not taken by 1C yet, with every line held for them
        (a line still waiting for a store's answer waits; an order with nothing to sell is not sent)."""
        async with self._uow(read_only=True) as uow:
            found = await uow.orders.unexported(self._batch)
            ready = [o for o in found if o.lines and all(line.status in HELD for line in o.lines)]
            return [await _for_onec(uow, order) for order in ready]

    async def taken(self, order_ids: Collection[int]) -> None:
        """1C confirmed it took these orders."""
        if not order_ids:
            return
        async with self._uow() as uow:
            now = self._clock.now()
            await uow.orders.mark_exported(order_ids, now)
            for order_id in sorted(order_ids):
                await uow.orders.add_events(order_id, [OrderEvent(now, "exported_to_1c", {})])
            await uow.commit()


async def _for_onec(uow: UnitOfWork, order: Order) -> OrderForOneC:
    """Paid as the CRM is told (a payment cleared), at the earliest clearing; the delivery of its shipment."""
    if order.id is None:
        return OrderForOneC(order)
    cleared = [p.updated_at for p in await uow.payments.for_order(order.id) if p.phase == Phase.CLEARED]
    shipment = await uow.shipments.get(order.id)
    return OrderForOneC(order, min(cleared, default=None), None if shipment is None else shipment.delivery)
