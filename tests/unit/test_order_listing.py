"""``Orders.listed``, the order search's one read of a page, on memory, SQLite and PostgreSQL alike: the status
as the lines make it (the SQL derives it the way ``order_status`` does), the other filters, newest first."""

from __future__ import annotations

from datetime import timedelta

from tests.fakes import FakeClock
from workflows.ledger import Ledger
from workflows.model import OrderStatus, StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import OrderFilter, UnitOfWorkFactory


async def test_each_status_and_filter_is_the_same_on_every_backend(
    uow: UnitOfWorkFactory, desk: OrderDesk, ledger: Ledger, clock: FakeClock
) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("A", "online", 5), StockFigure("B", "tverskaya", 1)])

    async def place(number: str, *skus: str, channel: str = "site") -> int:
        request = PlaceOrder(channel, number, [LineRequest(sku, 1) for sku in skus])
        order_id = (await desk.place(request)).order.id
        assert order_id is not None
        clock.advance(minutes=10)
        return order_id

    reserved = await place("1", "A")
    partly = await place("2", "A", "NOWHERE")
    awaiting = await place("3", "B", "A")
    missing = await place("4", "NOWHERE")
    cancelled = await place("5", "A", channel="wildberries")
    await desk.cancel(cancelled)

    async def ids(**wanted: object) -> list[int]:
        async with uow(read_only=True) as unit:
            found = await unit.orders.listed(OrderFilter(**wanted), 10)  # type: ignore[arg-type]
        assert all(order.lines for order in found)  # read with its lines …
        assert all(order.history for order in found)  # … and its history
        return [order.id or 0 for order in found]

    assert await ids() == [cancelled, missing, awaiting, partly, reserved]
    expected = {OrderStatus.RESERVED: [reserved], OrderStatus.PARTIALLY_RESERVED: [partly],
                OrderStatus.AWAITING_STORE_CONFIRMATION: [awaiting], OrderStatus.OUT_OF_STOCK: [missing],
                OrderStatus.CANCELLED: [cancelled]}  # fmt: skip
    for status, orders in expected.items():
        assert await ids(status=status) == orders, status
    assert await ids(channel="wildberries") == [cancelled]
    assert await ids(ids=[reserved, missing, 999]) == [missing, reserved]
    assert await ids(before_id=awaiting) == [partly, reserved]
    start = clock.now() - timedelta(minutes=50)  # the first order's time
    assert await ids(since=start + timedelta(minutes=20), until=start + timedelta(minutes=40)) == [missing, awaiting]
    async with uow(read_only=True) as unit:
        assert len(await unit.orders.listed(OrderFilter(), 2)) == 2
