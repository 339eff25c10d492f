"""Finding an order the way the office names it: by our order id, the channel's own order number or the phone.

A manager holds whatever the buyer or the marketplace's cabinet shows — an Ozon posting number, a Market order
id, a site order number, the client's phone — or our id from an alert. :meth:`OrderLookup.find` takes any: a
number that is one of our ids, every channel's order with that number (in any case: ``wb-1`` is ``WB-1``) and a
client's newest orders by their phone all come back (a site order ``12`` and our order 12 are both shown, and the
manager picks). Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable

from workflows.model import Order
from workflows.payments import MoneyState, PaymentDesk
from workflows.ports import UnitOfWorkFactory
from workflows.typed_names import typed_phone

REFERENCE_LIMIT = 100  # characters of what was typed that are looked up
LARGEST_ID = 2**63 - 1  # our ids are 64-bit integers in the database: a longer number is no id of ours
PHONE_ORDERS = 5  # a client's newest orders shown for their phone


class OrderLookup:
    def __init__(self, uow: UnitOfWorkFactory, channels: Iterable[str], payments: PaymentDesk) -> None:
        self._uow, self._channels, self._payments = uow, tuple(channels), payments

    @property
    def channels(self) -> tuple[str, ...]:
        return self._channels

    async def find(self, reference: str, channel: str | None = None, *, by_phone: bool = True) -> list[Order]:
        """The orders ``reference`` may name, empty when none: ours by id first, then the channels' orders with
        that number in any case, then (``by_phone``) the :data:`PHONE_ORDERS` newest orders of a customer whose
        phone it is. With ``channel``, only that channel's order with that number."""
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
                for order in await uow.orders.named(name, wanted):
                    if order.id is not None:
                        found.setdefault(order.id, order)
            if channel is None and by_phone and (phone := typed_phone(wanted)):
                for order in await uow.orders.of_phone(phone, PHONE_ORDERS):
                    if order.id is not None:
                        found.setdefault(order.id, order)
        return list(found.values())

    async def ids(self, reference: str, *, phone_orders: int = PHONE_ORDERS) -> list[int]:
        """The ids of the orders :meth:`find` gives for ``reference`` (with the ``phone_orders`` newest of a phone),
        the phone's without reading those orders: for a listing that reads only the page it shows."""
        found = [order.id for order in await self.find(reference, by_phone=False) if order.id is not None]
        phone = typed_phone(reference.strip().lstrip("#№").strip()[:REFERENCE_LIMIT])
        if phone:
            async with self._uow(read_only=True) as uow:
                found += [i for i in await uow.orders.ids_of_phone(phone, phone_orders) if i not in found]
        return found

    async def one(self, reference: str) -> Order | None:
        """The one order ``reference`` names for a command that acts on it: ours when it is one of our ids, else
        the only channel order with that number; ``None`` when there is none or several. Never by a phone: a
        client's next order would silently become the one acted on."""
        found = await self.find(reference, by_phone=False)
        wanted = reference.strip().lstrip("#№").strip()
        ours = [order for order in found if str(order.id) == wanted]
        return ours[0] if ours else found[0] if len(found) == 1 else None

    async def money(self, order_id: int) -> MoneyState:
        """What the order's payments allow (see :class:`~workflows.payments.PaymentDesk`)."""
        return await self._payments.money_state(order_id)
