"""Socket Mode (SLACK_APP_TOKEN): the real slack-bolt AsyncSocketModeHandler connects to the
emulator's WebSocket, a store's click arrives as an envelope, is acknowledged, and decided."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.bootstrap import Services, build
from app.http.server import create_app
from app.service import RunningService
from app.settings import load_settings
from bot.slack.app import start_socket_mode, stop_socket_mode
from emulators.slack import SlackEmulator
from tests.e2e.test_store_cascade_slack import STAFF, TOKEN, _shop
from tests.fakes import FakeClock
from workflows.model import LineStatus, StockFigure
from workflows.orders import LineRequest, PlaceOrder

APP_TOKEN = "xapp-1-A0EMULATOR-socket"


@pytest.fixture
async def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Services, SlackEmulator]]:
    channels = {f"C{code.upper()}": code for code in STAFF}
    async with SlackEmulator(bot_token=TOKEN, channels=channels, app_token=APP_TOKEN) as slack:
        monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'socket.db'}")
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
        monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
        monkeypatch.setenv("SLACK_API_BASE", slack.base_url)
        monkeypatch.setenv("HTTP_PORT", "0")  # a free port, for the test that starts the whole service
        clock = FakeClock()
        services = await build(load_settings(env_file=None), _shop(), clock=clock)
        await services.shop.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "s1", 1)])
        try:
            yield services, slack
        finally:
            await services.close()


def _click(message: Any, option: str, user: str) -> dict[str, Any]:
    task_id = message.blocks[-1]["elements"][0]["value"]
    return {
        "type": "block_actions", "team": {"id": "T1", "domain": "shop"}, "api_app_id": "A0EMULATOR",
        "user": {"id": user, "username": user.lower(), "team_id": "T1"}, "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel},
        "channel": {"id": message.channel, "name": "s1"}, "message": {"ts": message.ts, "text": message.text},
        "actions": [{"type": "button", "action_id": f"task:{option}", "block_id": f"task:{task_id}", "value": task_id,
                     "action_ts": "1700000001.000200"}],
    }  # fmt: skip


async def test_a_click_over_socket_mode_is_acknowledged_and_decided(setup: tuple[Services, SlackEmulator]) -> None:
    services, slack = setup
    assert services.chats.slack_app is not None and services.chats.slack_delivery is not None
    assert "/slack/events" not in {r.resource.canonical for r in create_app(services).router.routes() if r.resource}
    placed = (await services.shop.orders.place(PlaceOrder("site", "SM-1", [LineRequest("LAMP", 1)]))).order
    await services.chats.slack_delivery.run_once()
    question = slack.messages("CS1")[0]

    handler = await start_socket_mode(services.chats.slack_app, APP_TOKEN)
    try:
        ack = await slack.socket_mode.send("interactive", _click(question, "available", "U1"))
    finally:
        await stop_socket_mode(handler)
    assert ack["envelope_id"]
    assert len(slack.calls("apps.connections.open")) == 1
    await services.chats.slack_delivery.settled()  # the message follows in the background
    assert "Есть, в порядке — <@U1>" in slack.messages("CS1")[0].text
    order = await services.shop.orders.get(placed.id or 0)  # decided before the ack
    assert (order.lines[0].status, order.lines[0].warehouse) == (LineStatus.RESERVED, "s1")


async def test_a_started_service_learns_the_bots_ids_before_any_click(setup: tuple[Services, SlackEmulator]) -> None:
    """Start-up asks Slack who the bot is in the background: no click has to, and a wrong token shows at once."""
    services, slack = setup
    bot = services.chats.slack_bot
    assert bot is not None and not bot.known
    async with RunningService(services):
        await slack.wait_for_calls("auth.test")
        async with asyncio.timeout(2):
            while not bot.known:
                await asyncio.sleep(0.01)
