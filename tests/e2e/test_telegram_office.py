"""The office side end to end: the real aiogram Bot and Dispatcher (polling) against the
Telegram emulator, the real HTTP API, the CBR emulator for rates, and a fake clock for the
business timers. Managers and the owner come from the topology."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from app.bootstrap import Services, build
from app.http.server import create_app
from app.settings import load_settings
from bot.telegram.pacing import Pacer
from bot.wording import count
from emulators.cbr import CbrEmulator
from emulators.telegram import TelegramEmulator, TelegramLimits, TgMessage, TgUser
from tests.fakes import FakeClock, FakeTime
from tests.serving import served
from workflows.model import StockFigure
from workflows.topology import Topology

TOKEN = "123456:office-test"
API = "office-test-token-0001"
AUTH = {"Authorization": f"Bearer {API}"}
OWNER, MANAGER, OTHER_MANAGER, STRANGER = 1001, 1002, 1003, 999
TRANSCRIPTS = Path(__file__).resolve().parents[2] / "docs" / "transcripts"

SITE_DOWN: dict[str, object] = {"channel": "site", "reason": "HTTP 503", "failures": 5}


def _shop() -> Topology:
    return Topology.model_validate(
        {
            "warehouses": [
                {"code": "online", "kind": "online", "title": "Подольск"},
                {
                    "code": "tverskaya",
                    "kind": "store",
                    "title": "Тверская",
                    "slack_channel": "CT",
                    "staff": ["U1"],
                    "priority": 1,
                },
            ],
            "channels": {"site": {"serves": ["online", "tverskaya"]}, "wildberries": {"serves": ["online"]}},
            "people": {"owner_telegram_id": OWNER, "manager_telegram_ids": [MANAGER, OTHER_MANAGER]},
        }
    )


class Office:
    def __init__(self, services: Services, tg: TelegramEmulator, cbr: CbrEmulator, http: TestClient[Any, Any],
                 clock: FakeClock) -> None:  # fmt: skip
        self.services, self.tg, self.cbr, self.http, self.clock = services, tg, cbr, http, clock

    async def deliver(self) -> None:
        """Everything waiting, run after run as the scheduler runs them (each run stops within its time)."""
        delivery = self.services.chats.telegram_delivery
        assert delivery is not None
        async with asyncio.timeout(10):
            while await delivery.run_once() or delivery.deferred:
                await asyncio.sleep(0.05)  # the pacer's second for a chat passes in real time

    async def edited(self, count: int) -> None:
        """Until ``count`` edits were made: a press's delivery starts at once but may leave a chat's edit,
        held back by the pacer, to the next run."""
        await self.deliver()
        await self.tg.wait_for("editMessageText", count)

    async def order(self, external_id: str, total: str, phone: str = "+79161234567", **extra: Any) -> int:
        body = {
            "channel": "site", "external_id": external_id, "lines": [{"sku": "КР-7/2", "qty": 1}],
            "customer": {"name": "Иван Петров", "phone": phone, "email": f"{external_id}@example.ru"},
            "total": total, "currency": "RUB", **extra,
        }  # fmt: skip
        response = await self.http.post("/api/orders", json=body, headers=AUTH)
        assert response.status == 201, await response.text()
        return int((await response.json())["order_id"])

    async def pay(self, order_id: int, phase: str, n: int = 1, **extra: Any) -> dict[str, Any]:
        body = {"event_id": f"evt-{order_id}-{phase}-{n}", "payment_id": f"pay-{order_id}", "order_id": order_id,
                "idempotency_key": f"idem-{order_id}", "phase": phase, "amount": "150000.00", "currency": "RUB",
                **extra}  # fmt: skip
        response = await self.http.post("/api/payments/events", json=body, headers=AUTH)
        assert response.status in (200, 202), await response.text()
        return dict(await response.json())

    async def get_order(self, order_id: int) -> dict[str, Any]:
        response = await self.http.get(f"/api/orders/{order_id}", headers=AUTH)
        assert response.status == 200
        return dict(await response.json())

    async def said_to(self, chat: int, count: int = 1) -> list[TgMessage]:
        async with asyncio.timeout(5):
            while len(self.tg.messages(chat)) < count:
                await asyncio.sleep(0.01)
        return self.tg.messages(chat)

    async def remembered(self, message: TgMessage, copies: int) -> None:
        """Until the task behind ``message``'s buttons is known to show in ``copies`` messages: /tasks records its
        copy just after sending it, so a test going on at once could outrun it."""
        task_id = int(message.buttons[0][0]["callback_data"].split(":")[1])
        async with asyncio.timeout(5):
            while True:
                async with self.services.shop.uow(read_only=True) as work:
                    if len(await work.tasks.messages(task_id)) >= copies:
                        return
                await asyncio.sleep(0.01)

    async def answered(self, callback_id: str) -> str:
        async with asyncio.timeout(5):
            while not (record := next(c for c in self.tg.callbacks() if c.id == callback_id)).answered:
                await asyncio.sleep(0.01)
        return record.answer_text or ""


@pytest.fixture
async def office(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[Office]:
    """The office in Russian; ``@pytest.mark.parametrize("office", ["en"], indirect=True)`` for English."""
    clock = FakeClock()
    users = [TgUser(OWNER, "Ольга"), TgUser(MANAGER, "Мария"), TgUser(OTHER_MANAGER, "Дмитрий"), TgUser(STRANGER, "X")]
    async with (
        TelegramEmulator(token=TOKEN, users=users, limits=TelegramLimits.unlimited()) as tg,
        CbrEmulator() as cbr,
    ):
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'office.db'}", "API_TOKEN": API,
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "CBR_DAILY_URL": cbr.daily_url,
            "LOCALE": getattr(request, "param", "ru"), "FRAUD_AMOUNT_THRESHOLD_RUB": "100000",
        }  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TELEGRAM_MODE", "TELEGRAM_WEBHOOK_SECRET"):
            monkeypatch.delenv(key, raising=False)
        services = await build(load_settings(env_file=None), _shop(), clock=clock)
        await services.shop.ledger.apply_stock(clock.now(), [StockFigure("КР-7/2", "online", 3)])
        try:
            async with served(services, telegram=True) as http:
                yield Office(services, tg, cbr, http, clock)
        finally:
            await services.close()


async def test_a_manager_asks_for_stock_and_gets_it(office: Office) -> None:
    office.tg.push_text(MANAGER, "/stock КР-7/2")
    (reply,) = await office.said_to(MANAGER)
    assert reply.text is not None
    assert reply.text.startswith("КР-7/2: доступно 3, на складах 3, в резерве 0")
    assert (
        reply.text
        == "КР-7/2: доступно 3, на складах 3, в резерве 0\n• Подольск: 3 шт., резерв 0\n• Сайт: 3\n• Wildberries: 3"
    )
    office.tg.push_text(MANAGER, "/stock")
    office.tg.push_text(MANAGER, "/pause ozon")
    replies = await office.said_to(MANAGER, 3)
    assert replies[1].text == "Укажите артикул: /stock КР-7/2"
    assert replies[2].text == "Канала «ozon» нет. Каналы: site, wildberries"


async def test_a_stranger_is_refused_and_learns_nothing(office: Office) -> None:
    office.tg.push_text(STRANGER, "/stock КР-7/2")
    office.tg.push_text(STRANGER, "/order 1")
    replies = await office.said_to(STRANGER, 2)
    assert [m.text for m in replies] == ["Нет доступа.", "Нет доступа."]
    assert office.tg.messages(MANAGER) == [] and office.tg.messages(OWNER) == []


async def test_commands_are_registered_in_russian(office: Office) -> None:
    from bot.telegram.app import register_commands

    assert office.services.chats.telegram_bot is not None
    await register_commands(office.services.chats.telegram_bot, "ru")
    commands = dict(office.tg.commands())
    assert set(commands) == {
        "status",
        "stock",
        "order",
        "tasks",
        "return",
        "scan",
        "unscan",
        "wait",
        "pause",
        "resume",
        "sync",
        "report",
        "help",
    }
    assert commands["stock"] == "Остатки по артикулу"


async def test_tasks_lists_what_each_may_see_and_only_the_owner_answers_the_owners(office: Office) -> None:
    order_id = await office.order("SO-7101", "150000")
    await office.pay(order_id, "authorized")
    await office.deliver()
    await office.said_to(MANAGER)
    office.tg.push_text(OWNER, "/tasks")  # the owner sees the managers' tasks too
    (listed,) = await office.said_to(OWNER)
    assert listed.text is not None and "Проверка звонком: заказ SO-7101" in listed.text
    pressed = office.tg.push_callback(OWNER, listed, listed.buttons[0][0]["callback_data"])
    assert (await office.answered(pressed)).startswith("Готово")
    await office.edited(3)  # the copy /tasks sent is edited with the managers' two
    (listed,) = office.tg.messages(OWNER)
    assert listed.buttons == [] and listed.text is not None and "Ольга" in listed.text

    async with office.services.shop.uow() as work:
        await office.services.shop.alerts.raise_alert(work, "sync_failing:site", "sync_failing", SITE_DOWN)
        await work.commit()
    await office.deliver()
    _, alert = await office.said_to(OWNER, 2)
    office.tg.push_text(MANAGER, "/tasks")  # the owner's alert is not the managers'
    _, none = await office.said_to(MANAGER, 2)
    assert none.text == "Открытых задач нет."
    ack = alert.buttons[0][0]["callback_data"]
    refused = office.tg.push_callback(MANAGER, none, ack, require_button=False)
    assert await office.answered(refused) == "Эту задачу решает владелец."


async def test_tasks_twice_lists_every_task_both_times_and_an_answer_edits_every_copy(office: Office) -> None:
    """A chat may show a task several times — delivered, then sent again by each /tasks — and all of them are
    remembered: every /tasks lists every task, and the decision edits every copy in every chat."""
    await office.pay(await office.order("SO-7201", "150000"), "authorized")
    async with office.services.shop.uow() as work:
        await office.services.shop.alerts.raise_alert(work, "sync_failing:site", "sync_failing", SITE_DOWN)
        await work.commit()
    await office.deliver()
    (alert,) = await office.said_to(OWNER)  # the owner's alert; the call check went to the managers
    for shown in (3, 5):
        office.tg.push_text(OWNER, "/tasks")
        await office.said_to(OWNER, shown)
    _, *listed = office.tg.messages(OWNER)
    checks, alerts = listed[0::2], [alert, *listed[1::2]]
    assert all(m.text is not None and "Проверка звонком: заказ SO-7201" in m.text for m in checks)
    assert all(m.text is not None and m.text.startswith("⚠️") for m in alerts)
    await office.remembered(checks[1], 4)  # the managers' two copies and the owner's two
    await office.remembered(alerts[2], 3)

    pressed = office.tg.push_callback(OWNER, checks[1], checks[1].buttons[0][0]["callback_data"])
    assert (await office.answered(pressed)).startswith("Готово")
    await office.edited(4)
    pressed = office.tg.push_callback(OWNER, alerts[2], alerts[2].buttons[0][0]["callback_data"])  # ack
    assert (await office.answered(pressed)).startswith("Готово")
    await office.edited(7)  # the delivered alert and both copies of it
    checks = [*office.tg.messages(MANAGER), *office.tg.messages(OTHER_MANAGER), *office.tg.messages(OWNER)[1::2]]
    assert len(checks) == 4 and all(m.buttons == [] and "Решение:" in (m.text or "") for m in checks)
    alerts = office.tg.messages(OWNER)[0::2]
    assert len(alerts) == 3 and all(m.buttons == [] and "Ольга" in (m.text or "") for m in alerts)


async def test_a_task_shown_by_tasks_before_its_delivery_is_still_delivered_once(office: Office) -> None:
    """/tasks sends a copy of a call check whose notice has not gone out yet: the delivery then sends the notice
    to every manager once and retires it — no resend at every lease — and the answer edits all three messages."""
    await office.pay(await office.order("SO-7301", "150000"), "authorized")
    office.tg.push_text(MANAGER, "/tasks")
    (listed,) = await office.said_to(MANAGER)
    await office.remembered(listed, 1)
    await office.deliver()
    for _ in range(2):
        office.clock.advance(seconds=121)  # past the notice's lease: a notice not retired would go out again
        await office.deliver()
    async with office.services.shop.uow(read_only=True) as work:
        assert await work.notices.undelivered(10) == []
    assert [len(office.tg.messages(chat)) for chat in (MANAGER, OTHER_MANAGER, OWNER)] == [2, 1, 0]
    pressed = office.tg.push_callback(MANAGER, listed, listed.buttons[0][0]["callback_data"])
    assert (await office.answered(pressed)).startswith("Готово")
    await office.edited(3)
    shown = [*office.tg.messages(MANAGER), *office.tg.messages(OTHER_MANAGER)]
    assert all(m.buttons == [] and "Решение:" in (m.text or "") for m in shown)


async def test_a_recovery_is_said_once_in_a_chat_that_shows_the_alert_twice(office: Office) -> None:
    async with office.services.shop.uow() as work:
        await office.services.shop.alerts.raise_alert(work, "sync_failing:site", "sync_failing", SITE_DOWN)
        await work.commit()
    await office.deliver()
    office.tg.push_text(OWNER, "/tasks")  # a second copy of the alert in the owner's chat
    alert, copy = await office.said_to(OWNER, 2)
    await office.remembered(copy, 2)
    async with office.services.shop.uow() as work:
        await office.services.shop.alerts.resolve(work, "sync_failing:site")
        await work.commit()
    await office.deliver()
    *copies, recovered = await office.said_to(OWNER, 3)
    assert len(office.tg.messages(OWNER)) == 3  # one recovery, however many copies
    assert recovered.text is not None and recovered.text.startswith(
        "✅ Снова в порядке. Было: Выгрузка в канал «Сайт» не проходит (5\xa0раз подряд): HTTP 503\n21.11 12:00"
    )
    assert recovered.reply_to_message_id == alert.message_id  # in reply to the alert as first delivered
    assert all(m.buttons == [] for m in copies)


async def test_a_fraud_call_check_answered_fraud_cancels_and_blocks(office: Office) -> None:
    order_id = await office.order("SO-7001", "150000")
    assert (await office.pay(order_id, "authorized"))["fraud_check_task"] is not None
    assert (await office.get_order(order_id))["money"] == {
        "requires": "cleared", "best_phase": "authorized", "may_spend": False, "shipping_hold": "fraud_check",
    }  # fmt: skip
    await office.deliver()
    (to_maria,) = await office.said_to(MANAGER)
    (to_dmitry,) = await office.said_to(OTHER_MANAGER)
    assert to_maria.text is not None and "Проверка звонком: заказ SO-7001 на 150\xa0000,00\xa0₽" in to_maria.text
    assert "Телефон: +79161234567" in to_maria.text and "Причины: новый клиент, крупный заказ" in to_maria.text
    buttons = [b["callback_data"] for b in to_maria.buttons[0]]
    task_id = buttons[0].split(":")[1]
    assert buttons == [f"task:{task_id}:verified", f"task:{task_id}:no_answer", f"task:{task_id}:fraud"]

    pressed = office.tg.push_callback(MANAGER, to_maria, f"task:{task_id}:fraud")
    assert await office.answered(pressed) == "Готово: Мошенничество"
    await office.edited(2)  # the press edits both managers' copies at once
    late = office.tg.push_callback(OTHER_MANAGER, to_dmitry, f"task:{task_id}:verified", require_button=False)
    assert (await office.answered(late)).startswith("Уже решено: Мошенничество, Мария")

    order = await office.get_order(order_id)
    assert order["status"] == "cancelled" and order["lines"][0]["status"] == "cancelled"
    assert {"fraud_check_opened", "fraud_check_answered", "cancelled", "client_blocked"} <= {
        e["event"] for e in order["history"]
    }
    stock = await (await office.http.get("/api/stock/КР-7/2", headers=AUTH)).json()
    assert stock["reserved"] == 0 and stock["available"] == 3
    async with office.services.shop.uow(read_only=True) as work:
        (payment,) = await work.payments.for_order(order_id)
    assert payment.void_requested_at is not None
    for chat in (MANAGER, OTHER_MANAGER):  # both copies edited in place: decision shown, buttons gone
        (message,) = office.tg.messages(chat)
        assert message.buttons == [] and len(message.history) == 1
        assert message.text is not None and "Решение: Мошенничество — Мария (1002)" in message.text
    body = {"channel": "site", "external_id": "SO-7002", "lines": [{"sku": "КР-7/2", "qty": 1}],
            "customer": {"name": "Иван", "phone": "+79161234567"}}  # fmt: skip
    refused = await office.http.post("/api/orders", json=body, headers=AUTH)
    assert refused.status == 403 and (await refused.json())["error"] == "client_blocked"
    if os.environ.get("STOREOPS_WRITE_TRANSCRIPTS"):
        await write_transcript("fraud_check.txt", "One fraud call check as the Telegram emulator saw it", office, order)


async def test_an_fx_move_asks_a_manager_who_asks_the_client_to_top_up(office: Office) -> None:
    office.cbr.set_rate("CNY", Decimal("12.0000"))
    due = (office.clock.now() + timedelta(days=7)).isoformat()
    obligation = {"payee": "Supplier Guangzhou", "currency": "CNY", "amount": "10000", "due_at": due}
    order_id = await office.order("SO-8001", "90000", phone="+79160000001", obligations=[obligation])
    assert await office.services.shop.fx.check_due() == 0  # keeps rates fresh; nothing due yet
    await office.pay(order_id, "cleared")
    order = await office.get_order(order_id)
    assert order["obligations"][0]["rate_at_payment"] == "12.000000"

    office.clock.advance(days=8)
    office.cbr.set_rate("CNY", Decimal("12.1000"))  # +0.83 %: within 2 %
    await office.services.shop.fx.check_due()
    assert (await office.get_order(order_id))["obligations"][0]["state"] == "released"

    office.cbr.set_rate("CNY", Decimal("12.0000"))
    order_id = await office.order("SO-8002", "90000", phone="+79160000002", obligations=[
        {**obligation, "due_at": (office.clock.now() + timedelta(days=1)).isoformat()}
    ])  # fmt: skip
    await office.services.shop.fx.check_due()
    await office.pay(order_id, "cleared")
    office.clock.advance(days=2)
    office.cbr.set_rate("CNY", Decimal("12.5000"))  # +4.2 %
    assert await office.services.shop.fx.check_due() == 1
    await office.deliver()
    (ask,) = await office.said_to(MANAGER)
    assert ask.text is not None and "Курс CNY сдвинулся на 4,2\xa0%: заказ SO-8002" in ask.text
    assert ask.text == (
        "💱 Курс CNY сдвинулся на 4,2\xa0%: заказ SO-8002\nПлатёж Supplier Guangzhou: 10\xa0000,00\xa0CN¥\n"
        "Курс ЦБ при оплате 12,0000 ₽, сейчас 12,5000 ₽\nРазница 5\xa0000,00\xa0₽\nОтветьте до 01.12 16:00"
    )
    pressed = office.tg.push_callback(MANAGER, ask, ask.buttons[0][1]["callback_data"])  # topup
    assert await office.answered(pressed) == "Готово: Доплата клиента"
    await office.edited(2)
    (obligation_now,) = (await office.get_order(order_id))["obligations"]
    assert (obligation_now["state"], obligation_now["topup_rub"]) == ("topup", "5000.00")
    (ask,) = office.tg.messages(MANAGER)
    assert ask.buttons == [] and ask.text is not None and "Решение: Доплата клиента — Мария (1002)" in ask.text
    if os.environ.get("STOREOPS_WRITE_TRANSCRIPTS"):
        await write_transcript("fx_approval.txt", "One FX approval as the Telegram emulator saw it", office,
                               await office.get_order(order_id))  # fmt: skip


async def test_a_thousand_failures_make_one_message_and_one_recovery(tmp_path: Path, office: Office) -> None:
    """1 000 failures of one kind within a minute: one message to the owner, its count edited in
    a minute later, one follow-up on recovery; Telegram's own limits (the emulator's defaults)
    never answer 429 because the adapter paces itself."""
    office.tg.api.flood.limits = TelegramLimits()  # real limits from here on
    services = office.services
    for n in range(1000):
        async with services.shop.uow() as work:
            await services.shop.alerts.raise_alert(
                work,
                "sync_failing:wildberries",
                "sync_failing",
                {"channel": "wildberries", "reason": "HTTP 503", "failures": n + 5},
            )
            await work.commit()
        if n % 100 == 0:
            await office.deliver()
        office.clock.advance(seconds=0.05)
    await office.deliver()
    (alert,) = await office.said_to(OWNER)
    assert alert.text is not None and alert.text.startswith(
        "⚠️ Выгрузка в канал «Wildberries» не проходит (5\xa0раз подряд): HTTP 503"
    )
    office.clock.advance(seconds=61)
    await office.deliver()  # the count is edited in, once
    (alert,) = office.tg.messages(OWNER)
    assert alert.text is not None and "Повторилось 1\xa0000\xa0раз: 21.11 12:00" in alert.text
    async with services.shop.uow() as work:
        await services.shop.alerts.resolve(work, "sync_failing:wildberries")
        await work.commit()
    await office.deliver()
    alert, recovered = await office.said_to(OWNER, 2)
    assert recovered.text is not None and recovered.text.startswith(
        "✅ Снова в порядке. Было: Выгрузка в канал «Wildberries» не проходит ("
    )
    assert recovered.reply_to_message_id == alert.message_id and alert.buttons == []
    assert [c for c in office.tg.received if c.status == 429] == []
    assert office.tg.messages(MANAGER) == []  # the owner's alert, not the managers'
    if os.environ.get("STOREOPS_WRITE_TRANSCRIPTS"):
        lines = ["# 1 000 failures of one kind and the recovery, as the owner's Telegram chat shows them", ""]
        for message in office.tg.messages(OWNER):
            versions = [*(version.text for version in message.history), message.text]
            for n, text in enumerate(versions):
                lines.append("message" if n == 0 else "edited to")
                lines += [f"    {line}" for line in (text or "").splitlines()]
        (TRANSCRIPTS / "alert.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


async def test_a_delivery_run_ends_within_its_time_and_leaves_the_rest_in_order(office: Office) -> None:
    """Eight alerts for the owner, one chat: a run sends what Telegram's one message a second lets go within
    the run's time (on the pacer's fake clock) and hands the rest back; the next run goes on from there."""
    delivery, t = office.services.chats.telegram_delivery, FakeTime()
    assert delivery is not None
    delivery.pacer = Pacer(clock=t.clock, sleep=t.sleep)
    follow_ups = FollowUps(delivery)
    for n in range(8):
        async with office.services.shop.uow() as work:
            await office.services.shop.alerts.raise_alert(
                work,
                f"sync_failing:ch{n}",
                "sync_failing",
                {"channel": f"ch{n}", "reason": "HTTP 503", "failures": n + 1},
            )
            await work.commit()
    assert await delivery.run_once() == 1
    assert t.now < 1.0  # a run is over before the scheduler's next second
    assert [m.text.split("\n")[0] for m in office.tg.messages(OWNER) if m.text] == [
        "⚠️ Выгрузка в канал «ch0» не проходит (1\xa0раз подряд): HTTP 503"
    ]
    async with office.services.shop.uow(read_only=True) as work:
        assert len(await work.notices.undelivered(10, ["alert"])) == 7  # handed back, not leased for 2 minutes
    assert follow_ups.asked == [1.0]  # the next run is for the owner's next second, not the scheduler's
    for second in range(1, 8):
        t.now = float(second)
        assert await delivery.run_once() == 1
    shown = [m.text.split("\n")[0] for m in office.tg.messages(OWNER) if m.text]
    assert shown == [
        f"⚠️ Выгрузка в канал «ch{n}» не проходит ({count('ru', n + 1, 'time')} подряд): HTTP 503" for n in range(8)
    ]


async def test_a_pressed_question_closes_at_once_while_a_new_message_waits_for_its_chats_second(
    office: Office,
) -> None:
    """The owner presses «Принято» on an alert a moment after another alert was raised: the pressed message loses its
    buttons in the press's own run (an edit takes no chat's second), while the new alert, a new message in the same
    chat, waits for the owner's next second (on the pacer's fake clock)."""
    delivery, t = office.services.chats.telegram_delivery, FakeTime()
    assert delivery is not None
    delivery.pacer = Pacer(clock=t.clock, sleep=t.sleep)
    follow_ups = FollowUps(delivery)
    for key in ("sync_failing:a", "sync_failing:b"):
        async with office.services.shop.uow() as work:
            await office.services.shop.alerts.raise_alert(work, key, "sync_failing", SITE_DOWN)
            await work.commit()
        if key.endswith("a"):
            assert await delivery.run_once() == 1
    (first,) = office.tg.messages(OWNER)
    t.now = 0.2  # the owner presses; the chat's next message may go at 1.0
    pressed = office.tg.push_callback(OWNER, first, first.buttons[0][0]["callback_data"])
    assert await office.answered(pressed) == "Готово: Принято"
    await delivery.settled()
    assert office.tg.messages(OWNER)[0].buttons == [] and len(office.tg.messages(OWNER)) == 1
    assert delivery.deferred and t.slept == []  # the new alert was handed back, nothing waited
    assert follow_ups.asked == [0.8]  # for the moment the owner's second is over
    t.now = 1.0
    assert await delivery.run_once() == 1
    assert [m.buttons == [] for m in office.tg.messages(OWNER)] == [True, False]


async def test_a_message_held_for_its_chats_second_goes_when_the_second_is_over(office: Office) -> None:
    """Two alerts for the owner at once: the first goes, the second is handed back, and the run that handed it back
    starts the next run for the moment the owner's second is over — not the scheduler's next second, whenever that
    falls (the pacer on a fake clock; the loop's timer recorded and fired by hand)."""
    delivery, t = office.services.chats.telegram_delivery, FakeTime()
    assert delivery is not None
    delivery.pacer = Pacer(clock=t.clock, sleep=t.sleep)
    follow_ups = FollowUps(delivery)
    for key in ("sync_failing:a", "sync_failing:b"):
        async with office.services.shop.uow() as work:
            await office.services.shop.alerts.raise_alert(work, key, "sync_failing", SITE_DOWN)
            await work.commit()
    t.now = 0.3  # the run starts a moment after they were raised
    assert await delivery.run_once() == 1 and delivery.deferred
    assert follow_ups.asked == [1.0]  # the owner's first message went at 0.3: the next may go at 1.3
    t.now = 1.3
    follow_ups.fire()
    await delivery.settled()
    assert len(office.tg.messages(OWNER)) == 2 and not delivery.deferred
    assert follow_ups.asked == [1.0]  # nothing left: no further run was asked for


class FollowUps:
    """The follow-up runs a delivery asks the loop for, recorded (their delays) instead of timed."""

    def __init__(self, delivery: Any) -> None:
        self.asked: list[float] = []
        self._due: list[Callable[[], None]] = []
        delivery.call_later = self._later

    def _later(self, seconds: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        self.asked.append(round(seconds, 6))
        self._due.append(callback)
        loop = asyncio.get_running_loop()
        return asyncio.TimerHandle(loop.time() + seconds, callback, (), loop)  # a handle to cancel, never scheduled

    def fire(self) -> None:
        due, self._due = self._due, []
        for callback in due:
            callback()


async def test_the_scheduled_run_does_not_wait_for_a_run_a_press_started(office: Office) -> None:
    """The press's run delivers the same notices: the scheduler's run returns at once instead of queueing
    behind it (a queued run would still be going at the next second)."""
    delivery = office.services.chats.telegram_delivery
    assert delivery is not None
    async with office.services.shop.uow() as work:
        await office.services.shop.alerts.raise_alert(work, "sync_failing:a", "sync_failing", {})
        await work.commit()
    office.tg.hold("sendMessage")
    delivery.kick()
    await office.tg.wait_for_held("sendMessage")
    async with asyncio.timeout(1):
        assert await delivery.scheduled() == 0
    office.tg.release("sendMessage")
    await delivery.settled()
    assert len(office.tg.messages(OWNER)) == 1


async def test_a_press_is_answered_before_its_delivery_is_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram posts a webhook's updates one at a time and waits for each answer: a press whose handler waited
    for the message edits would hold back every press after it while Telegram is slow."""
    secret = "office-webhook-secret-0002"
    async with TelegramEmulator(
        token=TOKEN, users=[TgUser(OWNER, "Ольга")], limits=TelegramLimits.unlimited(), webhook_timeout=3.0
    ) as tg:
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'press.db'}", "API_TOKEN": API,
               "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "TELEGRAM_MODE": "webhook",
               "TELEGRAM_WEBHOOK_SECRET": secret}  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        services = await build(load_settings(env_file=None), _shop(), clock=FakeClock())
        delivery, bot = services.chats.telegram_delivery, services.chats.telegram_bot
        assert delivery is not None and bot is not None
        delivery.pacer = Pacer(per_chat_s=0.0)  # the emulator has no limits here; pacing is not the point
        try:
            async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:
                await bot.set_webhook(str(http.make_url("/telegram/webhook")), secret_token=secret)
                for kind in ("sync_failing:a", "sync_failing:b"):
                    async with services.shop.uow() as work:
                        await services.shop.alerts.raise_alert(work, kind, "sync_failing", {})
                        await work.commit()
                await delivery.run_once()
                first, second = tg.messages(OWNER)
                tg.hold("editMessageText")  # Telegram is slow to take the edits the presses cause
                presses = [tg.push_callback(OWNER, m, m.buttons[0][0]["callback_data"]) for m in (first, second)]
                pushed = await tg.push_to_webhook()
                assert [d.ok for d in pushed] == [True, True]
                assert all(c.answered for c in tg.callbacks() if c.id in presses)
                await tg.wait_for_held("editMessageText")
                tg.release("editMessageText")
                await delivery.settled()
                while delivery.deferred or len(tg.calls("editMessageText")) < 2:
                    await delivery.run_once()
                assert all(m.buttons == [] for m in tg.messages(OWNER))
        finally:
            await services.close()


async def test_the_webhook_needs_the_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "office-webhook-secret-0001"
    async with TelegramEmulator(token=TOKEN, limits=TelegramLimits.unlimited()) as tg:
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}", "API_TOKEN": API,
               "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "TELEGRAM_MODE": "webhook",
               "TELEGRAM_WEBHOOK_SECRET": secret}  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        services = await build(load_settings(env_file=None), _shop(), clock=FakeClock())
        try:
            async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:
                update = {"update_id": 1, "message": {
                    "message_id": 1, "date": 1_700_000_000, "chat": {"id": MANAGER, "type": "private"},
                    "from": {"id": MANAGER, "is_bot": False, "first_name": "Мария"}, "text": "/help",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                }}  # fmt: skip
                wrong = await http.post(
                    "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess-guess-guess-1"}
                )
                assert wrong.status == 401
                assert tg.calls("sendMessage") == []
                right = await http.post(
                    "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
                )
                assert right.status == 200
                (sent,) = await tg.wait_for("sendMessage")
                assert sent.params["chat_id"] == str(MANAGER) and "/status" in sent.params["text"]
        finally:
            await services.close()


async def test_payment_events_can_be_signed_instead_of_bearer(office: Office) -> None:
    order_id = await office.order("SO-9001", "500")
    body = json.dumps({"event_id": "e1", "payment_id": "p1", "order_id": order_id, "idempotency_key": "k1",
                       "phase": "initiated", "amount": "500.00"}).encode()  # fmt: skip
    unsigned = await office.http.post("/api/payments/events", data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status == 401
    secret = "gateway-hmac-secret-0001"
    settings = office.services.settings
    signed_settings = settings.model_copy(
        update={"http": settings.http.model_copy(update={"payments_hmac_secret": SecretStr(secret)})}
    )
    services = dataclasses.replace(office.services, settings=signed_settings)
    async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:
        stamp = str(int(services.shop.clock.now().timestamp()))
        good = "sha256=" + hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        forged = await http.post("/api/payments/events", data=body,
                                 headers={"X-Signature": "sha256=00", "X-Signature-Timestamp": stamp})  # fmt: skip
        assert forged.status == 401
        signed_headers = {"X-Signature": good, "X-Signature-Timestamp": stamp}
        signed = await http.post("/api/payments/events", data=body, headers=signed_headers)
        assert signed.status == 202 and (await signed.json())["applied"] == "advanced"
        again = await http.post("/api/payments/events", data=body, headers=signed_headers)
        assert again.status == 200 and (await again.json())["duplicate"] is True


async def write_transcript(name: str, title: str, office: Office, order: dict[str, Any]) -> None:
    """What the chats saw, the order as a manager reads it with ``/order``, and the API's raw history."""
    calls = list(office.tg.received)
    asked = len(office.tg.messages(MANAGER))
    office.tg.push_text(MANAGER, f"/order {order['external_id']}")
    reply = (await office.said_to(MANAGER, asked + 1))[-1]
    lines = [f"# {title} (fake clock starts 2026-11-21 09:00 UTC = 12:00 Moscow)", ""]
    for call in calls:
        if call.method in ("getUpdates", "getMe", "deleteWebhook"):
            continue
        shown = {k: v for k, v in call.params.items() if k in ("chat_id", "message_id", "callback_query_id", "text")}
        lines.append(f"{call.method:<22} {json.dumps(shown, ensure_ascii=False)}")
        markup = call.params.get("reply_markup")
        if markup:
            rows = json.loads(markup)["inline_keyboard"]
            lines.append(
                "    buttons: " + " | ".join(f"{b['text']} [{b['callback_data']}]" for row in rows for b in row)
            )
    lines += ["", f"# /order {order['external_id']} — what a manager reads", *(reply.text or "").splitlines()]
    lines += ["", "# GET /api/orders/{id} history"]
    for event in order["history"]:
        detail = {k: v for k, v in event.items() if k not in ("at", "event")}
        lines.append(
            f"{event['at'][5:16].replace('T', ' ')} UTC  {event['event']:<22} {json.dumps(detail, ensure_ascii=False)}"
        )
    (TRANSCRIPTS / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


async def test_a_marketplace_order_nobody_can_fill_is_cancelled_by_a_managers_press(office: Office) -> None:
    """A Wildberries order with a line no warehouse has: the managers get the question with its buttons, the press
    on "cancel" cancels the order here (its reserved line released) and, on the next run, on the marketplace once."""
    from tests.unit.test_fulfilment import FulfillingChannel, order
    from workflows.channel_upkeep import ChannelUpkeep
    from workflows.fulfilment import Fulfilment

    shop = office.services.shop
    assert shop.unfillable is not None
    await shop.ledger.apply_stock(office.clock.now(), [StockFigure("ВАЗА", "online", 0)])
    async with shop.uow(read_only=True) as work:
        offers = await work.offer_ids.for_skus("wildberries", ["КР-7/2", "ВАЗА"])
    wb = FulfillingChannel("wildberries", orders=[order("WB-1", (offers["КР-7/2"], 1), (offers["ВАЗА"], 1))])
    assert await ChannelUpkeep(shop.uow, office.clock, shop.topology, wb, shop.orders).pull_orders() == 1
    fulfilment = Fulfilment(shop.uow, office.clock, wb, shop.alerts, shop.unfillable, Decimal(100_000),
                            channel="wildberries")  # fmt: skip
    await fulfilment.run_once()
    await office.deliver()

    (to_maria,) = await office.said_to(MANAGER)
    assert to_maria.text is not None and "Заказ WB-1 (Wildberries): товара нет нигде" in to_maria.text
    assert "• ВАЗА × 1" in to_maria.text
    assert [b["text"] for b in to_maria.buttons[0]] == ["Отменить заказ", "Ждать поставку"]
    assert [b["callback_data"].rsplit(":", 1)[1] for b in to_maria.buttons[0]] == ["cancel", "wait"]
    pressed = office.tg.push_callback(MANAGER, to_maria, to_maria.buttons[0][0]["callback_data"])
    assert await office.answered(pressed) == "Готово: Отменить заказ"
    await office.edited(2)
    await fulfilment.run_once()
    await fulfilment.run_once()

    assert wb.cancelled == ["WB-1"]
    async with shop.uow(read_only=True) as work:
        taken = await work.orders.find("wildberries", "WB-1")
    assert taken is not None and taken.status == "cancelled"
    stock = await (await office.http.get("/api/stock/КР-7/2", headers=AUTH)).json()
    assert stock["reserved"] == 0 and stock["available"] == 3
    office.tg.push_text(MANAGER, f"/order {taken.id}")
    _, shown = await office.said_to(MANAGER, 2)
    assert shown.text is not None and "заказ отменён на маркетплейсе (нет товара)" in shown.text


async def test_a_manager_waits_for_a_delivery_day_named_with_wait(office: Office) -> None:
    """The question's ``wait`` press puts it off a day; ``/wait <order> <day>`` names the delivery day instead, and the
    question comes back that morning; a wrong day, an unknown order or one with no such question change nothing."""
    from zoneinfo import ZoneInfo

    from tests.unit.test_fulfilment import FulfillingChannel, order
    from workflows.channel_upkeep import ChannelUpkeep
    from workflows.fulfilment import Fulfilment

    shop = office.services.shop
    assert shop.unfillable is not None
    await shop.ledger.apply_stock(office.clock.now(), [StockFigure("ВАЗА", "online", 0)])
    async with shop.uow(read_only=True) as work:
        offers = await work.offer_ids.for_skus("wildberries", ["ВАЗА"])
    wb = FulfillingChannel("wildberries", orders=[order("WB-7", (offers["ВАЗА"], 1))])
    assert await ChannelUpkeep(shop.uow, office.clock, shop.topology, wb, shop.orders).pull_orders() == 1
    fulfilment = Fulfilment(shop.uow, office.clock, wb, shop.alerts, shop.unfillable, Decimal(100_000),
                            channel="wildberries")  # fmt: skip
    await fulfilment.run_once()
    await office.deliver()
    (question,) = await office.said_to(MANAGER)
    assert question.text is not None and "/wait WB-7 ДД.ММ" in question.text
    pressed = office.tg.push_callback(MANAGER, question, question.buttons[0][1]["callback_data"])
    assert await office.answered(pressed) == "Готово: Ждать поставку"

    moscow = office.clock.now().astimezone(ZoneInfo("Europe/Moscow"))
    day = (moscow + timedelta(days=3)).strftime("%d.%m")
    office.tg.push_text(MANAGER, "/wait WB-7")
    office.tg.push_text(MANAGER, "/wait WB-7 31.02")
    office.tg.push_text(MANAGER, f"/wait SO-404 {day}")
    office.tg.push_text(MANAGER, f"/wait {moscow.strftime('%d.%m')} WB-7")  # today, and the words swapped
    said = sorted(m.text or "" for m in (await office.said_to(MANAGER, 5))[1:])
    assert said == [
        "«31.02» — не день после сегодняшнего. Пример: /wait 5000001 05.12",
        "«WB-7» — не день после сегодняшнего. Пример: /wait 5000001 05.12",
        "Заказа SO-404 нет.",
        "Укажите заказ и день поставки: /wait 5000001 05.12",
    ]
    office.tg.push_text(MANAGER, f"/wait WB-7 {day}")
    (set_,) = (await office.said_to(MANAGER, 6))[5:]
    assert set_.text == f"Заказ WB-7: ждём поставку, спросим снова {day} 10:00."

    office.clock.advance(days=2)  # the default day is long over; the named day is not yet here
    await fulfilment.run_once()
    async with shop.uow(read_only=True) as work:
        assert [t for t in await work.tasks.open_about("order:") if t.kind == "unfillable_order"] == []
    office.clock.advance(days=2)
    await fulfilment.run_once()
    async with shop.uow(read_only=True) as work:
        (again,) = [t for t in await work.tasks.open_about("order:") if t.kind == "unfillable_order"]
    assert again.payload["attempt"] == 2
