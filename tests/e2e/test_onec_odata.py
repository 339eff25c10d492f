"""The 1C OData stock client, on the real ``httpx.AsyncClient``, against the 1C OData emulator over HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from emulators.onec import Item, OneCODataEmulator
from integrations.onec_odata import Balance, ODataStock, ODataUnavailable
from workflows.errors import UnknownWarehouse
from workflows.model import StockFigure
from workflows.onec_intake import OneCLine, resolve
from workflows.topology import Topology

USER, PASSWORD = "обмен", "s3cret-Пароль"
MAIN = "11111111-1111-1111-1111-111111111111"
STORE = "22222222-2222-2222-2222-222222222222"
STRANGER = "99999999-9999-9999-9999-999999999999"
ITEMS: list[Item] = [(f"ART-{n:02d}", f"0000{n:04d}-aaaa-bbbb-cccc-000000000000", MAIN, n) for n in range(1, 8)] + [
    ("ART-01", "00000001-aaaa-bbbb-cccc-000000000000", STORE, 3),
    ("ART-FRAC", "f0000000-aaaa-bbbb-cccc-000000000000", MAIN, Decimal("2.75")),
    ("ART-NEG", "e0000000-aaaa-bbbb-cccc-000000000000", STORE, -4),
    ("ART-01", "00000001-aaaa-bbbb-cccc-000000000000", STRANGER, 5),
]


@pytest.fixture
async def onec() -> AsyncIterator[OneCODataEmulator]:
    async with OneCODataEmulator(USER, PASSWORD, items=ITEMS) as emulator:
        yield emulator


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2) as http:
        yield http


def stock(onec: OneCODataEmulator, client: httpx.AsyncClient, *, password: str = PASSWORD) -> ODataStock:
    return ODataStock(client, base=onec.base, user=USER, password=password, page=3)


def topology(*ignored: str) -> Topology:
    return Topology.model_validate(
        {
            "warehouses": [
                {"code": "main", "kind": "online", "onec_id": MAIN},
                {"code": "store-1", "kind": "store", "onec_id": STORE.upper()},
            ],
            "channels": {"site": {"kind": "site", "serves": ["main", "store-1"]}},
            "onec": {"ignore_warehouses": list(ignored)},
        }
    )


async def test_balance_reads_every_page_and_resolves_articles(onec, client) -> None:
    result = await stock(onec, client).balance()

    assert sorted(result.balances, key=lambda b: (b.article, b.warehouse_onec_id)) == sorted(
        [Balance(f"ART-{n:02d}", MAIN, n) for n in range(1, 8)]
        + [
            Balance("ART-01", STORE, 3),
            Balance("ART-01", STRANGER, 5),
            Balance("ART-FRAC", MAIN, 2),
            Balance("ART-NEG", STORE, 0),
        ],
        key=lambda b: (b.article, b.warehouse_onec_id),
    )
    balance_calls = [c for c in onec.calls if c.entity.startswith("AccumulationRegister_ТоварыНаСкладах/Balance")]
    assert [c.query["$skip"] for c in balance_calls] == ["0", "3", "6", "9"]  # 11 rows, pages of 3
    assert all(c.query["$top"] == "3" and c.query["$format"] == "json" for c in balance_calls)
    assert balance_calls[0].params == {"Dimensions": "'Номенклатура,Склад'"}
    catalog_calls = [c for c in onec.calls if c.entity == "Catalog_Номенклатура"]
    assert len(catalog_calls) == 4  # 9 items: three full pages, then an empty one
    assert catalog_calls[0].query["$select"] == "Ref_Key,Артикул"


async def test_fractional_and_negative_quantities_are_warned(onec, client) -> None:
    result = await stock(onec, client).balance()

    assert len(result.warnings) == 2
    fraction, negative = sorted(result.warnings)
    assert "ART-FRAC" in fraction and "2.75" in fraction and "counted as 2" in fraction
    assert "ART-NEG" in negative and "negative" in negative and "counted as 0" in negative


async def test_period_is_sent_in_1c_local_time_and_set_qty_shows(onec, client) -> None:
    onec.set_qty("ART-02", MAIN, 40)
    onec.set_qty("ART-NEW", STORE, 1)

    result = await stock(onec, client).balance(datetime(2026, 1, 31, 20, 59, 59, 500, tzinfo=UTC))

    assert Balance("ART-02", MAIN, 40) in result.balances and Balance("ART-NEW", STORE, 1) in result.balances
    assert onec.calls[0].params["Period"] == "datetime'2026-01-31T23:59:59'"  # Europe/Moscow


async def test_item_without_article_is_left_out_with_a_warning(client) -> None:
    items = [("", "abcd0000-aaaa-bbbb-cccc-000000000000", MAIN, 1), ("ART-1", "abcd0001-aaaa-bbbb-cccc-0", MAIN, 2)]
    async with OneCODataEmulator(USER, PASSWORD, items=items) as onec:
        result = await stock(onec, client).balance()
    assert result.balances == [Balance("ART-1", MAIN, 2)]
    assert result.warnings == [
        f"item abcd0000-aaaa-bbbb-cccc-000000000000 has no article (Артикул); its stock in {MAIN} is left out"
    ]


async def test_the_register_meets_the_intake_rules(onec, client) -> None:
    lines = [OneCLine(b.article, b.warehouse_onec_id, b.qty) for b in (await stock(onec, client).balance()).balances]

    with pytest.raises(UnknownWarehouse, match=STRANGER):  # a 1C warehouse we neither know nor ignore
        resolve(lines, topology())
    figures = resolve(lines, topology(STRANGER))

    assert StockFigure("ART-01", "main", 1) in figures and StockFigure("ART-01", "store-1", 3) in figures
    assert StockFigure("ART-NEG", "store-1", 0) in figures
    assert len(figures) == 10


async def test_wrong_password_is_a_login_reason_and_never_shows_the_password(onec, client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ODataUnavailable) as caught:
        await stock(onec, client, password="wrong-Пароль-42").balance()

    assert caught.value.reason == "wrong 1C login or password"
    assert onec.calls[-1].status == 401 and onec.calls[-1].authorized
    assert "wrong-Пароль-42" not in str(caught.value) and "wrong-Пароль-42" not in caplog.text


async def test_server_error_carries_1c_message_then_recovers(onec, client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    onec.fail_with(500, "Ошибка СУБД:\n  база данных недоступна")
    with pytest.raises(ODataUnavailable) as caught:
        await stock(onec, client).balance()
    assert caught.value.reason == "1C answered HTTP 500: Ошибка СУБД: база данных недоступна"

    onec.recover()
    result = await stock(onec, client).balance()
    assert len(result.balances) == 11
    assert PASSWORD not in caplog.text and PASSWORD not in repr(caught.value)


async def test_unknown_register_is_an_odata_error(onec, client) -> None:
    wrong = ODataStock(client, base=onec.base, user=USER, password=PASSWORD, register="СвободныеОстатки")
    with pytest.raises(ODataUnavailable, match=r"^1C answered HTTP 404: Не найден ресурс"):
        await wrong.balance()


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), "1C's answer is not JSON"),
        (httpx.Response(200, json={"value": {"no": "list"}}), "has no list of rows"),
        (
            httpx.Response(200, json={"odata.error": {"code": "-1", "message": {"lang": "ru", "value": "Нет прав"}}}),
            "Нет прав",
        ),
        (httpx.Response(502, text="<html>Bad gateway</html>"), "1C answered HTTP 502$"),
    ],
)
async def test_malformed_answers_are_unavailable(response, reason) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda request: response)) as http:
        odata = ODataStock(http, base="http://1c/trade", user=USER, password=PASSWORD)
        with pytest.raises(ODataUnavailable, match=reason):
            await odata.balance()


async def test_timeout_is_unavailable() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as http:
        odata = ODataStock(http, base="http://1c/trade", user=USER, password=PASSWORD)
        with pytest.raises(ODataUnavailable, match="did not answer in time"):
            await odata.balance()


async def test_the_service_pulls_1c_s_register_when_configured(
    onec: OneCODataEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the composition root: ONEC_ODATA_* build the pull; one run puts 1C's balance in
    the ledger (the 1C warehouse the shop ignores left out); a wrong password raises the owner's alert."""
    from app.bootstrap import build
    from app.settings import load_settings
    from tests.fakes import FakeClock

    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'odata.db'}", "ONEC_ODATA_URL": onec.base,
           "ONEC_ODATA_USER": USER, "ONEC_ODATA_PASSWORD": PASSWORD}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    services = await build(load_settings(env_file=None), topology(STRANGER), clock=FakeClock())
    try:
        assert services.shop.onec_pull is not None
        result = await services.shop.onec_pull.run()
        assert result.failed is None and result.applied == 10
        art = await services.shop.ledger.stock("ART-01")
        assert {code: level.on_hand for code, level in art.by_warehouse.items()} == {"main": 1, "store-1": 3}
        onec.fail_with(401, "Не удалось авторизоваться")
        assert (await services.shop.onec_pull.run()).failed == "wrong 1C login or password"
        async with services.shop.uow(read_only=True) as work:
            assert await work.alerts.open_for("onec_pull_failing") is not None
    finally:
        await services.close()
