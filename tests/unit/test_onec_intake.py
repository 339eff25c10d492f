"""The 1C intake on memory, SQLite and PostgreSQL: one rule set for every way 1C's stock arrives, and one
transaction — a step that fails after the stock write leaves nothing of the message applied."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.fakes import FakeClock
from workflows.alerts import AlertDesk
from workflows.errors import FigureFromFuture, InvalidStockLine, UnknownWarehouse
from workflows.ledger import Ledger, Shortfall
from workflows.model import LineStatus, StockFigure
from workflows.onec_intake import OneCLine, StockIntake, StockSource
from workflows.operations import ONEC_SILENT_KEY, Operations
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import UnitOfWork, UnitOfWorkFactory
from workflows.sync import SyncOutbox
from workflows.tasks import TaskBoard
from workflows.topology import Topology

TVERSKAYA_1C = "3f86a8a6-4a24-11e0-af0f-0015e9b8c48d"  # storeops.example.toml


class Shop:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, ops: type[Operations]) -> None:
        self.uow, self.clock = uow, clock
        self.ledger = Ledger(uow, topology, clock)
        self.operations = ops(uow, clock, topology, AlertDesk(clock, TaskBoard(uow, clock)), timedelta(minutes=30))
        self.intake = StockIntake(uow, topology, self.ledger, self.operations, clock)

    async def on_hand(self, sku: str) -> dict[str, int]:
        return {code: level.on_hand for code, level in (await self.ledger.stock(sku)).by_warehouse.items()}


class ReportFails(Operations):
    """The step after the stock write goes wrong (a column overflowed, the database went away)."""

    async def report_stock(
        self, uow: UnitOfWork, figures: Sequence[StockFigure], shortfalls: Sequence[Shortfall]
    ) -> None:
        raise RuntimeError("the alert could not be written")


def with_ignored(topology: Topology, *names: str) -> Topology:
    return topology.model_copy(update={"onec": topology.onec.model_copy(update={"ignore_warehouses": names})})


@pytest.fixture
def shop(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Shop:
    return Shop(uow, topology, clock, Operations)


@pytest.mark.parametrize("source", [s for s in StockSource if s is not StockSource.API])  # the API refuses repeats
async def test_every_1c_source_resolves_warehouses_and_sums_characteristics(shop: Shop, source: StockSource) -> None:
    lines = [OneCLine("КР-7/2", "online", 3), OneCLine("КР-7/2", "online", 2), OneCLine("КР-7/2", TVERSKAYA_1C, 1),
             OneCLine("КР-7/2", TVERSKAYA_1C.upper(), 1)]  # fmt: skip
    result = await shop.intake.apply(source, shop.clock.now(), lines)
    assert (result.accepted, result.ignored_stale) == (2, 0)
    assert await shop.on_hand("КР-7/2") == {"online": 5, "tverskaya": 2}
    assert (await shop.operations.status()).onec_last_update == shop.clock.now()


@pytest.mark.parametrize("source", list(StockSource))
async def test_an_unknown_warehouse_refuses_the_whole_message_from_every_source(
    shop: Shop, source: StockSource
) -> None:
    lines = [OneCLine("A", "online", 1), OneCLine("B", "brak-1c", 9), OneCLine("C", "mars", 1)]
    with pytest.raises(UnknownWarehouse) as refused:
        await shop.intake.apply(source, shop.clock.now(), lines)
    assert "2 warehouse(s) not in the topology: 'brak-1c', 'mars'" in refused.value.message
    assert "ignore_warehouses" in refused.value.message and "nothing applied" in refused.value.message
    assert refused.value.details == [
        {"field": "items.1.warehouse", "problem": "unknown warehouse 'brak-1c'"},
        {"field": "items.2.warehouse", "problem": "unknown warehouse 'mars'"},
    ]
    assert await shop.on_hand("A") == {}
    assert (await shop.operations.status()).onec_last_update is None  # a refused message is not 1C heard


async def test_ignored_warehouses_are_skipped_in_any_case(uow: UnitOfWorkFactory, topology: Topology) -> None:
    clock = FakeClock()
    shop = Shop(uow, with_ignored(topology, "WH-Defects"), clock, Operations)
    lines = [OneCLine("IRON", "online", 3), OneCLine("IRON", "wh-defects", 7), OneCLine("IRON", "WH-DEFECTS", 1)]
    result = await shop.intake.apply(StockSource.REGISTER, clock.now(), lines)
    assert result.accepted == 1
    assert await shop.on_hand("IRON") == {"online": 3}


async def test_a_time_without_offset_is_1c_local_time(shop: Shop) -> None:
    await shop.intake.apply(
        StockSource.API, datetime(2026, 11, 21, 12, 0), [OneCLine("IRON", "online", 2)]
    )  # 09:00 UTC
    utc = ZoneInfo("UTC")
    stale = await shop.intake.apply(
        StockSource.API, datetime(2026, 11, 21, 8, 59, tzinfo=utc), [OneCLine("IRON", "online", 9)]
    )
    assert (stale.accepted, stale.ignored_stale) == (0, 1)
    shop.clock.advance(hours=1)  # a figure dated ahead of our clock is refused
    newer = await shop.intake.apply(
        StockSource.API, datetime(2026, 11, 21, 10, 0, tzinfo=utc), [OneCLine("IRON", "online", 7)]
    )
    assert (newer.accepted, newer.ignored_stale) == (1, 0)  # read as UTC, 12:00 would have made 10:00 stale
    assert await shop.on_hand("IRON") == {"online": 7}


async def test_a_failure_after_the_stock_write_leaves_nothing_applied(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = Shop(uow, topology, clock, ReportFails)
    with pytest.raises(RuntimeError, match="could not be written"):
        await shop.intake.apply(StockSource.EXCHANGE, clock.now(), [OneCLine("IRON", "online", 4)])
    assert await shop.on_hand("IRON") == {}
    status = await shop.operations.status()
    assert (status.onec_last_update, status.queued) == (None, {})
    async with uow(read_only=True) as work:
        assert await work.offer_ids.for_skus("site", ["IRON"]) == {}


async def test_a_shortfall_on_the_longest_article_is_alerted(
    shop: Shop, uow: UnitOfWorkFactory, topology: Topology
) -> None:
    """A 255-character article overflowed the alert's task subject: the stock was written, the alert
    failed and the caller got a 500. Its alert key is now bounded and still names it uniquely."""
    long_sku, twin = "Я" * 254 + "1", "Я" * 254 + "2"
    await shop.intake.apply(StockSource.API, shop.clock.now(), [OneCLine(long_sku, "online", 2),
                                                                OneCLine(twin, "online", 2)])  # fmt: skip
    desk = OrderDesk(uow, topology, shop.clock, shop.ledger)
    for n, sku in enumerate((long_sku, twin)):
        placed = await desk.place(PlaceOrder("site", f"o-{n}", [LineRequest(sku, 2)]))
        assert placed.order.lines[0].status == LineStatus.RESERVED
    shop.clock.advance(minutes=1)
    result = await shop.intake.apply(StockSource.API, shop.clock.now(), [OneCLine(long_sku, "online", 0),
                                                                         OneCLine(twin, "online", 0)])  # fmt: skip
    assert len(result.shortfalls) == 2
    async with uow(read_only=True) as work:
        alerts = await work.alerts.open_of_kind("stock_negative")
    assert sorted(str(a.detail["sku"]) for a in alerts) == [long_sku, twin]
    assert len({a.key for a in alerts}) == 2 and all(len(a.key) <= 200 for a in alerts)
    assert ONEC_SILENT_KEY not in {a.key for a in alerts}


@pytest.mark.parametrize("source", list(StockSource))
async def test_a_figure_from_the_future_is_refused_from_every_source(shop: Shop, source: StockSource) -> None:
    """Taken, a figure dated 9999-12-31 made every later true figure of its article stale for good."""
    far = datetime(9999, 12, 31, 23, 59, 59)
    with pytest.raises(FigureFromFuture) as refused:
        await shop.intake.apply(source, far, [OneCLine("IRON", "online", 5)])
    assert "ONEC_FUTURE_TOLERANCE_S" in refused.value.message and "nothing applied" in refused.value.message
    assert [d["field"] for d in refused.value.details] == ["as_of"]
    assert await shop.on_hand("IRON") == {}
    assert (await shop.operations.status()).onec_last_update is None
    true = await shop.intake.apply(source, shop.clock.now(), [OneCLine("IRON", "online", 2)])
    assert (true.accepted, true.ignored_stale) == (1, 0)


async def test_a_figure_within_the_tolerance_ahead_is_taken(shop: Shop) -> None:
    ahead = shop.clock.now() + timedelta(seconds=600)
    result = await shop.intake.apply(StockSource.API, ahead, [OneCLine("IRON", "online", 5)])
    assert result.accepted == 1
    with pytest.raises(FigureFromFuture):
        await shop.intake.apply(StockSource.API, ahead + timedelta(seconds=1), [OneCLine("IRON", "online", 6)])


CONFUSABLE = ["IRON\u200b", "\ufeffIRON", "IR\u200fON", "IRON\x85", "IRON\u2028", "IRON\u2029", "IR\x00ON", ""]


@pytest.mark.parametrize("source", list(StockSource))
@pytest.mark.parametrize("sku", [*CONFUSABLE, "Я" * 256])
async def test_an_article_with_invisible_characters_is_refused_from_every_source(
    shop: Shop, source: StockSource, sku: str
) -> None:
    lines = [OneCLine("IRON", "online", 1), OneCLine(sku, "online", 2)]
    with pytest.raises(InvalidStockLine) as refused:
        await shop.intake.apply(source, shop.clock.now(), lines)
    assert [d["field"] for d in refused.value.details] == ["items.1.sku"]
    assert "nothing applied" in refused.value.message
    assert await shop.on_hand("IRON") == {}


async def test_an_article_is_normalised_to_nfc(shop: Shop) -> None:
    decomposed = "\u0418\u0306-1"  # И and a combining breve: Й as two code points
    await shop.intake.apply(StockSource.EXCHANGE, shop.clock.now(), [OneCLine(decomposed, "online", 3)])
    assert await shop.on_hand("Й-1") == {"online": 3}


@pytest.mark.parametrize("source", list(StockSource))
@pytest.mark.parametrize("qty", [999_999_999_999_999, 2_000_000_001, -1])
async def test_a_quantity_out_of_bounds_is_refused_from_every_source(shop: Shop, source: StockSource, qty: int) -> None:
    lines = [OneCLine("IRON", "online", 1), OneCLine("NAIL", "online", qty)]
    with pytest.raises(InvalidStockLine) as refused:
        await shop.intake.apply(source, shop.clock.now(), lines)
    assert [d["field"] for d in refused.value.details] == ["items.1.qty"]
    assert str(qty) in refused.value.message
    assert await shop.on_hand("IRON") == {}


async def test_the_highest_quantity_is_taken(shop: Shop) -> None:
    await shop.intake.apply(StockSource.FILE, shop.clock.now(), [OneCLine("IRON", "online", 2_000_000_000)])
    assert await shop.on_hand("IRON") == {"online": 2_000_000_000}


async def test_a_repeated_article_and_warehouse_is_refused_from_the_json_api(shop: Shop) -> None:
    lines = [OneCLine("IRON", "online", 3), OneCLine("NAIL", "online", 1), OneCLine("IRON", "online", 2)]
    with pytest.raises(InvalidStockLine) as refused:
        await shop.intake.apply(StockSource.API, shop.clock.now(), lines)
    assert [d["field"] for d in refused.value.details] == ["items.2.sku"]
    assert "repeats items.0" in str(refused.value.details[0]["problem"])
    assert await shop.on_hand("IRON") == {}


async def test_a_repeat_through_1c_s_id_of_the_warehouse_is_a_repeat_too(shop: Shop) -> None:
    lines = [OneCLine("IRON", "tverskaya", 3), OneCLine("IRON", TVERSKAYA_1C, 2)]
    with pytest.raises(InvalidStockLine):
        await shop.intake.apply(StockSource.API, shop.clock.now(), lines)


async def _stored_from_the_future(shop: Shop) -> None:
    """A wrong as_of, stored before figures from the future were refused (or by hand)."""
    async with shop.uow() as work:
        figures = [
            StockFigure("IRON", "online", 9),
            StockFigure("IRON", "tverskaya", 4),
            StockFigure("NAIL", "online", 1),
        ]
        await work.stock.save_figures(figures, datetime(9999, 12, 31, 20, 59, 59, tzinfo=ZoneInfo("UTC")))
        await work.commit()


async def test_clearing_a_stored_time_lets_the_next_true_figure_apply(shop: Shop) -> None:
    await _stored_from_the_future(shop)
    lines = [OneCLine("IRON", "online", 2), OneCLine("IRON", "tverskaya", 1)]
    stale = await shop.intake.apply(StockSource.API, shop.clock.now(), lines)
    assert stale.ignored_stale == 2
    assert await shop.ledger.clear_stock_time("IRON") == 2
    assert await shop.on_hand("IRON") == {"online": 9, "tverskaya": 4}  # the quantities stay until 1C's next
    result = await shop.intake.apply(StockSource.API, shop.clock.now(), lines)
    assert (result.accepted, result.ignored_stale) == (2, 0)
    assert await shop.on_hand("IRON") == {"online": 2, "tverskaya": 1}
    nail = await shop.intake.apply(StockSource.API, shop.clock.now(), [OneCLine("NAIL", "online", 5)])
    assert nail.ignored_stale == 1  # another article's rows are left alone


async def test_clearing_a_stored_time_in_one_warehouse_only(shop: Shop) -> None:
    await _stored_from_the_future(shop)
    assert await shop.ledger.clear_stock_time("IRON", "tverskaya") == 1
    lines = [OneCLine("IRON", "online", 2), OneCLine("IRON", "tverskaya", 1)]
    result = await shop.intake.apply(StockSource.API, shop.clock.now(), lines)
    assert (result.accepted, result.ignored_stale) == (1, 1)
    assert await shop.on_hand("IRON") == {"online": 9, "tverskaya": 1}


async def test_clearing_the_time_of_an_unknown_article_or_warehouse(shop: Shop) -> None:
    assert await shop.ledger.clear_stock_time("NEVER-SEEN") == 0
    with pytest.raises(UnknownWarehouse, match="'mars'"):
        await shop.ledger.clear_stock_time("IRON", "mars")


class QueuesThenFails(SyncOutbox):
    """The sync outbox's statement has written the lines, then the commit fails (the disk filled, the server went
    away) — the last step of a message's transaction."""

    async def before_commit(self, uow: UnitOfWork) -> None:
        await super().before_commit(uow)
        raise RuntimeError("the commit could not be written")


async def test_a_message_failing_in_its_outbox_step_leaves_stock_lines_and_offer_ids_as_they_were(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = Shop(uow, topology, clock, Operations)
    channels = list(topology.channels)
    uow.hooks.before.append(SyncOutbox(topology, clock, channels).before_commit)
    skus = [f"SKU-{n:04d}" for n in range(700)]  # more than one chunk of keys on PostgreSQL
    first = [OneCLine(sku, "online", 5) for sku in skus]
    await shop.intake.apply(StockSource.API, clock.now() - timedelta(hours=1), first)

    async def held() -> tuple[object, ...]:
        async with uow(read_only=True) as work:
            stock = await work.stock.for_skus([*skus, "NEW-1"])
            known = {name: await work.outbox.known(name, [*skus, "NEW-1"]) for name in channels}
            offers = {name: await work.offer_ids.for_skus(name, [*skus, "NEW-1"]) for name in channels}
        return stock, known, offers

    before = await held()
    uow.hooks.before[:] = [QueuesThenFails(topology, clock, channels).before_commit]
    again = [OneCLine(sku, "online", 9) for sku in skus] + [OneCLine("NEW-1", "online", 3)]
    with pytest.raises(RuntimeError, match="could not be written"):
        await shop.intake.apply(StockSource.API, clock.now(), again)
    assert await held() == before
    assert before[1] == {name: dict.fromkeys(skus, 5 - topology.channels[name].safety_stock) for name in channels}
