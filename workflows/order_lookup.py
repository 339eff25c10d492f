"""Finding an order the way the office names it: by our order id or by the channel's own order number.

A manager holds whatever the buyer or the marketplace's cabinet shows — an Ozon posting number, a Market order
id, a site order number — or our id from an alert. :meth:`OrderLookup.find` takes either: a number that is one
of our ids, and every channel's order with that number, all come back (a site order ``12`` and our order 12 are
both shown, and the manager picks). Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable

from workflows.model import Order
from workflows.payments import MoneyState, PaymentDesk
from workflows.ports import UnitOfWorkFactory

REFERENCE_LIMIT = 100  # characters of what was typed that are looked up
LARGEST_ID = 2**63 - 1  # our ids are 64-bit integers in the database: a longer number is no id of ours


class OrderLookup:
    def __init__(self, uow: UnitOfWorkFactory, channels: Iterable[str], payments: PaymentDesk) -> None:
        self._uow, self._channels, self._payments = uow, tuple(channels), payments

    @property
    def channels(self) -> tuple[str, ...]:
        return self._channels

    async def find(self, reference: str, channel: str | None = None) -> list[Order]:
        """The orders ``reference`` may name, ours by id first, then by channel order number; empty when none.
        With ``channel``, only that channel's order with that number."""
        wanted = reference.strip().lstrip("#№").strip()[:REFERENCE_LIMIT]
        if not wanted or (channel is not None and channel not in self._channels):
            return []
        found: dict[int, Order] = {}
        async with self._uow(read_only=True) as uow:
            if channel is None and wanted.isdigit() and int(wanted) <= LARGEST_ID:
                ours = await uow.orders.get(int(wanted))
                if ours is not None and ours.id is not None:
                    found[ours.id] = ours
            for name in self._channels if channel is None else (channel,):
                theirs = await uow.orders.find(name, wanted)
                if theirs is not None and theirs.id is not None:
                    found.setdefault(theirs.id, theirs)
        return list(found.values())

    async def one(self, reference: str) -> Order | None:
        """The one order ``reference`` names for a command that acts on it: ours when it is one of our ids, else
        the only channel order with that number; ``None`` when there is none or several."""
        found = await self.find(reference)
        wanted = reference.strip().lstrip("#№").strip()
        ours = [order for order in found if str(order.id) == wanted]
        return ours[0] if ours else found[0] if len(found) == 1 else None

    async def money(self, order_id: int) -> MoneyState:
        """What the order's payments allow (see :class:`~workflows.payments.PaymentDesk`)."""
        return await self._payments.money_state(order_id)
