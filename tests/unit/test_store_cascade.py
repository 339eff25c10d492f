"""The store cascade on memory, SQLite and PostgreSQL, with a fake clock driving the 20 minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import FakeClock
from workflows.ledger import Ledger
from workflows.model import LineStatus, StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import UnitOfWorkFactory
from workflows.store_confirmation import KIND, NotStaff, StoreCascade
from workflows.tasks import DeadlineKind, DeadlinePump, TaskBoard, TaskState
from workflows.topology import Topology

STORES = {"s1": ("U1",), "s2": ("U2",), "s3": ("U3",)}


@pytest.fixture
def shop() -> Topology:
    warehouses = [{"code": "online", "kind": "online"}] + [
        {"code": code, "kind": "store", "title": code.upper(), "slack_channel": f"C{code}", "staff": list(staff),
         "priority": n}
        for n, (code, staff) in enumerate(STORES.items(), 1)
    ]  # fmt: skip
    return Topology.model_validate({"warehouses": warehouses, "channels": {"site": {"serves": ["online", *STORES]}}})


class Shop:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.clock = uow, clock
        self.ledger = Ledger(uow, topology, clock)
        self.board = TaskBoard(uow, clock)
        self.cascade = StoreCascade(topology, clock, self.board, self.ledger, timedelta(minutes=20))
        self.desk = OrderDesk(uow, topology, clock, self.ledger, self.cascade)
        self.pump = DeadlinePump(uow, clock, {(KIND, DeadlineKind.EXPIRE): self.cascade.on_timeout}, owner="test")

    async def open_task_id(self) -> int:
        async with self.uow(read_only=True) as work:
            notices = await work.notices.undelivered(100)
        questions = [p["task_id"] for _, topic, p in notices if topic == "store_question"]
        return int(str(questions[-1]))


@pytest.fixture
async def shop_with_stock(uow: UnitOfWorkFactory, shop: Topology, clock: FakeClock) -> Shop:
    s = Shop(uow, shop, clock)
    await s.ledger.apply_stock(clock.now(), [StockFigure("IRON", code, 1) for code in STORES])
    return s


async def test_timeout_then_missing_then_available(shop_with_stock: Shop, clock: FakeClock) -> None:
    s = shop_with_stock
    placed = (await s.desk.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 1)]))).order
    assert placed.id is not None
    assert (placed.lines[0].status, placed.lines[0].warehouse) == (LineStatus.AWAITING_STORE_CONFIRMATION, "s1")
    first = await s.open_task_id()

    clock.advance(minutes=19)
    assert await s.pump.run_once() == 1  # the half-time reminder only
    clock.advance(minutes=1)
    assert await s.pump.run_once() == 1  # s1's time is up
    second = await s.open_task_id()
    assert second != first
    late = await s.cascade.answer(first, "available", "U1")
    assert (late.accepted, late.refusal) == (False, "expired")

    assert (await s.cascade.answer(second, "missing", "U2")).accepted
    third = await s.open_task_id()
    assert (await s.cascade.answer(third, "available", "U3")).accepted
    again = await s.cascade.answer(third, "available", "U3")
    assert (again.accepted, again.refusal) == (False, "answered")

    order = await s.desk.get(placed.id)
    assert (order.lines[0].status, order.lines[0].warehouse, order.status.value) == (
        LineStatus.RESERVED,
        "s3",
        "reserved",
    )
    assert [(e.kind, e.detail.get("store"), e.detail.get("outcome")) for e in order.history] == [
        ("received", None, None), ("held_for_store_confirmation", None, None), ("store_asked", "s1", None),
        ("store_declined", "s1", "timeout"), ("store_asked", "s2", None),
        ("store_declined", "s2", "missing"), ("store_asked", "s3", None),
        ("store_confirmed", "s3", "available"),
    ]  # fmt: skip
    stock = await s.ledger.stock("IRON")
    assert {code: (lv.reserved, lv.suspect_since is not None) for code, lv in stock.by_warehouse.items()} == {
        "s1": (0, False), "s2": (0, True), "s3": (1, False),
    }  # fmt: skip
    assert stock.available == 1  # s1's unit; s2's is suspect


async def test_only_the_stores_staff_may_answer(shop_with_stock: Shop) -> None:
    s = shop_with_stock
    await s.desk.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 1)]))
    task_id = await s.open_task_id()
    with pytest.raises(NotStaff):
        await s.cascade.answer(task_id, "available", "U3")  # staff of s3, asked as s1
    async with s.uow(read_only=True) as work:
        task = await work.tasks.get(task_id)
    assert task is not None and task.state == TaskState.OPEN
    assert (await s.cascade.answer(task_id, "available", "U1")).accepted


async def test_every_store_declines_then_the_line_is_unfulfillable(shop_with_stock: Shop, clock: FakeClock) -> None:
    s = shop_with_stock
    placed = (await s.desk.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 1)]))).order
    assert placed.id is not None
    for user, option in (("U1", "defective"), ("U2", "missing"), ("U3", "missing")):
        assert (await s.cascade.answer(await s.open_task_id(), option, user)).accepted
    order = await s.desk.get(placed.id)
    assert (order.lines[0].status, order.status.value) == (LineStatus.UNFULFILLABLE, "out_of_stock")
    assert order.history[-1].kind == "unfulfillable"
    assert (await s.ledger.stock("IRON")).reserved == 0
    async with s.uow(read_only=True) as work:
        notices = [p for _, topic, p in await work.notices.undelivered(100) if topic == "alert"]
        alert = await work.alerts.open_for(f"store_cascade_exhausted:order:{placed.id}:line:1")
    assert alert is not None and notices == [{"alert_id": alert.id}]
    assert (alert.kind, alert.count) == ("store_cascade_exhausted", 1)
    assert alert.detail == {
        "order_id": placed.id, "external_id": "A-1", "line": 1, "sku": "IRON", "qty": 1, "asked": ["s1", "s2", "s3"],
    }  # fmt: skip


async def test_a_newer_1c_figure_clears_the_doubt(shop_with_stock: Shop, clock: FakeClock) -> None:
    s = shop_with_stock
    await s.desk.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 1)]))
    flagged_at = clock.advance(minutes=5)
    await s.cascade.answer(await s.open_task_id(), "missing", "U1")
    await s.ledger.apply_stock(flagged_at - timedelta(minutes=1), [StockFigure("IRON", "s1", 1)])
    assert (await s.ledger.stock("IRON")).by_warehouse["s1"].suspect_since is not None  # older than the doubt
    await s.ledger.apply_stock(flagged_at + timedelta(minutes=1), [StockFigure("IRON", "s1", 1)])
    assert (await s.ledger.stock("IRON")).by_warehouse["s1"].suspect_since is None


async def test_cancelling_the_order_closes_its_open_question(shop_with_stock: Shop, clock: FakeClock) -> None:
    s = shop_with_stock
    placed = (await s.desk.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 1)]))).order
    other = (await s.desk.place(PlaceOrder("site", "A-10", [LineRequest("IRON", 1)]))).order
    assert placed.id is not None and other.id is not None
    async with s.uow(read_only=True) as work:
        asked = await work.tasks.open_about(f"order:{placed.id}:")
    assert len(asked) == 1
    await s.desk.cancel(placed.id, "client changed mind")
    async with s.uow(read_only=True) as work:
        task = await work.tasks.get(asked[0].id or 0)
        still_open = await work.tasks.open_about(f"order:{other.id}:")
        closed_notices = [p for _, topic, p in await work.notices.undelivered(100) if topic == "task_closed"]
    assert task is not None
    assert (task.state, task.end_reason) == (TaskState.CANCELLED, "order_cancelled")
    assert len(still_open) == 1  # the other order's question is untouched
    assert closed_notices == [{"task_id": task.id}]
    late = await s.cascade.answer(task.id or 0, "available", "U1")
    assert (late.accepted, late.refusal) == (False, "cancelled")


async def test_store_answer_statistics(shop_with_stock: Shop, clock: FakeClock) -> None:
    from workflows.store_stats import store_answer_stats

    s = shop_with_stock
    start = clock.now()
    await s.desk.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 1)]))
    clock.advance(minutes=20)
    await s.pump.run_once()  # s1 timed out
    clock.advance(minutes=3)
    await s.cascade.answer(await s.open_task_id(), "missing", "U2")  # s2 after 3 minutes
    clock.advance(minutes=1)
    await s.cascade.answer(await s.open_task_id(), "available", "U3")  # s3 after 1 minute
    stats = {row.store: row for row in await store_answer_stats(s.uow, start)}
    assert {k: (v.asked, v.answered, v.median_seconds) for k, v in stats.items()} == {
        "s1": (1, 0, None), "s2": (1, 1, 180.0), "s3": (1, 1, 60.0),
    }  # fmt: skip
    assert (stats["s1"].answer_rate, stats["s2"].answer_rate) == (0.0, 1.0)


def _with_hours(topology: Topology, mode: str) -> Topology:
    data = topology.model_dump(mode="json")
    data["warehouses"][1]["opening_hours"] = "14:00-22:00"  # s1 opens at 14:00 Moscow = 11:00 UTC
    data["warehouses"][1]["timezone"] = "Europe/Moscow"
    data["store_questions"] = {"outside_hours": mode}
    for channel in data["channels"].values():
        channel.pop("name")
    return Topology.model_validate(data)


async def test_a_closed_store_is_skipped_with_the_reason(
    uow: UnitOfWorkFactory, shop: Topology, clock: FakeClock
) -> None:
    s = Shop(uow, _with_hours(shop, "skip"), clock)  # the clock says 09:00 UTC: s1 is closed
    await s.ledger.apply_stock(clock.now(), [StockFigure("IRON", code, 1) for code in STORES])
    placed = (await s.desk.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 1)]))).order
    assert placed.lines[0].warehouse == "s2"
    assert [(e.kind, e.detail.get("store"), e.detail.get("reason")) for e in placed.history][:2] == [
        ("received", None, None), ("store_skipped", "s1", "closed"),
    ]  # fmt: skip
    await s.cascade.answer(await s.open_task_id(), "missing", "U2")  # the cascade does not come back to s1
    order = await s.desk.get(placed.id or 0)
    assert order.lines[0].warehouse == "s3"


async def test_a_closed_store_can_be_waited_for(uow: UnitOfWorkFactory, shop: Topology, clock: FakeClock) -> None:
    s = Shop(uow, _with_hours(shop, "wait"), clock)
    await s.ledger.apply_stock(clock.now(), [StockFigure("IRON", code, 1) for code in STORES])
    placed = (await s.desk.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 1)]))).order
    assert placed.lines[0].warehouse == "s1"
    async with s.uow(read_only=True) as work:
        task = await work.tasks.get(await s.open_task_id())
    assert task is not None
    assert task.deadline == clock.now().replace(hour=11, minute=20)  # 20 minutes from opening
    clock.advance(minutes=30)
    await s.pump.run_once()
    async with s.uow(read_only=True) as work:
        still = await work.tasks.get(task.id or 0)
    assert still is not None and still.state == TaskState.OPEN


async def test_concurrent_pump_lanes_settle_many_timeouts_without_deadlock(
    uow: UnitOfWorkFactory, shop: Topology, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Four lanes fire 120 timeouts over three SKUs at once: each timeout releases one store's
    hold and takes the next store's, so lanes sharing a SKU would deadlock on PostgreSQL. Lock
    keys keep a SKU in one lane: no chunk fails, every question moves on exactly once."""
    s = Shop(uow, shop, clock)
    skus = ("IRON", "KETTLE", "КР-7/2")
    await s.ledger.apply_stock(clock.now(), [StockFigure(sku, code, 100) for sku in skus for code in STORES])
    for n in range(120):
        await s.desk.place(PlaceOrder("site", f"L-{n}", [LineRequest(skus[n % 3], 1)]))
    pump = DeadlinePump(
        uow, clock, {(KIND, DeadlineKind.EXPIRE): s.cascade.on_timeout}, owner="lanes", concurrency=4, chunk=10,
        lock_keys={KIND: s.cascade.lock_key},
    )  # fmt: skip
    clock.advance(minutes=21)
    with caplog.at_level("WARNING", logger="workflows.tasks"):
        assert await pump.run_once() == 240  # 120 reminders, 120 expiries
    assert [r.getMessage() for r in caplog.records] == []
    async with uow(read_only=True) as work:
        open_now = await work.tasks.open_about("order:")
        levels = {(lv.sku, lv.warehouse): lv.reserved for sku in skus for lv in await work.stock.for_sku(sku)}
    assert len(open_now) == 120 and {t.payload["store"] for t in open_now} == {"s2"}
    assert levels == {(sku, code): (40 if code == "s2" else 0) for sku in skus for code in STORES}


async def test_a_reminder_is_never_sent_once_the_question_ran_out(shop_with_stock: Shop, clock: FakeClock) -> None:
    """A pump that was behind (down, or the clock moved on) finds the half-time reminder and the deadline due at
    once: the question times out and no reminder asks for an answer by a time gone by; the next store's comes."""
    s = shop_with_stock
    handlers = {(KIND, DeadlineKind.EXPIRE): s.cascade.on_timeout, (KIND, DeadlineKind.REMIND): s.cascade.on_reminder}
    pump = DeadlinePump(s.uow, clock, handlers, owner="late")

    async def reminded() -> list[object]:
        async with s.uow(read_only=True) as work:
            return [p["task_id"] for _, topic, p in await work.notices.undelivered(100) if topic == "store_reminder"]

    await s.desk.place(PlaceOrder("site", "A-1", [LineRequest("IRON", 1)]))
    first = await s.open_task_id()
    clock.advance(minutes=20)  # due together, the reminder first
    assert await pump.run_once() == 2
    assert await reminded() == []
    second = await s.open_task_id()
    assert second != first
    clock.advance(minutes=10)  # s2's reminder, at half-time
    assert await pump.run_once() == 1
    assert await reminded() == [second]
