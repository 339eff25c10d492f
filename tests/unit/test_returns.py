"""Returns on memory, SQLite and PostgreSQL, wired as production wires them: one task per returned line, the
warehouse's first answer stands, and a sellable return is stock expected back until 1C's figures count it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import FakeClock, assembled
from tests.unit.test_sync import FakeChannel
from workflows.errors import OrderNotFound
from workflows.model import ReservationState, StockFigure
from workflows.order_lookup import OrderLookup
from workflows.orders import LineRequest, PlaceOrder
from workflows.ports import UnitOfWorkFactory
from workflows.return_model import RETURN_DEFECTIVE, RETURN_NOT_RECEIVED, ReturnState
from workflows.returns import InvalidReturn, NotShipped, SkuNotInOrder
from workflows.shop import Rules, Shop
from workflows.store_confirmation import NotStaff
from workflows.tasks import UnknownTask
from workflows.topology import Topology
from workflows.vocabulary import Role


@pytest.fixture
def topology() -> Topology:
    return Topology.model_validate(
        {
            "warehouses": [
                {"code": "online", "kind": "online"},
                {"code": "s1", "kind": "store", "slack_channel": "C1", "staff": ["U1"]},
            ],
            "channels": {"site": {"serves": ["online", "s1"]}},
            "people": {"owner_telegram_id": 1, "manager_telegram_ids": [2]},
        }
    )


async def _shop(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, *, at_once: bool = False) -> Shop:
    rules = Rules(returns_sellable_at_once=at_once)
    shop = assembled(uow, topology, clock, channels={"site": FakeChannel("site")}, rules=rules)
    uow.hooks.after.clear()  # nothing is pushed in the background: the test reads the outbox
    await shop.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 5), StockFigure("LAMP", "s1", 1)])
    return shop


async def _order(shop: Shop) -> int:
    placed = (
        await shop.orders.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 2), LineRequest("LAMP", 1)]))
    ).order
    assert placed.id is not None
    return placed.id


async def _task_ids(shop: Shop, topic: str) -> list[int]:
    async with shop.uow(read_only=True) as work:
        return [int(str(p["task_id"])) for _, _, p in await work.notices.undelivered(1000, [topic])]


async def _events(shop: Shop, order_id: int) -> list[str]:
    return [event.kind for event in (await shop.orders.get(order_id)).history if event.kind.startswith("return_")]


async def test_announcing_twice_opens_one_task_in_the_store_channel(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await _shop(uow, topology, clock)
    order_id = await _order(shop)
    first = await shop.returns.announce(order_id, "LAMP", None, "site")
    again = await shop.returns.announce(order_id, "LAMP", 1, "manager:2")
    assert again == first and (first.warehouse, first.qty, first.source) == ("s1", 1, "site")
    asked = await _task_ids(shop, "store_question")
    assert first.task_id in asked and asked.count(first.task_id) == 1
    assert len([t for t in asked if t != first.task_id]) == 1  # the store cascade's own question, nothing else
    assert await _events(shop, order_id) == ["return_announced"]


async def test_sellable_is_expected_back_until_a_newer_1c_figure(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await _shop(uow, topology, clock)
    order_id = await _order(shop)
    before = clock.now()
    record = await shop.returns.announce(order_id, "IRON", None, "manager:2")
    assert record.task_id in await _task_ids(shop, "office_task")  # the online warehouse has no Slack: managers
    clock.advance(minutes=5)
    assert (await shop.office.answer(record.task_id or 0, "sellable", Role.MANAGER, "Anna (2)")).accepted
    assert await shop.returns.expected_back("IRON") == {"online": 2}
    assert (await shop.ledger.stock("IRON")).by_warehouse["online"].on_hand == 5  # 1C's figure still stands

    await shop.ledger.apply_stock(before + timedelta(minutes=1), [StockFigure("IRON", "online", 3)])
    assert await shop.returns.expected_back("IRON") == {"online": 2}  # computed before the parcel came
    await shop.ledger.apply_stock(clock.now() + timedelta(seconds=1), [StockFigure("IRON", "online", 5)])
    assert await shop.returns.expected_back("IRON") == {}
    assert await _events(shop, order_id) == ["return_announced", "return_sellable"]


async def test_sellable_at_once_is_stock_now_and_queued_for_the_channels(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await _shop(uow, topology, clock, at_once=True)
    order_id = await _order(shop)
    record = await shop.returns.announce(order_id, "IRON", None, "site")
    before = (await shop.ledger.stock("IRON")).by_channel["site"]
    assert (await shop.returns.answer_in_office(record.task_id or 0, "sellable", "Anna (2)")).accepted

    stock = await shop.ledger.stock("IRON")
    assert stock.by_warehouse["online"].on_hand == 7 and stock.by_channel["site"] == before + 2
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.known("site", ["IRON"]) == {"IRON": before + 2}
        assert (await work.returns.get(order_id, "IRON")).state == ReturnState.RESTOCKED  # type: ignore[union-attr]
    assert await shop.returns.expected_back("IRON") == {}
    assert await _events(shop, order_id) == ["return_announced", "return_restocked"]


async def test_defective_and_not_received_are_recorded_and_told(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await _shop(uow, topology, clock)
    order_id = await _order(shop)
    iron = await shop.returns.announce(order_id, "IRON", None, "site")
    lamp = await shop.returns.announce(order_id, "LAMP", None, "site")
    assert (await shop.returns.answer_in_office(iron.task_id or 0, "defective", "Anna (2)")).accepted
    assert (await shop.returns.answer(lamp.task_id or 0, "not_received", "U1")).accepted

    async with shop.uow(read_only=True) as work:
        defective = await work.alerts.open_of_kind(RETURN_DEFECTIVE)
        lost = await work.alerts.open_of_kind(RETURN_NOT_RECEIVED)
        assert (await work.returns.get(order_id, "LAMP")).state == ReturnState.NOT_RECEIVED  # type: ignore[union-attr]
    assert [(a.detail["sku"], a.detail["order"]) for a in defective] == [("IRON", "A-1")]
    assert [(a.detail["sku"], a.detail["warehouse"]) for a in lost] == [("LAMP", "s1")]
    assert await shop.returns.expected_back("IRON") == {}
    assert await _events(shop, order_id) == [
        "return_announced", "return_announced", "return_defective", "return_not_received",
    ]  # fmt: skip


async def test_first_answer_stands_and_only_the_store_staff_answer(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await _shop(uow, topology, clock)
    order_id = await _order(shop)
    lamp = await shop.returns.announce(order_id, "LAMP", None, "site")
    task_id = lamp.task_id or 0
    with pytest.raises(NotStaff):
        await shop.returns.answer(task_id, "sellable", "U9")
    with pytest.raises(UnknownTask):  # a store's receipt is not the office's to answer
        await shop.office.answer(task_id, "defective", Role.OWNER, "Owner (1)")
    assert [t.id for t, _ in await shop.office.open_tasks(Role.OWNER)] == []
    question = next(t for t in await _task_ids(shop, "store_question") if t != task_id)  # the cascade's own
    with pytest.raises(UnknownTask):  # a return button on another kind of task changes nothing
        await shop.returns.answer(question, "defective", "U1")
    async with shop.uow(read_only=True) as work:
        assert (await work.tasks.get(question)).state == "open"  # type: ignore[union-attr]
    clock.advance(minutes=1)
    assert (await shop.returns.answer(task_id, "sellable", "U1")).accepted
    late = await shop.returns.answer(task_id, "defective", "U1")
    assert (late.accepted, late.refusal) == (False, "answered")
    assert await shop.returns.expected_back("LAMP") == {"s1": 1}
    assert await _events(shop, order_id) == ["return_announced", "return_sellable"]


async def test_unknown_order_or_sku_changes_nothing(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await _shop(uow, topology, clock)
    order_id = await _order(shop)
    lookup = OrderLookup(shop.uow, shop.topology.channels, shop.payments)
    assert (found := await lookup.one("A-1")) is not None and found.id == order_id  # the channel's number
    assert (found := await lookup.one(str(order_id))) is not None and found.id == order_id  # ours
    assert await lookup.one("B-404") is None
    with pytest.raises(SkuNotInOrder):
        await shop.returns.announce(order_id, "KETTLE", None, "manager:2")
    with pytest.raises(OrderNotFound):
        await shop.returns.announce(order_id + 100, "IRON", None, "manager:2")
    with pytest.raises(InvalidReturn):  # more than the order holds
        await shop.returns.announce(order_id, "IRON", 3, "site")
    missed = (await shop.orders.place(PlaceOrder("site", "A-2", [LineRequest("KETTLE", 1)]))).order
    assert missed.id is not None
    with pytest.raises(NotShipped):  # out of stock: it never left a warehouse
        await shop.returns.announce(missed.id, "KETTLE", None, "site")
    assert await _task_ids(shop, "office_task") == []
    assert await _events(shop, order_id) == []


async def test_a_line_released_by_a_cancellation_never_left_and_cannot_come_back(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    """Cancelled before 1C deducted it, the order's IRON was released: the ledger counts it free in the warehouse
    already, so a return of it would count it twice. Refused, nothing asked; a line 1C had deducted (absorbed) still
    comes back."""
    shop = await _shop(uow, topology, clock)
    order_id = await _order(shop)
    await shop.orders.cancel(order_id, "buyer")
    with pytest.raises(NotShipped):
        await shop.returns.announce(order_id, "IRON", None, "manager:2")
    assert await _task_ids(shop, "office_task") == []
    assert await shop.returns.expected_back("IRON") == {}
    assert await _events(shop, order_id) == []

    placed = (await shop.orders.place(PlaceOrder("site", "A-3", [LineRequest("IRON", 2)]))).order
    shipped = placed.id  # this one 1C deducted and took into its figures before it came back
    assert shipped is not None
    async with shop.uow() as work:
        held = [r for r in await work.reservations.for_order(shipped) if r.sku == "IRON"]
        await work.reservations.end([r.id for r in held if r.id is not None], ReservationState.ABSORBED, clock.now())
        await work.commit()
    await shop.orders.cancel(shipped, "buyer")
    record = await shop.returns.announce(shipped, "IRON", None, "manager:2")
    assert (record.warehouse, record.qty) == ("online", 2)
