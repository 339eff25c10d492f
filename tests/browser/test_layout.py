"""The pages people open — the dashboard, the daily report, the sandbox console — laid out at a phone's, a laptop's
and a wide screen's width, against the real sandbox after a few scenarios (so the tables hold real rows): the page
never scrolls sideways, the sticky header stays small on a phone and never hides a pane's head, every channel's
column of the stock table is on screen at 1280 px, and on a phone the stock table scrolls in its own box with its
header row and item column in view. The dashboard's tasks show titles, never keys; /report renders a
given day with links to the days around it.

Each check takes a screenshot; ``STOREOPS_SCREENSHOTS_DIR=docs/img`` keeps them there (the docs' pictures,
``<page>-<width>.png``)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.sandbox_process import Sandbox, running_sandbox

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the session's browser lives on that loop
PATIENCE_MS = 20_000
WIDTHS = {390: 844, 1280: 800, 1920: 1080}  # a phone, a laptop, a wide screen: width -> height
PHONE_HEADER_SHARE = 0.12  # the sticky header may take this much of a phone's height
SCENARIOS = ("silent_store", "wb_down", "yuan_jump", "big_new_client", "wb_unfillable", "price_drop",
             "tir_before_logistics")  # fmt: skip
Opener = Callable[[str, int], Awaitable[Page]]
RAW_KEY = re.compile(r"\b(role|alert|store|order|price_batch|fraud_check|obligation):[\w:-]+")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox-layout")) as box:
        for name in SCENARIOS:  # people's tasks, alerts, orders and stock for the tables to hold
            box.scenario(name)
        yield box


@pytest.fixture(scope="module")
def token(sandbox: Sandbox) -> str:
    return str(sandbox.state()["dashboard_url"].split("#token=", 1)[1])


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("STOREOPS_SCREENSHOTS_DIR") or tmp_path)


@pytest_asyncio.fixture(loop_scope="session")
async def sized(browser: Browser) -> AsyncIterator[Opener]:
    """Opens a page at a width (and its screen's height); an uncaught script error on it fails the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_at(url: str, width: int) -> Page:
        context = await browser.new_context(locale="ru-RU", viewport={"width": width, "height": WIDTHS[width]})
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_default_timeout(PATIENCE_MS)
        await page.goto(url)
        return page

    try:
        yield open_at
    finally:
        for context in contexts:
            await context.close()
    assert not errors, f"script errors on the page: {errors}"


async def _check_layout(page: Page, name: str, width: int, shots: Path) -> None:
    scroll_width, inner_width = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    wide = await page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap, .scenarios'))
            .slice(0, 5).map((e) => `${e.tagName}.${e.className}`)"""
    )
    assert scroll_width <= inner_width, f"{name} at {width} px scrolls sideways ({scroll_width} px): {wide}"
    header = page.locator(".topbar").first
    header_box = await header.bounding_box()
    assert header_box is not None
    if width < 760:
        assert header_box["height"] <= PHONE_HEADER_SHARE * WIDTHS[width], f"{name}: header {header_box['height']} px"
    for head in await page.locator(".sk-pane-head, .tg-head, .card-title, h1").all():  # brought into view by a jump
        await head.evaluate("(e) => e.scrollIntoView({ block: 'start' })")
        head_box, header_box = await head.bounding_box(), await header.bounding_box()
        assert head_box is not None and header_box is not None
        covered = header_box["y"] + header_box["height"] - head_box["y"]
        assert covered <= 1, f"the sticky header covers {covered:.0f} px of {await head.inner_text()!r} at {width} px"
    await page.evaluate("window.scrollTo(0, 0)")
    shots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=shots / f"{name}-{width}.png", full_page=True)


@pytest.mark.parametrize("width", list(WIDTHS))
async def test_the_dashboard_fits_the_screen(
    sized: Opener, sandbox: Sandbox, token: str, shots: Path, width: int
) -> None:
    page = await sized(f"{sandbox.url}/dashboard#token={token}", width)
    await expect(page.get_by_test_id("tasks")).to_be_visible()
    await expect(page.get_by_test_id("report")).to_be_visible()
    await expect(page.get_by_test_id("liquidity-weeks")).to_be_visible()  # clients' money, by week
    await _check_layout(page, "dashboard", width, shots)


@pytest.mark.parametrize("width", list(WIDTHS))
async def test_the_report_page_fits_the_screen(
    sized: Opener, sandbox: Sandbox, token: str, shots: Path, width: int
) -> None:
    yesterday = sandbox.http.get("/api/report/page", headers={"Authorization": f"Bearer {token}"})
    today = yesterday.json()["next"]  # today's report so far: the scenarios' orders are in it
    page = await sized(f"{sandbox.url}/report?date={today}#token={token}", width)
    await expect(page.get_by_test_id("report-chart")).to_be_visible()
    await _check_layout(page, "report", width, shots)


@pytest.mark.parametrize("width", list(WIDTHS))
async def test_the_console_fits_the_screen(sized: Opener, sandbox: Sandbox, shots: Path, width: int) -> None:
    page = await sized(f"{sandbox.url}/sandbox", width)
    await expect(page.locator("[data-testid^='stock-row-']").first).to_be_visible()
    if width >= 1280:  # every channel's column of the stock table is on screen, not in a scrolled-away part
        for cell in await page.locator("table.stock thead tr:nth-child(2) th").all():
            box = await cell.bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, f"{await cell.inner_text()!r} is off-screen"
    else:
        await _check_the_stock_table_keeps_its_heads(page)
    await _check_layout(page, "sandbox", width, shots)


# What shows at points along the top edge of the stock table's box and down its left edge, once it is scrolled to
# the far corner: each point's element, as "head" (in the header row), "item" (an item cell) or what else it is.
HEADS_JS = """(box) => {
    box.scrollTop = box.scrollHeight;
    box.scrollLeft = box.scrollWidth;
    const edge = box.getBoundingClientRect();
    const head = box.querySelector("thead").getBoundingClientRect();
    const what = (x, y) => {
        const found = document.elementFromPoint(x, y);
        if (found?.closest("thead")) return "head";
        if (found?.closest("td.item")) return "item";
        return found ? `${found.tagName}.${found.className}` : "nothing";
    };
    const across = [0.05, 0.35, 0.65, 0.95].map((f) => what(edge.left + f * edge.width, edge.top + 4));
    const down = [0.4, 0.6, 0.9].map((f) => what(edge.left + 4, edge.top + head.height + f * (edge.height - head.height)));
    return { scrolled: [box.scrollTop, box.scrollLeft], headTop: head.top - edge.top, across, down };
}"""


async def _check_the_stock_table_keeps_its_heads(page: Page) -> None:
    """On a phone the stock table scrolls in its own box: scrolled down and to the right, its header row still
    shows at the box's top and its item column at the box's left."""
    box = page.get_by_test_id("stock-box")
    await box.evaluate("(box) => box.scrollIntoView({ block: 'end' })")  # below the page's sticky header
    seen = await box.evaluate(HEADS_JS)
    assert seen["scrolled"][0] > 0 and seen["scrolled"][1] > 0, f"the stock table does not scroll in its box: {seen}"
    assert abs(seen["headTop"]) <= 1, f"the stock table's header row scrolled away: {seen}"
    assert seen["across"] == ["head"] * 4, f"the stock table's header row is not in view: {seen}"
    assert seen["down"] == ["item"] * 3, f"the stock table's item column is not in view: {seen}"
    await box.evaluate("(box) => { box.scrollTop = 0; box.scrollLeft = 0; }")


async def test_the_tasks_table_shows_titles_and_people_never_keys(page: Page, sandbox: Sandbox, token: str) -> None:
    await page.goto(f"{sandbox.url}/dashboard#token={token}")
    rows = page.get_by_test_id("tasks").locator("tbody tr")
    await expect(rows.first).to_be_visible(timeout=PATIENCE_MS)
    texts = await rows.all_inner_texts()

    assert len(texts) >= 3, texts
    assert not [text for text in texts if RAW_KEY.search(text)], texts
    joined = "\n".join(texts)
    assert "Звонок клиенту по заказу" in joined and "Цены «Розничная» упали на" in joined, joined
    assert "менеджеры" in joined, joined


async def test_the_report_renders_a_given_day_with_the_days_around_it(page: Page, sandbox: Sandbox, token: str) -> None:
    state = sandbox.state()
    today = date.fromisoformat(state["clock"]["now"][:10])  # the sandbox's clock, in the shop's zone near enough
    day = today - timedelta(days=2)
    await page.goto(f"{sandbox.url}/report?date={day.isoformat()}#token={token}")

    await expect(page.get_by_test_id("report-title")).to_have_text(f"Отчёт за {day:%d.%m.%Y}", timeout=PATIENCE_MS)
    await expect(page.get_by_test_id("report-lines")).to_contain_text("Заказов:")
    await expect(page.get_by_test_id("report-previous")).to_have_attribute("href", f"/report?date={day - timedelta(1)}")
    await expect(page.get_by_test_id("report-next")).to_have_attribute("href", f"/report?date={day + timedelta(1)}")
    chart = page.get_by_test_id("report-chart")
    await expect(chart).to_have_attribute("src", re.compile(r"^blob:"))
    assert await chart.evaluate("(img) => img.naturalWidth") >= 1000  # the full-size chart, not a thumbnail

    await page.get_by_test_id("report-next").click()
    await expect(page.get_by_test_id("report-title")).to_have_text(f"Отчёт за {day + timedelta(1):%d.%m.%Y}")
