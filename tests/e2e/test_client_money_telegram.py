"""The TIR carrier's invoice arrives before the client has paid for logistics, end to end: the real HTTP API, the
real aiogram bot against the Telegram emulator, a manager pressing «Запросить доплату», the client paying the
linked request through the gateway's events, and the invoice drawn from the logistics reserve at last."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.report_chart import summary_lines
from bot.wording import Names
from emulators.telegram import TgMessage
from tests.e2e import test_telegram_office as office_world
from tests.e2e.test_telegram_office import AUTH, MANAGER, OTHER_MANAGER, Office

office = office_world.office

PLAN = {"goods_rub": "600000", "transport": "tir", "clearance": "full", "weight_kg": "4000", "volume_m3": "12",
        "boxes": 20}  # fmt: skip


async def _json(office: Office, method: str, path: str, status: int, body: Any = None) -> Any:
    response = await office.http.request(method, path, json=body, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def _paid(office: Office, order_id: int, payment_id: str, amount: str, key: str) -> int:
    body = {"event_id": f"{payment_id}-cleared", "payment_id": payment_id, "order_id": order_id,
            "idempotency_key": key, "phase": "cleared", "amount": amount, "currency": "RUB"}  # fmt: skip
    return (await office.http.post("/api/payments/events", json=body, headers=AUTH)).status


async def _shortfall_question(office: Office, chat: int) -> TgMessage:
    await office.deliver()
    for _ in range(3):  # the fraud call check of a new client's large order comes too
        found = [m for m in await office.said_to(chat) if (m.text or "").startswith("💰")]
        if found:
            return found[0]
        await office.deliver()
    raise AssertionError(f"no shortfall question in {[m.text for m in office.tg.messages(chat)]}")


async def test_the_tir_invoice_before_the_logistics_money_is_topped_up_by_the_client(office: Office) -> None:
    order_id = await office.order("CN-77", "1994400.00")
    planned = await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, PLAN)
    assert {e["purpose"]: e["planned"] for e in planned["earmarks"]}["logistics"] == "1150000.00"
    assert await _paid(office, order_id, "pay-goods", "600000.00", "idem-goods") == 202  # the goods only

    due = (office.clock.now() + timedelta(days=2)).isoformat()
    invoice = {"key": "tir-2026-118", "purpose": "logistics", "payee": "TIR Trans Logistik", "currency": "EUR",
               "amount": "12000", "due_at": due, "rate": "100"}  # fmt: skip
    taken = await _json(office, "POST", f"/api/orders/{order_id}/payouts", 201, invoice)
    assert taken["payout"]["state"] == "short" and taken["task_id"] is not None
    again = await _json(office, "POST", f"/api/orders/{order_id}/payouts", 200, invoice)  # the same invoice again
    assert (again["duplicate"], again["payout"]["state"]) == (True, "short")

    question = await _shortfall_question(office, MANAGER)
    assert question.text is not None
    lines = question.text.splitlines()
    assert lines[0] == "💰 Не хватает резерва «логистика»: заказ CN-77"
    assert lines[2] == "В резерве 0,00\xa0₽, не хватает 1\xa0200\xa0000,00\xa0₽"
    assert [b["text"] for b in question.buttons[0]] == ["Запросить доплату", "Берём на себя", "Отложить"]
    await _shortfall_question(office, OTHER_MANAGER)  # every manager sees it; the first press decides

    pressed = office.tg.push_callback(MANAGER, question, question.buttons[0][0]["callback_data"])
    assert await office.answered(pressed) == "Готово: Запросить доплату"
    account = await _json(office, "GET", f"/api/orders/{order_id}/money", 200)
    (payout,) = account["payouts"]
    assert payout["state"] == "awaiting_topup" and payout["topup_payment_id"]
    logistics = {e["purpose"]: e for e in account["earmarks"]}["logistics"]
    assert (logistics["reserved"], logistics["drawn"]) == ("0.00", "0.00")  # never drawn below zero

    request = payout["topup_payment_id"]  # the client pays the linked request through the gateway
    assert await _paid(office, order_id, request, "1200000.00", request) == 202
    assert await _paid(office, order_id, request, "1200000.00", request) == 200  # the gateway repeats itself
    account = await _json(office, "GET", f"/api/orders/{order_id}/money", 200)
    assert account["payouts"][0]["state"] == "drawn"
    logistics = {e["purpose"]: e for e in account["earmarks"]}["logistics"]
    assert (logistics["reserved"], logistics["drawn"], logistics["available"]) == (
        "1200000.00", "1200000.00", "0.00",
    )  # fmt: skip
    assert account["credited"] == "1800000.00"

    owner = await _json(office, "GET", "/api/money/liquidity?weeks=2", 200)
    week = next(w for w in owner["weeks"] if w["payments"])
    assert (week["due_rub"], week["covered_rub"], week["waiting_rub"]) == ("1200000.00", "1200000.00", "0.00")
    calendar = await _json(office, "GET", "/api/money/obligations", 200)
    assert [(p["reference"], p["currency"], p["amount"], p["covered"]) for p in calendar["payments"]] == [
        ("tir-2026-118", "EUR", "12000.0000", True),
        (f"customs:{order_id}", "RUB", "222000.00", False),  # full clearance: the FTS payment planned with the goods
    ]
    history = [entry["text"] for entry in (await office.get_order(order_id))["history"]]
    assert "Клиенту выставлена доплата 1\xa0200\xa0000,00\xa0₽ на «логистика»" in history
    assert any(line.startswith("Платёж TIR Trans Logistik: 12\xa0000,00") and "взят из резерва" in line
               for line in history)  # fmt: skip


async def test_the_owners_daily_report_has_the_weeks_money(office: Office) -> None:
    order_id = await office.order("CN-78", "1994400.00")
    await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, PLAN)
    assert await _paid(office, order_id, "pay-goods-78", "1000000.00", "idem-goods-78") == 202
    due = (office.clock.now() + timedelta(days=2)).isoformat()  # Monday: next week
    invoice = {"key": "tir-78", "purpose": "logistics", "payee": "TIR", "currency": "EUR", "amount": "3000",
               "due_at": due, "rate": "100"}  # fmt: skip
    await _json(office, "POST", f"/api/orders/{order_id}/payouts", 201, invoice)

    report = await _json(office, "GET", "/api/report/daily?date=2026-11-21", 200)
    assert report["money"] == {
        "due_this_week_rub": "0.00", "covered_rub": "0.00", "uncovered_rub": "0.00", "due_next_week_rub": "300000.00",
        "overdue": 0, "overdue_rub": "0.00", "available_rub": "700000.00",
    }  # fmt: skip
    reports = office.services.shop.reports
    assert reports is not None
    lines = summary_lines(await reports.for_day(reports.today()), Names.of(office_world._shop(), "ru"))
    assert lines[-2:] == [
        "Платежи на этой неделе: 0,00\xa0₽, из резервов покрыто 0,00\xa0₽, не покрыто 0,00\xa0₽",
        "На следующей неделе: 300\xa0000,00\xa0₽; в резервах свободно 700\xa0000,00\xa0₽",
    ]


async def _message_starting(office: Office, chat: int, mark: str) -> TgMessage:
    for _ in range(4):  # the fraud call check of a new client's large order comes too
        await office.deliver()
        found = [m for m in await office.said_to(chat) if (m.text or "").startswith(mark)]
        if found:
            return found[0]
    raise AssertionError(f"no {mark} message in {[m.text for m in office.tg.messages(chat)]}")


async def test_cleared_money_with_no_purchase_asks_the_managers_in_telegram(office: Office) -> None:
    order_id = await office.order("CN-79", "1994400.00")
    await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, PLAN)
    assert await _paid(office, order_id, "pay-79", "600000.00", "idem-79") == 202
    watch = office.services.shop.purchase_watch
    assert watch is not None
    office.clock.advance(days=1)
    assert await watch.run_once() == 1

    question = await _message_starting(office, MANAGER, "🛒")
    assert question.text is not None
    lines = question.text.splitlines()
    assert lines[0] == "🛒 Заказ CN-79: деньги клиента пришли, закупки нет"
    assert lines[1].startswith("На счёте заказа 600\xa0000,00\xa0₽, оплата с ")
    assert [b["text"] for b in question.buttons[0]] == ["Закупка идёт", "Отложить", "Вернуть деньги"]
    callback = question.buttons[0][0]["callback_data"]
    assert callback.startswith("task:") and callback.endswith(":started")
    pressed = office.tg.push_callback(MANAGER, question, callback)
    assert await office.answered(pressed) == "Готово: Закупка идёт"
    history = [entry["text"] for entry in (await office.get_order(order_id))["history"]]
    assert any(line.startswith("Оплата без закупки — решение: закупка идёт") for line in history)


async def test_a_route_change_over_http(office: Office) -> None:
    order_id = await office.order("CN-80", "1994400.00")
    await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, PLAN)
    assert await _paid(office, order_id, "pay-80", "1994400.00", "idem-80") == 202
    route = {**PLAN, "key": "route-80", "delivery": "region_small_lots"}
    changed = await _json(office, "POST", f"/api/orders/{order_id}/money/route", 200, route)
    assert changed["duplicate"] is False
    assert changed["changed"] == {"marketplace": {"before": "5000.00", "after": "183000.00"}}
    assert list(changed["topups"]) == ["marketplace"] and changed["account"]["delivery"] == "region_small_lots"
    again = await _json(office, "POST", f"/api/orders/{order_id}/money/route", 200, route)
    assert (again["duplicate"], again["topups"]) == (True, {})
    other = await _json(office, "POST", f"/api/orders/{order_id}/money/route", 409, {**route, "boxes": 3})
    assert other["error"] == "money_conflict"

    due = (office.clock.now() + timedelta(days=2)).isoformat()
    invoice = {"key": "tir-80", "purpose": "logistics", "payee": "TIR", "currency": "EUR", "amount": "10000",
               "due_at": due, "rate": "100"}  # fmt: skip
    await _json(office, "POST", f"/api/orders/{order_id}/payouts", 201, invoice)
    rail = {**route, "key": "route-80-rail", "transport": "rail_container"}
    refused = await _json(office, "POST", f"/api/orders/{order_id}/money/route", 409, rail)
    assert refused["error"] == "route_below_drawn"
