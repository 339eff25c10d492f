"""``POST /api/1c/prices``: 1C's prices per price type as one upload, over HTTP with the API token: queued for the
channels that sell at that type at their markup and rounding, a big drop held for the managers, a bad item refused
with its field named and nothing applied."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from app.bootstrap import Services
from tests.integration.test_http_api import AUTH, client, services
from tests.serving import json_of

__all__ = ["client", "services"]  # the fixtures, shared with the API's other tests


def upload(*items: tuple[str, str, str]) -> dict[str, Any]:
    return {"items": [{"sku": sku, "price_type": kind, "price": price} for sku, kind, price in items]}


async def waiting(services: Services, channel: str, sku: str) -> int | None:
    async with services.shop.uow(read_only=True) as work:
        return (await work.price_outbox.known(channel, [sku])).get(sku)


async def test_prices_are_queued_for_every_channel_at_its_markup(
    client: TestClient[Any, Any], services: Services
) -> None:
    body = upload(("КР-7/2", "Розничная", "1990.00"), ("ВАЗА", "Розничная", "350.5"), ("КР-7/2", "Оптовая", "1500"))
    answer = await json_of(await client.post("/api/1c/prices", json=body, headers=AUTH), 200)
    assert answer["received"] == 3 and answer["unused_types"] == ["Оптовая"] and answer["held"] == {}
    assert answer["queued"] == {"site": 2, "wildberries": 2, "ozon": 2, "yandex_market": 2}
    assert await waiting(services, "site", "КР-7/2") == 1990_00
    assert await waiting(services, "wildberries", "КР-7/2") == 2289_00  # +15 %, whole roubles: 2288.50 → 2289
    assert await waiting(services, "ozon", "ВАЗА") == 386_00  # +10 %: 385.55 → 386


async def test_a_bad_item_is_refused_by_field_and_nothing_is_applied(
    client: TestClient[Any, Any], services: Services
) -> None:
    for bad, field in [
        (upload(("КР-7/2", "Розничная", "0")), "items.0.price"),
        (upload(("КР-7/2", "Розничная", "12.345")), "items.0.price"),
        (upload(("КР-7/2", "", "10")), "items.0.price_type"),
        (upload(("КР\u200b7", "Розничная", "10")), "items.0.sku"),
        ({"items": []}, "items"),
    ]:
        response = await json_of(await client.post("/api/1c/prices", json=bad, headers=AUTH), 422)
        assert response["error"] == "invalid_request" and [d["field"] for d in response["details"]] == [field]
    assert await waiting(services, "site", "КР-7/2") is None


async def test_prices_need_the_token(client: TestClient[Any, Any]) -> None:
    await json_of(await client.post("/api/1c/prices", json=upload(("A", "Розничная", "1"))), 401)
