"""1C's price register over OData, on the real ``httpx.AsyncClient`` against the 1C OData emulator: the slice of
last prices by article and price type, and the scheduled pull handing them to the price intake with the stock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from emulators.onec import OneCODataEmulator
from integrations.onec_odata import ODataBalanceSource, ODataStock
from integrations.onec_odata_prices import ODataPrices, ODataPriceSource
from tests.fakes import FakeClock, assembled
from tests.unit.test_price_reconcile import CabinetChannel, retail
from workflows.onec_pull import FAILING_KEY, OneCPull
from workflows.ports import UnitOfWorkFactory
from workflows.prices import OneCPrice
from workflows.topology import Topology

USER, PASSWORD = "обмен", "s3cret-Пароль"
RETAIL, WHOLESALE = "Розничная", "Оптовая"
SIZE_S, SIZE_M = "5e000000-0000-0000-0000-000000000001", "5e000000-0000-0000-0000-000000000002"


@pytest.fixture
async def onec() -> AsyncIterator[OneCODataEmulator]:
    async with OneCODataEmulator(USER, PASSWORD) as emulator:
        emulator.set_price("IRON", RETAIL, 1200)
        emulator.set_price("IRON", RETAIL, "1000.50")  # newer: the slice has this one
        emulator.set_price("IRON", WHOLESALE, 800)
        emulator.set_price("КР-7/2", RETAIL, 2000, characteristic=SIZE_S)
        emulator.set_price("КР-7/2", RETAIL, 2100, characteristic=SIZE_M)  # sizes of one article: the highest
        emulator.set_price("LAMP", RETAIL, 0)  # 1C's "no price"
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2) as client:
        yield client


def odata(onec: OneCODataEmulator, http: httpx.AsyncClient) -> ODataStock:
    return ODataStock(http, base=onec.base, user=USER, password=PASSWORD, page=2)


async def test_the_slice_of_last_prices_is_read_by_article_and_price_type(onec, http) -> None:
    found = await ODataPrices(odata(onec, http)).last_prices()

    types = {name: key for key, name in onec.price_types.items()}
    assert sorted(found.prices, key=lambda p: (p.sku, p.price_type, p.price)) == [
        OneCPrice("IRON", WHOLESALE, Decimal(800), None, types[WHOLESALE]),
        OneCPrice("IRON", RETAIL, Decimal("1000.50"), None, types[RETAIL]),
        OneCPrice("КР-7/2", RETAIL, Decimal(2000), None, types[RETAIL]),
        OneCPrice("КР-7/2", RETAIL, Decimal(2100), None, types[RETAIL]),
    ]
    assert found.warnings == ["LAMP: 1C's price 0 is not a price above 0; left out"]
    slices = [c for c in onec.calls if c.entity == "InformationRegister_ЦеныНоменклатуры/SliceLast()"]
    assert [c.query["$skip"] for c in slices] == ["0", "2", "4"]  # 5 last prices, pages of 2
    assert slices[0].query["$select"] == "Номенклатура_Key,Характеристика_Key,ВидЦен_Key,Цена"
    assert {c.entity for c in onec.calls} >= {"Catalog_ВидыЦен", "Catalog_Номенклатура"}


async def test_the_pull_hands_1c_prices_to_the_channels_with_the_stock(
    onec, http, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    ozon = CabinetChannel("ozon")
    shop = assembled(uow, retail(topology), clock, channels={"ozon": ozon})
    uow.hooks.after.clear()
    connection = odata(onec, http)
    pull = OneCPull(
        uow, clock, shop.intake, shop.alerts, ODataBalanceSource(connection),
        prices=ODataPriceSource(ODataPrices(connection)), price_intake=shop.prices,
    )  # fmt: skip
    onec.set_price("BAD\u200bSKU", RETAIL, 10)  # an article the intake refuses: left out, the rest goes

    result = await pull.run()

    assert result.failed is None and result.prices is not None
    assert result.prices.received == 4 and result.prices.queued["ozon"] == 2
    async with uow(read_only=True) as work:
        assert await work.prices.onec(RETAIL, ["IRON", "КР-7/2"]) == {"IRON": 100_050, "КР-7/2": 210_000}
        assert await work.prices.onec(WHOLESALE, ["IRON"]) == {"IRON": 80_000}
    for dispatcher in shop.price_dispatchers:
        await dispatcher.drain()
    assert ozon.shown == {"IRON": Decimal("1000.50"), "КР-7/2": Decimal("2100.00")}

    onec.set_price("IRON", RETAIL, 990)
    again = await pull.run()
    assert again.prices is not None and again.prices.changed == 1 and again.prices.queued["ozon"] == 1


async def test_a_price_register_1c_does_not_publish_fails_the_pull_and_tells_the_owner(
    onec, http, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = assembled(uow, retail(topology), clock, channels={"ozon": CabinetChannel("ozon")})
    connection = odata(onec, http)
    prices = ODataPriceSource(ODataPrices(connection, register="ЦеныНоменклатуры25"))
    pull = OneCPull(
        uow, clock, shop.intake, shop.alerts, ODataBalanceSource(connection), prices=prices, price_intake=shop.prices
    )

    result = await pull.run()

    assert result.failed is not None and result.failed.startswith("prices: 1C answered HTTP 404")
    assert "ЦеныНоменклатуры25" in result.failed
    async with uow(read_only=True) as work:
        alert = await work.alerts.open_for(FAILING_KEY)
    assert alert is not None and alert.detail["reason"] == result.failed

    onec.price_register = "ЦеныНоменклатуры25"  # published at last
    assert (await pull.run()).failed is None
    async with uow(read_only=True) as work:
        assert await work.alerts.open_for(FAILING_KEY) is None
