"""A purchase's box from the supplier to the marketplace, end to end: the boxes registered through the HTTP API, a
manager scanning the box with ``/scan`` through the real aiogram bot against the Telegram emulator and the warehouse's
scanner posting ``/api/scans``; stock received and written off once, the earmarks releasing the box's share, the
order's history and the status the client sees."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from emulators.telegram import TgMessage
from tests.e2e import test_telegram_office as office_world
from tests.e2e.test_client_money_telegram import PLAN
from tests.e2e.test_telegram_office import AUTH, MANAGER, OTHER_MANAGER, STRANGER, Office

office = office_world.office


async def _json(office: Office, method: str, path: str, status: int, body: Any = None) -> Any:
    response = await office.http.request(method, path, json=body, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def _scan(office: Office, text: str) -> str:
    before = len(office.tg.messages(MANAGER))
    office.tg.push_text(MANAGER, text)
    said: list[TgMessage] = await office.said_to(MANAGER, before + 1)
    return said[before].text or ""


async def _on_hand(office: Office, sku: str) -> int:
    return (await office.services.shop.ledger.stock(sku)).by_warehouse["online"].on_hand


async def _funded_purchase(office: Office) -> int:
    order_id = await office.order("CN-77", "1994400.00")
    await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, PLAN)
    body = {"event_id": "pay-all-cleared", "payment_id": "pay-all", "order_id": order_id,
            "idempotency_key": "idem-all", "phase": "cleared", "amount": "1994400.00", "currency": "RUB"}  # fmt: skip
    assert (await office.http.post("/api/payments/events", json=body, headers=AUTH)).status == 202
    due = (office.clock.now() + timedelta(days=2)).isoformat()
    for key, purpose, currency, amount in (("cn-inv-7", "goods", "RUB", "590000"),
                                           ("tir-1", "logistics", "EUR", "11500")):  # fmt: skip
        payout = {"key": key, "purpose": purpose, "payee": "Guangzhou Textile" if purpose == "goods" else "TIR",
                  "currency": currency, "amount": amount, "due_at": due, "rate": "100"}  # fmt: skip
        assert (await _json(office, "POST", f"/api/orders/{order_id}/payouts", 201, payout))["payout"][
            "state"
        ] == "drawn"
    return order_id


async def test_a_box_goes_from_the_supplier_to_fulfilment_scanned_in_telegram_and_by_the_warehouse(
    office: Office,
) -> None:
    order_id = await _funded_purchase(office)
    boxes = {"key": "reg-1", "boxes": [{"contents": [{"sku": "КР-7/2", "qty": 2}]}]}
    path = f"/api/orders/{order_id}/purchases/cn-inv-7/boxes"
    (box,) = (await _json(office, "POST", path, 201, boxes))["boxes"]
    assert (box["number"], box["status"], box["value_rub"]) == (1, "purchased", "590000.00")
    assert (await _json(office, "POST", path, 200, boxes))["duplicate"] is True  # the same key again
    await _json(office, "POST", f"/api/orders/{order_id}/purchases/no-such/boxes", 404, boxes)
    refused = await _json(office, "POST", f"/api/orders/{order_id}/purchases/tir-1/boxes", 422, boxes)
    assert refused["error"] == "not_a_purchase"
    bad = {"key": "reg-2", "boxes": [{"contents": [{"sku": "КР-7/2", "qty": 0}]}]}
    await _json(office, "POST", path, 422, bad)
    code, stock = box["barcode"], await _on_hand(office, "КР-7/2")

    said = await _scan(office, f"/scan {code}")
    assert said.splitlines() == [
        f"📦 Заказ CN-77, коробка 1 из 1 ({code})", "• КР-7/2 × 2", "Статус: на складе поставщика",
        "Деньги: не меняются на этом шаге",
    ]  # fmt: skip
    said = await _scan(office, f"/SCAN {code.lower()}")  # the command and the barcode in any case
    assert said.splitlines()[2:] == [
        "Статус: в пути",
        "Деньги: из резерва «логистика» израсходовано 1\xa0130\xa0833,33\xa0₽",
    ]  # 1 150 000 × 590 000 / 600 000 (the goods' plan)
    typo = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert "не сходится контрольная цифра" in await _scan(office, f"/scan {typo}")
    assert await _scan(office, "/scan") == "Укажите штрихкод коробки: /scan BX-00000042-0003-6"

    scanner = {"barcode": code, "status": "at_moscow_warehouse", "key": "gate-1"}
    arrived = await _json(office, "POST", "/api/scans", 201, scanner)
    assert arrived["steps"][0]["stock"] == "received" and await _on_hand(office, "КР-7/2") == stock + 2
    assert (await _json(office, "POST", "/api/scans", 200, scanner))["duplicate"] is True
    backwards = await _json(office, "POST", "/api/scans", 409, {"barcode": code, "status": "in_transit"})
    assert backwards["error"] == "scan_backwards"
    assert (await _json(office, "POST", "/api/scans", 422, {"barcode": typo}))["error"] == "bad_barcode"
    assert await _on_hand(office, "КР-7/2") == stock + 2  # received once

    said = await _scan(office, f"/scan {code}")
    assert "Статус: отправлена на маркетплейс" in said and "Остаток: списана со склада Подольск" in said
    assert await _on_hand(office, "КР-7/2") == stock
    listed = await _json(office, "GET", f"/api/orders/{order_id}/boxes", 200)
    assert (listed["client_status"], listed["counts"]["sent_to_marketplace"]) == ("on_the_way_to_marketplace", 1)
    assert [s["status"] for s in listed["boxes"][0]["scans"]] == [
        "purchased", "at_supplier_warehouse", "in_transit", "at_moscow_warehouse", "sent_to_marketplace",
    ]  # fmt: skip

    history = [entry["text"] for entry in (await office.get_order(order_id))["history"]]
    assert (
        "Коробка 1 из 1 (КР-7/2 × 2): в пути; из резервов израсходовано: логистика 1\xa0130\xa0833,33\xa0₽" in history
    )
    assert "Коробка 1 из 1 (КР-7/2 × 2): на складе в Москве; принята на склад Подольск" in history
    money = await _json(office, "GET", f"/api/orders/{order_id}/money", 200)
    goods = {e["purpose"]: e for e in money["earmarks"]}["goods"]
    assert (goods["drawn"], goods["released"]) == ("590000.00", "590000.00")


async def test_a_wrong_scan_forward_is_undone_over_the_api_and_the_history_says_who_and_why(office: Office) -> None:
    order_id = await _funded_purchase(office)
    boxes = {"key": "reg-1", "boxes": [{"contents": [{"sku": "КР-7/2", "qty": 2}]}]}
    (box,) = (await _json(office, "POST", f"/api/orders/{order_id}/purchases/cn-inv-7/boxes", 201, boxes))["boxes"]
    code, stock = box["barcode"], await _on_hand(office, "КР-7/2")
    await _json(office, "POST", "/api/scans", 201, {"barcode": code, "status": "at_moscow_warehouse"})
    assert await _on_hand(office, "КР-7/2") == stock + 2

    undo = {"barcode": code, "status": "at_supplier_warehouse", "key": "fix-1", "reason": "не та коробка",
            "by": "Ольга"}  # fmt: skip
    undone = await _json(office, "POST", "/api/scans/undo", 201, undo)
    assert undone["box"]["status"] == "at_supplier_warehouse"
    assert [s["status"] for s in undone["undone"]] == ["at_moscow_warehouse", "in_transit"]
    assert undone["released"] == {"customs": "0.00", "logistics": "-1130833.33"}
    assert await _on_hand(office, "КР-7/2") == stock
    assert (await _json(office, "POST", "/api/scans/undo", 200, undo))["duplicate"] is True
    again = await _json(office, "POST", "/api/scans/undo", 409, {**undo, "key": "fix-2"})
    assert again["error"] == "undo_not_back"
    await _json(office, "POST", "/api/scans/undo", 404, {**undo, "barcode": "BX-00000042-0003-6", "key": "fix-3"})
    await _json(office, "POST", "/api/scans/undo", 422, {**undo, "status": "nowhere"})
    money = {e["purpose"]: e for e in (await _json(office, "GET", f"/api/orders/{order_id}/money", 200))["earmarks"]}
    assert money["logistics"]["released"] == "0.00"

    listed = await _json(office, "GET", f"/api/orders/{order_id}/boxes", 200)
    assert [(s["status"], s["undone_at"] is not None) for s in listed["boxes"][0]["scans"]][-2:] == [
        ("in_transit", True), ("at_moscow_warehouse", True),
    ]  # fmt: skip
    history = [entry["text"] for entry in (await office.get_order(order_id))["history"]]
    assert (
        "Коробка 1 из 1 (КР-7/2 × 2): скан отменён, снова на складе поставщика (отменено: на складе в Москве, в пути);"
        " списана со склада Подольск; в резервы возвращено: логистика 1\xa0130\xa0833,33\xa0₽; Ольга: не та коробка"
        in history
    ), history

    arrived = await _json(office, "POST", "/api/scans", 201, {"barcode": code, "status": "in_transit"})
    assert arrived["released"] == {"logistics": "1130833.33"}  # released once more, under a key of its own


async def _asked(office: Office, chat: int, text: str) -> TgMessage:
    before = len(office.tg.messages(chat))
    office.tg.push_text(chat, text)
    said: list[TgMessage] = await office.said_to(chat, before + 1)
    return said[before]


async def _released(office: Office, order_id: int, purpose: str) -> str:
    money = await _json(office, "GET", f"/api/orders/{order_id}/money", 200)
    return str({e["purpose"]: e for e in money["earmarks"]}[purpose]["released"])


async def test_a_manager_undoes_a_wrong_scan_with_unscan_after_confirming_it(office: Office) -> None:
    order_id = await _funded_purchase(office)
    boxes = {"key": "reg-1", "boxes": [{"contents": [{"sku": "КР-7/2", "qty": 2}]}]}
    (box,) = (await _json(office, "POST", f"/api/orders/{order_id}/purchases/cn-inv-7/boxes", 201, boxes))["boxes"]
    code = box["barcode"]
    never = await _asked(office, MANAGER, f"/unscan {code}")
    assert never.text == f"Коробку {code} ещё не сканировали (выкуплена): отменять нечего." and not never.buttons
    await _scan(office, f"/scan {code}")
    await _scan(office, f"/scan {code}")  # one too many: in transit, the carrier's share released
    assert await _released(office, order_id, "logistics") == "1130833.33"
    assert await _scan(office, "/unscan") == "Укажите штрихкод коробки: /unscan BX-00000042-0003-6"
    assert "Коробки BX-00000042-0003-6 нет" in await _scan(office, "/unscan BX-00000042-0003-6")

    question = await _asked(office, MANAGER, f"/UNSCAN {code.lower()}")
    assert question.text == (f"↩️ Отменить последний скан? Заказ CN-77, коробка 1 из 1 ({code})\n"
                             "Сейчас: в пути; после отмены: на складе поставщика")  # fmt: skip
    [[button]] = question.buttons
    assert button["text"] == "Отменить скан"
    stranger = office.tg.push_callback(STRANGER, question, button["callback_data"], require_button=False)
    assert await office.answered(stranger) == "Нет доступа."
    assert await _released(office, order_id, "logistics") == "1130833.33"  # nothing changed

    pressed = office.tg.push_callback(MANAGER, question, button["callback_data"])
    assert await office.answered(pressed) == "Готово: скан отменён"
    await office.tg.wait_for("editMessageText", 1)
    done = next(m for m in office.tg.messages(MANAGER) if m.message_id == question.message_id)
    assert (done.text or "").splitlines() == [
        f"↩️ Скан отменён: заказ CN-77, коробка 1 из 1 ({code})", "Статус: снова на складе поставщика (отменено: в пути)",
        "Деньги: в резерв «логистика» возвращено 1\xa0130\xa0833,33\xa0₽", "Отменил(а): Мария (1002)",
    ]  # fmt: skip
    assert not done.buttons
    assert await _released(office, order_id, "logistics") == "0.00"
    again = office.tg.push_callback(OTHER_MANAGER, question, button["callback_data"], require_button=False)
    assert await office.answered(again) == f"Уже отменено: коробка {code} — на складе поставщика."
    assert await _released(office, order_id, "logistics") == "0.00"
    history = [entry["text"] for entry in (await office.get_order(order_id))["history"]]
    assert any("скан отменён, снова на складе поставщика" in line and "Мария (1002)" in line for line in history)

    stale = await _asked(office, MANAGER, f"/unscan {code}")  # asked, then the box is scanned on meanwhile
    assert "Сейчас: на складе поставщика; после отмены: выкуплена" in (stale.text or "")
    await _scan(office, f"/scan {code}")
    late = office.tg.push_callback(MANAGER, stale, stale.buttons[0][0]["callback_data"])
    assert await office.answered(late) == (f"Коробка {code} уже в пути: скан не отменён, ничего не изменено. "
                                           "Наберите /unscan заново.")  # fmt: skip
    assert await _released(office, order_id, "logistics") == "1130833.33"


@pytest.mark.parametrize("office", ["en"], indirect=True)
async def test_unscan_speaks_english_and_is_in_the_help(office: Office) -> None:
    order_id = await _funded_purchase(office)
    boxes = {"key": "reg-1", "boxes": [{"contents": [{"sku": "КР-7/2", "qty": 2}]}]}
    (box,) = (await _json(office, "POST", f"/api/orders/{order_id}/purchases/cn-inv-7/boxes", 201, boxes))["boxes"]
    code = box["barcode"]
    await _scan(office, f"/scan {code}")
    question = await _asked(office, MANAGER, f"/unscan {code}")
    assert question.text == (f"↩️ Undo the last scan? Order CN-77, box 1 of 1 ({code})\n"
                             "Now: at the supplier's warehouse; after the undo: purchased")  # fmt: skip
    pressed = office.tg.push_callback(MANAGER, question, question.buttons[0][0]["callback_data"])
    assert await office.answered(pressed) == "Done: scan undone"
    assert "/unscan <barcode> — undo a box's last scan (asks to confirm)" in await _scan(office, "/help")
