"""A channel's cancellation releases the order's reservations exactly once, whatever order the events come in, on
memory, SQLite and PostgreSQL; deliveries and returns are recorded once; the channel's bookmark is kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import FakeClock, assembled
from workflows.channels import (
    ChannelOrder,
    ChannelOrderEvent,
    ChannelOrderLine,
    ChannelRefused,
    ChannelUnavailable,
    OrderEventKind,
    OrderEventPage,
    PushOutcome,
    ReportsOrderEvents,
    StockLine,
)
from workflows.model import Order, ReservationState, StockFigure
from workflows.order_events import OrderFeed, Outcome
from workflows.ports import HeardOrderEvent, UnitOfWorkFactory
from workflows.shop import Shop
from workflows.tasks import TaskState
from workflows.topology import Topology

CANCELLED, DELIVERED, RETURNED = OrderEventKind.CANCELLED, OrderEventKind.DELIVERED, OrderEventKind.RETURNED


@dataclass
class QuietChannel:
    """A channel client that only takes stock (no order events)."""

    name: str
    batch_limit: int = 100
    orders: list[ChannelOrder] = field(default_factory=list)

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        return PushOutcome(accepted=tuple(line.sku for line in lines))

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        return {}

    async def new_orders(self) -> list[ChannelOrder]:
        return list(self.orders)


@dataclass
class ReportingChannel(QuietChannel):
    """A channel client that also says what became of its orders: ``pages`` are answered in turn (an exception is
    raised), and every question is kept in ``asked`` as ``(cursor, watching)``."""

    pages: list[OrderEventPage | Exception] = field(default_factory=list)
    asked: list[tuple[str | None, tuple[str, ...]]] = field(default_factory=list)

    async def order_events(self, cursor: str | None, watching: Sequence[str]) -> OrderEventPage:
        self.asked.append((cursor, tuple(watching)))
        answer = self.pages.pop(0) if self.pages else OrderEventPage((), cursor or "")
        if isinstance(answer, Exception):
            raise answer
        return answer


def order(external_id: str, qty: int = 2, sku: str = "LAMP") -> ChannelOrder:
    return ChannelOrder(external_id, (ChannelOrderLine(sku, qty),), datetime(2026, 11, 21, 8, 0, tzinfo=UTC))


def said(
    external_id: str, kind: OrderEventKind = CANCELLED, reason: str = "buyer changed their mind"
) -> ChannelOrderEvent:
    return ChannelOrderEvent(external_id, kind, datetime(2026, 11, 21, 8, 30, tzinfo=UTC), reason)


def page(cursor: str, *events: ChannelOrderEvent) -> OrderEventPage:
    return OrderEventPage(tuple(events), cursor)


async def shop_with_lamps(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> tuple[Shop, ReportingChannel]:
    ozon = ReportingChannel("ozon")
    shop = assembled(uow, topology, clock, channels={"ozon": ozon, "yandex_market": QuietChannel("yandex_market")})
    uow.hooks.after.clear()  # the dispatchers are not driven here: what they would send stays queued
    await shop.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "online", 5)])
    return shop, ozon


async def taken(shop: Shop, external_id: str) -> Order:
    async with shop.uow(read_only=True) as work:
        found = await work.orders.find("ozon", external_id)
    assert found is not None
    return found


async def reserved(uow: UnitOfWorkFactory, sku: str = "LAMP") -> int:
    async with uow(read_only=True) as work:
        return sum(level.reserved for level in await work.stock.for_sku(sku))


async def released(uow: UnitOfWorkFactory) -> dict[tuple[str, str], int]:
    async with uow(read_only=True) as work:
        return await work.reservations.totals(ReservationState.RELEASED)


async def queued(uow: UnitOfWorkFactory, channel: str, sku: str = "LAMP") -> int | None:
    async with uow(read_only=True) as work:
        return (await work.outbox.known(channel, [sku])).get(sku)


def kinds(found: Order) -> list[str]:
    return [event.kind for event in found.history]


async def test_a_channel_cancellation_releases_the_reservation_once_and_queues_the_freed_stock(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.orders = [order("OZ-1", 2)]
    assert await shop.upkeep[0].pull_orders() == 1
    assert await reserved(uow) == 2
    assert await queued(uow, "yandex_market") == 3
    ozon.pages = [page("c1", said("OZ-1"))]

    (feed,) = shop.order_feeds
    run = await feed.pull()

    assert (run.applied, run.repeated, run.waiting, run.failed) == (1, 0, 0, None)
    assert await reserved(uow) == 0
    assert await released(uow) == {("LAMP", "online"): 2}
    assert await queued(uow, "yandex_market") == 5  # the freed lamps are offered on the other channel again
    found = await taken(shop, "OZ-1")
    assert found.status == "cancelled"
    assert kinds(found).count("cancelled") == 1
    (by_channel,) = [event for event in found.history if event.kind == "cancelled_by_channel"]
    assert by_channel.detail == {
        "channel": "ozon",
        "reason": "buyer changed their mind",
        "channel_time": said("OZ-1").at.isoformat(),
    }


async def test_the_same_cancellation_again_in_a_page_across_pages_and_after_a_restart_changes_nothing_more(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.orders = [order("OZ-1", 2), order("OZ-2", 1)]
    await shop.upkeep[0].pull_orders()
    ozon.pages = [page("c1", said("OZ-1"), said("OZ-1")), page("c2", said("OZ-1"))]
    (feed,) = shop.order_feeds

    first, second = await feed.pull(), await feed.pull()
    restarted = OrderFeed(uow, clock, ozon, shop.orders, channel="ozon")  # a new instance over the same storage
    ozon.pages = [page("c0", said("OZ-1"))]  # a channel that reads its look-back window again
    third = await restarted.pull()

    assert [(r.applied, r.repeated) for r in (first, second, third)] == [(1, 1), (0, 1), (0, 1)]
    assert await reserved(uow) == 1  # OZ-2 still holds its lamp
    assert await released(uow) == {("LAMP", "online"): 2}
    history = kinds(await taken(shop, "OZ-1"))
    assert (history.count("cancelled"), history.count("cancelled_by_channel")) == (1, 1)


async def test_a_cancellation_read_before_the_order_means_the_order_never_holds_stock(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.pages = [page("c1", said("OZ-9"))]
    (feed,) = shop.order_feeds
    assert (await feed.pull()).waiting == 1
    pushes_before = await queued(uow, "yandex_market")

    ozon.orders = [order("OZ-9", 2)]
    assert await shop.upkeep[0].pull_orders() == 1  # on record, for the manager to find

    found = await taken(shop, "OZ-9")
    assert found.status == "cancelled"
    assert kinds(found) == ["received", "cancelled", "cancelled_by_channel"]
    assert await reserved(uow) == 0
    assert await released(uow) == {}  # nothing was ever reserved, so nothing was released
    assert await queued(uow, "yandex_market") == pushes_before
    async with uow(read_only=True) as work:
        heard = await work.heard_order_events.get("ozon", "OZ-9", "cancelled")
    assert heard is not None and heard.order_id == found.id and not heard.waiting
    again = await feed.pull()  # nothing left waiting, nothing applied twice
    assert (again.applied, again.waiting) == (0, 0)
    assert kinds(await taken(shop, "OZ-9")).count("cancelled") == 1


async def test_a_waiting_cancellation_whose_order_came_in_unchecked_is_applied_by_the_next_pull(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    """An instance of an older version takes the order without looking for a waiting cancellation: the next pull
    settles it."""
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.orders = [order("OZ-3", 2)]
    await shop.upkeep[0].pull_orders()
    async with uow() as work:  # what the feed kept while the order was on its way in
        waiting = HeardOrderEvent("ozon", "OZ-3", "cancelled", said("OZ-3").at, "no longer needed", clock.now())
        assert await work.heard_order_events.add(waiting)
        await work.commit()

    run = await shop.order_feeds[0].pull()

    assert run.applied == 1
    assert await reserved(uow) == 0
    assert await released(uow) == {("LAMP", "online"): 2}
    assert (await shop.order_feeds[0].pull()).applied == 0
    history = kinds(await taken(shop, "OZ-3"))
    assert (history.count("cancelled"), history.count("cancelled_by_channel")) == (1, 1)


async def test_delivered_and_returned_are_recorded_once_each(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.orders = [order("OZ-4", 1)]
    await shop.upkeep[0].pull_orders()
    ozon.pages = [
        page("c1", said("OZ-4", DELIVERED, ""), said("OZ-4", DELIVERED, "")),
        page("c2", said("OZ-4", RETURNED, "wrong colour"), said("OZ-4", DELIVERED, "")),
        page("c3", said("OZ-404", DELIVERED, "")),  # an order we never took: only kept
    ]
    (feed,) = shop.order_feeds

    runs = [await feed.pull() for _ in range(3)]

    assert [(r.applied, r.repeated, r.waiting) for r in runs] == [(1, 1, 0), (1, 1, 0), (1, 0, 0)]
    found = await taken(shop, "OZ-4")
    assert kinds(found) == ["received", "reserved", "delivered_to_buyer", "returned_by_buyer", "return_announced"]
    assert found.history[-2].detail["reason"] == "wrong colour"
    assert found.status != "cancelled" and await reserved(uow) == 1  # a return is not a cancellation


async def test_a_return_from_the_channel_asks_the_shipping_warehouse_once(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    """The buyer's return, reported by the channel (again and again), opens one receipt for the warehouse the line
    left from; an order whose line never left a warehouse has nothing to receive."""
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.orders = [order("OZ-8", 1), order("OZ-9", 5)]  # only one lamp is left for OZ-9: it never leaves a warehouse
    await shop.upkeep[0].pull_orders()
    ozon.pages = [page("c1", said("OZ-8", RETURNED, "refused")), page("c2", said("OZ-8", RETURNED, "refused"))]
    ozon.pages.append(page("c3", said("OZ-9", RETURNED, "")))
    (feed,) = shop.order_feeds
    for _ in range(3):
        await feed.pull()

    returned = await taken(shop, "OZ-8")
    async with uow(read_only=True) as work:
        record = await work.returns.get(returned.id or 0, "LAMP")
        receipts = await work.tasks.open_about(f"return:{returned.id}:")
    assert record is not None and (record.warehouse, record.qty, record.source) == ("online", 1, "ozon")
    assert len(receipts) == 1 and receipts[0].kind == "return_receipt"
    assert kinds(await taken(shop, "OZ-9"))[-1] == "returned_by_buyer"  # nothing to receive, nothing asked


async def test_an_order_we_cancelled_ourselves_only_gets_the_channels_word_kept(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.orders = [order("OZ-5", 2)]
    await shop.upkeep[0].pull_orders()
    await shop.orders.cancel((await taken(shop, "OZ-5")).id or 0, "the manager called the buyer")
    ozon.pages = [page("c1", said("OZ-5"))]

    assert (await shop.order_feeds[0].pull()).applied == 1

    assert kinds(await taken(shop, "OZ-5")) == ["received", "reserved", "cancelled"]
    assert await released(uow) == {("LAMP", "online"): 2}
    async with uow(read_only=True) as work:
        assert await work.heard_order_events.get("ozon", "OZ-5", "cancelled") is not None


async def test_a_channel_error_keeps_the_cursor_and_the_stored_cursor_is_handed_back(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.orders = [order("OZ-6", 1), order("OZ-7", 1)]
    await shop.upkeep[0].pull_orders()
    ozon.pages = [page("c1", said("OZ-6")), ChannelUnavailable("429 too many requests"), page("c2")]
    (feed,) = shop.order_feeds

    await feed.pull()
    failed = await feed.pull()
    restarted = OrderFeed(uow, clock, ozon, shop.orders, channel="ozon")
    await restarted.pull()

    assert failed.failed == "429 too many requests"
    assert [cursor for cursor, _ in ozon.asked] == [None, "c1", "c1"]
    assert ozon.asked[0][1] == ("OZ-7", "OZ-6") and ozon.asked[1][1] == ("OZ-7",)  # open orders, newest first
    async with uow(read_only=True) as work:
        assert (await work.channel_states.get("ozon")).order_events_cursor == "c2"


async def test_a_store_question_open_for_the_cancelled_order_is_closed(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    wildberries = ReportingChannel("wildberries", orders=[order("WB-1", 1, "KETTLE")])
    shop = assembled(uow, topology, clock, channels={"wildberries": wildberries})
    uow.hooks.after.clear()
    await shop.ledger.apply_stock(clock.now(), [StockFigure("KETTLE", "tverskaya", 3)])
    await shop.upkeep[0].pull_orders()
    found = await taken_from(shop, "wildberries", "WB-1")
    async with uow(read_only=True) as work:
        (question,) = await work.tasks.open_about(f"order:{found.id}:")
    wildberries.pages = [page("c1", said("WB-1", reason="cancelled by the seller"))]

    await shop.order_feeds[0].pull()

    async with uow(read_only=True) as work:
        closed = await work.tasks.get(question.id or 0)
        still_open = await work.tasks.open_about(f"order:{found.id}:")
        notices = await work.notices.undelivered(100)
    assert closed is not None and closed.state == TaskState.CANCELLED and still_open == []
    assert [p.get("task_id") for _, topic, p in notices if topic == "task_closed"] == [question.id]
    assert await reserved(uow, "KETTLE") == 0


async def taken_from(shop: Shop, channel: str, external_id: str) -> Order:
    async with shop.uow(read_only=True) as work:
        found = await work.orders.find(channel, external_id)
    assert found is not None
    return found


def test_only_a_channel_that_reports_order_events_gets_a_feed(topology: Topology, clock: FakeClock) -> None:
    from tests.fakes import MemoryUnitOfWorkFactory

    ozon, market = ReportingChannel("ozon"), QuietChannel("yandex_market")
    shop = assembled(MemoryUnitOfWorkFactory(), topology, clock, channels={"ozon": ozon, "yandex_market": market})
    assert isinstance(ozon, ReportsOrderEvents) and not isinstance(market, ReportsOrderEvents)
    assert [feed.name for feed in shop.order_feeds] == ["ozon"]


async def test_an_event_time_is_kept_as_the_channel_said(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.pages = [page("c1", said("OZ-8"))]
    clock.advance(minutes=5)
    await shop.order_feeds[0].pull()
    async with uow(read_only=True) as work:
        heard = await work.heard_order_events.get("ozon", "OZ-8", "cancelled")
    assert heard is not None and heard.waiting
    assert (heard.at, heard.heard_at, heard.reason) == (said("OZ-8").at, clock.now(), "buyer changed their mind")
    assert heard.heard_at - heard.at > timedelta(0)


async def test_a_channel_time_without_an_offset_is_read_as_utc(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.pages = [page("c1", ChannelOrderEvent("OZ-10", CANCELLED, datetime(2026, 11, 21, 8, 30), ""))]
    assert (await shop.order_feeds[0].pull()).waiting == 1
    async with uow(read_only=True) as work:
        heard = await work.heard_order_events.get("ozon", "OZ-10", "cancelled")
    assert heard is not None and heard.at == datetime(2026, 11, 21, 8, 30, tzinfo=UTC)


async def test_a_failure_that_repeats_every_pull_is_said_once(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A site that does not serve the feed refuses every minute: one warning, then quiet until it changes."""
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    refused = ChannelRefused("404 not found")
    ozon.pages = [refused, refused, refused, page("c1"), refused]
    (feed,) = shop.order_feeds
    with caplog.at_level("INFO", logger="workflows.order_events"):
        for _ in range(5):
            await feed.pull()
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "workflows.order_events"]
    assert said == [
        ("WARNING", "order events from ozon not read: 404 not found"),
        ("INFO", "order events from ozon are read again"),
        ("WARNING", "order events from ozon not read: 404 not found"),
    ]


async def test_a_page_of_repeats_is_skipped_in_one_read(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A time-windowed channel repeats its last minutes on every read: events kept already are not applied again
    one transaction each, and the run still counts them as repeats."""
    shop, ozon = await shop_with_lamps(uow, topology, clock)
    ozon.orders = [order("OZ-11", 1), order("OZ-12", 1)]
    await shop.upkeep[0].pull_orders()
    both = page("c1", said("OZ-11"), said("OZ-12", DELIVERED, ""))
    ozon.pages = [both, page("c2", said("OZ-11"), said("OZ-12", DELIVERED, ""), said("OZ-12"))]
    (feed,) = shop.order_feeds
    await feed.pull()
    applied: list[str] = []
    apply = feed.apply

    async def counting(event: ChannelOrderEvent) -> Outcome:
        applied.append(event.external_id)
        return await apply(event)

    monkeypatch.setattr(feed, "apply", counting)
    run = await feed.pull()

    assert applied == ["OZ-12"]  # only the new cancellation of OZ-12
    assert (run.applied, run.repeated) == (1, 2)
