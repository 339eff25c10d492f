"""How soon the sandbox console shows the answer to what a person did, in a real browser against the real sandbox
(``storeops sandbox`` as a process): each reaction is done ``STOREOPS_REACTIONS_REPEATS`` times (20) and timed from
the click to the first animation frame that shows its answer.

* ``fx_card``: ▶ «Юань вырос на 4 %» → the FX decision with its buttons in Мария's Telegram chat;
* ``owner_fx_button``: the clock moved 4 hours on (untimed) hands that decision to the owner; «Берём на себя» on
  it → the question closed in place, saying who decided;
* ``store_question``: ▶ «Магазин не отвечает» → the question the scenario ends on (Арбат's, after Тверская's 20
  minutes ran out) in Арбат's Slack pane;
* ``report``: the ``/report`` button under the owner's chat → the chart, loaded, with its caption there.

They are done in turn, round after round, so that a chat's second passes while another reaction is timed: Telegram
takes a message a second in a chat and the bot keeps to it, so a reaction in a chat that had a message less than a
second ago first waits for it, untimed. The orders a round's scenarios placed are cancelled, untimed, so that every
round finds the same stock.

The test asserts that every reaction happened as it should, never how fast: the figures depend on the machine.
It prints p50 and p99 per reaction (nearest rank: of 20, p99 is the slowest) and writes them as JSON, with the
machine's facts and the load average at its start and end, to ``bench/results/reactions.json`` when
``STOREOPS_WRITE_REACTIONS=1`` (or ``STOREOPS_WRITE_RESULTS=1``), or to the test's temporary folder otherwise (the
path is printed). docs/reactions.md has the figures and how they were taken."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from bench.common import RESULTS_DIR, latency_figures, load_average, machine_facts, write_result
from tests.sandbox_process import Sandbox, running_sandbox

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the session's browser lives on that loop
REPEATS = int(os.environ.get("STOREOPS_REACTIONS_REPEATS", "20"))
WRITE_RESULTS = "1" in (os.environ.get("STOREOPS_WRITE_REACTIONS"), os.environ.get("STOREOPS_WRITE_RESULTS"))
PATIENCE_MS = 20_000  # a reaction that has not happened by then failed
OWNER, MARIA, PAVEL = 1001, 1002, 1003  # the sandbox's owner and managers
TARGET_S = 1.0  # what the figures are read against (reported, never asserted)
CHAT_SECOND_MS = 1000  # Telegram's pace in one chat: a message a second
NEWEST_LOG = "[data-testid='action-log'] li:first-child"  # the console's log keeps the last 40, newest first

# The elements matching ``selector`` (containing ``text``; images only once loaded), counted.
MATCHING_JS = """(selector, text, loaded) => [...document.querySelectorAll(selector)].filter(
    (e) => (!text || e.textContent.includes(text)) && (!loaded || (e.complete && e.naturalWidth > 0))).length"""
COUNT_JS = f"({{ selector, text, loaded }}) => ({MATCHING_JS})(selector, text, loaded)"
# The moment (performance.now()) the count reached at least ``atLeast`` / at most ``atMost``, polled every frame.
SEEN_JS = f"""({{ selector, text, loaded, atLeast, atMost }}) => {{
    const n = ({MATCHING_JS})(selector, text, loaded);
    return (atLeast === null || n >= atLeast) && (atMost === null || n <= atMost) ? performance.now() : false;
}}"""
# Each chat's last new message, by the page's clock (installed once; it watches the page from then on).
TRACK_CHATS_JS = """() => {
    window.__chatChangedAt = {};
    const counts = {};
    const look = () => {
        for (const chat of document.querySelectorAll("[data-testid^='tg-chat-']")) {
            const n = chat.querySelectorAll("[data-testid^='tg-msg-']").length;
            if (counts[chat.dataset.testid] !== n) {
                counts[chat.dataset.testid] = n;
                window.__chatChangedAt[chat.dataset.testid] = performance.now();
            }
        }
    };
    look();
    new MutationObserver(look).observe(document.body, { childList: true, subtree: true });
}"""
QUIET_JS = """({ chats, quietMs }) =>
    chats.every((chat) => performance.now() - (window.__chatChangedAt[`tg-chat-${chat}`] ?? -Infinity) >= quietMs)"""
# Every click on the page stamps its moment, before the page's own handlers run.
STAMP_CLICKS_JS = """() => document.addEventListener(
    "click", () => { window.__clickedAt = performance.now(); }, { capture: true })"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox-reactions")) as box:
        yield box


class Stopwatch:
    """Times a click to its answer on the page, in the page's own clock."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.samples: dict[str, list[float]] = {}

    async def start(self) -> None:
        await self.page.evaluate(STAMP_CLICKS_JS)
        await self.page.evaluate(TRACK_CHATS_JS)

    async def count(self, selector: str, text: str | None = None, *, loaded: bool = False) -> int:
        return int(await self.page.evaluate(COUNT_JS, {"selector": selector, "text": text, "loaded": loaded}))

    async def until(
        self, selector: str, *, text: str | None = None, loaded: bool = False,
        at_least: int | None = None, at_most: int | None = None,
    ) -> float:  # fmt: skip
        """Wait (polling every frame) until the count of ``selector`` is in bounds; the moment it first was, ms."""
        arg = {"selector": selector, "text": text, "loaded": loaded, "atLeast": at_least, "atMost": at_most}
        seen = await self.page.wait_for_function(SEEN_JS, arg=arg, polling="raf", timeout=PATIENCE_MS)
        return float(await seen.json_value())

    async def quiet(self, *chats: int) -> None:
        """Wait until the chats have had no new message for a second: Telegram takes one message a second in a
        chat, so a reaction timed sooner would be timing that second (the bot keeps to it, as it must)."""
        arg = {"chats": list(chats), "quietMs": CHAT_SECOND_MS}
        await self.page.wait_for_function(QUIET_JS, arg=arg, polling="raf", timeout=PATIENCE_MS)

    async def click(
        self, reaction: str, button: Locator, selector: str, *, text: str | None = None, loaded: bool = False,
        at_least: int | None = None, at_most: int | None = None,
    ) -> float:  # fmt: skip
        """Click ``button`` and wait for the answer; the seconds between them are one sample of ``reaction``."""
        await button.click()
        seen = await self.until(selector, text=text, loaded=loaded, at_least=at_least, at_most=at_most)
        clicked = float(await self.page.evaluate("window.__clickedAt"))
        seconds = (seen - clicked) / 1000
        assert seconds >= 0
        self.samples.setdefault(reaction, []).append(seconds)
        return seconds


def _chat(person: int) -> str:
    return f"[data-testid='tg-chat-{person}']"


async def _report(watch: Stopwatch, page: Page, person: int) -> None:
    photos = f"{_chat(person)} [data-testid^='tg-photo-{person}-']"
    before = await watch.count(photos)
    await watch.quiet(person)
    quick = page.get_by_test_id(f"tg-quick-{person}-report")
    await watch.click("report", quick, photos, loaded=True, at_least=before + 1)  # the chart drawn on the page
    answer = page.get_by_test_id(f"tg-chat-{person}").locator("[data-testid^='tg-msg-']").last
    await expect(answer).to_contain_text("Отчёт за")  # the chart's caption: the day and its figures


async def _store_question(watch: Stopwatch, page: Page, http: httpx.AsyncClient) -> None:
    open_at_arbat = "[data-testid='slack-pane-arbat'] .sk-message:has([data-testid$='-task:available'])"
    assert await watch.count(open_at_arbat) == 0 and await watch.count(NEWEST_LOG, "Магазин не отвечает") == 0
    scenario = page.get_by_test_id("scenario-silent_store")
    await watch.click("store_question", scenario, open_at_arbat, text="КР-7/2", at_least=1)
    summary = await _summary(watch, page, "Магазин не отвечает")
    assert "спрашиваем «Арбат»" in summary, summary
    await _cancel(http, summary)  # the question closes and the stores' units are free for the next run
    await watch.until(open_at_arbat, at_most=0)


async def _summary(watch: Stopwatch, page: Page, scenario: str) -> str:
    """The summary of the scenario just run, once it is in the action log."""
    await watch.until(NEWEST_LOG, text=scenario, at_least=1)
    return await page.locator(NEWEST_LOG).inner_text()


async def _cancel(http: httpx.AsyncClient, summary: str) -> None:
    """The buyer cancels the order a scenario's summary names (untimed): its stock is free again."""
    order = re.search(r"Заказ (\d+)", summary)
    assert order, summary
    cancelled = await http.post(f"/api/orders/{order.group(1)}/cancel", json={"reason": "замер: отменяем"})
    assert cancelled.status_code == 200, cancelled.text


async def _fx_card(watch: Stopwatch, page: Page) -> str:
    """The FX card's reaction; the scenario's summary."""
    maria_fx = f"{_chat(MARIA)} [data-testid^='tg-btn-{MARIA}-'][data-testid$=':absorb']"
    before = await watch.count(maria_fx)
    await watch.quiet(MARIA, PAVEL)
    await watch.click("fx_card", page.get_by_test_id("scenario-yuan_jump"), maria_fx, at_least=before + 1)
    card = page.locator(maria_fx).last.locator("xpath=ancestor::*[starts-with(@data-testid, 'tg-msg-')][1]")
    await expect(card).to_contain_text("Курс CNY сдвинулся на 4 %")
    return await _summary(watch, page, "Юань вырос на 4 %")


async def _owner_fx_button(watch: Stopwatch, page: Page) -> None:
    # four hours without a manager's decision: the owner decides (the clock moved on, untimed)
    owner_fx = f"{_chat(OWNER)} [data-testid^='tg-btn-{OWNER}-'][data-testid$=':absorb']"
    await page.get_by_test_id("clock-advance-14400").click()
    await watch.until(owner_fx, at_least=1)
    button = page.locator(owner_fx).first
    message = await button.evaluate("(b) => b.closest(\"[data-testid^='tg-msg-']\").dataset.testid")
    own_buttons = f"[data-testid^='tg-btn-{message.removeprefix('tg-msg-')}-']"
    await watch.click("owner_fx_button", button, own_buttons, at_most=0)
    await expect(page.get_by_test_id(message)).to_contain_text("Решение: Берём на себя — Ольга")


def _figures(samples: dict[str, list[float]]) -> dict[str, Any]:
    return {name: latency_figures(seconds) for name, seconds in samples.items()}


def _write(samples: dict[str, list[float]], machine: dict[str, Any], tmp_path: Path) -> Path:
    figures = _figures(samples)
    result = {
        "benchmark": "reactions",
        "machine": {**machine, "load_average_at_end": load_average()},
        "parameters": {
            "repeats": REPEATS, "target_p99_ms": TARGET_S * 1000,
            "browser": "Debian's Chromium, headless, driven by Playwright; 1600 x 1000",
            "measured": "in the page: from the click's event to the first animation frame showing the answer",
            "reactions": {
                "store_question": "▶ «Магазин не отвечает» → Арбат's question in its Slack pane",
                "fx_card": "▶ «Юань вырос на 4 %» → the FX decision in Мария's Telegram chat",
                "report": "/report under the owner's chat → the chart and its caption there, the image loaded",
                "owner_fx_button": "the owner's «Берём на себя» → the question closed in place",
            },
        },
        "figures": figures,
        "samples_ms": {name: [round(s * 1000, 1) for s in seconds] for name, seconds in samples.items()},
    }  # fmt: skip
    if WRITE_RESULTS:
        return write_result("reactions", result)
    target = tmp_path / "reactions.json"
    target.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


async def test_the_console_shows_each_reaction(page: Page, sandbox: Sandbox, tmp_path: Path) -> None:
    machine = machine_facts(None)  # the load the figures were taken under, from the start
    watch = Stopwatch(page)
    await page.goto(sandbox.url + "/sandbox")
    await expect(page.locator("[data-testid^='stock-row-']").first).to_be_visible(timeout=PATIENCE_MS)
    await watch.start()
    token = str(sandbox.state()["dashboard_url"].split("#token=", 1)[1])
    headers = {"Authorization": f"Bearer {token}"}

    async with httpx.AsyncClient(base_url=sandbox.url, headers=headers, timeout=30) as http:
        for _ in range(REPEATS):  # in turn, so that a chat's second passes while another reaction is timed
            fx_order = await _fx_card(watch, page)
            await _owner_fx_button(watch, page)
            await _cancel(http, fx_order)  # its blenders back in stock: the next run's are not asked of the stores
            await _store_question(watch, page, http)
            await _report(watch, page, OWNER)

    target = _write(watch.samples, machine, tmp_path)
    for name, figures in _figures(watch.samples).items():
        print(f"{name:>16}: p50 {figures['p50_ms']:7.0f} ms, p99 {figures['p99_ms']:7.0f} ms ({figures['count']})")
    print(f"written to {target.relative_to(RESULTS_DIR.parent) if WRITE_RESULTS else target}")
