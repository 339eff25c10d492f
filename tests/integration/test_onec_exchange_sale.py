"""1C's order documents over the exchange (``type=sale``), as 1C's module drives it: checkauth, init, the file in
pieces, import — on the service itself, and on the protocol alone for its two ways of ending an upload."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from app.bootstrap import build
from app.http.onec_exchange import ExchangeLimits, register
from app.settings import load_settings
from integrations.commerceml_orders import OrderDocuments, parse_order_documents
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_onec_exchange import PASSWORD, USER, basic, lines
from workflows.model import Customer, StockFigure
from workflows.office_model import Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent

DATA = Path(__file__).resolve().parent.parent / "data" / "commerceml"
PATH = "/1c_exchange.php"
LIMIT = 2048  # 1C's pieces: the files here travel in two


def documents_of(paid: int, cancelled: int) -> bytes:
    """1C's answer, shaped as the real 1C file is: the first order paid and shipped, the second cancelled."""

    def document(order_id: int, values: dict[str, str]) -> str:
        requisites = "".join(
            f"<ЗначениеРеквизита><Наименование>{name}</Наименование><Значение>{value}</Значение></ЗначениеРеквизита>"
            for name, value in values.items()
        )
        return (
            f"<Документ><Ид>{order_id}</Ид><ПометкаУдаления>false</ПометкаУдаления><Номер>S-{order_id}</Номер>"
            f"<Номер1С>ТДЦУ-00000{order_id}</Номер1С><ХозОперация>Заказ товара</ХозОперация>"
            "<Контрагенты><Контрагент><Наименование>Иван Петров</Наименование></Контрагент></Контрагенты>"
            f"<ЗначенияРеквизитов>{requisites}</ЗначенияРеквизитов>"
            f"<Товары><Товар><Ид>КР-7/2</Ид><Наименование>{'Кресло офисное, ' * 30}</Наименование></Товар></Товары>"
            "</Документ>"
        )

    paid_values = {"Проведен": "true", "Номер оплаты по 1С": "ТДЦУ-000201", "Дата оплаты по 1С": "2026-12-02T09:15:00",
                   "Номер отгрузки по 1С": "ТДЦУ-000301", "Дата отгрузки по 1С": "2026-12-02T11:00:00"}  # fmt: skip
    text = (
        '<?xml version="1.0" encoding="windows-1251"?>\n'
        '<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.09" ДатаФормирования="2026-12-02T12:00:00">'
        + document(paid, paid_values)
        + document(cancelled, {"Проведен": "false", "Отменен": "true"})
        + document(987654, {"Отменен": "true"})  # an order the site does not know
        + "</КоммерческаяИнформация>"
    )
    return text.encode("windows-1251")


async def test_1c_s_order_documents_mark_paid_shipped_and_cancel_through_the_whole_exchange(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service sends two orders (with the client's contacts and whether they are paid), 1C answers with its
    documents in two pieces: one order is paid and shipped in its history, the other cancelled with its stock freed;
    the same file once more, in a new exchange, changes nothing."""
    from app.http.server import create_app
    from app.topology import load_topology

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'sale.db'}")
    monkeypatch.setenv("ONEC_EXCHANGE_USER", "1c")
    monkeypatch.setenv("ONEC_EXCHANGE_PASSWORD", "exchange-secret-0001")
    monkeypatch.setenv("ONEC_EXCHANGE_FILE_LIMIT_BYTES", str(LIMIT))
    for key in ("SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    services = await build(
        load_settings(env_file=None), load_topology(ROOT / "storeops.example.toml"), clock=FakeClock()
    )
    shop = services.shop
    try:
        await shop.ledger.apply_stock(shop.clock.now(), [StockFigure("КР-7/2", "online", 5)])
        ivan = Customer("Иван Петров", "+7 916 123-45-67", "ivan@example.ru")
        placed = [(await shop.orders.place(PlaceOrder("site", n, [LineRequest("КР-7/2", 2)], ivan))).order for n in
                  ("S-1", "S-2")]  # fmt: skip
        paid, cancelled = (order.id or 0 for order in placed)
        await shop.payments.record(PaymentEvent("e1", "p1", paid, "idem-1", Phase.CLEARED, Decimal(5000), "RUB"))
        auth = {"Authorization": "Basic " + base64.b64encode(b"1c:exchange-secret-0001").decode()}
        async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:

            async def get(mode: str, cookie: dict[str, str], **params: str) -> list[str]:
                query = {"type": "sale", "mode": mode, **params}
                return (await (await http.get(PATH, params=query, headers=cookie)).read()).decode("cp1251").split("\n")

            async def exchange() -> list[str]:
                answer = await get("checkauth", auth)
                cookie = {"Cookie": f"{answer[1]}={answer[2]}"}
                assert await get("init", cookie, version="2.09") == ["zip=no", f"file_limit={LIMIT}"]
                file = documents_of(paid, cancelled)
                assert LIMIT < len(file) < 2 * LIMIT  # two pieces
                answers = []
                for start in range(0, len(file), LIMIT):
                    params = {"type": "sale", "mode": "file", "filename": "documents___0a1b.xml"}
                    piece = await http.post(PATH, params=params, data=file[start : start + LIMIT], headers=cookie)
                    answers.append((await piece.read()).decode("cp1251"))
                assert answers == ["success", "success"]
                return await get("import", cookie, filename="documents___0a1b.xml")

            answer = await get("checkauth", auth)
            cookie = {"Cookie": f"{answer[1]}={answer[2]}"}
            sent = ET.fromstring(await (await http.get(PATH, params={"type": "sale", "mode": "query"},
                                                       headers=cookie)).read())  # fmt: skip
            assert [d.findtext("Ид") for d in sent.findall("Документ")] == [str(paid), str(cancelled)]
            assert [d.findtext("ЗначенияРеквизитов/ЗначениеРеквизита[Наименование='Заказ оплачен']/Значение")
                    for d in sent.findall("Документ")] == ["true", "false"]  # fmt: skip
            assert await get("success", cookie) == ["success"]

            assert await exchange() == ["success"]
            assert (await shop.ledger.stock("КР-7/2")).reserved == 2
            again = await exchange()
            assert again == ["success"]
        history = [event.kind for event in (await shop.orders.get(paid)).history]
        assert history.count("paid_in_1c") == 1 and history.count("shipped_in_1c") == 1
        assert (await shop.orders.get(cancelled)).status.value == "cancelled"
        assert [e.kind for e in (await shop.orders.get(cancelled)).history].count("cancelled") == 1
        assert (await shop.ledger.stock("КР-7/2")).reserved == 2
    finally:
        await services.close()


class DocumentSink:
    """``on_documents``: records every package."""

    def __init__(self) -> None:
        self.packages: list[OrderDocuments] = []

    async def __call__(self, package: OrderDocuments) -> Mapping[str, object]:
        self.packages.append(package)
        return {"documents": len(package.documents)}


@pytest.fixture
def sink() -> DocumentSink:
    return DocumentSink()


@pytest.fixture
async def client(sink: DocumentSink, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    limits = ExchangeLimits(file_limit=LIMIT, session_bytes=8 * LIMIT)
    register(app, path=PATH, user=USER, password=PASSWORD, on_stock=_no_stock, clock=clock, limits=limits,
             on_documents=sink)  # fmt: skip
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def _no_stock(package: object) -> Mapping[str, object]:
    raise AssertionError("an orders exchange hands over no stock")


async def session(client: TestClient[Any, Any]) -> dict[str, str]:
    answer = await lines(await client.get(PATH, params={"type": "sale", "mode": "checkauth"}, headers=basic()))
    cookie = {"Cookie": f"{answer[1]}={answer[2]}"}
    assert await lines(await client.get(PATH, params={"type": "sale", "mode": "init"}, headers=cookie)) == [
        "zip=no",
        f"file_limit={LIMIT}",
    ]
    return cookie


async def send(client: TestClient[Any, Any], cookie: dict[str, str], mode: str, data: bytes = b"") -> list[str]:
    params = {"type": "sale", "mode": mode, "filename": "orders.xml"}
    if mode == "file":
        return await lines(await client.post(PATH, params=params, data=data, headers=cookie))
    return await lines(await client.get(PATH, params=params, headers=cookie))


async def test_the_older_protocol_applies_the_file_at_its_last_piece(
    client: TestClient[Any, Any], sink: DocumentSink
) -> None:
    """No import follows in Bitrix's older protocol: the short last piece applies the file; an import that does
    follow is answered success without applying it twice."""
    data = (DATA / "documents_1251.xml").read_bytes()
    assert LIMIT < len(data) < 2 * LIMIT
    cookie = await session(client)
    assert await send(client, cookie, "file", data[:LIMIT]) == ["success"]
    assert sink.packages == []  # a full piece: more may come
    assert await send(client, cookie, "file", data[LIMIT:]) == ["success"]
    assert sink.packages == [parse_order_documents(data)]
    assert await send(client, cookie, "import") == ["success"]
    assert len(sink.packages) == 1


async def test_a_file_of_whole_pieces_waits_for_its_import(client: TestClient[Any, Any], sink: DocumentSink) -> None:
    data = (DATA / "documents_1251.xml").read_bytes()
    data = data.replace(b"</\xca\xee\xec\xec", b" " * (2 * LIMIT - len(data)) + b"</\xca\xee\xec\xec")  # </Комм…
    assert len(data) == 2 * LIMIT
    cookie = await session(client)
    assert await send(client, cookie, "file", data[:LIMIT]) == await send(client, cookie, "file", data[LIMIT:])
    assert sink.packages == []
    assert await send(client, cookie, "import") == ["success"]
    assert sink.packages == [parse_order_documents(data)]


async def test_a_malformed_file_is_refused_with_its_reason_and_hands_nothing_over(
    client: TestClient[Any, Any], sink: DocumentSink
) -> None:
    cookie = await session(client)
    answer = await send(client, cookie, "file", (DATA / "documents_malformed.xml").read_bytes())
    assert answer[0] == "failure" and answer[1].startswith("orders.xml: the file is not well-formed XML")
    assert sink.packages == []
    assert (await send(client, cookie, "import"))[0] == "failure"  # nothing is left to import
