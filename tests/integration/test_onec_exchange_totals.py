"""1C's exchange end to end (checkauth, init, file, import) with stock files that give only a total per offer —
1C's own published sample among them: ``[onec] totals_warehouse`` places them; without it the import is a
``failure`` that names the setting, and the owner is alerted.

The real files are third parties' and are not part of the repository: they are read from the folder below when it
is there, and the tests are skipped otherwise.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from app.bootstrap import Services, build
from app.http.onec_exchange import catalogue_on_import, intake_on_stock, register
from app.settings import load_settings
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_onec_exchange import LIMITS, PASSWORD, PATH, USER, login, run_import, upload
from workflows.catalogue import CatalogueItem
from workflows.operations import ONEC_TOTALS_UNPLACED
from workflows.topology import Topology

REALWORLD = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "commerceml"
SAMPLES = ["offers__cml2.04_1c-official-sample__irpsv.xml", "offers__cml2.04_qty-only__imega.xml"]
DATA = Path(__file__).resolve().parent.parent / "data" / "commerceml"
ROOMY = replace(LIMITS, session_bytes=256 * 1024)  # 1C's sample catalogue is larger than LIMITS allows


def sample(name: str) -> bytes:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"no real CommerceML sample {name} in {REALWORLD}")
    return path.read_bytes()


def totals_of(xml: bytes) -> dict[str, int]:
    """Product guid → the sum of its offers' <Количество>, read straight from the file (it has no articles)."""
    sums: dict[str, int] = {}
    for offer in ET.fromstring(xml).iterfind("{*}ПакетПредложений/{*}Предложения/{*}Предложение"):
        product = (offer.findtext("{*}Ид") or "").partition("#")[0]
        sums[product] = sums.get(product, 0) + int(offer.findtext("{*}Количество") or "0")
    return sums


def placing_totals(topology: Topology, code: str | None) -> Topology:
    return topology.model_copy(update={"onec": topology.onec.model_copy(update={"totals_warehouse": code})})


@pytest.fixture
async def services(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    topology: Topology,
    clock: FakeClock,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Services]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}")
    monkeypatch.setenv("STOREOPS_CONFIG", str(ROOT / "storeops.example.toml"))
    built = await build(load_settings(env_file=None), placing_totals(topology, request.param), clock=clock)
    try:
        yield built
    finally:
        await built.close()


async def exchange(services: Services, xml: bytes, name: str = "offers.xml") -> list[str]:
    app = web.Application()
    on_stock = intake_on_stock(services.shop.intake)
    assert services.shop.catalogue is not None
    register(app, path=PATH, user=USER, password=PASSWORD, on_stock=on_stock, clock=services.shop.clock, limits=ROOMY,
             on_catalogue=catalogue_on_import(services.shop.catalogue))  # fmt: skip
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        cookie = await login(client)
        assert await upload(client, cookie, name, xml) == ["success"]
        return await run_import(client, cookie, name)


async def alert_detail(services: Services) -> dict[str, object] | None:
    async with services.shop.uow(read_only=True) as uow:
        alert = await uow.alerts.open_for(ONEC_TOTALS_UNPLACED)
    return None if alert is None else alert.detail


async def on_hand(services: Services, sku: str) -> dict[str, int]:
    return {code: level.on_hand for code, level in (await services.shop.ledger.stock(sku)).by_warehouse.items()}


@pytest.mark.parametrize("services", ["tverskaya"], indirect=True)
async def test_1c_s_own_sample_lands_in_totals_warehouse_once_its_catalogue_names_the_products(
    services: Services,
) -> None:
    """Its offers carry no <Артикул>: held until 1C's catalogue (also without articles) names them, then the
    product's guid is the stable key, its characteristics summed."""
    xml = sample(SAMPLES[0])
    catalogue = sample("import__cml2.04_1c-official-sample__irpsv.xml")
    expected = totals_of(xml)
    assert await exchange(services, xml) == ["success"]
    for product in expected:
        assert await on_hand(services, product) == {}
    assert await exchange(services, catalogue, "import.xml") == ["success"]
    for product, qty in expected.items():
        assert await on_hand(services, product) == {"tverskaya": qty}
    assert await alert_detail(services) is None


@pytest.mark.parametrize("services", ["tverskaya"], indirect=True)
async def test_a_real_export_without_articles_lands_under_the_articles_the_catalogue_gives(services: Services) -> None:
    xml = sample(SAMPLES[1])
    expected = totals_of(xml)
    assert await exchange(services, xml) == ["success"]
    assert services.shop.catalogue is not None
    articles = {product: f"РЕЗАК-{n}" for n, product in enumerate(sorted(expected))}
    result = await services.shop.catalogue.learn([CatalogueItem(p, article) for p, article in articles.items()])
    assert result.still_held == 0 and result.released.accepted == len(expected)
    for product, qty in expected.items():
        assert await on_hand(services, articles[product]) == {"tverskaya": qty}
        assert await on_hand(services, product) == {}


@pytest.mark.parametrize("services", [None], indirect=True)
@pytest.mark.parametrize("name", SAMPLES)
async def test_without_totals_warehouse_a_real_totals_only_file_is_refused_and_alerted(
    services: Services, name: str
) -> None:
    xml = sample(name)
    offers = len(ET.fromstring(xml).findall("{*}ПакетПредложений/{*}Предложения/{*}Предложение"))
    answer = await exchange(services, xml)
    assert answer[0] == "failure" and len(answer) == 2
    assert answer[1].startswith(f"offers.xml: all {offers} offer(s) give only a total, no warehouse (e.g. ")
    assert answer[1].endswith(
        "set [onec] totals_warehouse to the code of our warehouse that holds them; nothing applied"
    )
    for product in totals_of(xml):
        assert (await services.shop.ledger.stock(product)).by_warehouse == {}
    detail = await alert_detail(services)
    assert detail is not None and detail["offers"] == offers and detail["source"] == "exchange"


@pytest.mark.parametrize("services", [None], indirect=True)
async def test_without_totals_warehouse_a_mixed_file_applies_its_warehouse_lines(services: Services) -> None:
    """rests_2_10.xml: three offers split by warehouse and one with a total only."""
    on_stock = intake_on_stock(services.shop.intake)
    from integrations.commerceml import parse_stock

    summary = await on_stock(parse_stock((DATA / "rests_2_10.xml").read_bytes()))
    assert summary["accepted"] == 1 and summary["held_for_catalogue"] == 3  # SKU-9; the rest has no article
    assert summary["totals_without_warehouse"] == 1 and summary["totals_placed_in"] is None
    assert await alert_detail(services) == {"offers": 1, "example": "SKU-T", "source": "exchange"}
    assert (await services.shop.ledger.stock("SKU-T")).by_warehouse == {}
    assert await exchange(services, (DATA / "rests_2_10.xml").read_bytes(), "rests.xml") == ["success"]
