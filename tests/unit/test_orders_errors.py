"""Order intake refuses what it cannot take, and changes nothing when it does."""

from __future__ import annotations

import pytest

from tests.fakes import FakeClock
from workflows.errors import OrderConflict, OrderNotFound, UnknownChannel
from workflows.ledger import Ledger
from workflows.model import StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder


async def test_unknown_channel_is_refused(desk: OrderDesk) -> None:
    with pytest.raises(UnknownChannel, match="avito"):
        await desk.place(PlaceOrder("avito", "1", [LineRequest("A", 1)]))


async def test_same_key_with_other_lines_is_a_conflict_and_changes_nothing(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock
) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("A", "online", 5)])
    await desk.place(PlaceOrder("site", "1", [LineRequest("A", 1)]))
    with pytest.raises(OrderConflict):
        await desk.place(PlaceOrder("site", "1", [LineRequest("A", 3)]))
    assert (await ledger.stock("A")).reserved == 1


async def test_unknown_order(desk: OrderDesk) -> None:
    with pytest.raises(OrderNotFound):
        await desk.get(999)
    with pytest.raises(OrderNotFound):
        await desk.cancel(999)
