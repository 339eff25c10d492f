"""What 1C says of our orders in its order documents, applied on each backend: paid and shipped are written into the
order's history once, a cancel or a deletion mark cancels the order and frees its stock once, and a document for an
order we do not know, or of another operation, is skipped and counted."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

import pytest

from bot.order_history import history_line
from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock, assembled
from workflows.model import StockFigure
from workflows.office_model import Phase
from workflows.onec_order_status import CANCEL_REASON, OneCOrderStatus, OrderDocument, StatusSummary
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWork, UnitOfWorkFactory
from workflows.shop import Shop
from workflows.topology import Topology

INSTANCES = 4


@pytest.fixture
async def shop(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Shop:
    s = assembled(uow, topology, clock)
    await s.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    return s


@pytest.fixture
def status(shop: Shop, uow: UnitOfWorkFactory, clock: FakeClock, topology: Topology) -> OneCOrderStatus:
    return OneCOrderStatus(uow, clock, shop.orders, topology.channels)


async def place(shop: Shop, external_id: str, qty: int = 2, channel: str = "site") -> int:
    order = (await shop.orders.place(PlaceOrder(channel, external_id, [LineRequest("IRON", qty)]))).order
    assert order.id is not None
    return order.id


async def kinds(shop: Shop, order_id: int) -> list[str]:
    return [event.kind for event in (await shop.orders.get(order_id)).history]


async def test_paid_and_shipped_in_1c_are_written_once(shop: Shop, status: OneCOrderStatus) -> None:
    order_id = await place(shop, "S-1")
    paid = OrderDocument(ref=str(order_id), number="S-1", onec_number="ТДЦУ-1", payment_number="ТДЦУ-000201",
                         paid_at=datetime(2026, 12, 2, 9, 15))  # fmt: skip
    assert await status.apply([paid]) == StatusSummary(documents=1, paid=1)
    shipped = OrderDocument(ref=str(order_id), number="S-1", onec_number="ТДЦУ-1", payment_number="ТДЦУ-000201",
                            paid_at=datetime(2026, 12, 2, 9, 15), shipment_number="ТДЦУ-000301")  # fmt: skip
    assert await status.apply([shipped]) == StatusSummary(documents=1, shipped=1)
    assert await status.apply([shipped]) == StatusSummary(documents=1, unchanged=1)  # the same file again
    history = (await shop.orders.get(order_id)).history
    assert [e.kind for e in history].count("paid_in_1c") == 1 and [e.kind for e in history].count("shipped_in_1c") == 1
    (event,) = [e for e in history if e.kind == "paid_in_1c"]
    assert event.detail == {"number": "ТДЦУ-000201", "at": "2026-12-02 09:15", "onec_number": "ТДЦУ-1"}
    assert (
        history_line("ru", event.kind, event.detail) == "1С: оплачен, документ оплаты ТДЦУ-000201 от 2026-12-02 09:15"
    )
    (event,) = [e for e in history if e.kind == "shipped_in_1c"]
    assert history_line("en", event.kind, event.detail) == "1C: shipped, shipment document ТДЦУ-000301 of —"
    assert (await shop.ledger.stock("IRON")).reserved == 2  # paid and shipped in 1C: the reservation is 1C's to end


async def test_a_cancel_in_1c_frees_the_stock_once(shop: Shop, status: OneCOrderStatus) -> None:
    order_id = await place(shop, "S-2", qty=3)
    assert (await shop.ledger.stock("IRON")).reserved == 3
    cancelled = OrderDocument(ref=str(order_id), number="S-2", cancelled=True)
    assert await status.apply([cancelled]) == StatusSummary(documents=1, cancelled=1)
    assert (await shop.ledger.stock("IRON")).reserved == 0
    assert await status.apply([cancelled, cancelled]) == StatusSummary(documents=2, unchanged=2)
    order = await shop.orders.get(order_id)
    assert order.status.value == "cancelled" and (await kinds(shop, order_id)).count("cancelled") == 1
    (event,) = [e for e in order.history if e.kind == "cancelled"]
    assert event.detail["reason"] == CANCEL_REASON and event.detail["released"] == 1
    assert history_line("ru", "cancelled", event.detail) == (
        "Заказ отменён: отменён или помечен на удаление в 1С; снято: 1\xa0резерв"
    )
    assert history_line("en", "cancelled", event.detail) == (
        "Order cancelled: cancelled or marked for deletion in 1C; released: 1\xa0reservation"
    )


async def test_a_deletion_mark_cancels_and_an_order_is_found_by_its_number(shop: Shop, status: OneCOrderStatus) -> None:
    order_id = await place(shop, "WB-77", channel="wildberries")
    marked = OrderDocument(ref="ТДЦУ-9", number="WB-77", deletion_mark=True)  # not our id: matched by number
    assert await status.apply([marked]) == StatusSummary(documents=1, cancelled=1)
    assert (await shop.orders.get(order_id)).status.value == "cancelled"
    assert (await shop.ledger.stock("IRON")).reserved == 0


async def test_unknown_orders_and_other_operations_are_skipped_and_counted(shop: Shop, status: OneCOrderStatus) -> None:
    order_id = await place(shop, "S-3")
    await place(shop, "SAME", channel="site")
    await place(shop, "SAME", channel="ozon")
    documents = [
        OrderDocument(ref="999999", number="NO-SUCH", cancelled=True),
        OrderDocument(ref="", number="SAME", cancelled=True),  # two channels' orders: which one is not known
        OrderDocument(ref=str(order_id), operation="Возврат товара", cancelled=True),
        OrderDocument(ref=str(order_id), payment_number="ТДЦУ-5"),
    ]
    summary = await status.apply(documents)
    assert summary == StatusSummary(documents=4, paid=1, unknown_orders=("999999", "SAME"), other_operations=1)
    assert (await shop.orders.get(order_id)).status.value == "reserved"
    assert (await shop.ledger.stock("IRON")).reserved == 6


async def test_a_package_is_one_transaction(
    shop: Shop, status: OneCOrderStatus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure in the middle of a package leaves the documents before it unapplied too."""
    first, second = await place(shop, "S-4"), await place(shop, "S-5")
    real = shop.orders.cancel_in

    async def cancel_in(work: UnitOfWork, order_id: int, reason: str) -> bool:
        if order_id == second:
            raise RuntimeError("the database went away")
        return await real(work, order_id, reason)

    monkeypatch.setattr(shop.orders, "cancel_in", cancel_in)
    documents = [OrderDocument(ref=str(first), cancelled=True), OrderDocument(ref=str(second), cancelled=True)]
    with pytest.raises(RuntimeError):
        await status.apply(documents)
    assert (await shop.orders.get(first)).status.value == "reserved"
    assert (await shop.ledger.stock("IRON")).reserved == 4


async def test_a_paid_order_s_event_is_kept_when_it_is_cancelled_later(shop: Shop, status: OneCOrderStatus) -> None:
    order_id = await place(shop, "S-6")
    await shop.payments.record(
        PaymentEvent("e1", "p1", order_id, "idem-1", Phase.CLEARED, Decimal(5000), "RUB")
    )  # our own payment: 1C's word is written beside it
    await status.apply([OrderDocument(ref=str(order_id), payment_number="ТДЦУ-7")])
    await status.apply([OrderDocument(ref=str(order_id), payment_number="ТДЦУ-7", cancelled=True)])
    history = await kinds(shop, order_id)
    assert history.count("paid_in_1c") == 1 and history[-1] == "cancelled"


async def test_instances_applying_the_same_package_at_once_write_it_once(
    database: Database, topology: Topology, clock: FakeClock
) -> None:
    """Two 1C exchanges (or a retry) on several instances: one paid event, one cancel, the stock freed once."""
    shops = []
    for _ in range(INSTANCES):
        uow = SqlUnitOfWorkFactory(database)
        shops.append(assembled(uow, topology, clock))
        uow.hooks.after.clear()
    await shops[0].ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    paid, cancelled = await place(shops[0], "S-7"), await place(shops[0], "S-8", qty=3)
    package = [OrderDocument(ref=str(paid), payment_number="ТДЦУ-1"), OrderDocument(ref=str(cancelled), cancelled=True)]
    runs = await asyncio.gather(
        *(OneCOrderStatus(s.uow, clock, s.orders, topology.channels).apply(package) for s in shops)
    )
    assert (sum(run.paid for run in runs), sum(run.cancelled for run in runs)) == (1, 1)
    assert (await kinds(shops[0], paid)).count("paid_in_1c") == 1
    assert (await kinds(shops[0], cancelled)).count("cancelled") == 1
    assert (await shops[0].ledger.stock("IRON")).reserved == 2
