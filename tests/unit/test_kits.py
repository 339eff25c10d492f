"""Kits: the composition in force, what can be assembled, start-up validation, and on memory, SQLite and
PostgreSQL an order of a kit taking every component in one warehouse or none, cancellation releasing them all,
a component's change queueing the kit for the channels, and a promotion switching at its end (moved clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.topology import load_topology
from tests.conftest import ROOT
from tests.fakes import FakeClock, assembled
from workflows.channels import ChannelOrder, PushOutcome, StockLine
from workflows.kits import Composition, composition_at, compositions, kit_free, kit_levels, kits_using
from workflows.ledger import Ledger
from workflows.model import LineStatus, ReservationState, StockFigure, StockLevel
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import UnitOfWorkFactory
from workflows.returns import NotShipped
from workflows.shop import Rules
from workflows.sync import KitRefresh, SyncOutbox
from workflows.topology import Topology

KIT, A, B = "НАБОР-1", "КРУЖКА", "ЛОЖКА"
START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # the fake clock's start: 12:00 in Moscow
MOSCOW_15 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # 15:00 in Moscow

BASE: dict[str, Any] = {
    "warehouses": [
        {"code": "online", "kind": "online", "priority": 1},
        {"code": "reserve", "kind": "online", "priority": 2},
        {"code": "store", "kind": "store", "slack_channel": "C1", "staff": ["U1"]},
    ],
    "channels": {
        "site": {"serves": ["online", "reserve", "store"]},
        "ozon": {"serves": ["online"], "safety_stock": 1},
    },
}
PROMOTION = [  # one spoon more until 15:00 Moscow time on the clock's first day, then the usual set
    {"sku": KIT, "components": {A: 1, B: 3}, "valid_to": datetime(2026, 11, 21, 15, 0)},
    {"sku": KIT, "components": {A: 1, B: 2}, "valid_from": datetime(2026, 11, 21, 15, 0)},
]


def with_kits(kits: list[dict[str, Any]]) -> Topology:
    return Topology.model_validate({**BASE, "kits": kits})


def level(sku: str, warehouse: str, on_hand: int, reserved: int = 0, suspect: bool = False) -> StockLevel:
    return StockLevel(sku, warehouse, on_hand, reserved, START, START if suspect else None)


# -------------------------------------------------------------------------- pure functions


def test_the_composition_in_force_switches_at_valid_to_in_the_shops_time() -> None:
    book = compositions(with_kits(PROMOTION).kits, "Europe/Moscow")
    assert composition_at(book, KIT, START) == {A: 1, B: 3}
    assert composition_at(book, KIT, MOSCOW_15 - timedelta(microseconds=1)) == {A: 1, B: 3}
    assert composition_at(book, KIT, MOSCOW_15) == {A: 1, B: 2}  # valid_to exclusive, valid_from inclusive
    assert composition_at(book, A, START) is None  # a component is no kit


def test_a_date_valid_to_is_the_last_day_it_holds() -> None:
    kits = [{"sku": KIT, "components": {A: 1}, "valid_from": date(2026, 12, 20), "valid_to": date(2026, 12, 31)}]
    book = compositions(with_kits(kits).kits, "Europe/Moscow")
    new_year_moscow = datetime(2026, 12, 31, 21, 0, tzinfo=UTC)
    assert composition_at(book, KIT, datetime(2026, 12, 19, 20, 59, tzinfo=UTC)) is None  # 23:59 on the 19th
    assert composition_at(book, KIT, datetime(2026, 12, 19, 21, 0, tzinfo=UTC)) == {A: 1}  # 00:00 on the 20th
    assert composition_at(book, KIT, new_year_moscow - timedelta(seconds=1)) == {A: 1}
    assert composition_at(book, KIT, new_year_moscow) is None


def test_kits_using_a_component_are_those_in_force() -> None:
    book = [
        Composition(KIT, {A: 1, B: 2}, None, MOSCOW_15),
        Composition("НАБОР-2", {B: 1}, MOSCOW_15, None),
    ]
    assert kits_using(book, {B}, START) == {KIT}
    assert kits_using(book, {B}, MOSCOW_15) == {"НАБОР-2"}
    assert kits_using(book, {"ДРУГОЕ"}, START) == set()


def test_kits_assembled_are_the_scarcest_component_over_its_qty_per_kit() -> None:
    assert kit_free({A: 1, B: 2}, {A: 10, B: 7}) == 3
    assert kit_free({A: 1, B: 2}, {A: 2, B: 7}) == 2
    assert kit_free({A: 1, B: 2}, {B: 7}) == 0  # a component with no stock there


def test_kit_levels_per_warehouse() -> None:
    levels = {
        A: [level(A, "online", 10, reserved=4), level(A, "reserve", 5), level(A, "store", 3, suspect=True)],
        B: [level(B, "online", 9), level(B, "store", 8)],  # none in reserve
    }
    found = {lv.warehouse: lv for lv in kit_levels(KIT, {A: 1, B: 2}, levels, {"online", "reserve", "store"})}
    assert set(found) == {"online", "store"}  # reserve lacks a component: no kit there
    assert (found["online"].on_hand, found["online"].free) == (4, 4)  # on hand 10 A, 9 B: 4; free 6 A: 4
    assert (found["store"].on_hand, found["store"].free) == (3, 0)  # a suspect component: nothing free
    assert [lv.warehouse for lv in kit_levels(KIT, {A: 1, B: 2}, levels, {"online"})] == ["online"]


@pytest.mark.parametrize(
    ("kits", "error"),
    [
        ([{"sku": KIT, "components": {A: 1}}, {"sku": KIT, "components": {A: 2}}], "overlaps"),
        (
            [
                {"sku": KIT, "components": {A: 1}, "valid_to": date(2026, 12, 20)},
                {"sku": KIT, "components": {A: 2}, "valid_from": date(2026, 12, 20)},  # the 20th is in both
            ],
            "overlaps",
        ),
        ([{"sku": KIT, "components": {KIT: 1, A: 1}}], "its own component"),
        ([{"sku": KIT, "components": {"НАБОР-2": 1}}, {"sku": "НАБОР-2", "components": {A: 1}}], "nested"),
        ([{"sku": KIT, "components": {A: 0}}], "at least 1"),
        ([{"sku": KIT, "components": {}}], "at least 1 item"),
        ([{"sku": KIT, "components": {A: 1}, "valid_from": date(2026, 12, 2), "valid_to": date(2026, 12, 1)}], "after"),
    ],
)
def test_a_wrong_kit_is_refused_at_start_up(kits: list[dict[str, Any]], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        with_kits(kits)


def test_compositions_that_follow_each_other_are_accepted() -> None:
    kits = [
        {"sku": KIT, "components": {A: 1}, "valid_to": date(2026, 12, 19)},
        {"sku": KIT, "components": {A: 2}, "valid_from": date(2026, 12, 20), "valid_to": date(2027, 1, 7)},
        {"sku": KIT, "components": {A: 1}, "valid_from": date(2027, 1, 8)},
    ]
    assert len(with_kits(kits).kits) == 3


# -------------------------------------------------------------------------- on every backend


async def _stock(ledger: Ledger, clock: FakeClock, figures: list[tuple[str, str, int]]) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure(sku, warehouse, qty) for sku, warehouse, qty in figures])


def _parts(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> tuple[Ledger, OrderDesk]:
    ledger = Ledger(uow, topology, clock)
    return ledger, OrderDesk(uow, topology, clock, ledger)


async def _active(uow: UnitOfWorkFactory) -> dict[tuple[str, str], int]:
    async with uow(read_only=True) as work:
        return await work.reservations.totals(ReservationState.ACTIVE)


async def test_the_kits_stock_is_answered_with_its_components(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    topology = with_kits(PROMOTION)
    ledger, _ = _parts(uow, topology, clock)
    await _stock(ledger, clock, [(A, "online", 10), (B, "online", 9), (A, "reserve", 2), (B, "reserve", 8)])
    stock = await ledger.stock(KIT)
    assert stock.components == {A: 1, B: 3}
    assert {code: lv.free for code, lv in stock.by_warehouse.items()} == {"online": 3, "reserve": 2}
    assert stock.by_channel == {"site": 5, "ozon": 2}  # ozon serves online only, less its safety stock of 1
    assert (await ledger.stock(A)).components is None


async def test_a_kit_line_takes_every_component_in_one_warehouse(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    ledger, desk = _parts(uow, with_kits(PROMOTION), clock)
    # online has the cups but too few spoons for two kits; reserve has both
    await _stock(ledger, clock, [(A, "online", 10), (B, "online", 5), (A, "reserve", 2), (B, "reserve", 6)])
    placed = (await desk.place(PlaceOrder("site", "k1", [LineRequest(KIT, 2)]))).order
    line = placed.lines[0]
    assert (line.status, line.warehouse) == (LineStatus.RESERVED, "reserve")
    assert await _active(uow) == {(A, "reserve"): 2, (B, "reserve"): 6}  # nothing left held in online
    assert (await ledger.stock(A)).by_warehouse["online"].reserved == 0
    async with uow(read_only=True) as work:
        assert [(r.sku, r.line_no) for r in await work.reservations.for_order(placed.id or 0)] == [(A, 1), (B, 1)]


async def test_a_kit_short_everywhere_takes_nothing(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    ledger, desk = _parts(uow, with_kits(PROMOTION), clock)
    await _stock(ledger, clock, [(A, "online", 5), (B, "online", 2), (A, "reserve", 5), (B, "reserve", 2)])
    placed = (await desk.place(PlaceOrder("site", "k1", [LineRequest(KIT, 1), LineRequest(A, 1)]))).order
    assert [line.status for line in placed.lines] == [LineStatus.OUT_OF_STOCK, LineStatus.RESERVED]
    assert await _active(uow) == {(A, "online"): 1}  # the bare cup only: the kit's cup was given back
    assert {code: lv.reserved for code, lv in (await ledger.stock(A)).by_warehouse.items()} == {
        "online": 1,
        "reserve": 0,
    }
    async with uow(read_only=True) as work:
        assert len(await work.reservations.for_order(placed.id or 0)) == 1  # no trace of the undone takes


async def test_kits_are_not_assembled_in_stores(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    ledger, desk = _parts(uow, with_kits(PROMOTION), clock)
    await _stock(ledger, clock, [(A, "store", 5), (B, "store", 9)])
    assert (await ledger.stock(KIT)).by_channel == {"site": 0, "ozon": 0}  # not offered where it is not sold
    placed = (await desk.place(PlaceOrder("site", "k1", [LineRequest(KIT, 1)]))).order
    assert placed.lines[0].status == LineStatus.OUT_OF_STOCK
    assert await _active(uow) == {}


async def test_cancelling_releases_every_component(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    ledger, desk = _parts(uow, with_kits(PROMOTION), clock)
    await _stock(ledger, clock, [(A, "online", 5), (B, "online", 9)])
    placed = (await desk.place(PlaceOrder("site", "k1", [LineRequest(KIT, 2)]))).order
    assert await _active(uow) == {(A, "online"): 2, (B, "online"): 6}
    cancelled = await desk.cancel(placed.id or 0, "buyer changed their mind")
    assert [line.status for line in cancelled.lines] == [LineStatus.CANCELLED]
    assert await _active(uow) == {}
    assert (await ledger.stock(KIT)).by_warehouse["online"].free == 3
    assert (await ledger.stock(B)).reserved == 0


async def test_1c_deducting_a_kit_order_absorbs_each_component(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    ledger, desk = _parts(uow, with_kits(PROMOTION), clock)
    await _stock(ledger, clock, [(A, "online", 5), (B, "online", 9)])
    placed = (await desk.place(PlaceOrder("site", "k1", [LineRequest(KIT, 1)]))).order
    assert await ledger.record_deduction(placed.id or 0, clock.advance(minutes=1)) == 0  # no figure that new yet
    clock.advance(minutes=5)
    result = await ledger.apply_stock(clock.now(), [StockFigure(A, "online", 4), StockFigure(B, "online", 6)])
    assert result.absorbed == 2
    assert await _active(uow) == {}
    assert (await ledger.stock(KIT)).by_warehouse["online"].free == 2


async def test_1c_figures_for_the_kits_own_sku_are_ignored(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    ledger, _ = _parts(uow, with_kits(PROMOTION), clock)
    result = await ledger.apply_stock(clock.now(), [StockFigure(KIT, "online", 50), StockFigure(A, "online", 1)])
    assert (result.accepted, result.ignored_kits) == (1, 1)
    async with uow(read_only=True) as work:
        assert await work.stock.for_sku(KIT) == []
    assert (await ledger.stock(KIT)).available == 0


async def test_a_components_change_queues_the_kit(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    topology = with_kits(PROMOTION)
    uow.hooks.before.append(SyncOutbox(topology, clock, ["site", "ozon"]).before_commit)
    ledger, desk = _parts(uow, topology, clock)
    await _stock(ledger, clock, [(A, "online", 10), (B, "online", 9)])
    async with uow(read_only=True) as work:
        assert await work.outbox.known("site", [KIT, A, B]) == {KIT: 3, A: 10, B: 9}
        assert await work.outbox.known("ozon", [KIT]) == {KIT: 2}
        assert await work.offer_ids.for_skus("site", [KIT]) == {KIT: KIT}  # it can be pushed
    await desk.place(PlaceOrder("site", "b1", [LineRequest(B, 4)]))  # a bare component sold: the kit goes down
    async with uow(read_only=True) as work:
        assert await work.outbox.known("site", [KIT, B]) == {KIT: 1, B: 5}


async def test_a_promotion_switches_at_valid_to(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    """Moved clock, no sleeping: an order before 15:00 takes three spoons a kit, one after takes two, and the
    minute job queues the kit's new value although no stock changed."""
    topology = with_kits(PROMOTION)
    uow.hooks.before.append(SyncOutbox(topology, clock, ["site"]).before_commit)
    ledger, desk = _parts(uow, topology, clock)
    refresh = KitRefresh(uow, topology, clock, ledger, ["site"])
    await _stock(ledger, clock, [(A, "online", 10), (B, "online", 12)])
    assert await refresh.run_once() == 0  # queued with the stock already
    await desk.place(PlaceOrder("site", "before", [LineRequest(KIT, 1)]))
    assert await _active(uow) == {(A, "online"): 1, (B, "online"): 3}
    async with uow(read_only=True) as work:
        assert await work.outbox.known("site", [KIT]) == {KIT: 3}  # 9 spoons left, 3 a kit
    clock.current = MOSCOW_15
    assert (await ledger.stock(KIT)).components == {A: 1, B: 2}
    assert await refresh.run_once() == 1
    async with uow(read_only=True) as work:
        assert await work.outbox.known("site", [KIT]) == {KIT: 4}  # 9 spoons, 2 a kit
    await desk.place(PlaceOrder("site", "after", [LineRequest(KIT, 1)]))
    assert await _active(uow) == {(A, "online"): 2, (B, "online"): 5}


async def test_a_kit_out_of_force_is_not_sold(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    topology = with_kits([PROMOTION[0]])  # the promotion only, nothing after it
    ledger, desk = _parts(uow, topology, clock)
    await _stock(ledger, clock, [(A, "online", 10), (B, "online", 12)])
    clock.current = MOSCOW_15
    placed = (await desk.place(PlaceOrder("site", "late", [LineRequest(KIT, 1)]))).order
    assert placed.lines[0].status == LineStatus.OUT_OF_STOCK
    assert placed.history[-1].detail["reason"] == "no_composition"
    assert (await ledger.stock(KIT)).available == 0
    assert await _active(uow) == {}


@dataclass
class ShowingChannel:
    """A channel that shows what it was last sent, or what was typed in its cabinet."""

    name: str = "ozon"
    batch_limit: int = 2  # pages of two: the kit comes between the components' pages
    shown: dict[str, int] = field(default_factory=dict)

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        self.shown.update({line.sku: line.qty for line in lines})
        return PushOutcome(accepted=tuple(line.sku for line in lines))

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        return {line.sku: self.shown[line.sku] for line in lines if line.sku in self.shown}

    async def new_orders(self) -> list[ChannelOrder]:
        return []


async def test_reconciliation_corrects_a_kit(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    channel = ShowingChannel()
    shop = assembled(uow, with_kits(PROMOTION), clock, channels={"ozon": channel})
    uow.hooks.after.clear()  # the dispatcher is driven by hand
    await shop.ledger.apply_stock(clock.now(), [StockFigure(A, "online", 10), StockFigure(B, "online", 9)])
    await shop.dispatchers[0].drain()
    assert channel.shown == {A: 9, B: 8, KIT: 2}  # less ozon's safety stock of 1
    channel.shown[KIT] = 40  # typed by hand in the seller's cabinet
    (upkeep,) = shop.upkeep
    report = await upkeep.reconcile()
    assert (report.checked, report.corrected) == (3, {KIT: (40, 2)})
    await shop.dispatchers[0].drain()
    assert channel.shown[KIT] == 2


async def test_a_returned_kit_goes_back_as_its_components(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    shop = assembled(uow, with_kits(PROMOTION), clock, rules=Rules(returns_sellable_at_once=True))
    await shop.ledger.apply_stock(clock.now(), [StockFigure(A, "online", 5), StockFigure(B, "online", 9)])
    placed = (await shop.orders.place(PlaceOrder("site", "k1", [LineRequest(KIT, 2)]))).order
    clock.current = MOSCOW_15  # the composition changed since: what the line took comes back
    record = await shop.returns.announce(placed.id or 0, KIT, 1, "site")
    assert record.warehouse == "online"
    assert (await shop.returns.answer_in_office(record.task_id or 0, "sellable", "Anna (2)")).accepted
    assert {sku: (await shop.ledger.stock(sku)).on_hand for sku in (A, B)} == {A: 6, B: 12}
    async with uow(read_only=True) as work:
        assert await work.stock.for_sku(KIT) == []


async def test_a_cancelled_kit_never_left(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    shop = assembled(uow, with_kits(PROMOTION), clock)
    await shop.ledger.apply_stock(clock.now(), [StockFigure(A, "online", 5), StockFigure(B, "online", 9)])
    placed = (await shop.orders.place(PlaceOrder("site", "k1", [LineRequest(KIT, 1)]))).order
    await shop.orders.cancel(placed.id or 0, "changed their mind")
    with pytest.raises(NotShipped):
        await shop.returns.announce(placed.id or 0, KIT, None, "site")


def test_the_examples_kits_load(tmp_path: Path) -> None:
    """The commented example in storeops.example.toml, uncommented, is a valid topology."""
    text = (ROOT / "storeops.example.toml").read_text(encoding="utf-8")
    start = text.index("\n# [[kits]]\n") + 1
    example = "\n".join(line.removeprefix("#").removeprefix(" ") for line in text[start:].splitlines())
    path = tmp_path / "storeops.toml"
    path.write_text(text[:start] + example, encoding="utf-8")
    topology = load_topology(path)
    book = compositions(topology.kits, topology.onec.timezone)
    assert composition_at(book, "НАБОР-КУХНЯ", datetime(2026, 12, 25, tzinfo=UTC)) == {"КР-7/2": 1, "ПОЛ-12": 3}
    assert composition_at(book, "НАБОР-КУХНЯ", datetime(2027, 1, 8, tzinfo=UTC)) == {"КР-7/2": 1, "ПОЛ-12": 2}


async def test_an_unfillable_kit_routed_again_takes_its_components(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    ledger, desk = _parts(uow, with_kits(PROMOTION), clock)
    await _stock(ledger, clock, [(A, "online", 1), (B, "online", 1)])
    placed = (await desk.place(PlaceOrder("site", "k1", [LineRequest(KIT, 1)]))).order
    assert placed.lines[0].status == LineStatus.OUT_OF_STOCK
    clock.advance(hours=1)
    await _stock(ledger, clock, [(B, "online", 3)])  # the spoons came
    async with uow() as work:
        order = await work.orders.get(placed.id or 0)
        assert order is not None
        (line,) = await desk.route_again(work, order, [1])
        await work.commit()
    assert (line.status, line.warehouse) == (LineStatus.RESERVED, "online")
    assert await _active(uow) == {(A, "online"): 1, (B, "online"): 3}
