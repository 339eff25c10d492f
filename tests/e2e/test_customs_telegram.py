"""A customs plan end to end: the real HTTP API and the real aiogram bot against the Telegram emulator. The client's
goods payment on a fully cleared order sends the managers the document checklist and the FTS reminder; Мария ticks
documents, a second press on a ticked one changes nothing, a stranger is refused, the message shows who ticked
what; the FTS payout covers the plan and closes the reminder."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from emulators.telegram import TgMessage
from tests.e2e import test_telegram_office as office_world
from tests.e2e.test_client_money_telegram import PLAN, _json, _paid
from tests.e2e.test_telegram_office import MANAGER, OTHER_MANAGER, OWNER, STRANGER, Office

office = office_world.office


async def _said(office: Office, chat: int, prefix: str) -> list[TgMessage]:
    for _ in range(5):  # the fraud call check of a new client's large order comes too
        await office.deliver()
        found = [m for m in office.tg.messages(chat) if (m.text or "").startswith(prefix)]
        if found:
            return found
    raise AssertionError(f"nothing starting {prefix!r} in {[m.text for m in office.tg.messages(chat)]}")


def _buttons(message: TgMessage) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in message.buttons for b in row]


async def test_managers_tick_the_customs_documents_and_the_fts_payout_closes_the_reminder(office: Office) -> None:
    order_id = await office.order("CN-90", "1994400.00")
    await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, PLAN)
    assert (await _json(office, "GET", f"/api/orders/{order_id}/customs", 200))["plan"] is None  # no goods money yet
    assert await _paid(office, order_id, "pay-goods-90", "600000.00", "idem-goods-90") == 202
    assert await _paid(office, order_id, "pay-goods-90", "600000.00", "idem-goods-90") == 200  # repeated: no change

    (checklist,) = await _said(office, MANAGER, "📋")
    await _said(office, OTHER_MANAGER, "📋")  # every manager sees it
    assert checklist.text is not None
    lines = checklist.text.splitlines()
    assert lines[:3] == [
        "📋 Документы для таможни: заказ CN-90",
        "Соберите документы для полного оформления заказа CN-90 и отметьте каждый до 26.11 12:00",
        "☐ Инвойс",
    ]
    assert lines[-1] == "Отмечено 0 из 5"
    task_id = int(checklist.buttons[0][0]["callback_data"].split(":")[1])
    assert _buttons(checklist)[:2] == [
        ("☐ Инвойс", f"task:{task_id}:doc1"), ("☐ Упаковочный лист", f"task:{task_id}:doc2"),
    ]  # fmt: skip
    assert all(len(data.encode()) <= 64 for _, data in _buttons(checklist))
    (fts,) = await _said(office, MANAGER, "🏛")
    assert fts.text is not None and fts.buttons == []
    assert fts.text.splitlines()[:2] == [
        "🏛 Оплата таможни: заказ CN-90",
        "Оплатите ФТС России 222\xa0000,00\xa0₽ из резерва «таможня» заказа CN-90 до 01.12 12:00",
    ]

    stranger = office.tg.push_callback(STRANGER, checklist, f"task:{task_id}:doc1", require_button=False)
    assert await office.answered(stranger) == "Нет доступа."
    pressed = office.tg.push_callback(MANAGER, checklist, f"task:{task_id}:doc1")
    assert await office.answered(pressed) == "Готово: Инвойс"
    await office.edited(2)  # both managers' copies
    edited = next(m for m in office.tg.messages(MANAGER) if m.message_id == checklist.message_id)
    assert edited.text is not None
    assert "✅ Инвойс — Мария (1002), 21.11 12:00" in edited.text.splitlines()
    assert edited.text.splitlines()[-1] == "Отмечено 1 из 5"
    assert [text for text, _ in _buttons(edited)] == [  # the ticked one has no button any more
        "☐ Упаковочный лист", "☐ Внешнеторговый контракт", "☐ Спецификация", "☐ Декларация или сертификат соответствия",
    ]  # fmt: skip
    other = next(m for m in office.tg.messages(OTHER_MANAGER) if (m.text or "").startswith("📋"))
    again = office.tg.push_callback(OTHER_MANAGER, other, f"task:{task_id}:doc1", require_button=False)
    assert await office.answered(again) == "Уже отмечено: Инвойс, Мария (1002)."

    view = await _json(office, "GET", f"/api/orders/{order_id}/customs", 200)
    plan = view["plan"]
    assert view["clearance"] == "full" and plan["payment_id"] == "pay-goods-90"
    assert plan["checklist"]["ticked"] == 1 and plan["checklist"]["total"] == 5
    assert plan["checklist"]["documents"][0] == {
        "option": "doc1", "title": "invoice", "ticked_by": "Мария (1002)", "ticked_at": office.clock.now().isoformat(),
    }  # fmt: skip
    fts_plan = plan["fts_payment"]
    assert (fts_plan["amount_rub"], fts_plan["currency"], fts_plan["covered"]) == ("222000.00", "RUB", False)
    calendar = await _json(office, "GET", "/api/money/obligations?weeks=4", 200)
    assert [(p["source"], p["reference"], p["amount_rub"], p["covered"]) for p in calendar["payments"]] == [
        ("customs_plan", f"customs:{order_id}", "222000.00", False),
    ]

    for n in range(2, 6):  # Дмитрий ticks the rest; the last tick answers the checklist
        current = next(m for m in office.tg.messages(OTHER_MANAGER) if m.message_id == other.message_id)
        pressed = office.tg.push_callback(OTHER_MANAGER, current, f"task:{task_id}:doc{n}")
        assert (await office.answered(pressed)).startswith("Готово: ")
        await office.deliver()
    await office.edited(10)
    done = next(m for m in office.tg.messages(MANAGER) if m.message_id == checklist.message_id)
    assert done.text is not None and done.buttons == []
    assert done.text.splitlines()[-1] == "Все документы собраны (21.11 12:00)"

    assert await _paid(office, order_id, "pay-rest-90", "1394400.00", "idem-rest-90") == 202  # the rest of the money
    due = (office.clock.now() + timedelta(days=5)).isoformat()
    payout = {"key": "fts-90", "purpose": "customs", "payee": "ФТС России", "currency": "RUB", "amount": "222000",
              "due_at": due}  # fmt: skip
    taken = await _json(office, "POST", f"/api/orders/{order_id}/payouts", 201, payout)
    assert taken["payout"]["state"] == "drawn"
    view = await _json(office, "GET", f"/api/orders/{order_id}/customs", 200)
    assert view["plan"]["fts_payment"]["covered"] is True
    assert view["plan"]["fts_payment"]["task"]["state"] == "cancelled"
    await office.deliver()
    closed = next(m for m in office.tg.messages(MANAGER) if m.message_id == fts.message_id)
    assert closed.text is not None and closed.text.splitlines()[-1].startswith("Не нужно: платёж в таможню проведён")

    history = [entry["text"] for entry in (await office.get_order(order_id))["history"]]
    assert "Документ для таможни собран: Инвойс (Мария (1002))" in history
    assert "Все документы для таможни собраны" in history
    assert "Оплата таможни проведена: ФТС России, 222\xa0000,00\xa0₽" in history
    planned = next(line for line in history if line.startswith("Полное оформление"))
    assert planned == (
        "Полное оформление: менеджерам собрать документы (5) до 26.11 12:00; оплата таможни ФТС России "
        "222\xa0000,00\xa0₽ до 01.12 12:00"
    )


@pytest.mark.parametrize("office", ["en"], indirect=True)
async def test_the_checklist_in_english(office: Office) -> None:
    order_id = await office.order("CN-91", "1994400.00")
    await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, {**PLAN, "clearance": "full"})
    assert await _paid(office, order_id, "pay-goods-91", "600000.00", "idem-goods-91") == 202
    (checklist,) = await _said(office, MANAGER, "📋")
    assert checklist.text is not None
    assert checklist.text.splitlines()[:3] == [
        "📋 Customs documents: order CN-91",
        "Collect the documents for order CN-91's full clearance and tick each by 26.11 12:00",
        "☐ Invoice",
    ]
    (fts,) = await _said(office, MANAGER, "🏛")
    assert fts.text is not None and "Pay ФТС России 222,000.00" in fts.text.splitlines()[1]


async def test_partial_clearance_sends_no_checklist(office: Office) -> None:
    order_id = await office.order("CN-92", "1994400.00")
    await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, {**PLAN, "clearance": "partial"})
    assert await _paid(office, order_id, "pay-all-92", "1994400.00", "idem-all-92") == 202
    await office.deliver()
    await office.deliver()
    said: list[Any] = [m.text for m in office.tg.messages(MANAGER)]
    assert not any((text or "").startswith(("📋", "🏛")) for text in said)
    view = await _json(office, "GET", f"/api/orders/{order_id}/customs", 200)
    assert (view["clearance"], view["plan"]) == ("partial", None)
    assert (await office.http.get("/api/orders/999999/customs", headers=office_world.AUTH)).status == 404


async def test_the_checklist_is_reminded_then_goes_to_the_owner_as_the_clock_moves(office: Office) -> None:
    order_id = await office.order("CN-93", "1994400.00")
    await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, PLAN)
    assert await _paid(office, order_id, "pay-goods-93", "600000.00", "idem-goods-93") == 202
    assert len(await _said(office, MANAGER, "📋")) == 1

    office.clock.advance(days=2, hours=12, seconds=1)  # half of the five days
    await office.services.shop.pump.run_once()
    first, reminder = await _said(office, MANAGER, "📋")
    invoice = _buttons(first)[0][1]
    assert reminder.text is not None and reminder.text.splitlines()[-1] == "⏰ Напоминание: срок — 26.11 12:00"
    assert len(_buttons(reminder)) == 5  # the reminder can be ticked too

    office.clock.advance(days=2, hours=12)  # the deadline: the owner gets the rest, with an alert
    await office.services.shop.pump.run_once()
    (owners,) = await _said(office, OWNER, "📋")
    assert owners.text is not None
    assert owners.text.splitlines()[-1] == "Менеджеры не собрали документы вовремя"
    assert len(_buttons(owners)) == 5
    await office.deliver()
    expired = next(m for m in office.tg.messages(MANAGER) if m.message_id == first.message_id)
    assert expired.text is not None and expired.text.splitlines()[-1].startswith("Время вышло")
    assert expired.buttons == []
    late = office.tg.push_callback(MANAGER, first, invoice, require_button=False)
    assert await office.answered(late) == "Время на ответ вышло."
    history = [entry["text"] for entry in (await office.get_order(order_id))["history"]]
    assert "Документы для таможни: срок пропущен, решает владелец" in history
