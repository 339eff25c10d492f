"""Stock from 1C reaches the marketplaces: the service built from settings (``app.bootstrap``)
with the real Wildberries, Ozon and Yandex Market clients against their emulators. 1C's stock comes in
over the HTTP API; the channels' dispatchers push what each channel may sell; an order and a
marketplace outage follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from app.bootstrap import Services, build
from app.http.server import create_app
from app.settings import load_settings
from emulators.ozon import OzonEmulator
from emulators.wildberries import WildberriesEmulator
from emulators.yandex_market import YandexMarketEmulator
from tests.fakes import FakeClock
from workflows.model import StockFigure
from workflows.topology import Topology

API = "sync-test-token-000001"
AUTH = {"Authorization": f"Bearer {API}"}
WB_WAREHOUSE, OZON_WAREHOUSE, CAMPAIGN = 658434, 1020000001, 21_000_001


def _shop() -> Topology:
    return Topology.model_validate(
        {
            "warehouses": [{"code": "online", "kind": "online"}],
            "channels": {
                "site": {"serves": ["online"]},
                "wildberries": {"serves": ["online"], "safety_stock": 1, "warehouse_id": WB_WAREHOUSE},
                "yandex_market": {"serves": ["online"], "campaign_id": CAMPAIGN},
                "ozon": {"serves": ["online"], "warehouse_id": OZON_WAREHOUSE},
            },
        }
    )


class World:
    def __init__(self, services: Services, wb: WildberriesEmulator, ym: YandexMarketEmulator, ozon: OzonEmulator,
                 http: TestClient[Any, Any], clock: FakeClock) -> None:  # fmt: skip
        self.services, self.wb, self.ym, self.ozon, self.http, self.clock = services, wb, ym, ozon, http, clock
        self.kicks = list(services.shop.uow.hooks.after)  # wake the dispatchers after a stock commit
        services.shop.uow.hooks.after.clear()  # the tests play the schedule by hand, unless they put these back

    async def stock(self, **qty: int) -> None:
        items = [{"sku": sku.replace("_", "-"), "warehouse": "online", "qty": n} for sku, n in qty.items()]
        response = await self.http.post("/api/1c/stock", json={"as_of": self.clock.now().isoformat(), "items": items},
                                        headers=AUTH)  # fmt: skip
        assert response.status == 200, await response.text()

    async def sync(self) -> dict[str, int]:
        """The scheduler's one-second sync jobs, side by side as it runs them; how many lines each channel took."""
        return await scheduled_sync(self.services)


async def scheduled_sync(services: Services) -> dict[str, int]:
    """Every channel's scheduled run (``SyncDispatcher.scheduled``, the scheduler's job), run together; the lines
    each channel accepted meanwhile, as ``GET /metrics`` counts them."""

    registry = services.metrics.registry

    def pushed() -> dict[str, float]:
        return {
            d.name: registry.get_sample_value("storeops_sync_pushed_lines_total", {"channel": d.name}) or 0.0
            for d in services.shop.dispatchers
        }

    before = pushed()
    await asyncio.gather(*(d.scheduled() for d in services.shop.dispatchers))
    return {name: int(count - before[name]) for name, count in pushed().items()}


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    cards = [{"vendorCode": "IRON-1", "sizes": [{"chrtId": 11, "techSize": "0"}]},
             {"vendorCode": "KETTLE-2", "sizes": [{"chrtId": 22, "techSize": "0"}]}]  # fmt: skip
    async with (
        WildberriesEmulator(token="wb-token", warehouses={WB_WAREHOUSE: "Склад"}, cards=cards) as wb,
        YandexMarketEmulator("ym-key", CAMPAIGN, offers=["IRON-1", "KETTLE-2"]) as ym,
        OzonEmulator("ozon-client", "ozon-key", [OZON_WAREHOUSE], ["IRON-1", "KETTLE-2"]) as ozon,
    ):
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sync.db'}", "API_TOKEN": API,
            "WB_TOKEN": "wb-token", "WB_API_BASE": wb.base_url, "WB_CONTENT_API_BASE": wb.base_url,
            "WB_PRICES_API_BASE": wb.base_url,
            "YM_API_KEY": "ym-key", "YM_API_BASE": ym.base_url,
            "OZON_CLIENT_ID": "ozon-client", "OZON_API_KEY": "ozon-key", "OZON_API_BASE": ozon.base_url,
        }  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        clock = FakeClock()
        services = await build(load_settings(env_file=None), _shop(), clock=clock)
        try:
            async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:
                yield World(services, wb, ym, ozon, http, clock)
        finally:
            await services.close()


async def test_stock_from_1c_reaches_both_marketplaces(world: World) -> None:
    assert sorted(world.services.shop.channels) == ["ozon", "wildberries", "yandex_market"]
    await world.stock(IRON_1=5, KETTLE_2=0)
    assert await world.sync() == {"ozon": 2, "wildberries": 2, "yandex_market": 2}
    assert (world.ozon.stock(OZON_WAREHOUSE, "IRON-1"), world.ozon.stock(OZON_WAREHOUSE, "KETTLE-2")) == (5, 0)
    assert (world.wb.stock(WB_WAREHOUSE, 11), world.wb.stock(WB_WAREHOUSE, 22)) == (4, 0)  # safety stock 1
    iron = world.ym.stock("IRON-1")
    kettle = world.ym.stock("KETTLE-2")
    assert iron is not None and kettle is not None and (iron.count, kettle.count) == (5, 0)  # zero sent, not omitted
    assert await world.sync() == {"ozon": 0, "wildberries": 0, "yandex_market": 0}  # nothing new: nothing sent
    scraped = await (await world.http.get("/metrics")).text()
    assert 'storeops_sync_pushed_lines_total{channel="ozon"} 2.0' in scraped
    assert 'storeops_outbox_depth{channel="wildberries"} 0.0' in scraped
    assert 'storeops_sync_propagation_seconds_count{channel="yandex_market"} 2.0' in scraped

    order = {"channel": "site", "external_id": "S-1", "lines": [{"sku": "IRON-1", "qty": 2}]}
    assert (await world.http.post("/api/orders", json=order, headers=AUTH)).status == 201
    await world.sync()
    assert world.wb.stock(WB_WAREHOUSE, 11) == 2
    iron = world.ym.stock("IRON-1")
    assert iron is not None and iron.count == 3


async def test_a_marketplace_outage_loses_nothing(world: World) -> None:
    await world.stock(IRON_1=5)
    world.ym.fail_with(503)
    assert await world.sync() == {"ozon": 1, "wildberries": 1, "yandex_market": 0}
    await world.stock(IRON_1=7)  # changes keep coming while the Market is down
    await world.sync()
    scraped = await (await world.http.get("/metrics")).text()
    assert 'storeops_outbox_depth{channel="yandex_market"} 1.0' in scraped
    assert 'storeops_sync_failures_total{channel="yandex_market"} 1.0' in scraped
    world.ym.recover()
    world.clock.advance(minutes=10)
    assert (await world.sync())["yandex_market"] == 1
    iron = world.ym.stock("IRON-1")
    assert iron is not None and iron.count == 7 and world.wb.stock(WB_WAREHOUSE, 11) == 6


async def test_a_marketplace_order_is_taken_and_lowers_every_channel(world: World) -> None:
    await world.stock(IRON_1=5)
    await world.sync()
    world.ym.add_order(7001, [("IRON-1", 2)])
    (upkeep,) = [u for u in world.services.shop.upkeep if u.name == "yandex_market"]
    assert await upkeep.pull_orders() == 1
    assert await upkeep.pull_orders() == 0  # the same order again: taken once
    await world.sync()
    iron = world.ym.stock("IRON-1")
    assert world.wb.stock(WB_WAREHOUSE, 11) == 2 and iron is not None and iron.count == 3
    # Ozon takes a pair at most once in 30 s: its client holds the new value back, the outbox keeps it
    assert world.ozon.stock(OZON_WAREHOUSE, "IRON-1") == 5
    async with world.services.shop.uow(read_only=True) as work:
        assert await work.outbox.known("ozon", ["IRON-1"]) == {"IRON-1": 3}
        assert (await work.outbox.depth())["ozon"][0] == 1


async def test_reconciliation_corrects_a_hand_made_change_in_the_cabinet(world: World) -> None:
    await world.stock(IRON_1=5, KETTLE_2=2)
    await world.sync()
    world.wb.set_stock(WB_WAREHOUSE, 11, 40)  # someone typed 40 in the seller's cabinet
    (upkeep,) = [u for u in world.services.shop.upkeep if u.name == "wildberries"]
    report = await upkeep.reconcile()
    assert (report.checked, report.corrected, report.failed) == (2, {"IRON-1": (40, 4)}, None)
    await world.sync()
    assert world.wb.stock(WB_WAREHOUSE, 11) == 4
    assert (await upkeep.reconcile()).corrected == {}


async def test_ten_minutes_down_then_back_last_value_wins_one_alert_one_recovery(world: World) -> None:
    """Yandex Market answers 503 for ten simulated minutes while 1C keeps changing the stock and
    the dispatchers run every second: when it is back the last value arrives, the owner got one
    alert and then one recovery message."""
    await world.stock(IRON_1=5)
    await world.sync()
    world.ym.fail_with(503)
    for second in range(600):
        if second % 120 == 0:
            await world.stock(IRON_1=10 + second // 120)  # 10, 11, …, 14
        await world.sync()
        world.clock.advance(seconds=1)
    attempts_while_down = len([c for c in world.ym.calls if c.status == 503])
    world.ym.recover()
    for _ in range(600):
        await world.sync()
        if (iron := world.ym.stock("IRON-1")) is not None and iron.count == 14:
            break
        world.clock.advance(seconds=1)
    iron = world.ym.stock("IRON-1")
    assert iron is not None and iron.count == 14 and world.wb.stock(WB_WAREHOUSE, 11) == 13
    assert attempts_while_down < 40  # backoff and the open circuit, not 600 attempts
    async with world.services.shop.uow(read_only=True) as work:
        opened = [p for _, t, p in await work.notices.undelivered(1000) if t == "alert"]
        recovered = [p for _, t, p in await work.notices.undelivered(1000) if t == "alert_resolved"]
        alert = await work.alerts.get(int(str(opened[0]["alert_id"]))) if opened else None
    assert len(opened) == 1 and len(recovered) == 1
    assert alert is not None and alert.key == "sync_failing:yandex_market" and alert.state == "resolved"


async def test_a_change_is_pushed_at_once_without_waiting_for_the_schedule(world: World) -> None:
    """The commit that changes stock wakes every channel's dispatcher (the scheduled run stays
    as the safety net): 1C's figure reaches all three marketplaces with no sync() call."""
    world.services.shop.uow.hooks.after.extend(world.kicks)
    await world.stock(KETTLE_2=6)
    async with asyncio.timeout(5):
        while not (
            world.wb.stock(WB_WAREHOUSE, 22) == 5
            and world.ozon.stock(OZON_WAREHOUSE, "KETTLE-2") == 6
            and (kettle := world.ym.stock("KETTLE-2")) is not None
            and kettle.count == 6
        ):
            await asyncio.sleep(0.005)


async def test_the_site_and_retailcrm_get_stock_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Configured from settings like the marketplaces: the site's own API (docs/site_stock_api.md)
    and RetailCRM (the channel's warehouse_id is the RetailCRM store code)."""
    from emulators.retailcrm import RetailCrmEmulator
    from emulators.site import SiteEmulator

    topology = Topology.model_validate(
        {
            "warehouses": [{"code": "online", "kind": "online"}, {"code": "s1", "kind": "store"}],
            "channels": {
                "site": {"serves": ["online", "s1"]},
                "retailcrm": {"serves": ["online"], "warehouse_id": "main"},
            },
        }
    )
    async with (
        SiteEmulator("site-token") as site,
        RetailCrmEmulator("crm-key", "shop", stores=["main"], offers=["IRON-1"]) as crm,
    ):
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}", "API_TOKEN": API,
            "SITE_API_BASE": site.base_url, "SITE_API_TOKEN": "site-token",
            "RETAILCRM_API_BASE": crm.base_url, "RETAILCRM_API_KEY": "crm-key", "RETAILCRM_SITE": "shop",
        }  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        services = await build(load_settings(env_file=None), topology, clock=FakeClock())
        services.shop.uow.hooks.after.clear()  # sent by hand below
        try:
            assert sorted(services.shop.channels) == ["retailcrm", "site"]
            now = services.shop.clock.now()
            await services.shop.ledger.apply_stock(
                now, [StockFigure("IRON-1", "online", 3), StockFigure("IRON-1", "s1", 2)]
            )
            assert await scheduled_sync(services) == {"retailcrm": 1, "site": 1}
            assert site.stock("IRON-1") == 5 and crm.stock("IRON-1", "main") == 3
        finally:
            await services.close()


async def test_the_marketplaces_shipping_deadline_reaches_the_order_and_bounds_the_managers_time(
    world: World,
) -> None:
    """Ozon's ``shipment_date`` and the Market's ``shipmentDate`` come in with the order through the real clients;
    the managers' question about an Ozon order nobody can fill ends 2 h before Ozon's deadline."""
    now = datetime.now(UTC).replace(microsecond=0)  # the clients ask the emulators for a window around real time
    world.clock.current = now
    await world.stock(IRON_1=5, KETTLE_2=0)
    ship_by = now + timedelta(hours=3)
    world.ozon.add_posting("70001-0001-1", [("KETTLE-2", 1)], in_process_at=now, shipment_date=ship_by)
    world.ym.add_order(7002, [("IRON-1", 1)], created_at=now, ship_on=(now + timedelta(days=2)).date())
    upkeep = {u.name: u for u in world.services.shop.upkeep}
    assert await upkeep["ozon"].pull_orders() == 1
    assert await upkeep["yandex_market"].pull_orders() == 1

    async with world.services.shop.uow(read_only=True) as work:
        ozon_order = await work.orders.find("ozon", "70001-0001-1")
        market_order = await work.orders.find("yandex_market", "7002")
    assert ozon_order is not None and market_order is not None
    assert ozon_order.ship_by == ship_by
    moscow_day = datetime.combine((now + timedelta(days=2)).date(), time(), timezone(timedelta(hours=3)))
    assert market_order.ship_by == moscow_day  # the start of the Market's shipment day, Moscow time

    (fulfilment,) = [f for f in world.services.shop.fulfilment if f.name == "ozon"]
    await fulfilment.run_once()
    async with world.services.shop.uow(read_only=True) as work:
        (task,) = await work.tasks.open_about(f"order:{ozon_order.id}:unfillable")
    assert task.deadline == ship_by - timedelta(hours=2)
    assert task.payload["ship_by"] == ship_by.isoformat()
