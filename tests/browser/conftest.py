"""A headless Chromium for the browser tests: Debian's own build, driven by Playwright.

Playwright's bundled browsers are never downloaded (``playwright install`` needs the internet):
the tests launch ``/usr/bin/chromium`` (or ``STOREOPS_CHROMIUM``). Without it they skip with
the reason, except in CI (``CI`` set, or ``STOREOPS_REQUIRE_BROWSER=1`` from ``.ci/run``), where
a missing browser is a failure.

One browser serves the whole session (starting Chromium costs seconds); each test gets its own
context, so no cookie or storage leaks between tests. Playwright's objects belong to the event
loop that made them, so browser tests run on the session's loop:
``pytestmark = pytest.mark.asyncio(loop_scope="session")`` in each module.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Error, Page, async_playwright

CHROMIUM = Path(os.environ.get("STOREOPS_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = bool(os.environ.get("CI")) or os.environ.get("STOREOPS_REQUIRE_BROWSER") == "1"


def _no_browser(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"a browser is required in CI: {reason}")
    pytest.skip(f"{reason} (apt-get install chromium, or set STOREOPS_CHROMIUM)")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        _no_browser(f"no Chromium at {CHROMIUM}")
    async with async_playwright() as playwright:
        try:
            launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        except Error as error:
            _no_browser(f"Chromium at {CHROMIUM} does not start: {error.message}")
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page; an uncaught script error on it fails the test, even if no assertion saw it."""
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1600, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"script errors on the page: {errors}"
