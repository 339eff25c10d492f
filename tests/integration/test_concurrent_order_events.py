"""Order events applied by several instances at once, on SQLite and PostgreSQL: a cancellation releases the order's
reservations exactly once, whoever reads it, and whatever the intake is doing meanwhile."""

from __future__ import annotations

import asyncio

from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock, assembled
from tests.unit.test_order_events import QuietChannel, ReportingChannel, kinds, order, page, released, reserved, said
from workflows.model import Order, StockFigure
from workflows.shop import Shop
from workflows.topology import Topology

INSTANCES = 4


def instance(database: Database, topology: Topology, clock: FakeClock, ozon: ReportingChannel) -> Shop:
    """One storeops process: its own unit-of-work factory over the shared database."""
    uow = SqlUnitOfWorkFactory(database)
    shop = assembled(uow, topology, clock, channels={"ozon": ozon, "yandex_market": QuietChannel("yandex_market")})
    uow.hooks.after.clear()
    return shop


async def found(shop: Shop, external_id: str) -> Order:
    async with shop.uow(read_only=True) as work:
        taken = await work.orders.find("ozon", external_id)
    assert taken is not None
    return taken


async def test_instances_applying_the_same_page_at_once_release_the_reservation_once(
    database: Database, topology: Topology, clock: FakeClock
) -> None:
    ozon = ReportingChannel("ozon", orders=[order("OZ-1", 2), order("OZ-2", 1)])
    shops = [instance(database, topology, clock, ozon) for _ in range(INSTANCES)]
    await shops[0].ledger.apply_stock(clock.now(), [StockFigure("LAMP", "online", 5)])
    await shops[0].upkeep[0].pull_orders()
    ozon.pages = [page("c1", said("OZ-1"), said("OZ-1"), said("OZ-2", reason="")) for _ in range(INSTANCES)]

    runs = await asyncio.gather(*(shop.order_feeds[0].pull() for shop in shops))

    assert sum(run.applied for run in runs) == 2  # OZ-1 and OZ-2, each by one instance
    assert sum(run.repeated for run in runs) == 3 * INSTANCES - 2
    uow = shops[0].uow
    assert await reserved(uow) == 0
    assert await released(uow) == {("LAMP", "online"): 3}
    for external_id in ("OZ-1", "OZ-2"):
        history = kinds(await found(shops[0], external_id))
        assert (history.count("cancelled"), history.count("cancelled_by_channel")) == (1, 1)


async def test_an_order_taken_while_its_cancellation_is_read_ends_cancelled_without_stock(
    database: Database, topology: Topology, clock: FakeClock
) -> None:
    """The intake and the feed decide about one channel order one at a time: whichever comes second sees the first,
    so no reservation outlives the pull (without waiting for the next pull's safety net)."""
    ozon = ReportingChannel("ozon")
    taking, reading = instance(database, topology, clock, ozon), instance(database, topology, clock, ozon)
    await taking.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "online", 50)])
    for round_no in range(6):
        external_id = f"OZ-R{round_no}"
        ozon.orders, ozon.pages = [order(external_id, 2)], [page(f"c{round_no}", said(external_id))]
        intake, run = await asyncio.gather(taking.upkeep[0].pull_orders(), reading.order_feeds[0].pull())
        assert intake == 1 and run.applied + run.waiting == 1
        cancelled = await found(taking, external_id)
        assert cancelled.status == "cancelled", kinds(cancelled)
        assert kinds(cancelled).count("cancelled") == 1
    assert await reserved(taking.uow) == 0


async def test_a_manager_and_the_channel_cancelling_at_once_release_once(
    database: Database, topology: Topology, clock: FakeClock
) -> None:
    ozon = ReportingChannel("ozon")
    manager, channel = instance(database, topology, clock, ozon), instance(database, topology, clock, ozon)
    await manager.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "online", 50)])
    ozon.orders = [order(f"OZ-M{n}", 2) for n in range(6)]
    await manager.upkeep[0].pull_orders()
    for n in range(6):
        taken = await found(manager, f"OZ-M{n}")
        ozon.pages = [page(f"m{n}", said(f"OZ-M{n}"))]
        await asyncio.gather(manager.orders.cancel(taken.id or 0, "the buyer called"), channel.order_feeds[0].pull())
        assert kinds(await found(manager, f"OZ-M{n}")).count("cancelled") == 1
    assert await reserved(manager.uow) == 0
    assert await released(manager.uow) == {("LAMP", "online"): 12}
