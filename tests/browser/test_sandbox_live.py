"""The real sandbox (``storeops sandbox`` as a process) in a real browser: a newcomer opens the console, a store
clerk presses "В наличии" in the store's Slack pane, and the page shows the order allocated and the question
updated in place; a manager asks the bot for stock from the Telegram pane; the dashboard opens with the sandbox's
token, and an order cancelled through the API is on its orders panel, worded as the office's /order words it.
``STOREOPS_SCREENSHOT_TO=<file.png>`` also saves a screenshot of the console there (the README's)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.sandbox_process import Sandbox, running_sandbox

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the session's browser lives on that loop
PATIENCE_MS = 20_000  # a reaction the page shows within a second or two; this only bounds a failure


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox-live")) as box:
        yield box


def _token(sandbox: Sandbox) -> str:
    return str(sandbox.state()["dashboard_url"].split("#token=", 1)[1])


async def test_a_clerk_confirms_in_the_slack_pane_and_the_order_is_allocated(
    page: Page, sandbox: Sandbox, tmp_path: Path
) -> None:
    # an order from the site for an article only the stores hold: Тверская (priority 1) is asked
    async with httpx.AsyncClient() as http:
        placed = await http.post(
            f"{sandbox.url}/api/orders", headers={"Authorization": f"Bearer {_token(sandbox)}"},
            json={"channel": "site", "external_id": "BROWSER-1", "lines": [{"sku": "КР-7/2", "qty": 1}]},
        )  # fmt: skip
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    assert placed.json()["lines"][0]["status"] == "awaiting_store_confirmation"

    await page.goto(sandbox.url + "/sandbox")
    pane = page.get_by_test_id("slack-pane-tverskaya")
    available = pane.locator("[data-testid$='-task:available']")
    await expect(available).to_have_count(1, timeout=PATIENCE_MS)
    await expect(pane).to_contain_text("КР-7/2")
    await page.get_by_test_id("slack-user-tverskaya").select_option("U0BORIS")
    await available.click()

    await page.get_by_test_id(f"order-toggle-{order_id}").click()
    status = page.get_by_test_id(f"order-status-{order_id}")  # worded, its code only in its class
    await expect(status).to_have_class(re.compile(r"\bstatus-reserved\b"), timeout=PATIENCE_MS)
    await expect(status).to_have_text("зарезервирован")
    history = page.get_by_test_id(f"order-history-{order_id}")
    await expect(history).to_contain_text("Строка 1: магазин Тверская ответил — есть, в порядке (Борис)")
    await expect(history).not_to_contain_text("store_confirmed")  # the event's words, not its code
    await expect(pane.get_by_test_id("slack-edited")).to_have_count(1, timeout=PATIENCE_MS)
    await expect(available).to_have_count(0)  # the buttons are gone from the updated question
    await expect(page.get_by_test_id("stock-wh-КР-7/2-tverskaya")).to_have_attribute("data-reserved", "1")

    shot = tmp_path / "console.png"
    await page.screenshot(path=str(shot), full_page=False)
    assert shot.read_bytes().startswith(b"\x89PNG")
    if target := os.environ.get("STOREOPS_SCREENSHOT_TO"):
        shutil.copyfile(shot, target)


async def test_a_manager_asks_the_bot_from_the_telegram_pane(page: Page, sandbox: Sandbox) -> None:
    await page.goto(sandbox.url + "/sandbox")
    await page.get_by_test_id("tg-input-1002").fill("/stock KETTLE-BOSCH-1")
    await page.get_by_test_id("tg-send-1002").click()
    messages = page.get_by_test_id("tg-chat-1002").locator("[data-testid^='tg-msg-1002-']")
    await expect(messages.filter(has_text="/stock KETTLE-BOSCH-1")).to_have_count(1, timeout=PATIENCE_MS)  # own
    await expect(messages.filter(has_text="KETTLE-BOSCH-1: доступно 15")).to_have_count(1, timeout=PATIENCE_MS)


async def test_the_dashboard_opens_from_the_console_with_the_sandbox_token(page: Page, sandbox: Sandbox) -> None:
    await page.goto(f"{sandbox.url}/dashboard#token={_token(sandbox)}")
    for channel in ("site", "wildberries", "ozon", "yandex_market", "retailcrm"):
        await expect(page.get_by_test_id(f"channel-card-{channel}")).to_be_visible(timeout=PATIENCE_MS)
    await expect(page.get_by_test_id("onec-last-update")).not_to_be_empty()
    assert "token" not in page.url  # the token is taken out of the address bar


async def test_a_cancelled_order_is_on_the_dashboards_orders_panel(page: Page, sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {_token(sandbox)}"}
    async with httpx.AsyncClient() as http:
        order = {"channel": "site", "external_id": "BROWSER-CANCEL-1", "lines": [{"sku": "KETTLE-BOSCH-1", "qty": 1}]}
        placed = await http.post(f"{sandbox.url}/api/orders", headers=headers, json=order)
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["order_id"]
        cancelled = await http.post(
            f"{sandbox.url}/api/orders/{order_id}/cancel", headers=headers, json={"reason": "покупатель передумал"}
        )
        assert cancelled.status_code == 200, cancelled.text

    await page.goto(f"{sandbox.url}/dashboard#token={_token(sandbox)}")
    panel = page.get_by_test_id("orders-panel")
    await expect(panel.get_by_role("heading")).to_have_text("Заказы: последние события", timeout=PATIENCE_MS)
    step = panel.locator("[data-testid^='order-event-']").filter(has_text="BROWSER-CANCEL-1")
    await expect(step).to_have_count(1, timeout=PATIENCE_MS)
    await expect(step).to_have_attribute("data-kind", "cancelled")
    await expect(step).to_contain_text(f"Сайт BROWSER-CANCEL-1 #{order_id}")
    await expect(step).to_contain_text("Заказ отменён: покупатель передумал; снято: 1\xa0резерв")
    await expect(page.get_by_test_id("order-counter-unfillable_open")).to_be_visible()
