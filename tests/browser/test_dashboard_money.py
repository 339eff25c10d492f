"""The dashboard's money panel in a real browser on a phone (390 px), in Russian and English, against the real
service (its HTTP app from the composition root on SQLite): absent while no order has money; once an order has an
estimate, a client's payment and a carrier's invoice its earmark cannot cover, the weeks and the reserves show —
worded in the service's language, no code on them, and the page never scrolls sideways."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from app.bootstrap import build
from app.http.server import create_app
from app.settings import load_settings
from app.topology import load_topology
from tests.browser.test_dashboard_order_search import AUTH, TOKEN
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_http_api import NOW
from tests.people_words import raw_codes, topology_codes

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the session's browser lives on that loop
TOPOLOGY = load_topology(ROOT / "storeops.example.toml")
CYRILLIC = re.compile(r"[А-Яа-яЁё]+")
BUSINESS_NAMES = {word for w in TOPOLOGY.warehouses for word in CYRILLIC.findall(w.title)}
PLAN = {"goods_rub": "600000", "transport": "tir", "clearance": "full", "weight_kg": "4000", "volume_m3": "12",
        "boxes": 20}  # fmt: skip
PATIENCE_MS = 15_000


@pytest_asyncio.fixture(loop_scope="session", params=["ru", "en"])
async def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> AsyncIterator[
    tuple[str, str, ClientSession]
]:  # fmt: skip
    for key, value in {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'money.db'}", "API_TOKEN": TOKEN,
                       "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"), "LOCALE": request.param}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    services = await build(load_settings(env_file=None), TOPOLOGY, clock=FakeClock(NOW))
    server = TestServer(create_app(services), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    try:
        async with ClientSession(url, headers=AUTH) as http:
            yield url, request.param, http
    finally:
        await server.close()
        await services.close()


@pytest_asyncio.fixture(loop_scope="session")
async def phone(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(locale="ru-RU", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(PATIENCE_MS)
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"script errors on the page: {errors}"


async def _tir_before_logistics(http: ClientSession) -> None:
    """An order planned for a TIR truck, the goods paid, the carrier's invoice with nothing for it in logistics."""
    order = {"channel": "site", "external_id": "CN-77", "lines": [{"sku": "КР-7/2", "qty": 1}],
             "customer": {"name": "ООО Импорт", "phone": "+79990000077"}, "total": "1994400", "currency": "RUB"}  # fmt: skip
    async with http.post("/api/orders", json=order) as placed:
        assert placed.status == 201, await placed.text()
        order_id = (await placed.json())["order_id"]
    async with http.post(f"/api/orders/{order_id}/money/plan", json=PLAN) as planned:
        assert planned.status == 200, await planned.text()
    payment = {"event_id": "ev-1", "payment_id": "pay-1", "order_id": order_id, "idempotency_key": "pay-1",
               "phase": "cleared", "amount": "600000", "currency": "RUB"}  # fmt: skip
    async with http.post("/api/payments/events", json=payment) as paid:
        assert paid.status == 202, await paid.text()
    invoice = {"key": "tir-1", "purpose": "logistics", "payee": "TIR Trans Logistik", "currency": "EUR",
               "amount": "12000", "due_at": (NOW + timedelta(days=2)).isoformat(), "rate": "100"}  # fmt: skip
    async with http.post(f"/api/orders/{order_id}/payouts", json=invoice) as drawn:
        assert drawn.status == 201, await drawn.text()


async def test_the_money_panel_shows_the_weeks_and_reserves_on_a_phone_in_the_services_language(
    phone: Page, service: tuple[str, str, ClientSession]
) -> None:
    url, locale, http = service
    await phone.goto(f"{url}/dashboard#token={TOKEN}")
    await expect(phone.get_by_test_id("channels")).to_be_visible()
    await expect(phone.get_by_test_id("liquidity")).to_have_count(0)  # no order has money yet: no panel

    await _tir_before_logistics(http)
    await phone.reload()
    panel = phone.get_by_test_id("liquidity")
    await expect(panel).to_be_visible()
    ru = locale == "ru"
    await expect(panel.get_by_role("heading").first).to_have_text(
        "Деньги клиентов: платежи по неделям" if ru else "Clients' money: payments by week"
    )
    invoice_week = phone.get_by_test_id("liquidity-week-1")  # Monday 23 November: the TIR invoice, not covered
    await expect(invoice_week).to_contain_text("с 23.11" if ru else "from 23/11")
    await expect(invoice_week).to_contain_text("1\xa0200\xa0000,00\xa0₽" if ru else "RUB\xa01,200,000.00")
    await expect(invoice_week).to_contain_text("12\xa0000,00 EUR" if ru else "12,000.00 EUR")
    await expect(invoice_week).to_have_class(re.compile(r"\btrouble\b"))  # waiting for a decision or a top-up
    await expect(phone.get_by_test_id("reserve-reserved")).to_contain_text("600\xa0000,00\xa0₽" if ru else "600,000.00")
    await expect(phone.get_by_test_id("reserve-unfunded")).to_contain_text(
        "Клиенты ещё не оплатили" if ru else "Clients have yet to pay"
    )

    shown = (
        await panel.inner_text()
        + "\n"
        + "\n".join(await panel.locator("[data-label]").evaluate_all("(cells) => cells.map((c) => c.dataset.label)"))
    )
    assert raw_codes(shown, topology_codes(TOPOLOGY)) == [], shown
    if not ru:
        assert [w for w in CYRILLIC.findall(await phone.inner_text("body")) if w not in BUSINESS_NAMES] == []
    scroll_width, inner_width = await phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"the dashboard scrolls sideways at 390 px ({scroll_width} px)"
    box = await panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    if shots := os.environ.get("STOREOPS_SCREENSHOTS_DIR"):  # docs/img keeps the docs' pictures
        await panel.screenshot(path=Path(shots) / f"dashboard-money-{locale}-390.png")
