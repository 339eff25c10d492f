"""A cancellation on the site, read by the real site client from the site emulator over HTTP, releases the order's
reservation once (on memory, SQLite and PostgreSQL): the client and the order feed fit together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from emulators.site import GET_ORDER_EVENTS, SiteEmulator
from integrations.site import SiteClient, default_gate
from tests.fakes import FakeClock, FakeTime, assembled
from workflows.model import ReservationState, StockFigure
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology

TOKEN = "site-secret-token-0123456789abcdef"


@pytest.fixture
def paused() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def site(paused: FakeTime) -> AsyncIterator[SiteEmulator]:
    async with SiteEmulator(TOKEN, clock=paused.clock) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


async def test_a_cancellation_on_the_site_releases_the_reservation_once(
    uow: UnitOfWorkFactory, topology: Topology, site: SiteEmulator, http: httpx.AsyncClient, paused: FakeTime
) -> None:
    clock = FakeClock(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
    gate = default_gate(clock=paused.clock, sleep=paused.sleep)
    client = SiteClient(http, base=site.base_url, token=TOKEN, gate=gate, clock=clock.now)
    shop = assembled(uow, topology, clock, channels={"site": client})
    uow.hooks.after.clear()
    await shop.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "online", 3)])
    site.add_order("10542", [("LAMP", 2)])
    assert await shop.upkeep[0].pull_orders() == 1
    site.cancel_order("10542", "the buyer changed their mind")

    (feed,) = shop.order_feeds
    first, second = await feed.pull(), await feed.pull()

    assert (first.applied, second.applied, second.repeated) == (1, 0, 0)
    assert [dict(call.query).get("after") for call in site.calls_of(GET_ORDER_EVENTS)] == [None, "e-1"]
    async with uow(read_only=True) as work:
        (level,) = await work.stock.for_sku("LAMP")
        released = await work.reservations.totals(ReservationState.RELEASED)
        order = await work.orders.find("site", "10542")
    assert level.reserved == 0 and released == {("LAMP", "online"): 2}
    assert order is not None and order.status == "cancelled"
    (said,) = [event for event in order.history if event.kind == "cancelled_by_channel"]
    assert said.detail["reason"] == "the buyer changed their mind"
