"""The dashboard's order search in a real browser against the real service (its HTTP app from the composition
root on SQLite): a manager types a site's order number in any case, or a client's phone however written, and
sees each order's status and why it waits — the call check holding an order that reads "reserved" — and its
history on a click, in Russian."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from app.bootstrap import build
from app.http.server import create_app
from app.settings import load_settings
from app.topology import load_topology
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_http_api import NOW

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the session's browser lives on that loop
TOKEN = "browser-token-0a1b-2c3d"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PHONE = "+79161234567"


@pytest_asyncio.fixture(loop_scope="session")
async def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, int | str]]:
    """The service on a loopback port with three site orders: one held for the call check, one asking a store,
    one waiting for its payment; the names of their ids, and ``url``."""
    for key, value in {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dash.db'}", "API_TOKEN": TOKEN,
                       "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml")}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    services = await build(load_settings(env_file=None), load_topology(ROOT / "storeops.example.toml"),
                           clock=FakeClock(NOW))  # fmt: skip
    server = TestServer(create_app(services), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    try:
        async with ClientSession(url, headers=AUTH) as http:
            yield {"url": url, **await _seed(http)}
    finally:
        await server.close()
        await services.close()


async def _seed(http: ClientSession) -> dict[str, int]:
    stock = {"as_of": "2026-11-21T12:00:00+03:00", "items": [
        {"sku": "КР-7/2", "warehouse": "online", "qty": 5}, {"sku": "ЧАЙНИК-1", "warehouse": "tverskaya", "qty": 1}]}  # fmt: skip
    assert (await http.post("/api/1c/stock", json=stock)).status == 200
    ids: dict[str, int] = {}
    for name, number, sku, phone, total in [
        ("held", "SITE-3-abf6", "КР-7/2", "+79160000003", "500000.00"),
        ("store", "SITE-5-9c0d", "ЧАЙНИК-1", PHONE, "3490.00"),
        ("unpaid", "SITE-6-e1f2", "КР-7/2", PHONE, "990.00"),
    ]:
        body = {"channel": "site", "external_id": number, "lines": [{"sku": sku, "qty": 1}], "total": total,
                "customer": {"name": "Ирина", "phone": phone, "email": f"{number}@example.ru"}}  # fmt: skip
        response = await http.post("/api/orders", json=body)
        assert response.status == 201, await response.text()
        ids[name] = int((await response.json())["order_id"])
    payment = {"event_id": "e1", "payment_id": "p1", "order_id": ids["held"], "idempotency_key": "k1",
               "phase": "authorized", "amount": "500000.00", "currency": "RUB"}  # fmt: skip
    assert (await http.post("/api/payments/events", json=payment)).status == 202
    return ids


async def _search(page: Page, typed: str) -> None:
    await page.get_by_test_id("order-search-input").fill(typed)
    await page.get_by_test_id("order-search-input").press("Enter")


async def test_a_manager_finds_an_order_by_its_site_number_and_by_the_phone(
    page: Page, service: dict[str, Any]
) -> None:
    held, store, unpaid = service["held"], service["store"], service["unpaid"]
    await page.goto(f"{service['url']}/dashboard#token={TOKEN}")
    panel = page.get_by_test_id("order-search")
    await expect(panel).to_contain_text("Поиск заказа")

    await _search(page, "site-3-ABF6")  # the number as the buyer reads it out, in any case
    rows = panel.locator("tbody tr")
    await expect(rows).to_have_count(1)
    found = page.get_by_test_id(f"order-found-{held}")
    await expect(found).to_contain_text("SITE-3-abf6")
    await expect(found).to_contain_text("зарезервирован")  # the status alone would say nothing more …
    waiting = page.get_by_test_id(f"order-waiting-{held}")  # … the sentence says it is held, and why
    await expect(waiting).to_contain_text("Задержан до проверки звонком")
    await expect(waiting).to_contain_text("деньги тратить нельзя")
    await expect(found).to_have_class("order-find-row held")

    await found.click()
    history = page.get_by_test_id(f"order-find-history-{held}")
    await expect(history).to_contain_text("Заказ получен: Сайт, 1\u00a0строка")
    await expect(history).to_contain_text("Открыта проверка звонком")
    await found.click()
    await expect(history).to_have_count(0)

    await _search(page, "8 (916) 123-45-67")  # the client's phone, written another way
    await expect(rows).to_have_count(2)
    await expect(page.get_by_test_id(f"order-waiting-{store}")).to_contain_text("Спросили магазин Тверская до 15:")
    await expect(page.get_by_test_id(f"order-waiting-{unpaid}")).to_contain_text("Ждём, пока оплата будет списана")
    await expect(page.get_by_test_id(f"order-found-{held}")).to_have_count(0)

    await _search(page, "SITE-404")
    await expect(page.get_by_test_id("order-search-none")).to_have_text("Ничего не нашлось.")


async def test_an_empty_search_pages_through_the_newest_orders(page: Page, service: dict[str, Any]) -> None:
    await page.goto(f"{service['url']}/dashboard#token={TOKEN}")
    await page.get_by_test_id("order-search-submit").click()
    rows = page.get_by_test_id("order-search").locator("tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_contain_text("SITE-6-e1f2")  # newest first
    await expect(page.get_by_test_id("order-search-more")).to_have_count(0)  # one page holds them
