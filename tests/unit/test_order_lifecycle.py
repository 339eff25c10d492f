"""The orders' lifecycle on the operator's dashboard, on memory, SQLite and PostgreSQL: the newest lifecycle steps
across orders (routing, payments and the like left out) with each order's channel and number, read in one query
with a limit; the counters of what waits on people and marketplaces; and the steps worded in the dashboard's
language exactly as the office's ``/order`` words them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from app.http.dashboard import snapshot_view
from app.http.task_titles import TaskTitles
from bot.order_history import history_line, kinds
from bot.wording import Names
from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock
from workflows.dashboard import Dashboard
from workflows.model import Customer, Order, OrderEvent
from workflows.order_actions import Action, ActionState
from workflows.order_lifecycle import LIFECYCLE_KINDS
from workflows.ports import OrderAction, UnitOfWorkFactory
from workflows.return_model import ReturnRecord, ReturnState
from workflows.tasks import DeadlineKind, Task, TaskState
from workflows.topology import Topology
from workflows.vocabulary import TaskKind


async def _order(uow: UnitOfWorkFactory, clock: FakeClock, channel: str, number: str) -> int:
    async with uow() as work:
        order = Order(None, channel, number, Customer("Иван"), None, "RUB", clock.now(), [])
        await work.orders.add(order)
        await work.commit()
    assert order.id is not None
    return order.id


async def _events(uow: UnitOfWorkFactory, clock: FakeClock, order_id: int, *kinds_and_details: Any) -> None:
    """Each (kind, detail) written a minute after the one before, in its own unit of work."""
    for kind, detail in kinds_and_details:
        async with uow() as work:
            await work.orders.add_events(order_id, [OrderEvent(clock.advance(minutes=1), kind, detail)])
            await work.commit()


async def test_the_newest_lifecycle_steps_across_orders_come_with_their_channel_and_number(
    uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    wb = await _order(uow, clock, "wildberries", "WB-1001")
    site = await _order(uow, clock, "site", "S-77")
    await _events(uow, clock, wb, ("received", {"channel": "wildberries", "lines": 1}),
                  ("reserved", {"line": 1, "sku": "LAMP", "qty": 1, "warehouse": "online"}))  # fmt: skip
    await _events(uow, clock, site, ("payment_cleared", {"amount": "10.00", "currency": "RUB"}))
    await _events(uow, clock, wb, ("marketplace_ready_to_ship", {"channel": "wildberries"}))
    await _events(uow, clock, site, ("cancelled", {"reason": "дубль", "released": 1}))
    await _events(uow, clock, wb, ("delivered_to_buyer", {"channel": "wildberries"}))
    await _events(uow, clock, wb, ("return_announced", {"sku": "LAMP", "qty": 1, "source": "wildberries",
                                                        "warehouse": "online"}))  # fmt: skip

    async with uow(read_only=True) as work:
        newest = await work.orders.recent_events(LIFECYCLE_KINDS, 3)
        every = await work.orders.recent_events(LIFECYCLE_KINDS, 100)
        none = await work.orders.recent_events(set(), 100)

    assert [(e.order_id, e.channel, e.external_id, e.event.kind) for e in newest] == [
        (wb, "wildberries", "WB-1001", "return_announced"),
        (wb, "wildberries", "WB-1001", "delivered_to_buyer"),
        (site, "site", "S-77", "cancelled"),
    ]
    assert [e.event.kind for e in every] == [
        "return_announced",
        "delivered_to_buyer",
        "cancelled",
        "marketplace_ready_to_ship",
    ]  # routing and payments are not lifecycle steps
    assert newest[2].event.detail == {"reason": "дубль", "released": 1}
    assert newest[2].event.at == clock.now() - timedelta(minutes=2)
    assert none == []


async def test_the_steps_are_read_in_one_query_with_a_limit(database: Database, clock: FakeClock) -> None:
    uow = SqlUnitOfWorkFactory(database)
    for number in range(6):
        order_id = await _order(uow, clock, "ozon", f"OZ-{number}")
        await _events(uow, clock, order_id, ("cancelled_by_channel", {"channel": "ozon"}))
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = database.read_engine.sync_engine  # a read-only unit of work's
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with uow(read_only=True) as work:
            statements.clear()  # the transaction's own set-up (BEGIN) is not the read
            found = await work.orders.recent_events(LIFECYCLE_KINDS, 4)
            reads = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [e.external_id for e in found] == ["OZ-5", "OZ-4", "OZ-3", "OZ-2"]
    assert len(reads) == 1, [r[:60] for r in reads]
    assert "LIMIT" in reads[0].upper() and "JOIN" in reads[0].upper()


async def _waiting_work(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    """Two open questions about unfillable orders (one more answered), two returns on their way (one arrived),
    marketplace actions: two waiting to be sent (one of them failed once), one refused, one done; and a question
    row and a return-receipt task that are not marketplace actions."""
    ids = [await _order(uow, clock, "ozon", f"OZ-{n}") for n in range(4)]
    now = clock.now()
    async with uow() as work:
        for n, kind in enumerate([TaskKind.UNFILLABLE_ORDER] * 3 + [TaskKind.RETURN_RECEIPT]):
            task = Task(None, kind.value, f"order:{ids[n]}", "role:managers", ("cancel",), now + timedelta(days=1), now)
            await work.tasks.add(task, [(DeadlineKind.EXPIRE, task.deadline)])
            if n == 2:
                assert await work.tasks.close(task.id or 0, TaskState.ANSWERED, now, reason="answered", answer="cancel")
        for n, came in enumerate([ReturnState.ANNOUNCED, ReturnState.ANNOUNCED, ReturnState.SELLABLE]):
            await work.returns.add(ReturnRecord(ids[n], "LAMP", "online", 1, "ozon", now, state=came))
        rows = [
            (ids[0], Action.READY_TO_SHIP, ActionState.PENDING, 0), (ids[1], Action.READY_TO_SHIP, ActionState.PENDING, 2),
            (ids[2], Action.READY_TO_SHIP, ActionState.REFUSED, 1), (ids[3], Action.READY_TO_SHIP, ActionState.DONE, 1),
            (ids[0], Action.ASK_UNFILLABLE, ActionState.PENDING, 0),
        ]  # fmt: skip
        for order_id, action, state, attempts in rows:
            await work.order_actions.add(OrderAction(order_id, action.value, state.value, now, now, attempts))
        await work.commit()


async def test_the_dashboard_counts_what_waits_on_people_and_marketplaces(
    uow: UnitOfWorkFactory, clock: FakeClock, topology: Topology
) -> None:
    await _waiting_work(uow, clock)
    async with uow(read_only=True) as work:
        counts = {(c.action, c.state): (c.rows, c.retrying) for c in await work.order_actions.counts()}
        assert await work.returns.awaiting_receipt() == 2
    assert counts == {
        ("ask_unfillable", "pending"): (1, 0), ("ready_to_ship", "done"): (1, 1),
        ("ready_to_ship", "pending"): (2, 1), ("ready_to_ship", "refused"): (1, 1),
    }  # fmt: skip

    orders = (await Dashboard(uow, clock, topology).snapshot()).orders
    assert (orders.unfillable_open, orders.returns_awaiting) == (2, 2)
    assert (orders.to_move_on, orders.move_retrying, orders.move_refused) == (2, 1, 1)


async def test_an_empty_shop_counts_nothing(uow: UnitOfWorkFactory, clock: FakeClock, topology: Topology) -> None:
    snapshot = await Dashboard(uow, clock, topology).snapshot()
    assert snapshot.order_events == []
    assert (snapshot.orders.unfillable_open, snapshot.orders.returns_awaiting, snapshot.orders.to_move_on,
            snapshot.orders.move_retrying, snapshot.orders.move_refused) == (0, 0, 0, 0, 0)  # fmt: skip


async def test_the_dashboard_words_the_steps_as_the_offices_order_command_does(
    uow: UnitOfWorkFactory, clock: FakeClock, topology: Topology
) -> None:
    order_id = await _order(uow, clock, "ozon", "OZ-9")
    await _events(uow, clock, order_id, ("unfillable_asked", {}), ("unfillable_decided", {"by": "Анна", "decision": "cancel"}),
                  ("cancelled", {"reason": "unfillable: Анна", "released": 0}))  # fmt: skip
    snapshot = await Dashboard(uow, clock, topology).snapshot()

    ru = snapshot_view(snapshot, Names.of(topology, "ru"), "Europe/Moscow", TaskTitles(topology, "ru", "Europe/Moscow"))
    en = snapshot_view(snapshot, Names.of(topology, "en"), "Europe/Moscow", TaskTitles(topology, "en", "Europe/Moscow"))

    assert ru["locale"] == "ru" and en["locale"] == "en"
    assert [step["text"] for step in ru["order_events"]] == [
        "Заказ отменён: товара нет, отменил(а) Анна; снято: 0\xa0резервов",
        "Товара нет — решение: отменить заказ (Анна)",
        "Менеджеров спросили: отменить или ждать поставку",
    ]
    assert (
        en["order_events"][0]["text"]
        == "Order cancelled: nobody can fill it, cancelled by Анна; released: 0\xa0reservations"
    )
    first = ru["order_events"][0]
    assert {k: first[k] for k in ("order_id", "channel", "external_id", "kind")} == {
        "order_id": order_id, "channel": "ozon", "external_id": "OZ-9", "kind": "cancelled",
    }  # fmt: skip
    assert first["at"] == clock.now().isoformat()
    for step in snapshot.order_events:  # one wording table: the same line /order shows
        said = history_line("ru", step.event.kind, step.event.detail, Names.of(topology, "ru"), "Europe/Moscow")
        assert said in [s["text"] for s in ru["order_events"]]
    assert ru["orders"] == {"unfillable_open": 0, "returns_awaiting": 0, "to_move_on": 0, "move_retrying": 0,
                            "move_refused": 0}  # fmt: skip


def test_every_lifecycle_step_has_a_wording_in_both_languages() -> None:
    assert LIFECYCLE_KINDS - kinds("ru") == set()
    assert LIFECYCLE_KINDS - kinds("en") == set()
