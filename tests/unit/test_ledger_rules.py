"""The ledger's rules, on the in-memory ports and on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from tests.fakes import FakeClock
from workflows.ledger import Ledger
from workflows.model import LineStatus, Reservation, ReservationState, StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology


def order(external_id: str, *lines: tuple[str, int], channel: str = "site") -> PlaceOrder:
    return PlaceOrder(channel, external_id, [LineRequest(sku, qty) for sku, qty in lines])


async def test_a_figure_older_than_the_one_held_is_ignored(ledger: Ledger, clock: FakeClock) -> None:
    t0 = clock.now()
    first = await ledger.apply_stock(t0, [StockFigure("IRON-1", "online", 5)])
    stale = await ledger.apply_stock(t0 - timedelta(minutes=1), [StockFigure("IRON-1", "online", 50)])
    same_time = await ledger.apply_stock(t0, [StockFigure("IRON-1", "online", 4)])

    assert (first.accepted, first.ignored_stale) == (1, 0)
    assert (stale.accepted, stale.ignored_stale) == (0, 1)
    assert (same_time.accepted, same_time.ignored_stale) == (1, 0)
    stock = await ledger.stock("IRON-1")
    assert stock.by_warehouse["online"].on_hand == 4
    assert stock.by_warehouse["online"].as_of == t0


async def test_a_message_is_judged_row_by_row(ledger: Ledger, clock: FakeClock) -> None:
    t0 = clock.now()
    await ledger.apply_stock(t0, [StockFigure("A", "online", 1)])
    result = await ledger.apply_stock(
        t0 - timedelta(seconds=1), [StockFigure("A", "online", 9), StockFigure("B", "online", 3)]
    )
    assert (result.accepted, result.ignored_stale) == (1, 1)
    assert (await ledger.stock("A")).on_hand == 1
    assert (await ledger.stock("B")).on_hand == 3


async def test_availability_per_channel_subtracts_reservations_and_safety_stock(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock
) -> None:
    await ledger.apply_stock(
        clock.now(),
        [StockFigure("KETTLE", "online", 3), StockFigure("KETTLE", "tverskaya", 2), StockFigure("KETTLE", "arbat", 1)],
    )
    await desk.place(order("o-1", ("KETTLE", 2)))

    stock = await ledger.stock("KETTLE")
    assert (stock.on_hand, stock.reserved, stock.available) == (6, 2, 4)
    # site serves all three; wildberries online+tverskaya with safety 1; ozon online with safety 1
    assert stock.by_channel == {"site": 4, "wildberries": 2, "ozon": 0, "yandex_market": 1}


async def test_availability_is_never_negative(ledger: Ledger, clock: FakeClock) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("LAST", "online", 0)])
    stock = await ledger.stock("LAST")
    assert stock.by_channel["ozon"] == 0  # 0 on hand − safety stock 1 is still 0
    assert (await ledger.stock("NEVER-SEEN")).by_channel == {"site": 0, "wildberries": 0, "ozon": 0, "yandex_market": 0}


async def test_routing_prefers_online_then_stores_by_priority(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock
) -> None:
    await ledger.apply_stock(
        clock.now(),
        [StockFigure("LAMP", "online", 1), StockFigure("LAMP", "arbat", 5), StockFigure("LAMP", "tverskaya", 5)],
    )
    first = (await desk.place(order("a", ("LAMP", 1)))).order
    second = (await desk.place(order("b", ("LAMP", 1)))).order
    assert (first.lines[0].status, first.lines[0].warehouse) == (LineStatus.RESERVED, "online")
    assert (second.lines[0].status, second.lines[0].warehouse) == (LineStatus.AWAITING_STORE_CONFIRMATION, "tverskaya")


async def test_a_channel_only_sells_from_the_warehouses_it_serves(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock
) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("RUG", "arbat", 4)])
    placed = (await desk.place(order("wb-1", ("RUG", 1), channel="wildberries"))).order
    assert placed.lines[0].status == LineStatus.OUT_OF_STOCK
    assert placed.status.value == "out_of_stock"
    assert (await ledger.stock("RUG")).reserved == 0


async def test_a_line_is_reserved_whole_in_one_warehouse(ledger: Ledger, desk: OrderDesk, clock: FakeClock) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("CUP", "online", 2), StockFigure("CUP", "tverskaya", 2)])
    placed = (await desk.place(order("x", ("CUP", 3)))).order
    assert placed.lines[0].status == LineStatus.OUT_OF_STOCK
    assert (await ledger.stock("CUP")).reserved == 0


async def test_new_stock_does_not_absorb_a_reservation_1c_has_not_deducted(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock
) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 1)])
    await desk.place(order("o-1", ("IRON", 1)))
    clock.advance(minutes=5)
    # a delivery arrives; 1C has not yet deducted our order, so its figure still counts the unit
    await ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 3)])
    stock = await ledger.stock("IRON")
    assert (stock.on_hand, stock.reserved, stock.available) == (3, 1, 2)


async def test_a_reservation_is_absorbed_by_a_figure_computed_after_the_deduction(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock, uow: UnitOfWorkFactory
) -> None:
    t0 = clock.now()
    await ledger.apply_stock(t0, [StockFigure("IRON", "online", 2)])
    placed = (await desk.place(order("o-1", ("IRON", 1)))).order
    assert placed.id is not None
    deducted_at = t0 + timedelta(minutes=10)

    assert await ledger.record_deduction(placed.id, deducted_at) == 0  # the figure we hold is older
    before = await ledger.apply_stock(deducted_at - timedelta(seconds=1), [StockFigure("IRON", "online", 2)])
    assert before.absorbed == 0
    assert (await ledger.stock("IRON")).reserved == 1

    after = await ledger.apply_stock(deducted_at, [StockFigure("IRON", "online", 1)])
    assert after.absorbed == 1
    stock = await ledger.stock("IRON")
    assert (stock.on_hand, stock.reserved, stock.available) == (1, 0, 1)
    async with uow(read_only=True) as work:
        assert await work.reservations.totals(ReservationState.ABSORBED) == {("IRON", "online"): 1}


async def test_a_deduction_reported_after_a_fresher_figure_absorbs_at_once(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock
) -> None:
    t0 = clock.now()
    await ledger.apply_stock(t0, [StockFigure("IRON", "online", 2)])
    placed = (await desk.place(order("o-1", ("IRON", 1)))).order
    assert placed.id is not None
    await ledger.apply_stock(t0 + timedelta(minutes=20), [StockFigure("IRON", "online", 1)])
    assert await ledger.record_deduction(placed.id, t0 + timedelta(minutes=10)) == 1
    assert (await ledger.stock("IRON")).reserved == 0


async def test_cancelling_releases_the_reservation_once(ledger: Ledger, desk: OrderDesk, clock: FakeClock) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 1)])
    placed = (await desk.place(order("o-1", ("IRON", 1)))).order
    assert placed.id is not None
    cancelled = await desk.cancel(placed.id, "client changed mind")
    again = await desk.cancel(placed.id)
    assert cancelled.status.value == again.status.value == "cancelled"
    assert [e.kind for e in again.history].count("cancelled") == 1
    stock = await ledger.stock("IRON")
    assert (stock.reserved, stock.available) == (0, 1)


async def test_cancelling_after_1c_absorbed_keeps_it_absorbed(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock
) -> None:
    t0 = clock.now()
    await ledger.apply_stock(t0, [StockFigure("IRON", "online", 1)])
    placed = (await desk.place(order("o-1", ("IRON", 1)))).order
    assert placed.id is not None
    await ledger.record_deduction(placed.id, t0)
    await ledger.apply_stock(t0 + timedelta(minutes=1), [StockFigure("IRON", "online", 0)])
    await desk.cancel(placed.id)
    stock = await ledger.stock("IRON")
    assert (stock.on_hand, stock.reserved) == (0, 0)


async def test_stock_falling_under_promises_is_reported_as_a_shortfall(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock
) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("VASE", "online", 2)])
    await desk.place(order("o-1", ("VASE", 2)))
    clock.advance(minutes=1)
    result = await ledger.apply_stock(clock.now(), [StockFigure("VASE", "online", 1)])  # one broke in the warehouse
    assert [(s.sku, s.on_hand, s.reserved) for s in result.shortfalls] == [("VASE", 1, 2)]
    assert (await ledger.stock("VASE")).available == 0
    refused = (await desk.place(order("o-2", ("VASE", 1)))).order
    assert refused.lines[0].status == LineStatus.OUT_OF_STOCK


async def test_order_intake_is_idempotent_per_channel_and_external_id(
    ledger: Ledger, desk: OrderDesk, clock: FakeClock
) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 5)])
    first = await desk.place(order("42", ("IRON", 2)))
    repeat = await desk.place(order("42", ("IRON", 2)))
    other_channel = await desk.place(order("42", ("IRON", 2), channel="ozon"))
    assert (first.created, repeat.created, other_channel.created) == (True, False, True)
    assert repeat.order.id == first.order.id != other_channel.order.id
    assert (await ledger.stock("IRON")).reserved == 4


async def test_a_short_take_answers_each_warehouses_free_stock_and_changes_nothing(
    uow: UnitOfWorkFactory, ledger: Ledger, clock: FakeClock, topology: Topology
) -> None:
    """Routing reads the free stock right after a take that found too little: the take answers it (on PostgreSQL
    in the same statement), a suspect row counting none; a take that took nothing leaves nothing for the outbox."""
    now = clock.now()
    await ledger.apply_stock(now, [StockFigure("PAN", "online", 1), StockFigure("PAN", "tverskaya", 4)])
    async with uow() as work:
        await work.stock.mark_suspect("PAN", "tverskaya", now)
        await work.commit()
    order_id = (await OrderDesk(uow, topology, clock, ledger).place(order("free-1", ("X", 1)))).order.id
    assert order_id is not None
    async with uow() as work:
        short = Reservation(None, order_id, 1, "PAN", "online", 2, ReservationState.ACTIVE, now)
        assert await work.reservations.take_else_free(short) == {"online": 1, "tverskaya": 0}
        assert short.id is None and work.touched_skus() == set()
        enough = Reservation(None, order_id, 1, "PAN", "online", 1, ReservationState.ACTIVE, now)
        assert await work.reservations.take_else_free(enough) is None
        assert enough.id is not None and work.touched_skus() == {"PAN"}
        await work.commit()
    assert (await ledger.stock("PAN")).by_warehouse["online"].reserved == 1
