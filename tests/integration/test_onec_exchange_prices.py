"""1C's prices through the exchange end to end (checkauth, init, the file in pieces, import), as 1C runs it: a real
offers file's prices reach the price book and every channel's outbox at the channel's markup and rounding; a later
prices-only file with a big drop is held as one batch with one question; a bad price refuses the file before its
stock is applied.

The real file is a third party's and is not part of the repository: it is read from the folder below when it is
there, and the test is skipped otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from app.bootstrap import Services, build
from app.http.onec_exchange import catalogue_on_import, intake_on_stock, register
from app.settings import load_settings
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_onec_exchange import PASSWORD, PATH, USER, login, run_import, upload
from tests.integration.test_onec_exchange_totals import ROOMY, sample
from tests.unit.test_commerceml_prices import offer, offers, price
from workflows.topology import Topology

CARONO = "offers__cml2.07_bom_ns_sklad-attrs__carono.xml"
CARONO_SHOP = "b6112590-41ba-11dd-ac9d-0015e9b8c48d"  # its one warehouse: our Тверская here
RETAIL_ID = "bb14a3a4-6b17-11e0-9819-e0cb4ed5eed4"  # its "Розничная"


def carono_shop(topology: Topology) -> Topology:
    warehouses = [
        w.model_copy(update={"onec_id": CARONO_SHOP}) if w.code == "tverskaya" else w for w in topology.warehouses
    ]
    return topology.model_copy(update={"warehouses": tuple(warehouses)})


@pytest.fixture
async def services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology, clock: FakeClock
) -> AsyncIterator[Services]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}")
    monkeypatch.setenv("STOREOPS_CONFIG", str(ROOT / "storeops.example.toml"))
    built = await build(load_settings(env_file=None), carono_shop(topology), clock=clock)
    try:
        yield built
    finally:
        await built.close()


async def exchange(services: Services, xml: bytes, name: str) -> list[str]:
    shop = services.shop
    assert shop.catalogue is not None
    app = web.Application()
    register(app, path=PATH, user=USER, password=PASSWORD, on_stock=intake_on_stock(shop.intake, shop.prices),
             clock=shop.clock, limits=ROOMY, on_catalogue=catalogue_on_import(shop.catalogue))  # fmt: skip
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        cookie = await login(client)
        assert await upload(client, cookie, name, xml) == ["success"]
        return await run_import(client, cookie, name)


async def waiting(services: Services, channel: str, *skus: str) -> dict[str, int]:
    async with services.shop.uow(read_only=True) as work:
        return await work.price_outbox.known(channel, skus)


async def accepted_by_every_channel(services: Services) -> None:
    """As if each channel's dispatcher had sent what waits and the channel had taken it."""
    async with services.shop.uow() as work:
        now = services.shop.clock.now()
        for channel in services.shop.topology.channels:
            claimed = await work.price_outbox.claim(channel, now, now, "test", 1000)
            await work.price_outbox.accepted(claimed, now)
        await work.commit()


async def test_a_real_offers_file_s_prices_reach_every_channel_and_a_big_drop_waits_for_the_managers(
    services: Services,
) -> None:
    assert await exchange(services, sample(CARONO), "offers.xml") == ["success"]
    async with services.shop.uow(read_only=True) as work:
        book = await work.prices.onec("Розничная", ["Б-130001", "Б- 130005"])
    assert book == {"Б-130001": 1719_00, "Б- 130005": 1309_00}  # two sizes of Б-130001 (1719, 1496): the highest
    # the example topology: the site at 1C's price, Wildberries +15 % and Ozon +10 % in whole roubles
    assert await waiting(services, "site", "Б-130001") == {"Б-130001": 1719_00}
    assert await waiting(services, "wildberries", "Б-130001") == {"Б-130001": 1977_00}  # 1976.85
    assert await waiting(services, "ozon", "Б-130001") == {"Б-130001": 1891_00}  # 1890.90
    stock = await services.shop.ledger.stock("Б-130001")
    assert stock.by_warehouse["tverskaya"].on_hand > 0  # its stock was applied too

    await accepted_by_every_channel(services)
    types = f"<ТипыЦен><ТипЦены><Ид>{RETAIL_ID}</Ид><Наименование>Розничная</Наименование></ТипЦены></ТипыЦен>"
    prices_xml = offers(
        offer("x1", "Б-130001", price("800", RETAIL_ID)) + offer("x2", "Б- 130005", price("1250", RETAIL_ID)), types
    )
    assert await exchange(services, prices_xml, "prices.xml") == ["success"]
    assert (await waiting(services, "site", "Б- 130005")) == {"Б- 130005": 1250_00}  # 4.5 % down: goes
    async with services.shop.uow(read_only=True) as work:
        questions = [t for t in await work.tasks.open_about("price_batch:") if t.kind == "price_approval"]
    assert len(questions) == 1 and questions[0].payload["lines"] == 4  # Б-130001 on four channels, one question
    assert questions[0].payload["price_type"] == "Розничная"


async def test_a_bad_price_refuses_the_file_before_its_stock_is_applied(services: Services) -> None:
    types = f"<ТипыЦен><ТипЦены><Ид>{RETAIL_ID}</Ид><Наименование>Розничная</Наименование></ТипЦены></ТипыЦен>"
    bad = offers(
        "<Предложение><Ид>y1</Ид><Артикул>НОВЫЙ-1</Артикул>"
        f'<Цены>{price("1e999999", RETAIL_ID)}</Цены><Склад ИдСклада="{CARONO_SHOP}" КоличествоНаСкладе="4"/></Предложение>',
        types,
    )
    answer = await exchange(services, bad, "offers.xml")
    assert answer[0] == "failure" and "not a number" in answer[1]
    assert (await services.shop.ledger.stock("НОВЫЙ-1")).by_warehouse == {}
    too_high = bad.replace("1e999999".encode("cp1251"), b"100000001")
    answer = await exchange(services, too_high, "offers.xml")
    assert answer == ["failure", "offers.xml: 1 price(s) refused; nothing applied"]
    assert (await services.shop.ledger.stock("НОВЫЙ-1")).by_warehouse == {}
