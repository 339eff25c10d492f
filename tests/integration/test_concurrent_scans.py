"""The same box scan sent many times at once, on SQLite and PostgreSQL: recorded once, the stock received once and
the earmark's share released once — by the order's money lock, and underneath it by the scan row's unique key and
the earmark's CHECK."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from storage import schema as t
from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import table_count
from tests.fakes import FakeClock, assembled
from tests.unit.test_client_money import TIR_FULL
from workflows.box_model import BoxLine, BoxStatus
from workflows.model import Customer, StockFigure
from workflows.money_model import PayoutRequest, Purpose
from workflows.office_model import Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent
from workflows.topology import Topology

RACERS = 12


async def _box(database: Database, topology: Topology) -> tuple[SqlUnitOfWorkFactory, FakeClock, int, str]:
    uow, clock = SqlUnitOfWorkFactory(database), FakeClock()
    shop = assembled(uow, topology, clock)
    await shop.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    placed = await shop.orders.place(
        PlaceOrder("site", "CN-S", [LineRequest("IRON", 1)], Customer("Ольга", "+79160000001"), Decimal(1))
    )
    order_id = placed.order.id
    assert order_id is not None and shop.money is not None and shop.boxes is not None
    await shop.money.plan(order_id, TIR_FULL)
    await shop.payments.record(PaymentEvent("e1", "p1", order_id, "k1", Phase.CLEARED, Decimal(1_994_400), "RUB"))
    due = clock.now() + timedelta(days=2)
    await shop.money.draw(PayoutRequest("cn-1", order_id, Purpose.GOODS, "Yiwu", "RUB", Decimal(600_000), due))
    await shop.money.draw(PayoutRequest("fts-1", order_id, Purpose.CUSTOMS, "ФТС", "RUB", Decimal(222_000), due))
    (box,) = (await shop.boxes.register(order_id, "cn-1", "reg", [[BoxLine("IRON", 5)]])).boxes
    return uow, clock, order_id, box.barcode


@pytest.mark.parametrize("key", [None, "gate-7"])
async def test_the_same_scan_sent_concurrently_is_recorded_once(
    database: Database, topology: Topology, key: str | None
) -> None:
    uow, clock, order_id, code = await _box(database, topology)
    shop = assembled(uow, topology, clock)
    assert shop.boxes is not None and shop.money is not None
    outcomes = await asyncio.gather(*(shop.boxes.scan(code, BoxStatus.AT_MOSCOW_WAREHOUSE, key) for _ in range(RACERS)))
    assert [o.duplicate for o in outcomes].count(False) == 1
    assert await table_count(database, "box_scans") == 4  # purchased and the three statuses up to Moscow
    assert (await shop.ledger.stock("IRON")).by_warehouse["online"].on_hand == 15  # 10 + 5, once
    customs = (await shop.money.account_of(order_id)).account.earmark(Purpose.CUSTOMS)
    assert customs.released == Decimal(222_000)  # the one box is all the goods: all the customs drawn, once
    releases = [e for e in (await shop.money.account_of(order_id)).entries if e.kind == "release"]
    assert len(releases) == 3  # goods, logistics (nothing drawn: 0), customs


async def test_the_database_refuses_a_release_beyond_what_was_drawn(database: Database, topology: Topology) -> None:
    """Even a write that skipped the desk cannot release more than was drawn."""
    _, _, order_id, _ = await _box(database, topology)
    with pytest.raises(IntegrityError):
        async with database.engine.begin() as connection:
            await connection.execute(
                t.earmarks.update().where(t.earmarks.c.order_id == order_id).values(released=t.earmarks.c.drawn + 1)
            )
