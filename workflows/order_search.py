"""The office's order search: orders by any number they are known by (ours, the channel's, the client's phone,
through :class:`~workflows.order_lookup.OrderLookup`), by channel, status and creation time, newest first, a page
at a time, each with why it waits (:mod:`workflows.order_waiting`). Paging is by id (keyset): a page starts below
the last id of the one before, so orders arriving meanwhile never shift or repeat what the next page shows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from workflows.model import Order, OrderStatus
from workflows.order_lookup import OrderLookup
from workflows.order_waiting import Waiting, order_task_id, waiting_for
from workflows.payments import MoneyState, PaymentDesk
from workflows.ports import OrderFilter, UnitOfWorkFactory
from workflows.task_model import Task

DEFAULT_PAGE, LARGEST_PAGE = 20, 100
PHONE_ORDERS_SEARCHED = LARGEST_PAGE  # a phone finds the client's newest orders, this many at most


@dataclass(frozen=True)
class OrderQuery:
    q: str | None = None  # any number the order is known by, or the client's phone
    channel: str | None = None
    status: OrderStatus | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    limit: int = DEFAULT_PAGE
    before_id: int | None = None  # the page after the one whose last order this was


@dataclass(frozen=True)
class OrderSummary:
    order: Order
    money: MoneyState
    waiting: Waiting


@dataclass(frozen=True)
class OrderPage:
    orders: list[OrderSummary]
    next_before_id: int | None  # where the next page starts; ``None`` on the last page


class OrderSearch:
    def __init__(self, uow: UnitOfWorkFactory, lookup: OrderLookup, payments: PaymentDesk) -> None:
        self._uow, self._lookup, self._payments = uow, lookup, payments

    async def page(self, query: OrderQuery) -> OrderPage:
        """One page of the orders ``query`` names, newest first; nothing is written."""
        limit = max(1, min(query.limit, LARGEST_PAGE))
        ids: list[int] | None = None
        if query.q is not None:
            ids = await self._lookup.ids(query.q, phone_orders=PHONE_ORDERS_SEARCHED)
            if not ids:
                return OrderPage([], None)
        wanted = OrderFilter(ids, query.channel, query.status, query.since, query.until, query.before_id)
        async with self._uow(read_only=True) as uow:
            orders = await uow.orders.listed(wanted, limit + 1)
            shown = orders[:limit]
            tasks = _by_order(await uow.tasks.open_about("order:"))
            summaries = []
            for order in shown:
                assert order.id is not None
                money = await self._payments.money_in(uow, order)
                waiting = waiting_for(order, tasks[order.id], money, await uow.shipments.get(order.id))
                summaries.append(OrderSummary(order, money, waiting))
        more = len(orders) > limit
        return OrderPage(summaries, shown[-1].id if more and shown else None)


def _by_order(tasks: list[Task]) -> defaultdict[int, list[Task]]:
    found: defaultdict[int, list[Task]] = defaultdict(list)
    for task in tasks:
        if (order_id := order_task_id(task.subject)) is not None:
            found[order_id].append(task)
    return found
