"""The dashboard speaks the service's language, its own words included: with ``LOCALE=en`` not a Russian word is left
on it — headings, buttons, column names, empty states, the token form before any data — and in either language no
key, code or untranslated template shows where people's words belong (``tests/people_words.py``). Rendered in a real
browser against the real service (its HTTP app from the composition root on SQLite), first with nothing to show
(every panel's empty state), then with orders, their people's tasks, a search and an order's history open."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from app.bootstrap import build
from app.http.dashboard_words import words_keys
from app.http.server import create_app
from app.settings import load_settings
from app.topology import load_topology
from tests.browser.test_dashboard_order_search import AUTH, PHONE, TOKEN, _seed
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_http_api import NOW
from tests.people_words import raw_codes, topology_codes

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the session's browser lives on that loop
CYRILLIC = re.compile(r"[А-Яа-яЁё]+")
TOPOLOGY = load_topology(ROOT / "storeops.example.toml")
BUSINESS_NAMES = {word for w in TOPOLOGY.warehouses for word in CYRILLIC.findall(w.title)} | {"КР", "ЧАЙНИК"}
# Everything a person reads on the page: its text, and what shows on hover, as a placeholder or a label.
SHOWN_JS = """() => [document.title, document.body.innerText,
    ...[...document.querySelectorAll("[title], [placeholder], [data-label], [alt]")].flatMap(
        (e) => ["title", "placeholder", "data-label", "alt"].map((a) => e.getAttribute(a) || ""))].join("\\n")"""


@pytest_asyncio.fixture(loop_scope="session", params=["ru", "en"])
async def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> AsyncIterator[
    tuple[str, str, ClientSession]
]:  # fmt: skip
    """The service in ``LOCALE`` ``ru`` and ``en``, with nothing in it yet: its URL, its locale and a client."""
    for key, value in {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'words.db'}", "API_TOKEN": TOKEN,
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


async def _shown(page: Page) -> str:
    return str(await page.evaluate(SHOWN_JS))


def _check(shown: str, locale: str) -> None:
    """No Russian on an English page; no code, key or unfilled template in either."""
    if locale == "en":  # the shop's own names (its stores' titles, its articles) are what they are
        assert [w for w in CYRILLIC.findall(shown) if w not in BUSINESS_NAMES] == [], shown
    assert raw_codes(shown, topology_codes(TOPOLOGY)) == [], shown
    assert re.findall(r"\b(?:health|task|alert|drift|step|search|found|report|queue)_[a-z_]+\b", shown) == []


async def test_the_dashboard_is_in_the_services_language_with_no_code_on_it(
    page: Page, service: tuple[str, str, ClientSession]
) -> None:
    url, locale, http = service
    await page.goto(f"{url}/dashboard")  # before the token: the form is in the service's language too
    await expect(page.get_by_test_id("token-form")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == locale
    _check(await _shown(page), locale)
    await expect(page.get_by_test_id("token-submit")).to_have_text("Sign in" if locale == "en" else "Войти")

    await page.get_by_test_id("token-input").fill(TOKEN)
    await page.get_by_test_id("token-submit").click()
    await expect(page.get_by_test_id("channels")).to_be_visible()
    empty = await _shown(page)  # nothing happened yet: every panel says so
    _check(empty, locale)
    assert ("No open tasks." if locale == "en" else "Открытых задач нет.") in empty

    ids = await _seed(http)
    cancelled = await http.post(f"/api/orders/{ids['unpaid']}/cancel", json={"reason": "the buyer changed their mind"})
    assert cancelled.status == 200, await cancelled.text()
    await page.reload()
    await expect(page.get_by_test_id("order-event-0")).to_be_visible()
    await expect(page.get_by_test_id("tasks")).to_be_visible()
    await page.get_by_test_id("order-search-input").fill(PHONE)
    await page.get_by_test_id("order-search-input").press("Enter")
    await page.get_by_test_id(f"order-found-{ids['store']}").click()
    await expect(page.get_by_test_id(f"order-find-history-{ids['store']}")).to_be_visible()
    full = await _shown(page)
    _check(full, locale)
    heading = page.get_by_test_id("orders-panel").get_by_role("heading")
    await expect(heading).to_have_text("Orders: recent events" if locale == "en" else "Заказы: последние события")


async def test_both_languages_have_every_word_of_the_dashboard() -> None:
    assert words_keys("ru") == words_keys("en")
