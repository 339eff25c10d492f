"""``GET /api/orders`` over real HTTP on SQLite and PostgreSQL: each filter, keyset paging that stays stable while
orders arrive, refusals that name the parameter, and the sentence saying why each order waits — every answer
checked against the published schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient

from app.bootstrap import Services, build
from app.settings import load_settings
from storage.schema import metadata
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_http_api import AUTH, NOW, TOKEN
from tests.integration.test_openapi import Conformance
from tests.serving import json_of, served
from workflows.topology import Topology

PATH = "/api/orders"
PHONE = "+79161234567"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> AsyncIterator[tuple[TestClient[Any, Any], Services, Conformance]]:
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    monkeypatch.setenv("DATABASE_URL", sqlite if request.param == "sqlite" else request.getfixturevalue("pg_url"))
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("STOREOPS_CONFIG", str(ROOT / "storeops.example.toml"))
    built = await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))
    async with built.database.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())
    try:
        async with served(built) as client:
            document = await (await client.get("/api/openapi.json")).json()
            yield client, built, Conformance(document)
    finally:
        await built.close()


async def _stock(client: TestClient[Any, Any], *items: tuple[str, str, int]) -> None:
    body = {"as_of": "2026-11-21T12:00:00+03:00", "items": [{"sku": s, "warehouse": w, "qty": q} for s, w, q in items]}
    await json_of(await client.post("/api/1c/stock", json=body, headers=AUTH), 200)


async def _place(
    client: TestClient[Any, Any], external_id: str, sku: str = "A", *, channel: str = "site",
    phone: str = PHONE, total: str = "990.00",
) -> int:  # fmt: skip
    body = {"channel": channel, "external_id": external_id, "lines": [{"sku": sku, "qty": 1}], "total": total,
            "customer": {"name": "Ирина", "phone": phone, "email": f"{external_id}@example.ru"}}  # fmt: skip
    return int((await json_of(await client.post(PATH, json=body, headers=AUTH), 201))["order_id"])


async def _list(api: tuple[TestClient[Any, Any], Services, Conformance], **query: Any) -> dict[str, Any]:
    client, _, conformance = api
    response = await client.get(f"{PATH}?{urlencode(query)}" if query else PATH, headers=AUTH)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await conformance.check(response, "GET", PATH)
    return body


def _ids(page: dict[str, Any]) -> list[int]:
    return [order["order_id"] for order in page["orders"]]


async def test_any_number_an_order_is_known_by_finds_it(
    api: tuple[TestClient[Any, Any], Services, Conformance],
) -> None:
    client, _, _ = api
    await _stock(client, ("A", "online", 50))
    wanted = await _place(client, "SITE-3-abf6")
    other = await _place(client, "SITE-4-0000", phone="+79990000001")
    market = await _place(client, "wb-77", channel="wildberries", phone="8 (916) 123-45-67")

    assert _ids(await _list(api, q="SITE-3-ABF6")) == [wanted]  # the channel's number in any case
    assert _ids(await _list(api, q=" №site-3-abf6 ")) == [wanted]
    assert _ids(await _list(api, q=str(other))) == [other]  # our id
    assert _ids(await _list(api, q="WB-77")) == [market]
    assert _ids(await _list(api, q="+7 916 123-45-67")) == [market, wanted]  # the phone, however written
    assert _ids(await _list(api, q="SITE-404")) == []
    found = (await _list(api, q="site-3-abf6"))["orders"][0]
    assert found["channel"] == "site" and found["external_id"] == "SITE-3-abf6"
    assert found["channel_title"] == "Сайт"  # what the page shows
    assert found["status"] == "reserved" and found["total"] == "990.00" and found["ship_by"] is None
    assert found["created_at"] == NOW.isoformat()


async def test_each_filter_narrows_the_list(api: tuple[TestClient[Any, Any], Services, Conformance]) -> None:
    client, services, _ = api
    clock = services.shop.clock
    assert isinstance(clock, FakeClock)
    await _stock(client, ("A", "online", 50), ("STORE-ONLY", "tverskaya", 1))
    first = await _place(client, "S-1")
    clock.advance(hours=1)
    waits = await _place(client, "S-2", "STORE-ONLY")
    missing = await _place(client, "S-3", "NOWHERE")
    clock.advance(hours=1)
    market = await _place(client, "WB-1", channel="wildberries")
    await json_of(await client.post(f"{PATH}/{first}/cancel", json={"reason": "дубль"}, headers=AUTH), 200)

    assert _ids(await _list(api)) == [market, missing, waits, first]
    assert _ids(await _list(api, channel="wildberries")) == [market]
    assert _ids(await _list(api, channel="site")) == [missing, waits, first]
    assert _ids(await _list(api, status="cancelled")) == [first]
    assert _ids(await _list(api, status="reserved")) == [market]
    assert _ids(await _list(api, status="awaiting_store_confirmation")) == [waits]
    assert _ids(await _list(api, status="out_of_stock")) == [missing]
    assert _ids(await _list(api, status="partially_reserved")) == []
    hour = NOW + timedelta(hours=1)
    assert _ids(await _list(api, since=hour.isoformat())) == [market, missing, waits]
    assert _ids(await _list(api, until=hour.isoformat())) == [first]
    assert _ids(await _list(api, since=hour.isoformat(), until=(hour + timedelta(minutes=1)).isoformat())) == [
        missing, waits]  # fmt: skip
    assert _ids(await _list(api, since="2026-11-21T16:00:00")) == [market, missing, waits]  # no offset: Moscow
    assert _ids(await _list(api, channel="site", status="out_of_stock", q="s-3")) == [missing]
    assert _ids(await _list(api, channel="wildberries", q="s-3")) == []


async def test_paging_is_stable_while_orders_arrive(api: tuple[TestClient[Any, Any], Services, Conformance]) -> None:
    client, _, _ = api
    await _stock(client, ("A", "online", 50))
    placed = [await _place(client, f"P-{n}") for n in range(7)]

    first = await _list(api, limit=3)
    assert _ids(first) == placed[::-1][:3] and first["next_cursor"]
    await _place(client, "P-new")  # arrives between the pages: it shifts nothing
    second = await _list(api, limit=3, cursor=first["next_cursor"])
    assert _ids(second) == placed[::-1][3:6]
    third = await _list(api, limit=3, cursor=second["next_cursor"])
    assert _ids(third) == placed[:1] and third["next_cursor"] is None
    assert len(_ids(await _list(api))) == 8  # 20 by default
    exact = await _list(api, limit=8)
    assert len(_ids(exact)) == 8 and exact["next_cursor"] is None  # a full last page says it is the last
    filtered = await _list(api, limit=2, q=PHONE)
    rest = await _list(api, limit=2, q=PHONE, cursor=filtered["next_cursor"])
    assert set(_ids(filtered)).isdisjoint(_ids(rest)) and len(_ids(rest)) == 2


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"), ({"limit": "-1"}, "limit"),
        ({"status": "shipped"}, "status"), ({"channel": "amazon"}, "channel"), ({"since": "yesterday"}, "since"),
        ({"until": "0001-01-01T00:00:00+14:00"}, "until"), ({"cursor": "not-ours"}, "cursor"),
        ({"cursor": "YmVmb3JlOng"}, "cursor"), ({"q": "1" * 101}, "q"), ({"q": "WB\x00"}, "q"),
    ],
)  # fmt: skip
async def test_a_bad_parameter_is_a_400_naming_it(
    api: tuple[TestClient[Any, Any], Services, Conformance], query: dict[str, str], name: str
) -> None:
    client, _, conformance = api
    response = await client.get(f"{PATH}?{urlencode(query)}", headers=AUTH)
    answer = await conformance.check(response, "GET", PATH)
    assert response.status == 400 and answer["error"] == "invalid_request"
    assert answer["details"] == [{"field": name, "problem": answer["message"].removeprefix(f"{name} ")}]


async def test_a_parameter_given_twice_is_refused(api: tuple[TestClient[Any, Any], Services, Conformance]) -> None:
    client, _, _ = api
    answer = await json_of(await client.get(f"{PATH}?status=reserved&status=cancelled", headers=AUTH), 400)
    assert answer["details"][0]["field"] == "status"


async def test_each_order_says_why_it_waits(api: tuple[TestClient[Any, Any], Services, Conformance]) -> None:
    client, _, _ = api
    await _stock(client, ("A", "online", 50), ("STORE-ONLY", "tverskaya", 1))
    unpaid = await _place(client, "SITE-1-aaaa")
    store = await _place(client, "SITE-2-bbbb", "STORE-ONLY")
    held = await _place(client, "SITE-3-abf6", phone="+79160000003", total="500000.00")
    payment = {"event_id": "e1", "payment_id": "p1", "order_id": held, "idempotency_key": "k1",
               "phase": "authorized", "amount": "500000.00", "currency": "RUB"}  # fmt: skip
    outcome = await json_of(await client.post("/api/payments/events", json=payment, headers=AUTH), 202)
    assert outcome["fraud_check_task"] is not None

    orders = {o["order_id"]: o for o in (await _list(api))["orders"]}
    assert orders[held]["status"] == "reserved" and orders[held]["shipping_hold"] == "fraud_check"
    assert orders[held]["waiting_reason"] == "fraud_check" and orders[held]["may_spend"] is False
    assert "проверки звонком" in orders[held]["waiting"] and "деньги тратить нельзя" in orders[held]["waiting"]
    assert orders[store]["waiting_reason"] == "store_answer"
    assert orders[store]["waiting"].startswith("Спросили магазин Тверская до 15:")  # shop time, HH:MM
    assert orders[unpaid]["waiting_reason"] == "payment"
    assert orders[unpaid]["waiting"].startswith("Ждём, пока оплата будет списана")  # a new client: cleared


async def test_the_order_history_comes_worded(api: tuple[TestClient[Any, Any], Services, Conformance]) -> None:
    client, _, conformance = api
    await _stock(client, ("A", "online", 5))
    order_id = await _place(client, "SITE-9")
    response = await client.get(f"{PATH}/{order_id}", headers=AUTH)
    order = await conformance.check(response, "GET", f"{PATH}/{{order_id}}")
    assert [entry["text"] for entry in order["history"]] == [
        "Заказ получен: Сайт, 1\xa0строка", "Строка 1: A × 1 зарезервирован на складе Интернет-склад"]  # fmt: skip
