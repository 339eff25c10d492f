"""A payment unknown too long, end to end: the real HTTP API takes the gateway's first notice, the real YooKassa
client asks the emulator (which does not answer), the managers get the task in Telegram (real aiogram against the
Telegram emulator), a press records who looked, and the gateway's answer at last clears the payment. Business time
on a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.bootstrap import build
from app.settings import load_settings
from emulators.cbr import CbrEmulator
from emulators.telegram import TelegramEmulator, TelegramLimits, TgUser
from emulators.yookassa import SECRET_KEY, SHOP_ID, YooKassaEmulator
from tests.e2e.test_telegram_office import API, MANAGER, OTHER_MANAGER, OWNER, TOKEN, Office, _shop
from tests.fakes import FakeClock
from tests.serving import served
from workflows.model import StockFigure

POLL_AFTER_S, TASK_AFTER_S = 900, 7200


class Watched(Office):
    gateway: YooKassaEmulator


@pytest.fixture(params=["ru", "en"])
async def office(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[Watched]:
    clock = FakeClock()
    users = [TgUser(OWNER, "Ольга"), TgUser(MANAGER, "Мария"), TgUser(OTHER_MANAGER, "Дмитрий")]
    async with (
        TelegramEmulator(token=TOKEN, users=users, limits=TelegramLimits.unlimited()) as tg,
        CbrEmulator() as cbr,
        YooKassaEmulator() as gateway,
    ):
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}", "API_TOKEN": API,
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "CBR_DAILY_URL": cbr.daily_url,
            "LOCALE": request.param, "PAYMENT_GATEWAY_URL": gateway.base_url, "PAYMENT_GATEWAY_SHOP_ID": SHOP_ID,
            "PAYMENT_GATEWAY_SECRET_KEY": SECRET_KEY, "PAYMENT_GATEWAY_TIMEOUT_S": "0.3",
            "PAYMENT_UNKNOWN_POLL_AFTER_S": str(POLL_AFTER_S), "PAYMENT_UNKNOWN_TASK_AFTER_S": str(TASK_AFTER_S),
        }  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TELEGRAM_MODE", "TELEGRAM_WEBHOOK_SECRET"):
            monkeypatch.delenv(key, raising=False)
        services = await build(load_settings(env_file=None), _shop(), clock=clock)
        await services.shop.ledger.apply_stock(clock.now(), [StockFigure("КР-7/2", "online", 3)])
        try:
            async with served(services, telegram=True) as http:
                watched = Watched(services, tg, cbr, http, clock)
                watched.gateway = gateway
                yield watched
        finally:
            await services.close()


WORDS = {
    "ru": ("Оплата заказа SO-1 не подтверждена", "Шлюз не ответил", "Проверено", "Готово: Проверено"),
    "en": ("Order SO-1: payment not confirmed", "The gateway did not answer", "Checked", "Done: Checked"),
}


async def test_the_managers_are_asked_about_a_payment_the_gateway_leaves_unknown(office: Watched) -> None:
    locale = str(office.services.settings.business.locale)
    title, silent, button, done = WORDS[locale]
    watch = office.services.shop.payment_watch
    assert watch is not None
    order_id = await office.order("SO-1", "4990")
    payment_id = office.gateway.create("4990.00", key=f"idem-{order_id}")
    await office.pay(order_id, "initiated", payment_id=payment_id)
    office.gateway.set_status(payment_id, "succeeded")
    office.gateway.hang()  # the gateway holds every status request: no answer at all

    started = office.clock.now()
    office.clock.advance(seconds=POLL_AFTER_S)
    while (office.clock.now() - started).total_seconds() <= TASK_AFTER_S + 600:
        await watch.run_once()
        office.clock.advance(minutes=10)
    await office.deliver()
    (to_maria,) = await office.said_to(MANAGER)
    assert to_maria.text is not None and title in to_maria.text and payment_id in to_maria.text
    assert silent in to_maria.text
    assert [b["text"] for b in to_maria.buttons[0]] == [button]
    pressed = office.tg.push_callback(MANAGER, to_maria, to_maria.buttons[0][0]["callback_data"])
    assert await office.answered(pressed) == done

    office.gateway.release()
    office.clock.advance(hours=1)
    await watch.run_once()
    order = await office.get_order(order_id)
    events = [e["event"] for e in order["history"]]
    assert events[-3:] == ["payment_unknown_asked", "payment_unknown_checked", "payment_cleared"]
    assert order["money"]["best_phase"] == "cleared"
    assert office.gateway.charges == 1
