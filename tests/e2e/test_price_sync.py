"""1C's prices reach the marketplaces: the service built from settings with the real Wildberries, Ozon and Yandex
Market clients against their emulators. Prices come in over ``POST /api/1c/prices``; each channel's price
dispatcher sends its price at its own markup and rounding; a big drop waits for the managers and goes once approved;
a price API that is down opens the prices' circuit and leaves stock alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
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
from tests.e2e.test_channel_sync import API, AUTH, CAMPAIGN, OZON_WAREHOUSE, WB_WAREHOUSE
from tests.e2e.test_channel_sync import _shop as stock_shop
from tests.fakes import FakeClock
from workflows.topology import Topology
from workflows.vocabulary import Role

RETAIL = "Розничная"


def _shop() -> Topology:
    shop = stock_shop().model_dump()
    shop["channels"]["wildberries"] |= {"price_type": RETAIL, "price_markup": "0.15", "price_rounding": "1"}
    shop["channels"]["ozon"] |= {"price_type": RETAIL, "price_markup": "0.1", "price_rounding": "10"}
    shop["channels"]["yandex_market"] |= {"price_type": RETAIL}
    return Topology.model_validate(shop)


class World:
    def __init__(self, services: Services, wb: WildberriesEmulator, ym: YandexMarketEmulator, ozon: OzonEmulator,
                 http: TestClient[Any, Any]) -> None:  # fmt: skip
        self.services, self.wb, self.ym, self.ozon, self.http = services, wb, ym, ozon, http

    async def prices(self, **price: str) -> dict[str, Any]:
        items = [{"sku": sku.replace("_", "-"), "price_type": RETAIL, "price": p} for sku, p in price.items()]
        response = await self.http.post("/api/1c/prices", json={"items": items}, headers=AUTH)
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def send(self) -> None:
        """The scheduler's one-second price jobs, side by side."""
        await asyncio.gather(*(d.scheduled() for d in self.services.shop.price_dispatchers))

    def shown(self, offer: str) -> tuple[int | None, Decimal | None, Decimal | None]:
        ym = self.ym.price(offer)
        return self.wb.price({"IRON-1": 11, "KETTLE-2": 22}[offer]), self.ozon.price(offer), ym.value if ym else None


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
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'prices.db'}", "API_TOKEN": API,
            "WB_TOKEN": "wb-token", "WB_API_BASE": wb.base_url, "WB_CONTENT_API_BASE": wb.base_url,
            "WB_PRICES_API_BASE": wb.base_url, "YM_API_KEY": "ym-key", "YM_API_BASE": ym.base_url,
            "OZON_CLIENT_ID": "ozon-client", "OZON_API_KEY": "ozon-key", "OZON_API_BASE": ozon.base_url,
        }  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        services = await build(load_settings(env_file=None), _shop(), clock=FakeClock())
        try:
            for client in services.shop.channels.values():  # Wildberries learns its cards, as its hourly job does
                if hasattr(client, "learn_products"):
                    await client.learn_products()
            async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:
                yield World(services, wb, ym, ozon, http)
        finally:
            await services.close()


async def test_prices_reach_every_marketplace_at_its_markup_and_a_big_drop_waits_for_approval(world: World) -> None:
    assert sorted(d.name for d in world.services.shop.price_dispatchers) == ["ozon", "wildberries", "yandex_market"]
    answer = await world.prices(IRON_1="1990.40", KETTLE_2="2500")
    assert answer["queued"] == {"wildberries": 2, "ozon": 2, "yandex_market": 2}
    await world.send()
    assert world.shown("IRON-1") == (2289, Decimal(2190), Decimal("1990.40"))  # +15 % whole; +10 % in tens; as is
    assert world.shown("KETTLE-2") == (2875, Decimal(2750), Decimal(2500))

    answer = await world.prices(IRON_1="990", KETTLE_2="2400")  # IRON half price: held; KETTLE −4 %: goes
    assert answer["held"] == {"wildberries": 1, "ozon": 1, "yandex_market": 1} and len(answer["batches"]) == 1
    await world.send()
    assert world.shown("IRON-1") == (2289, Decimal(2190), Decimal("1990.40"))
    assert world.shown("KETTLE-2") == (2760, Decimal(2640), Decimal(2400))
    async with world.services.shop.uow(read_only=True) as work:
        (question,) = await work.tasks.open_about("price_batch:")
    assert question.id is not None
    decision = await world.services.shop.office.answer(question.id, "approve", Role.MANAGER, "tg:1002")
    assert decision.accepted
    await world.send()
    assert world.shown("IRON-1") == (1139, Decimal(1090), Decimal(990))


async def test_a_price_api_that_is_down_opens_its_own_circuit_and_catches_up(world: World) -> None:
    world.ozon.fail_with(503)
    await world.prices(IRON_1="1000")
    clock = world.services.shop.clock
    assert isinstance(clock, FakeClock)
    for _ in range(5):
        await world.send()
        clock.advance(minutes=6)
    async with world.services.shop.uow(read_only=True) as work:
        states = await work.channel_states.all()
        alert = await work.alerts.open_for("price_sync_failing:ozon")
    assert states["ozon:prices"].failures_in_a_row == 5 and "ozon" not in states  # stock's own state untouched
    assert alert is not None and "503" in str(alert.detail["reason"])
    assert world.shown("IRON-1")[0] == 1150  # the other marketplaces were not held up
    world.ozon.recover()
    clock.advance(minutes=6)
    await world.send()
    assert world.shown("IRON-1")[1] == Decimal(1100)  # caught up after the outage
    async with world.services.shop.uow(read_only=True) as work:
        assert await work.alerts.open_for("price_sync_failing:ozon") is None


async def test_reconciliation_sends_again_a_price_changed_in_a_cabinet_and_whole_roubles_are_no_drift(
    world: World,
) -> None:
    await world.prices(IRON_1="1990.40", KETTLE_2="2500")
    await world.send()
    upkeep = {u.name: u for u in world.services.shop.upkeep}

    for name in ("wildberries", "ozon", "yandex_market"):
        report = await upkeep[name].reconcile()
        assert report.prices is not None and report.prices.checked == 2 and report.prices.drifted == {}, name

    world.wb.set_price("IRON-1", 2289, discount=10)  # a discount set by hand in WB's cabinet: 2060 to a buyer
    world.ozon.set_price("KETTLE-2", Decimal(1999))
    wb, ozon = await upkeep["wildberries"].reconcile(), await upkeep["ozon"].reconcile()
    assert wb.prices is not None and wb.prices.drifted == {"IRON-1": (Decimal(2060), Decimal(2289))}
    assert ozon.prices is not None and ozon.prices.drifted == {"KETTLE-2": (Decimal(1999), Decimal(2750))}
    async with world.services.shop.uow(read_only=True) as work:
        alert = await work.alerts.open_for("price_drift:wildberries")
    assert alert is not None and alert.detail["count"] == 1 and alert.detail["shown"] == "2060.00"

    await world.send()
    assert world.shown("IRON-1")[0] == 2289 and world.wb.card_price("IRON-1") == (2289, 0)
    assert world.shown("KETTLE-2")[1] == Decimal(2750)
    again = await upkeep["wildberries"].reconcile()
    assert again.prices is not None and again.prices.drifted == {}
    async with world.services.shop.uow(read_only=True) as work:
        assert await work.alerts.open_for("price_drift:wildberries") is None
        assert await work.alerts.open_for("price_drift:ozon") is not None  # until its own next reconciliation
