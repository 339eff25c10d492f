"""One client's order from payment to fulfilment, end to end through the real HTTP API and the real aiogram bot
against the Telegram emulator: the estimate, the client's payment, the managers' call check and customs checklist in
Telegram, the supplier, carrier, customs, warehouse and marketplace each paid from its own earmark, the purchase's
boxes scanned with ``/scan`` and by the warehouse's scanner, and the client's signed page at every step. With
``STOREOPS_WRITE_TRANSCRIPTS=1`` it writes ``docs/transcripts/client_journey.txt``: the owner's liquidity view and the
client's timeline."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from decimal import Decimal
from typing import Any

from emulators.telegram import TgMessage
from tests.e2e import test_telegram_office as office_world
from tests.e2e import test_telegram_order as order_world
from tests.e2e.test_client_money_telegram import PLAN, _json, _paid
from tests.e2e.test_telegram_office import MANAGER, OWNER, TRANSCRIPTS, Office
from tests.people_words import raw_codes

office = office_world.office
client_links_on = order_world.client_links_on

# what each step needs paid first, from the earmark of its service: purpose, payee, currency, amount, rate
PAYOUTS: dict[str, tuple[str, str, str, str, str]] = {
    "in_transit": ("logistics", "TIR Trans Logistik", "EUR", "11500", "100"),
    "at_moscow_warehouse": ("customs", "ФТС России", "RUB", "222000", "1"),
    "sent_to_marketplace": ("warehouse", "Склад Подольск", "RUB", "17400", "1"),
    "accepted_at_fulfilment": ("marketplace", "Wildberries", "RUB", "5000", "1"),
}
STEPS = ("at_supplier_warehouse", "in_transit", "at_moscow_warehouse", "sent_to_marketplace", "accepted_at_fulfilment")


async def _press(office: Office, starts: str, option: str) -> TgMessage:
    """Мария presses ``option`` on her newest message starting with ``starts`` and the bot takes it."""
    await office.deliver()
    message = next(m for m in reversed(office.tg.messages(MANAGER)) if (m.text or "").startswith(starts))
    data = next(b["callback_data"] for row in message.buttons for b in row if b["callback_data"].endswith(option))
    pressed = office.tg.push_callback(MANAGER, message, data)
    assert await office.answered(pressed)
    await office.deliver()
    return message


async def _scan(office: Office, barcode: str) -> str:
    before = len(office.tg.messages(MANAGER))
    office.tg.push_text(MANAGER, f"/scan {barcode}")
    return (await office.said_to(MANAGER, before + 1))[before].text or ""


async def _client(office: Office, link: str) -> dict[str, Any]:
    """What the client sees by the link alone, with no token."""
    response = await office.http.get(link.replace("/client/", "/api/client/", 1))
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_one_clients_order_goes_from_payment_to_fulfilment_through_the_api_and_telegram(
    client_links_on: str, office: Office
) -> None:
    order_id = await office.order("CN-501", "1994400.00", phone="+79160005010")
    account = await _json(office, "POST", f"/api/orders/{order_id}/money/plan", 200, PLAN)
    planned = {e["purpose"]: Decimal(e["planned"]) for e in account["earmarks"]}
    link = (await _json(office, "GET", f"/api/orders/{order_id}/client-link", 200))["path"]
    stages = [(await _client(office, link))["stage"]]

    assert await _paid(office, order_id, "pay-501", str(sum(planned.values())), "idem-501") == 202
    stages.append((await _client(office, link))["stage"])
    checked = await _press(office, "📞", ":verified")  # a new client's large order: Мария phones them
    assert "CN-501" in (checked.text or "")
    for n in range(1, 6):  # the customs documents of full clearance, ticked one by one
        await _press(office, "📋", f":doc{n}")
    customs = (await _json(office, "GET", f"/api/orders/{order_id}/customs", 200))["plan"]
    assert customs["checklist"]["done_at"] is not None

    due = (office.clock.now() + timedelta(days=3)).isoformat()
    goods = {"key": "cn-501-supplier", "purpose": "goods", "payee": "Guangzhou Textile", "currency": "CNY",
             "amount": "50000", "due_at": due, "rate": "12"}  # fmt: skip
    assert (await _json(office, "POST", f"/api/orders/{order_id}/payouts", 201, goods))["payout"]["state"] == "drawn"
    boxes = {"key": "cn-501-boxes", "boxes": [{"contents": [{"sku": "КР-7/2", "qty": 2}]} for _ in range(2)]}
    registered = await _json(office, "POST", f"/api/orders/{order_id}/purchases/cn-501-supplier/boxes", 201, boxes)
    barcodes = [box["barcode"] for box in registered["boxes"]]
    owners_view = await _json(office, "GET", "/api/money/liquidity?weeks=3", 200)

    stock = (await office.services.shop.ledger.stock("КР-7/2")).by_warehouse["online"].on_hand
    for n, status in enumerate(STEPS):
        office.clock.advance(days=2)
        if status in PAYOUTS:
            purpose, payee, currency, amount, rate = PAYOUTS[status]
            payout = {"key": f"cn-501-{purpose}", "purpose": purpose, "payee": payee, "currency": currency,
                      "amount": amount, "due_at": (office.clock.now() + timedelta(days=1)).isoformat(), "rate": rate}  # fmt: skip
            drawn = await _json(office, "POST", f"/api/orders/{order_id}/payouts", 201, payout)
            assert drawn["payout"]["state"] == "drawn", drawn  # its earmark held it: nobody was asked
        said = await _scan(office, barcodes[0])  # the manager at the gate, in Telegram
        assert said.startswith("📦 Заказ CN-501, коробка 1 из 2") and raw_free(said), said
        scanner = {"barcode": barcodes[1], "status": status, "key": f"gate-{n}"}  # the warehouse's scanner
        assert (await _json(office, "POST", "/api/scans", 201, scanner))["box"]["status"] == status
        assert (await _json(office, "POST", "/api/scans", 200, scanner))["duplicate"] is True  # scanned twice
        stages.append((await _client(office, link))["stage"])
        if status == "at_moscow_warehouse":
            assert (await office.services.shop.ledger.stock("КР-7/2")).by_warehouse["online"].on_hand == stock + 4

    assert (await office.services.shop.ledger.stock("КР-7/2")).by_warehouse["online"].on_hand == stock  # sent on
    assert stages == [
        "awaiting_payment", "paid", "paid", "paid", "at_moscow_warehouse", "on_the_way_to_marketplace",
        "accepted_at_fulfilment",
    ]  # fmt: skip
    account = await _json(office, "GET", f"/api/orders/{order_id}/money", 200)
    for earmark in account["earmarks"]:  # each paid out once from its own earmark, and all of it materialised
        assert Decimal(earmark["drawn"]) > 0 and earmark["released"] == earmark["drawn"], earmark
        assert Decimal(earmark["drawn"]) <= Decimal(earmark["reserved"]), earmark
    assert sorted(p["purpose"] for p in account["payouts"]) == sorted(planned)
    client = await _client(office, link)
    assert [e["purpose"] for e in client["money"]["earmarks"]] == list(planned)
    assert not [m for m in office.tg.messages(OWNER) if "CN-501" in (m.text or "")]  # nothing for the owner
    order = await office.get_order(order_id)
    events = [e["event"] for e in order["history"]]
    assert events.count("money_credited") == 1 and events.count("box_scanned") == 2 * len(STEPS), events
    if os.environ.get("STOREOPS_WRITE_TRANSCRIPTS"):
        await _write(office, order, owners_view, client)


def raw_free(text: str) -> bool:
    return raw_codes(text) == []


async def _write(office: Office, order: dict[str, Any], owners_view: dict[str, Any], client: dict[str, Any]) -> None:
    asked = len(office.tg.messages(MANAGER))
    office.tg.push_text(MANAGER, f"/order {order['external_id']}")
    reply = (await office.said_to(MANAGER, asked + 1))[-1]
    weeks = [w for w in owners_view["weeks"] if w["payments"]]
    lines = [
        "# One client's order from payment to fulfilment (fake clock starts 2026-11-21 09:00 UTC = 12:00 Moscow)",
        "",
        "# The owner's liquidity view once the supplier is paid (GET /api/money/liquidity?weeks=3; weeks with payments)",
        json.dumps(
            {"as_of": owners_view["as_of"], "weeks": weeks, "reserves": owners_view["reserves"]},
            ensure_ascii=False,
            indent=1,
        ),
        "",
        f"# /order {order['external_id']} at the end — the client's timeline as a manager reads it",
        *(reply.text or "").splitlines(),
        "",
        "# The whole timeline: every event of GET /api/orders/{id} as its text says it (times UTC)",
        *(f"{e['at'][5:16].replace('T', ' ')}  {e['text']}" for e in order["history"]),
        "",
        "# What the client reads by the signed link (GET /api/client/orders/{id}) at the end",
        json.dumps({k: client[k] for k in ("number", "stage", "stage_text", "money")}, ensure_ascii=False, indent=1),
    ]
    (TRANSCRIPTS / "client_journey.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
