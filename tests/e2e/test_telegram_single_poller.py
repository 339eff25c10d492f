"""Two ``storeops run`` instances on one PostgreSQL database and one bot token, against the Telegram emulator
(which, like Telegram, ends a held ``getUpdates`` with 409 when another one arrives): only one polls, the other
stands by, and takes over when the first stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import GetUpdates, TelegramMethod
from sqlalchemy import text

import bot.telegram.app as telegram_app
from app.bootstrap import Services, build
from app.service import RunningService
from app.settings import load_settings
from emulators.telegram import TelegramEmulator, TelegramLimits
from workflows.topology import Topology

pytestmark = pytest.mark.postgres

TOKEN = "777001:single-poller"
OWNER = 1001  # the example topology's owner
STANDS_BY = "another instance polls Telegram; this one stands by"
LOST = "telegram: this instance lost the polling leadership; it stops polling"


class Polls:
    """Which instance sent each ``getUpdates`` (an aiogram request middleware on each instance's bot)."""

    def __init__(self) -> None:
        self.by: list[str] = []
        self.changed = asyncio.Event()

    def watch(self, name: str, services: Services) -> None:
        bot = services.chats.telegram_bot
        assert bot is not None

        async def record(
            make_request: Callable[[Bot, TelegramMethod[Any]], Awaitable[Any]], bot: Bot, method: TelegramMethod[Any]
        ) -> Any:
            if isinstance(method, GetUpdates):
                self.by.append(name)
                self.changed.set()
            return await make_request(bot, method)

        bot.session.middleware(record)

    async def first_by(self, name: str) -> None:
        async with asyncio.timeout(10):
            while name not in self.by:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def instances(
    pg_url: str, topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TelegramEmulator, Services, Services]]:
    monkeypatch.setattr(telegram_app, "LEADERSHIP_CHECK_S", 0.05)  # how often the standby asks, not a deadline
    async with TelegramEmulator(token=TOKEN, limits=TelegramLimits.unlimited()) as tg, AsyncExitStack() as stack:
        env = {"DATABASE_URL": pg_url, "API_TOKEN": "single-poller-token-01", "HTTP_HOST": "127.0.0.1",
               "HTTP_PORT": "0", "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url}  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "TELEGRAM_MODE"):
            monkeypatch.delenv(key, raising=False)
        built = []
        for name in ("first", "second"):  # two instances on one database: each its own id
            monkeypatch.setenv("INSTANCE_ID", f"poller-{name}")
            services = await build(load_settings(env_file=None), topology)
            stack.push_async_callback(services.close)
            built.append(services)
        yield tg, built[0], built[1]


async def test_only_one_instance_polls_and_the_other_takes_over(
    instances: tuple[TelegramEmulator, Services, Services], caplog: pytest.LogCaptureFixture
) -> None:
    tg, first, second = instances
    polls = Polls()
    polls.watch("first", first)
    polls.watch("second", second)
    caplog.set_level(logging.INFO, logger="bot.telegram.app")
    async with AsyncExitStack() as first_running:
        await first_running.enter_async_context(RunningService(first))
        await polls.first_by("first")
        async with RunningService(second):
            await asyncio.sleep(0.5)  # ten of the second's tries (it asks every 0.05 s here)
            assert set(polls.by) == {"first"}
            tg.push_text(OWNER, "/status")
            (reply,) = await tg.wait_for("sendMessage")
            assert reply.params["text"].startswith("Каналы:")
            await first_running.aclose()  # the first instance stops; the second takes over
            await polls.first_by("second")
            tg.push_text(OWNER, "/status")
            await tg.wait_for("sendMessage", count=2)
    assert polls.by[-1] == "second"
    assert [call.error for call in tg.calls("getUpdates") if call.status != 200] == []  # never two pollers at once
    assert len(tg.calls("sendMessage")) == 2  # each update answered once
    assert [r.getMessage() for r in caplog.records].count(STANDS_BY) == 1  # said once, not at every try


async def test_a_poller_that_loses_its_database_connection_stops_and_the_other_takes_over(
    instances: tuple[TelegramEmulator, Services, Services], caplog: pytest.LogCaptureFixture
) -> None:
    tg, first, second = instances
    polls = Polls()
    polls.watch("first", first)
    polls.watch("second", second)
    caplog.set_level(logging.INFO, logger="bot.telegram.app")
    async with RunningService(first), RunningService(second):
        await polls.first_by("first")
        (pid,) = await _advisory_holders(first)
        async with first.database.engine.connect() as admin:  # the leader's session is cut, its lock freed
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await polls.first_by("second")
        async with asyncio.timeout(10):
            while LOST not in [r.getMessage() for r in caplog.records]:
                await asyncio.sleep(0.01)
        since = len(polls.by)
        async with asyncio.timeout(10):  # two long polls of the second (each held 0.5 s by the emulator)
            while polls.by[since:].count("second") < 2:  # meanwhile the first tried to lead again ten times
                polls.changed.clear()
                await polls.changed.wait()
        assert set(polls.by[since:]) == {"second"}
        tg.push_text(OWNER, "/status")
        (reply,) = await tg.wait_for("sendMessage")
        assert reply.params["text"].startswith("Каналы:")
    assert [r.getMessage() for r in caplog.records].count(STANDS_BY) == 2  # the second at first, then the first


async def _advisory_holders(services: Services) -> list[int]:
    query = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    async with services.database.engine.connect() as connection:
        return [int(pid) for pid in (await connection.execute(query)).scalars()]
