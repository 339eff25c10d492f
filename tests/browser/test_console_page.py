"""The sandbox console and the dashboard pages in a real browser, against a fake of their JSON API.

What a person does on the page (press a Slack button as a chosen staff member, type a Telegram
command, move the clock, run a scenario, log in to the dashboard) must post exactly the body of
the contract, and the page must show the world's answer; ``fake_console`` plays the service.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from tests.browser.fake_console import STORE_TS, TOKEN, FakeService
from tests.people_words import raw_codes

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the session's browser lives on that loop


@dataclass
class Site:
    fake: FakeService
    url: str


@pytest_asyncio.fixture(loop_scope="session")
async def site() -> AsyncIterator[Site]:
    fake = FakeService()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield Site(fake, str(server.make_url("")).rstrip("/"))
    finally:
        await server.close()


async def test_console_shows_every_role(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/sandbox")

    pane = page.get_by_test_id("slack-pane-tverskaya")
    await expect(pane).to_contain_text("# Тверская")
    question = page.get_by_test_id(f"slack-msg-tverskaya-{STORE_TS}")
    await expect(question.locator("b").first).to_have_text("Заказ WB-1001")  # *bold* -> <b>
    await expect(question.locator("code")).to_have_text("КР-7/2")
    await expect(question).to_contain_text("#арбат")  # a channel link, not raw <#C0ARBAT|арбат>
    await expect(question.get_by_role("button")).to_have_text(["В наличии", "Нет", "Брак"])  # once each
    await expect(page.get_by_test_id(f"slack-btn-tverskaya-{STORE_TS}-task:available")).to_have_class(
        "sk-button sk-primary"
    )
    await expect(page.get_by_test_id("slack-msg-tverskaya-1795251000.000100")).to_contain_text("(изменено)")
    await expect(question.get_by_test_id("slack-edited")).to_have_count(0)

    owner = page.get_by_test_id("tg-chat-1001")
    await expect(owner).to_contain_text("владелец")
    await expect(page.get_by_test_id("tg-photo-1001-5")).to_have_attribute("src", "/fake/chart.png")
    await expect(page.get_by_test_id("tg-chat-1002").locator(".tg-kb-row")).to_have_count(2)
    await expect(page.get_by_test_id("tg-chat-1003")).to_contain_text("Сообщений нет")

    await expect(page.get_by_test_id("stock-shows-КР-7/2-ozon")).to_have_attribute("data-drift", "true")
    await expect(page.get_by_test_id("stock-shows-КР-7/2-wildberries")).to_have_attribute("data-drift", "false")
    await expect(page.get_by_test_id("stock-available-КР-7/2")).to_have_text("0")
    await expect(page.get_by_test_id("stock-price-КР-7/2-wildberries")).to_contain_text("864 ₽")  # beside the stock
    await expect(page.get_by_test_id("stock-price-КР-7/2-ozon")).to_have_count(0)  # no price on the emulator
    await expect(page.get_by_test_id("stock-price-НАБОР-1-wildberries")).to_contain_text("039,50 ₽")
    await expect(page.get_by_test_id("stock-kit-НАБОР-1")).to_have_text("набор: KETTLE-BOSCH-1 × 1 + BLENDER-3 × 2")

    await expect(page.get_by_test_id("order-history-42")).to_have_count(0)
    await page.get_by_test_id("order-toggle-42").click()
    await expect(page.get_by_test_id("order-history-42").locator("li")).to_have_count(2)
    second = page.get_by_test_id("order-history-42").locator("li").nth(1)  # the manager's words, not the kind
    await expect(second).to_contain_text("Строка 1: спросили магазин Тверская")
    await expect(second).not_to_contain_text("store_asked")
    # hovering it shows the same sentence, never the event's raw detail (its keys and codes)
    await expect(second).to_have_attribute("title", "Строка 1: спросили магазин Тверская")
    await second.hover()
    hovered = await page.evaluate("[...document.querySelectorAll(':hover')].map((e) => e.title || '').join('|')")
    assert "Строка 1: спросили магазин Тверская" in hovered and "store: tverskaya" not in hovered, hovered
    titles = await page.get_by_test_id("orders").evaluate(
        "(o) => [...o.querySelectorAll('[title]')].map((e) => e.title)"
    )
    assert [t for t in titles if raw_codes(t, {"tverskaya", "wildberries"})] == [], titles
    first = page.get_by_test_id("order-history-42").locator("li").nth(0)  # an event without words: kind and detail
    await expect(first).to_contain_text("created")
    await expect(first).to_contain_text("WB-1001")
    await expect(page.get_by_test_id("clock-offset")).to_have_text("без сдвига")
    await expect(page.get_by_test_id("dashboard-link")).to_have_attribute("href", "/dashboard")


async def test_a_slack_button_posts_the_press_as_the_chosen_staff_member(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/sandbox")
    await page.get_by_test_id("slack-user-tverskaya").select_option("U0BORIS")

    async with page.expect_request("**/sandbox/api/slack/press") as pressed:
        await page.get_by_test_id(f"slack-btn-tverskaya-{STORE_TS}-task:available").click()

    body = (await pressed.value).post_data_json
    assert body == {
        "channel": "C0TVERSKAYA",
        "ts": STORE_TS,
        "action_id": "task:available",
        "value": "17",
        "user": "U0BORIS",
    }
    question = page.get_by_test_id(f"slack-msg-tverskaya-{STORE_TS}")
    # the updated message, at once, with when it was edited (the question was posted at 12:00)
    await expect(question.get_by_test_id("slack-edited")).to_have_text("(изменено 12:09)")
    await expect(question.get_by_role("button")).to_have_count(0)
    await expect(question).to_contain_text("@Борис")  # the mention by the person's name, as Slack draws it
    await expect(question.locator(".sk-mention")).to_have_attribute("title", "U0BORIS")


async def test_the_telegram_command_box_quick_buttons_and_keyboard_post(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/sandbox")
    chat = page.get_by_test_id("tg-chat-1002")

    async with page.expect_request("**/sandbox/api/telegram/send") as sent:
        await page.get_by_test_id("tg-input-1002").fill("/stock КР-7/2")
        await page.get_by_test_id("tg-input-1002").press("Enter")
    assert (await sent.value).post_data_json == {"user": 1002, "text": "/stock КР-7/2"}
    await expect(chat.locator(".tg-out")).to_contain_text(["/stock КР-7/2"])
    await expect(page.get_by_test_id("tg-input-1002")).to_have_value("")

    async with page.expect_request("**/sandbox/api/telegram/send") as sent:
        await page.get_by_test_id("tg-quick-1003-status").click()
    assert (await sent.value).post_data_json == {"user": 1003, "text": "/status"}

    async with page.expect_request("**/sandbox/api/telegram/press") as pressed:
        await page.get_by_test_id("tg-btn-1002-7-task:9:verified").click()
    assert (await pressed.value).post_data_json == {"user": 1002, "message_id": 7, "data": "task:9:verified"}
    await expect(chat).to_contain_text("Принято: клиент подтверждён")


async def test_the_clock_buttons_move_the_sandbox_clock(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/sandbox")
    before = await page.get_by_test_id("clock-now").text_content()

    async with page.expect_request("**/sandbox/api/clock") as moved:
        await page.get_by_test_id("clock-advance-1200").click()
    assert (await moved.value).post_data_json == {"advance_s": 1200}
    await expect(page.get_by_test_id("clock-offset")).to_have_text("сдвиг +20 мин")
    await expect(page.get_by_test_id("clock-now")).not_to_have_text(before or "")

    for seconds in (60, 3600, 14400):
        async with page.expect_request("**/sandbox/api/clock") as moved:
            await page.get_by_test_id(f"clock-advance-{seconds}").click()
        assert (await moved.value).post_data_json == {"advance_s": seconds}
    await expect(page.get_by_test_id("clock-offset")).to_have_text("сдвиг +5 ч 21 мин")


async def test_a_scenario_shows_its_summary_and_an_error_its_message(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/sandbox")

    await page.get_by_test_id("scenario-oversell").click()
    await expect(page.get_by_test_id("toast")).to_contain_text("2 заказа на последний утюг")
    await page.get_by_test_id("scenario-broken").click()
    await expect(page.get_by_test_id("toast")).to_contain_text("сценарий уже идёт")
    await expect(page.get_by_test_id("action-log").locator(".log-error")).to_have_count(1)
    # a JSON body even with nothing to say: the sandbox refuses an action without one
    assert site.fake.posts == [("/sandbox/api/scenario/oversell", {}), ("/sandbox/api/scenario/broken", {})]


async def test_the_dashboard_asks_for_the_token_then_shows_the_channels(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/dashboard")
    await expect(page.get_by_test_id("token-form")).to_be_visible()
    assert site.fake.bearers == []  # nothing asked before there is a token

    await page.get_by_test_id("token-input").fill("wrong")
    await page.get_by_test_id("token-submit").click()
    await expect(page.get_by_test_id("token-error")).to_contain_text("401")

    await page.get_by_test_id("token-input").fill(TOKEN)
    await page.get_by_test_id("token-submit").click()
    await expect(page.get_by_test_id("channel-card-wildberries")).to_have_attribute("data-health", "ok")
    await expect(page.get_by_test_id("channel-card-ozon")).to_have_attribute("data-health", "bad")
    await expect(page.get_by_test_id("channel-card-yandex_market")).to_have_attribute("data-health", "paused")
    await expect(page.get_by_test_id("channel-card-site")).to_have_attribute("data-health", "warn")
    await expect(page.get_by_test_id("channel-card-ozon")).to_contain_text("в очереди 14, старейшему 10 мин")
    task = page.get_by_test_id("task-17")
    await expect(task).to_contain_text("через 12 мин")  # against the service's "now"
    await expect(task).to_contain_text("Магазин Тверская: есть ли КР-7/2 для заказа WB-1001?")
    await expect(task).to_contain_text("магазин Тверская")
    await expect(page.get_by_test_id("onec-last-update")).to_contain_text("5 мин назад")
    await expect(page.get_by_test_id("alert-channel:ozon")).to_contain_text("×3")
    await expect(page.get_by_test_id("report")).to_contain_text("заказов 12, отказов из-за нехватки 1, предотвращено")
    await expect(page.get_by_test_id("report-today")).to_have_attribute("href", "/report?date=2026-11-21")
    await expect(page.get_by_test_id("report-yesterday")).to_have_attribute("href", "/report?date=2026-11-20")
    panel = page.get_by_test_id("orders-panel")
    await expect(panel.get_by_role("heading")).to_have_text("Заказы: последние события")
    newest = page.get_by_test_id("order-event-0")
    await expect(newest).to_contain_text("Ozon 0154-1")
    await expect(newest).to_contain_text("Отменён покупателем или площадкой Ozon")
    await expect(newest).to_have_class(re.compile(r"\btrouble\b"))
    await expect(page.get_by_test_id("order-event-1")).not_to_have_class(re.compile(r"\btrouble\b"))
    await expect(page.get_by_test_id("order-counter-returns_awaiting")).to_have_text("Возвратов ждут приёмки: 2")
    await expect(page.get_by_test_id("order-counter-move_retrying")).to_have_class(re.compile(r"\btrouble\b"))
    await expect(page.get_by_test_id("order-counter-move_refused")).not_to_have_class(re.compile(r"\btrouble\b"))
    assert f"Bearer {TOKEN}" in site.fake.bearers
    assert await page.evaluate("sessionStorage.getItem('storeops.apiToken')") == TOKEN


async def test_the_orders_panel_speaks_the_services_language(page: Page, site: Site) -> None:
    site.fake.dashboard_locale = "en"
    await page.goto(f"{site.url}/dashboard#token={TOKEN}")

    panel = page.get_by_test_id("orders-panel")
    await expect(panel.get_by_role("heading")).to_have_text("Orders: recent events")
    await expect(page.get_by_test_id("order-counter-to_move_on")).to_have_text("Waiting to be moved on: 3")


async def test_a_token_in_the_link_logs_in_and_leaves_the_address_bar(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/dashboard#token={TOKEN}")

    await expect(page.get_by_test_id("channels")).to_be_visible()
    assert "token" not in page.url
    assert page.url.endswith("/dashboard")


async def test_a_401_brings_the_token_form_back(page: Page, site: Site) -> None:
    await page.clock.install()  # the 5 s poll is brought forward, not waited for
    await page.goto(f"{site.url}/dashboard#token={TOKEN}")
    await expect(page.get_by_test_id("channels")).to_be_visible()

    site.fake.token = "rotated"
    await page.clock.run_for(5_000)

    await expect(page.get_by_test_id("token-form")).to_be_visible()
    await expect(page.get_by_test_id("token-error")).to_contain_text("Токен не подошёл")
    assert await page.evaluate("sessionStorage.getItem('storeops.apiToken')") is None
