"""A client's top-up created at YooKassa end to end: the service built from its settings, the HTTP API and the
client's signed page over real HTTP, the real ``httpx`` client against the wire-level emulator on 127.0.0.1, business
time on a fake clock.

The manager presses request_topup; the checkout's first create is made at YooKassa but answered too late, so it is
sent again with the same Idempotence-Key: one payment. The client's page shows «Оплатить доплату» with YooKassa's
confirmation_url; the client pays at the emulator; the payment watch reads it by YooKassa's id; the top-up clears
and the carrier's payout that waited for it is drawn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient

from app.bootstrap import Services, build
from app.settings import load_settings
from emulators.yookassa import SECRET_KEY, SHOP_ID, YooKassaEmulator
from integrations.yookassa import YooKassaPayments
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_client_page import PLAN, SECRET
from tests.integration.test_http_api import AUTH, NOW, TOKEN
from tests.serving import json_of, served
from workflows.money_model import PayoutState
from workflows.office_model import Phase
from workflows.payment_gateway import GatewayRefused, NewPayment
from workflows.topology import Topology

DEADLINE_S = 0.5  # PAYMENT_GATEWAY_TIMEOUT_S: a technical limit, not business time
LATE_S = 2.0  # the emulator's answer to a create comes this much after it made the payment


@pytest.fixture
async def gateway() -> AsyncIterator[YooKassaEmulator]:
    async with YooKassaEmulator() as emulator:
        yield emulator


@pytest.fixture
async def services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology, gateway: YooKassaEmulator
) -> AsyncIterator[Services]:
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'topup.db'}", "API_TOKEN": TOKEN,
        "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"), "CLIENT_LINK_SECRET": SECRET,
        "CLIENT_LINK_BASE_URL": "https://shop.example.ru", "PAYMENT_GATEWAY_URL": gateway.base_url,
        "PAYMENT_GATEWAY_SHOP_ID": SHOP_ID, "PAYMENT_GATEWAY_SECRET_KEY": SECRET_KEY,
        "PAYMENT_GATEWAY_TIMEOUT_S": str(DEADLINE_S),
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    built = await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient[Any, Any]]:
    async with served(services) as test_client:
        yield test_client


async def test_the_client_creates_a_payment_once_per_key_and_a_changed_body_is_refused(
    gateway: YooKassaEmulator,
) -> None:
    async with httpx.AsyncClient(timeout=10.0) as http:
        yookassa = YooKassaPayments(http, base=gateway.base_url, shop_id=SHOP_ID, secret_key=SECRET_KEY)
        request = NewPayment("topup-7-3-11", 7, Decimal("1200000"), "RUB", "Заказ CN-7: доплата, таможня",
                             "https://shop.example.ru/client/orders/7?exp=1&sig=ab")  # fmt: skip
        made = await yookassa.create(request)
        assert made.status == "pending" and made.confirmation_url.startswith("https://")
        assert (await yookassa.create(request)) == made  # the same key: the same payment
        with pytest.raises(GatewayRefused, match="Idempotence key duplicated"):
            await yookassa.create(NewPayment(**{**request.__dict__, "amount": Decimal("1300000")}))
    assert gateway.charges == 1
    sent = gateway.payments[made.gateway_id]
    assert sent["amount"] == {"value": "1200000.00", "currency": "RUB"}
    assert sent["metadata"] == {"payment_id": "topup-7-3-11", "order_id": "7"}
    assert sent["confirmation"]["return_url"] == request.return_url and sent["description"] == request.description
    assert [r.idempotence_key for r in gateway.received] == ["topup-7-3-11"] * 3


async def test_a_request_topup_is_paid_at_yookassa_through_the_link_on_the_clients_page(
    client: TestClient[Any, Any], services: Services, gateway: YooKassaEmulator
) -> None:
    shop, clock = services.shop, services.shop.clock
    assert isinstance(clock, FakeClock) and shop.topup_checkout is not None and shop.payment_watch is not None
    order_id = await _short_carrier_payout(client)
    async with shop.uow(read_only=True) as work:
        payout = await work.money.payout("tir-1")
    assert payout is not None and payout.task_id is not None
    assert shop.money is not None
    assert (await shop.money.answer(payout.task_id, "request_topup", "1002")).accepted  # the manager's button
    async with shop.uow(read_only=True) as work:
        payout = await work.money.payout("tir-1")
    assert payout is not None and payout.topup_payment_id is not None
    topup = payout.topup_payment_id

    gateway.create_answer_delay_s = LATE_S  # YooKassa makes it and answers after we gave up
    assert await shop.topup_checkout.run_once() == 0
    assert gateway.charges == 1
    gateway.create_answer_delay_s = 0
    assert await shop.topup_checkout.run_once() == 0  # backing off: not asked again yet
    clock.advance(minutes=1)
    assert await shop.topup_checkout.run_once() == 1
    posts = [r for r in gateway.received if r.method == "POST"]
    assert [r.idempotence_key for r in posts] == [topup, topup] and gateway.charges == 1  # asked twice, made once
    [(yookassa_id, made)] = gateway.payments.items()
    assert made["amount"] == {"value": "1200000.00", "currency": "RUB"} and made["metadata"]["payment_id"] == topup
    assert made["confirmation"]["return_url"].startswith(f"https://shop.example.ru/client/orders/{order_id}?exp=")
    assert "CN-5" in made["description"]

    link = await json_of(await client.get(f"/api/orders/{order_id}/client-link", headers=AUTH), 200)
    page = await (await client.get(link["path"])).text()
    pay_url = made["confirmation"]["confirmation_url"]
    assert "Оплатить доплату" in page and f'href="{pay_url}"' in page.replace("&amp;", "&")
    view = await json_of(await client.get(link["path"].replace("/client/", "/api/client/", 1)), 200)
    assert [p["pay_url"] for p in view["payments"] if p["pay_url"]] == [pay_url]
    history = await json_of(await client.get(f"/api/orders/{order_id}", headers=AUTH), 200)
    assert "topup_link_sent" in json.dumps(history)

    gateway.pay(yookassa_id)  # the client pays at YooKassa's page
    clock.advance(seconds=services.settings.payment_gateway.poll_after_s)
    assert await shop.payment_watch.run_once() == 1
    async with shop.uow(read_only=True) as work:
        paid = await work.payments.get(topup)
        drawn = await work.money.payout("tir-1")
    assert paid is not None and paid.phase == Phase.CLEARED
    assert drawn is not None and drawn.state == PayoutState.DRAWN  # the carrier's payout that waited is drawn
    assert [r.path for r in gateway.received if r.method == "GET"] == [f"/v3/payments/{yookassa_id}"]
    page = await (await client.get(link["path"])).text()
    assert "Оплатить доплату" not in page and gateway.charges == 1


async def _short_carrier_payout(client: TestClient[Any, Any]) -> int:
    """An order planned for TIR with its goods paid, and a carrier's invoice the logistics earmark cannot hold."""
    body = {"channel": "site", "external_id": "CN-5", "lines": [{"sku": "КР-7/2", "qty": 1}],
            "customer": {"name": "Ирина Клиентова", "phone": "+79990000077", "email": "irina@example.ru"},
            "total": "1994400.00", "currency": "RUB"}  # fmt: skip
    order_id = int((await json_of(await client.post("/api/orders", json=body, headers=AUTH), 201))["order_id"])
    await json_of(await client.post(f"/api/orders/{order_id}/money/plan", json=PLAN, headers=AUTH), 200)
    event = {"event_id": "ev-CN-5", "payment_id": "pay-CN-5", "order_id": order_id, "idempotency_key": "idem-CN-5",
             "phase": "cleared", "amount": "600000.00", "currency": "RUB"}  # fmt: skip
    await json_of(await client.post("/api/payments/events", json=event, headers=AUTH), 202)
    invoice = {"key": "tir-1", "purpose": "logistics", "payee": "TIR carrier", "currency": "EUR", "amount": "12000",
               "due_at": "2026-12-01T12:00:00+00:00", "rate": "100"}  # fmt: skip
    response = await client.post(f"/api/orders/{order_id}/payouts", json=invoice, headers=AUTH)
    assert response.status in (200, 201, 202), await response.text()
    return order_id
