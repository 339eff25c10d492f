"""The 1C exchange protocol over real HTTP, as 1C's own module drives it: checkauth, init, file, import."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from app.bootstrap import Services, build
from app.http.onec_exchange import (
    COOKIE_NAME,
    ExchangeLimits,
    OneCExchange,
    catalogue_on_import,
    intake_on_stock,
    register,
)
from app.settings import load_settings
from integrations.commerceml import CommerceMLError, StockPackage, parse_stock
from integrations.commerceml_catalogue import parse_catalogue
from tests.conftest import ROOT
from tests.fakes import FakeClock
from workflows.topology import Topology

DATA = Path(__file__).resolve().parent.parent / "data" / "commerceml"
PATH = "/1c_exchange.php"
USER, PASSWORD = "site-exchange", "s3cret-пароль-0001"
LIMITS = ExchangeLimits(file_limit=2048, session_bytes=12 * 1024)


def basic(user: str = USER, password: str = PASSWORD, encoding: str = "utf-8") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode(encoding)).decode()
    return {"Authorization": f"Basic {token}"}


class FakeStockSink:
    """``on_stock``: records every package; refuses with ``refuse`` when it is set."""

    def __init__(self) -> None:
        self.packages: list[StockPackage] = []
        self.refuse: Exception | None = None

    async def __call__(self, package: StockPackage) -> Mapping[str, object]:
        if self.refuse is not None:
            raise self.refuse
        self.packages.append(package)
        return {"lines": len(package.lines)}


@pytest.fixture
def sink() -> FakeStockSink:
    return FakeStockSink()


@pytest.fixture
def exchange_app(sink: FakeStockSink, clock: FakeClock) -> tuple[web.Application, OneCExchange]:
    app = web.Application()
    exchange = register(app, path=PATH, user=USER, password=PASSWORD, on_stock=sink, clock=clock, limits=LIMITS)
    return app, exchange


@pytest.fixture
async def client(exchange_app: tuple[web.Application, OneCExchange]) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(exchange_app[0], host="127.0.0.1")) as test_client:
        yield test_client


async def lines(response: ClientResponse, status: int = 200) -> list[str]:
    assert response.status == status
    assert response.headers["Content-Type"] == "text/plain; charset=windows-1251"
    return (await response.read()).decode("windows-1251").split("\n")


async def login(client: TestClient[Any, Any], kind: str = "catalog") -> dict[str, str]:
    """checkauth and init, as 1C begins; the cookie header 1C then sends with every request."""
    answer = await lines(await client.get(PATH, params={"type": kind, "mode": "checkauth"}, headers=basic()))
    assert answer[:2] == ["success", COOKIE_NAME] and len(answer) == 3 and len(answer[2]) >= 40
    cookie = {"Cookie": f"{answer[1]}={answer[2]}"}
    init = await lines(await client.get(PATH, params={"type": kind, "mode": "init"}, headers=cookie))
    assert init == ["zip=no", "file_limit=2048"]
    return cookie


async def upload(client: TestClient[Any, Any], cookie: dict[str, str], name: str, data: bytes) -> list[str]:
    """1C's way: pieces of at most file_limit bytes, each POSTed under the same name."""
    answer: list[str] = []
    for start in range(0, len(data), LIMITS.file_limit):
        piece = data[start : start + LIMITS.file_limit]
        params = {"type": "catalog", "mode": "file", "filename": name}
        answer = await lines(await client.post(PATH, params=params, data=piece, headers=cookie))
        if answer != ["success"]:
            return answer
    return answer


async def run_import(client: TestClient[Any, Any], cookie: dict[str, str], name: str) -> list[str]:
    params = {"type": "catalog", "mode": "import", "filename": name}
    return await lines(await client.get(PATH, params=params, headers=cookie))


async def test_a_whole_exchange_hands_the_parsed_package_to_on_stock(
    client: TestClient[Any, Any], sink: FakeStockSink
) -> None:
    data = (DATA / "offers_2_07.xml").read_bytes()
    assert len(data) > LIMITS.file_limit  # so it travels in several pieces
    cookie = await login(client)
    assert await upload(client, cookie, "offers0_1.xml", data) == ["success"]
    assert await run_import(client, cookie, "offers0_1.xml") == ["success"]
    assert sink.packages == [parse_stock(data)]
    # the file is gone once imported
    assert await run_import(client, cookie, "offers0_1.xml") == [
        "failure",
        "no file 'offers0_1.xml' was uploaded in this session (after init)",
    ]


async def test_rests_in_a_subfolder_and_pictures_are_taken(client: TestClient[Any, Any], sink: FakeStockSink) -> None:
    cookie = await login(client)
    assert await upload(client, cookie, "import_files/ab/ab12_cd34.jpg", b"\xff\xd8 a picture") == ["success"]
    assert await upload(client, cookie, "import_files/rests0_1.xml", (DATA / "rests_2_10.xml").read_bytes()) == [
        "success"
    ]
    assert await run_import(client, cookie, "import_files/rests0_1.xml") == ["success"]
    assert [line.qty for line in sink.packages[0].lines] == [3, 1, 2, 1]


@pytest.mark.parametrize(
    "headers",
    [basic(password="wrong"), basic(user="other"), {}, {"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"}],
)
async def test_wrong_credentials_get_401_failure(client: TestClient[Any, Any], headers: dict[str, str]) -> None:
    response = await client.get(PATH, params={"type": "catalog", "mode": "checkauth"}, headers=headers)
    assert (await lines(response, 401))[0] == "failure"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


async def test_a_cyrillic_password_may_come_in_windows_1251(client: TestClient[Any, Any]) -> None:
    response = await client.get(
        PATH, params={"type": "catalog", "mode": "checkauth"}, headers=basic(encoding="windows-1251")
    )
    assert (await lines(response))[0] == "success"


@pytest.mark.parametrize("cookie", [{}, {"Cookie": f"{COOKIE_NAME}=made-up"}])
async def test_nothing_without_a_session(
    client: TestClient[Any, Any], sink: FakeStockSink, cookie: dict[str, str]
) -> None:
    for mode in ("init", "file", "import"):
        params = {"type": "catalog", "mode": mode, "filename": "offers0_1.xml"}
        answer = await lines(await client.post(PATH, params=params, data=b"<x/>", headers=cookie))
        assert answer == ["failure", "no exchange session (or it expired): start again with mode=checkauth"]
    assert sink.packages == []


async def test_a_session_expires_when_idle(client: TestClient[Any, Any], clock: FakeClock) -> None:
    cookie = await login(client)
    clock.advance(minutes=29)
    assert await upload(client, cookie, "offers0_1.xml", b"<a/>") == ["success"]  # a request keeps it alive
    clock.advance(minutes=31)
    assert (await upload(client, cookie, "offers0_1.xml", b"<a/>"))[0] == "failure"


async def test_a_malformed_file_is_refused_with_its_reason(client: TestClient[Any, Any], sink: FakeStockSink) -> None:
    cookie = await login(client)
    await upload(client, cookie, "offers0_1.xml", (DATA / "malformed.xml").read_bytes())
    answer = await run_import(client, cookie, "offers0_1.xml")
    assert answer[0] == "failure"
    assert answer[1].startswith("offers0_1.xml: the file is not well-formed XML")
    assert len(answer) == 2
    assert sink.packages == []


async def test_a_reason_in_russian_reaches_1c_in_windows_1251(client: TestClient[Any, Any]) -> None:
    cookie = await login(client)
    await upload(client, cookie, "offers0_1.xml", (DATA / "doctype.xml").read_bytes())
    bad_date = "<КоммерческаяИнформация ДатаФормирования='вчера'><ПакетПредложений/></КоммерческаяИнформация>"
    await upload(client, cookie, "offers0_2.xml", bad_date.encode())
    assert await run_import(client, cookie, "offers0_1.xml") == [
        "failure",
        "offers0_1.xml: the file declares a DOCTYPE, which CommerceML never does",
    ]
    assert await run_import(client, cookie, "offers0_2.xml") == [
        "failure",
        "offers0_2.xml: ДатаФормирования 'вчера' is not a date and time",
    ]


async def test_a_catalogue_and_a_prices_file_are_acknowledged_without_on_stock(
    client: TestClient[Any, Any], sink: FakeStockSink
) -> None:
    cookie = await login(client)
    prices = "<КоммерческаяИнформация><ПакетПредложений><Предложения/></ПакетПредложений></КоммерческаяИнформация>"
    await upload(client, cookie, "import0_1.xml", (DATA / "import.xml").read_bytes())
    await upload(client, cookie, "prices0_1.xml", prices.encode())
    assert await run_import(client, cookie, "import0_1.xml") == ["success"]
    assert await run_import(client, cookie, "prices0_1.xml") == ["success"]
    assert sink.packages == []


@pytest.mark.parametrize(
    "name", ["../offers.xml", "a/../../offers.xml", "/etc/offers.xml", "..", "c:\\offers.xml", "a\\..\\b.xml", ""]
)
async def test_an_unsafe_file_name_is_refused(client: TestClient[Any, Any], name: str) -> None:
    cookie = await login(client)
    reason = "the file name is missing, absolute, climbs out with '..' or has odd characters"
    assert await upload(client, cookie, name, b"<a/>") == ["failure", reason]
    assert await run_import(client, cookie, name) == ["failure", reason]


async def test_size_limits(client: TestClient[Any, Any]) -> None:
    cookie = await login(client)
    params = {"type": "catalog", "mode": "file", "filename": "offers0_1.xml"}
    too_big = await client.post(PATH, params=params, data=b"x" * (LIMITS.file_limit + 1), headers=cookie)
    assert await lines(too_big) == ["failure", "one upload may carry at most 2048 bytes (file_limit)"]
    for piece in range(6):  # 6 x 2048 = the session's 12 KiB
        assert await upload(client, cookie, f"offers0_{piece}.xml", b"x" * 2048) == ["success"]
    assert await upload(client, cookie, "offers0_9.xml", b"x") == [
        "failure",
        "the files of one exchange may total at most 12288 bytes",
    ]
    assert (await upload(client, cookie, "offers.zip", b"PK"))[0] == "failure"


async def test_init_forgets_earlier_uploads(client: TestClient[Any, Any]) -> None:
    cookie = await login(client)
    await upload(client, cookie, "offers0_1.xml", (DATA / "offers_2_07.xml").read_bytes())
    await client.get(PATH, params={"type": "catalog", "mode": "init"}, headers=cookie)
    assert (await run_import(client, cookie, "offers0_1.xml"))[0] == "failure"


async def test_on_stock_refusing_the_package_is_a_failure_with_its_reason(
    client: TestClient[Any, Any], sink: FakeStockSink
) -> None:
    cookie = await login(client)
    sink.refuse = CommerceMLError("1C warehouse brak-1c is not in the topology; nothing applied")
    await upload(client, cookie, "offers0_1.xml", (DATA / "offers_2_07.xml").read_bytes())
    assert await run_import(client, cookie, "offers0_1.xml") == [
        "failure",
        "offers0_1.xml: 1C warehouse brak-1c is not in the topology; nothing applied",
    ]
    sink.refuse = RuntimeError("database is locked")
    await upload(client, cookie, "offers0_1.xml", (DATA / "offers_2_07.xml").read_bytes())
    answer = await run_import(client, cookie, "offers0_1.xml")
    assert answer[0] == "failure" and "database" not in answer[1]


async def test_the_orders_exchange_gets_no_orders_and_may_not_upload(client: TestClient[Any, Any]) -> None:
    cookie = await login(client, kind="sale")
    query = await client.get(PATH, params={"type": "sale", "mode": "query"}, headers=cookie)
    assert query.status == 200
    assert query.headers["Content-Type"] == "application/xml; charset=windows-1251"
    document = (await query.read()).decode("windows-1251")
    assert "<КоммерческаяИнформация" in document and "<Документ>" not in document
    assert await lines(await client.get(PATH, params={"type": "sale", "mode": "success"}, headers=cookie)) == [
        "success"
    ]
    params = {"type": "sale", "mode": "file", "filename": "orders.xml"}
    assert (await lines(await client.post(PATH, params=params, data=b"<a/>", headers=cookie)))[0] == "failure"


async def test_an_unknown_type_or_mode_is_a_failure(client: TestClient[Any, Any]) -> None:
    assert (await lines(await client.get(PATH, params={"type": "x", "mode": "checkauth"})))[0] == "failure"
    cookie = await login(client)
    assert (await lines(await client.get(PATH, params={"type": "catalog", "mode": "x"}, headers=cookie)))[0] == (
        "failure"
    )


async def test_the_oldest_session_is_forgotten_past_the_limit(client: TestClient[Any, Any], clock: FakeClock) -> None:
    first = await login(client)
    for _ in range(LIMITS.sessions):
        clock.advance(seconds=1)
        await login(client)
    assert (await upload(client, first, "offers0_1.xml", b"<a/>"))[0] == "failure"


def test_an_exchange_needs_credentials() -> None:
    with pytest.raises(ValueError, match="login and a password"):
        register(web.Application(), path=PATH, user=USER, password="", on_stock=FakeStockSink())


@pytest.fixture
async def services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology, clock: FakeClock
) -> AsyncIterator[Services]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}")
    monkeypatch.setenv("STOREOPS_CONFIG", str(ROOT / "storeops.example.toml"))
    built = await build(load_settings(env_file=None), topology, clock=clock)
    try:
        yield built
    finally:
        await built.close()


async def test_intake_on_stock_applies_the_package_at_1c_time(services: Services, clock: FakeClock) -> None:
    on_stock = intake_on_stock(services.shop.intake)
    summary = await on_stock(parse_stock((DATA / "rests_2_10.xml").read_bytes()))
    # SKU-9 applied; the product without <Артикул> waits for 1C's catalogue (3 figures: 2 + 1 in two warehouses)
    assert summary["accepted"] == 1 and summary["totals_without_warehouse"] == 1
    assert summary["held_for_catalogue"] == 3
    assert services.shop.catalogue is not None
    await catalogue_on_import(services.shop.catalogue)(parse_catalogue((DATA / "import_rests_2_10.xml").read_bytes()))
    stock = await services.shop.ledger.stock("КР-7")  # the catalogue's article, characteristics summed
    assert {code: level.on_hand for code, level in stock.by_warehouse.items()} == {"online": 5, "tverskaya": 1}
    assert stock.by_warehouse["online"].as_of == datetime(2026, 11, 21, 8, 30, tzinfo=UTC)  # 11:30+03:00

    # offers_2_07.xml has no offset: read in [onec] timezone (Moscow), 11:30 → 08:30 UTC
    await on_stock(parse_stock((DATA / "offers_2_07.xml").read_bytes()))
    fridge = await services.shop.ledger.stock("УТ-0001365")
    assert {code: level.on_hand for code, level in fridge.by_warehouse.items()} == {"online": 2, "tverskaya": 31}
    assert fridge.by_warehouse["online"].as_of == datetime(2026, 11, 21, 8, 30, tzinfo=UTC)


async def test_intake_on_stock_refuses_a_package_with_an_unknown_warehouse(services: Services) -> None:
    app = web.Application()
    on_stock = intake_on_stock(services.shop.intake)
    register(app, path=PATH, user=USER, password=PASSWORD, on_stock=on_stock, clock=services.shop.clock, limits=LIMITS)
    xml = (DATA / "offers_2_07.xml").read_bytes().replace(b"5a1c7e20-4a24", b"00000000-0000")
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        cookie = await login(client)
        await upload(client, cookie, "offers0_1.xml", xml)
        answer = await run_import(client, cookie, "offers0_1.xml")
    assert answer == [
        "failure",
        "offers0_1.xml: 1 warehouse(s) not in the topology: '00000000-0000-11e0-af0f-0015e9b8c48d' (known: online, "
        "tverskaya, arbat); give each our warehouse's onec_id, or list it in [onec] ignore_warehouses; nothing applied",
    ]
    assert (await services.shop.ledger.stock("УТ-0001365")).by_warehouse == {}  # the known warehouses neither


async def _exchange(services: Services, xml: bytes) -> list[str]:
    app = web.Application()
    on_stock = intake_on_stock(services.shop.intake)
    register(app, path=PATH, user=USER, password=PASSWORD, on_stock=on_stock, clock=services.shop.clock, limits=LIMITS)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        cookie = await login(client)
        await upload(client, cookie, "offers0_1.xml", xml)
        return await run_import(client, cookie, "offers0_1.xml")


OFFERS = (DATA / "offers_2_07.xml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(('ДатаФормирования="2026-11-21T11:30:00"', 'ДатаФормирования="9999-12-31T23:59:59"'),
                     "as_of 9999-12-31T23:59:59+03:00 is ahead of our clock", id="from-the-future"),
        pytest.param(('КоличествоНаСкладе="2"', 'КоличествоНаСкладе="999999999999999"'),
                     "items.0.qty: quantity 999999999999999 is not within 0..2000000000", id="huge-quantity"),
        pytest.param(("<Артикул>УТ-0001365</Артикул>", "<Артикул>УТ-0001365\u200b</Артикул>"),
                     "items.0.sku: article 'УТ-0001365\\u200b': must not contain a format character (U+200B)",
                     id="zero-width-space"),
        pytest.param(("<Артикул>УТ-0001365</Артикул>", f"<Артикул>{'Я' * 300}</Артикул>"),
                     "items.0.sku", id="too-long-article"),
    ],
)  # fmt: skip
async def test_a_package_the_intake_refuses_is_a_failure_with_the_reason(
    services: Services, change: tuple[str, str], reason: str
) -> None:
    assert change[0] in OFFERS
    answer = await _exchange(services, OFFERS.replace(change[0], change[1]).encode("utf-8"))
    assert answer[0] == "failure" and reason in answer[1] and "nothing applied" in answer[1], answer
    assert (await services.shop.ledger.stock("УТ-0001365")).by_warehouse == {}


async def test_the_lines_of_one_product_s_characteristics_are_summed(services: Services) -> None:
    twice = OFFERS.replace("<Артикул> SKU-3 </Артикул>", "<Артикул>УТ-0001365</Артикул>")
    assert (await _exchange(services, twice.encode("utf-8")))[0] == "success"
    fridge = await services.shop.ledger.stock("УТ-0001365")
    assert {code: level.on_hand for code, level in fridge.by_warehouse.items()} == {
        "online": 2 + 4,
        "tverskaya": 31 + 2,
    }


async def test_the_service_serves_the_exchange_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the composition root: ONEC_EXCHANGE_USER/PASSWORD mount it at ONEC_EXCHANGE_PATH,
    1C's whole exchange lands in the ledger; without them the path is not there."""
    from app.http.server import create_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}")
    monkeypatch.setenv("ONEC_EXCHANGE_USER", "1c")
    monkeypatch.setenv("ONEC_EXCHANGE_PASSWORD", "exchange-secret-0001")
    from app.topology import load_topology

    services = await build(
        load_settings(env_file=None), load_topology(ROOT / "storeops.example.toml"), clock=FakeClock()
    )
    try:
        async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:
            auth = {"Authorization": "Basic " + base64.b64encode(b"1c:exchange-secret-0001").decode()}
            answer = await http.get("/1c_exchange.php", params={"type": "catalog", "mode": "checkauth"}, headers=auth)
            lines = (await answer.read()).decode("cp1251").splitlines()
            assert answer.status == 200 and lines[0] == "success"
            cookie = {"Cookie": f"{lines[1]}={lines[2]}"}
            await http.get("/1c_exchange.php", params={"type": "catalog", "mode": "init"}, headers=cookie)
            sample = (ROOT / "tests" / "data" / "commerceml" / "rests_2_10.xml").read_bytes()
            params = {"type": "catalog", "mode": "file", "filename": "rests.xml"}
            assert (await http.post("/1c_exchange.php", params=params, data=sample, headers=cookie)).status == 200
            params["mode"] = "import"
            done = await http.get("/1c_exchange.php", params=params, headers=cookie)
            assert (await done.read()).decode("cp1251").startswith("success")
        package = parse_stock(sample)
        with_article = [line for line in package.lines if line.onec_offer_id not in package.without_article]
        assert (await services.shop.ledger.stock(with_article[0].article)).by_warehouse
    finally:
        await services.close()


async def test_orders_go_to_1c_until_it_says_it_took_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """type=sale: query gives the orders whose lines are all held, in CommerceML with 1C's own
    warehouse ids; after 1C's success they are not sent again; an order still waiting for a
    store's answer waits."""
    import xml.etree.ElementTree as ET

    from app.http.server import create_app
    from app.topology import load_topology
    from workflows.model import StockFigure
    from workflows.orders import LineRequest, PlaceOrder

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'sale.db'}")
    monkeypatch.setenv("ONEC_EXCHANGE_USER", "1c")
    monkeypatch.setenv("ONEC_EXCHANGE_PASSWORD", "exchange-secret-0001")
    for key in ("SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    topology = load_topology(ROOT / "storeops.example.toml")
    services = await build(load_settings(env_file=None), topology, clock=FakeClock())
    try:
        now = services.shop.clock.now()
        await services.shop.ledger.apply_stock(
            now, [StockFigure("КР-7/2", "online", 5), StockFigure("LAMP", "tverskaya", 1)]
        )
        ready = (await services.shop.orders.place(PlaceOrder("site", "S-100", [LineRequest("КР-7/2", 2)]))).order
        waiting = (await services.shop.orders.place(PlaceOrder("site", "S-101", [LineRequest("LAMP", 1)]))).order
        async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:
            auth = {"Authorization": "Basic " + base64.b64encode(b"1c:exchange-secret-0001").decode()}
            lines = (await (await http.get("/1c_exchange.php", params={"type": "sale", "mode": "checkauth"},
                                           headers=auth)).read()).decode("cp1251").splitlines()  # fmt: skip
            cookie = {"Cookie": f"{lines[1]}={lines[2]}"}
            query = await http.get("/1c_exchange.php", params={"type": "sale", "mode": "query"}, headers=cookie)
            root = ET.fromstring(await query.read())
            documents = root.findall("Документ")
            assert [d.findtext("Номер") for d in documents] == ["S-100"]
            (item,) = documents[0].findall("Товары/Товар")
            assert (item.findtext("Артикул"), item.findtext("Количество")) == ("КР-7/2", "2")
            store, online = item.find("Склад"), topology.warehouse("online")
            assert store is not None and online is not None and store.get("Ид") == online.onec_id
            await http.get("/1c_exchange.php", params={"type": "sale", "mode": "success"}, headers=cookie)
            again = ET.fromstring(await (await http.get("/1c_exchange.php", params={"type": "sale", "mode": "query"},
                                                        headers=cookie)).read())  # fmt: skip
            assert again.findall("Документ") == []
        assert (await services.shop.orders.get(ready.id or 0)).history[-1].kind == "exported_to_1c"
        assert (await services.shop.orders.get(waiting.id or 0)).status.value == "awaiting_store_confirmation"
    finally:
        await services.close()
