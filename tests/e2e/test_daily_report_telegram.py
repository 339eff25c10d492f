"""The daily report end to end: the owner's ``/report`` through the real aiogram bot (polling)
against the Telegram emulator, the scheduled send run by two instances at once, and the
dashboard's JSON and PNG over the real HTTP API. The business clock is a fake one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.bootstrap import Services, build
from app.settings import load_settings
from emulators.telegram import TelegramEmulator, TelegramLimits, TgMessage, TgUser
from tests.fakes import FakeClock
from tests.people_words import raw_codes
from tests.serving import served
from workflows.model import StockFigure
from workflows.orders import LineRequest, PlaceOrder
from workflows.topology import Topology

TOKEN = "123456:report-test"
API = "report-test-token-0001"
AUTH = {"Authorization": f"Bearer {API}"}
OWNER, MANAGER, STRANGER = 1001, 1002, 999
PNG = b"\x89PNG\r\n\x1a\n"


def _shop() -> Topology:
    return Topology.model_validate(
        {
            "warehouses": [{"code": "online", "kind": "online"}],
            "channels": {"site": {"serves": ["online"]}, "wildberries": {"serves": ["online"]}},
            "people": {"owner_telegram_id": OWNER, "manager_telegram_ids": [MANAGER]},
        }
    )


class Shop:
    def __init__(self, services: Services, tg: TelegramEmulator, http: TestClient[Any, Any], clock: FakeClock,
                 env: dict[str, str]) -> None:  # fmt: skip
        self.services, self.tg, self.http, self.clock, self.env = services, tg, http, clock, env

    async def photos_to(self, chat: int, count: int = 1) -> list[TgMessage]:
        async with asyncio.timeout(10):
            while len(found := [m for m in self.tg.messages(chat) if m.photo is not None]) < count:
                await asyncio.sleep(0.01)
        return found

    async def texts_to(self, chat: int, count: int = 1) -> list[str]:
        async with asyncio.timeout(10):
            while len(found := [m.text or "" for m in self.tg.messages(chat) if m.photo is None]) < count:
                await asyncio.sleep(0.01)
        return found


@pytest.fixture
async def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Shop]:
    clock = FakeClock()  # 21.11.2026 09:00 UTC, 12:00 in Moscow
    users = [TgUser(OWNER, "Ольга"), TgUser(MANAGER, "Мария"), TgUser(STRANGER, "X")]
    async with TelegramEmulator(token=TOKEN, users=users, limits=TelegramLimits.unlimited()) as tg:
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'report.db'}", "API_TOKEN": API,
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "LOCALE": "ru", "REPORT_TIME": "08:30",
        }  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TELEGRAM_MODE", "TELEGRAM_WEBHOOK_SECRET"):
            monkeypatch.delenv(key, raising=False)
        services = await build(load_settings(env_file=None), _shop(), clock=clock)
        await services.shop.ledger.apply_stock(clock.now() - timedelta(days=2), [StockFigure("IRON", "online", 5)])
        now = clock.now()
        for n, (channel, days_ago) in enumerate([("site", 1), ("wildberries", 1), ("site", 1), ("site", 0)]):
            clock.current = now - timedelta(days=days_ago, hours=n)
            await services.shop.orders.place(PlaceOrder(channel, f"R-{n}", [LineRequest("IRON", 1)]))
        clock.current = now
        try:
            async with served(services, telegram=True) as http:
                yield Shop(services, tg, http, clock, env)
        finally:
            await services.close()


async def test_the_owner_asks_for_the_report_and_gets_the_chart(shop: Shop) -> None:
    shop.tg.push_text(OWNER, "/report")
    (photo,) = await shop.photos_to(OWNER)
    assert photo.caption is not None
    assert photo.caption.splitlines()[:2] == ["Отчёт за 21.11.2026 (на 12:00)", "Заказов: 1"]
    assert "Медиана обработки: меньше минуты" in photo.caption
    assert raw_codes(photo.caption) == [], photo.caption
    picture = shop.tg.photo(OWNER, photo.message_id)
    assert picture is not None and picture[:8] == PNG and len(picture) > 20_000

    shop.tg.push_text(MANAGER, "/report вчера")
    (yesterday,) = await shop.photos_to(MANAGER)
    assert yesterday.caption is not None and yesterday.caption.splitlines()[:2] == ["Отчёт за 20.11.2026", "Заказов: 3"]
    shop.tg.push_text(MANAGER, "/report 2026-11-30")
    shop.tg.push_text(STRANGER, "/report")
    assert (await shop.texts_to(MANAGER)) == [
        "Отчёт за сегодня: /report, за вчера: /report вчера, за день: /report 2026-11-20"
    ]
    assert (await shop.texts_to(STRANGER)) == ["Нет доступа."]
    assert [m for m in shop.tg.messages(STRANGER) if m.photo is not None] == []


async def test_the_daily_send_goes_out_once_from_two_instances(shop: Shop) -> None:
    second = await build(load_settings(env_file=None), _shop(), clock=shop.clock, run_migrations=False)
    try:
        assert shop.services.chats.telegram_report is not None and second.chats.telegram_report is not None
        runs = [shop.services.chats.telegram_report.send_scheduled, second.chats.telegram_report.send_scheduled] * 2
        sent = await asyncio.gather(*(run() for run in runs))
        assert sorted(sent) == [False, False, False, True]
        shop.clock.advance(hours=2)
        assert not await second.chats.telegram_report.send_scheduled()  # the job run again later that day
    finally:
        await second.close()
    (photo,) = await shop.photos_to(OWNER)
    assert photo.caption is not None and photo.caption.splitlines()[:2] == ["Отчёт за 20.11.2026", "Заказов: 3"]
    assert len(shop.tg.calls("sendPhoto")) == 1 and shop.tg.messages(MANAGER) == []


async def test_the_daily_job_is_scheduled_at_report_time_in_the_shops_zone(shop: Shop) -> None:
    from app.scheduler import build_scheduler

    job = build_scheduler(shop.services).get_job("daily-report")
    assert job is not None
    assert str(job.trigger) == "cron[hour='8', minute='30']"
    assert str(job.trigger.timezone) == "Europe/Moscow"


async def test_the_dashboard_reads_the_same_figures(shop: Shop) -> None:
    response = await shop.http.get("/api/report/daily?date=2026-11-20", headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert (body["date"], body["timezone"], body["complete"]) == ("2026-11-20", "Europe/Moscow", True)
    assert body["orders"]["total"] == 3 and body["orders"]["by_channel"] == {"site": 2, "wildberries": 1}
    assert sum(body["orders"]["by_channel_hour"]["site"]) == 2 and len(body["orders"]["by_channel_hour"]["site"]) == 24
    assert body["processing"] == {"median_seconds": 0.0, "allocated_orders": 3}
    assert body["cancelled_for_stock"]["total"] == 0 and body["oversells_prevented"]["total"] == 0
    assert [c["channel"] for c in body["channels"]] == ["site", "wildberries"]
    assert (await (await shop.http.get("/api/report/daily", headers=AUTH)).json())["date"] == "2026-11-20"

    png = await shop.http.get("/api/report/daily.png?date=2026-11-21&locale=en", headers=AUTH)
    assert png.status == 200 and png.content_type == "image/png"
    assert (await png.read())[:8] == PNG
    assert (await shop.http.get("/api/report/daily")).status == 401
    for bad in ("date=21.11.2026", "date=2026-11-22"):
        refused = await shop.http.get(f"/api/report/daily?{bad}", headers=AUTH)
        assert refused.status == 400 and (await refused.json())["error"] == "invalid_request"
    assert (await shop.http.get("/api/report/daily.png?locale=de", headers=AUTH)).status == 400
