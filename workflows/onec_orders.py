"""Orders handed to 1C through the standard exchange (``type=sale``): each order goes until 1C
says it took it (``mode=success``); 1C's later deduction of the order absorbs its reservation
(``POST /api/1c/deductions``, the ledger's rule)."""

from __future__ import annotations

from collections.abc import Collection

from workflows.model import LineStatus, Order, OrderEvent
from workflows.ports import Clock, UnitOfWorkFactory

# A line 1C can act on: goods we hold for the order.
HELD = {LineStatus.RESERVED}


class OrderExport:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, batch: int = 200) -> None:
        self._uow, self._clock, self._batch = uow, clock, batch

    async def pending(self) -> list[Order]:
        """Orders to send now: not cancelled, not taken by 1C yet, with every line held for them
        (a line still waiting for a store's answer waits; an order with nothing to sell is not sent)."""
        async with self._uow(read_only=True) as uow:
            found = await uow.orders.unexported(self._batch)
        return [o for o in found if o.lines and all(line.status in HELD for line in o.lines)]

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
