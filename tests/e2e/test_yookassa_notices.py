"""YooKassa's own HTTP notifications end to end: the service built from its settings (SQLite and PostgreSQL), served on
127.0.0.1, the YooKassa emulator sending its notices to ``POST /api/payments/yookassa`` as YooKassa does, and the real
``httpx`` client confirming each one with ``GET /v3/payments/{id}`` (or ``/v3/refunds/{id}``).

Nothing in a notice is believed but the id it names: a forged or stale body changes nothing the gateway's read does
not say, a repeat changes nothing, a payment not ours is left (200, logged), a body that is not a notice is a 400,
and a YooKassa that cannot be asked is a 503 so that it sends the notice again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.bootstrap import Services, build
from app.http.gateway_notice_routes import YOOKASSA_PATH
from app.settings import ConfigurationError, load_settings
from emulators.yookassa import SECRET_KEY, SHOP_ID, YooKassaEmulator
from storage.schema import metadata
from tests.conftest import ROOT, table_count
from tests.fakes import FakeClock
from tests.integration.test_client_page import PLAN, SECRET
from tests.integration.test_http_api import AUTH, NOW, TOKEN
from tests.serving import json_of, served
from workflows.model import StockFigure
from workflows.money_model import PayoutState
from workflows.office_model import Phase
from workflows.topology import Topology

DEADLINE_S = 0.5  # PAYMENT_GATEWAY_TIMEOUT_S: a technical limit, not business time
LATE_S = 2.0  # a create answered this much after YooKassa made the payment: the answer is lost
TOTAL = "600000.00"


@dataclass
class World:
    services: Services
    http: TestClient[Any, Any]
    gateway: YooKassaEmulator

    async def order(self, external_id: str) -> int:
        body = {"channel": "site", "external_id": external_id, "lines": [{"sku": "КР-7/2", "qty": 1}],
                "customer": {"name": "Ирина Клиентова", "phone": "+79990000077", "email": "irina@example.ru"},
                "total": TOTAL, "currency": "RUB"}  # fmt: skip
        order_id = int((await json_of(await self.http.post("/api/orders", json=body, headers=AUTH), 201))["order_id"])
        await json_of(await self.http.post(f"/api/orders/{order_id}/money/plan", json=PLAN, headers=AUTH), 200)
        return order_id

    async def checkout(self, order_id: int, key: str) -> str:
        """The site's checkout makes the payment at YooKassa and tells us of it under YooKassa's id."""
        payment = self.gateway.create(TOTAL, key=key, metadata={"order_id": str(order_id)})
        event = {"event_id": f"{key}-initiated", "payment_id": payment, "order_id": order_id, "idempotency_key": key,
                 "phase": "initiated", "amount": TOTAL, "currency": "RUB"}  # fmt: skip
        await json_of(await self.http.post("/api/payments/events", json=event, headers=AUTH), 202)
        return payment

    async def phase(self, payment_id: str) -> Phase | None:
        async with self.services.shop.uow(read_only=True) as work:
            payment = await work.payments.get(payment_id)
        return payment.phase if payment is not None else None

    async def credited(self, order_id: int) -> Decimal:
        async with self.services.shop.uow(read_only=True) as work:
            account = await work.money.account(order_id)
        assert account is not None
        return account.credited

    async def events(self) -> int:
        return await table_count(self.services.database, "payment_events")

    async def post(self, body: Any) -> Any:
        return await self.http.post(YOOKASSA_PATH, json=body)  # no token: YooKassa sends none


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'notices.db'}"


async def _world(
    url: str, monkeypatch: pytest.MonkeyPatch, topology: Topology, gateway: YooKassaEmulator, **extra: str
) -> Services:
    env = {
        "DATABASE_URL": url,
        "API_TOKEN": TOKEN, "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"), "CLIENT_LINK_SECRET": SECRET,
        "CLIENT_LINK_BASE_URL": "https://shop.example.ru", "PAYMENT_GATEWAY_URL": gateway.base_url,
        "PAYMENT_GATEWAY_SHOP_ID": SHOP_ID, "PAYMENT_GATEWAY_SECRET_KEY": SECRET_KEY,
        "PAYMENT_GATEWAY_TIMEOUT_S": str(DEADLINE_S), **extra,
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    services = await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))
    async with services.database.engine.begin() as connection:  # the session's PostgreSQL database, emptied
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())
    await services.shop.ledger.apply_stock(NOW, [StockFigure("КР-7/2", "online", 50)])
    return services


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> AsyncIterator[World]:
    async with YooKassaEmulator() as gateway:
        url = _sqlite(tmp_path) if request.param == "sqlite" else request.getfixturevalue("pg_url")
        services = await _world(url, monkeypatch, topology, gateway)
        try:
            async with served(services) as http:
                gateway.notify_url = str(http.make_url(YOOKASSA_PATH))
                yield World(services, http, gateway)
                await gateway.delivered()
        finally:
            await services.close()


async def test_a_checkout_payment_moves_on_yookassas_notices_and_a_full_refund_takes_the_money_back(
    world: World,
) -> None:
    gateway = world.gateway
    order_id = await world.order("CN-41")
    payment = await world.checkout(order_id, "idem-CN-41")

    gateway.pay(payment)  # two-stage: the money is held, YooKassa tells payment.waiting_for_capture
    assert [(n.event, n.status) for n in await gateway.delivered()] == [("payment.waiting_for_capture", 200)]
    assert await world.phase(payment) == Phase.AUTHORIZED
    gateway.set_status(payment, "succeeded")  # captured
    await gateway.delivered()
    assert await world.phase(payment) == Phase.CLEARED
    assert await world.credited(order_id) == Decimal(TOTAL)

    events = await world.events()
    assert await gateway.notify("payment.succeeded", payment) == 200  # YooKassa repeats it: nothing changes
    assert await world.events() == events and await world.credited(order_id) == Decimal(TOTAL)

    gateway.refund(payment, "100000.00")  # a part: our account takes a payment back whole, so it is left
    await gateway.delivered()
    assert await world.phase(payment) == Phase.CLEARED and await world.events() == events
    gateway.refund(payment)  # the rest: now it is refunded in full
    notices = await gateway.delivered()
    assert [n.status for n in notices] == [200] * 5
    assert await world.phase(payment) == Phase.REFUNDED
    assert await world.credited(order_id) == 0
    reads = [r.path for r in gateway.received if r.method == "GET"]
    assert reads.count(f"/v3/payments/{payment}") == 5  # every notice confirmed; the refunds with their payment
    assert {f"/v3/refunds/{n.object_id}" for n in notices if n.event == "refund.succeeded"} <= set(reads)
    assert gateway.charges == 1 and all(r.method == "GET" for r in gateway.received)


async def test_a_top_up_whose_create_answer_was_lost_is_still_found_by_its_metadata_and_draws_the_payout(
    world: World,
) -> None:
    shop, gateway = world.services.shop, world.gateway
    assert shop.money is not None and shop.topup_checkout is not None
    order_id = await world.order("CN-42")
    await world.checkout(order_id, "idem-CN-42")
    gateway.set_status(next(iter(gateway.payments)), "succeeded")
    await gateway.delivered()
    invoice = {"key": "tir-42", "purpose": "logistics", "payee": "TIR carrier", "currency": "EUR", "amount": "12000",
               "due_at": "2026-12-01T12:00:00+00:00", "rate": "100"}  # fmt: skip
    short = await json_of(await world.http.post(f"/api/orders/{order_id}/payouts", json=invoice, headers=AUTH), 201)
    assert short["payout"]["state"] == "short"
    async with shop.uow(read_only=True) as work:
        payout = await work.money.payout("tir-42")
    assert payout is not None and payout.task_id is not None
    assert (await shop.money.answer(payout.task_id, "request_topup", "1002")).accepted
    async with shop.uow(read_only=True) as work:
        payout = await work.money.payout("tir-42")
        assert payout is not None and payout.topup_payment_id is not None
        topup = payout.topup_payment_id

    gateway.create_answer_delay_s = LATE_S  # made at YooKassa, the answer never heard: we do not know its id
    assert await shop.topup_checkout.run_once() == 0
    made = next(pid for pid, p in gateway.payments.items() if p["metadata"].get("payment_id") == topup)
    gateway.pay(made)  # the client pays; YooKassa's notice names its own id only
    assert [n.status for n in await gateway.delivered()][-1] == 200
    assert await world.phase(topup) == Phase.CLEARED
    async with shop.uow(read_only=True) as work:
        drawn = await work.money.payout("tir-42")
    assert drawn is not None and drawn.state == PayoutState.DRAWN
    assert gateway.charges == 2


async def test_a_forged_stale_or_malformed_notice_changes_nothing_the_gateway_does_not_say(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = world.gateway
    order_id = await world.order("CN-43")
    payment = await world.checkout(order_id, "idem-CN-43")
    events = await world.events()
    forged = {"type": "notification", "event": "payment.succeeded",
              "object": {"id": payment, "status": "succeeded", "paid": True,
                         "amount": {"value": "99999999.00", "currency": "RUB"}}}  # fmt: skip
    said = await json_of(await world.post(forged), 200)  # YooKassa says it is still pending
    assert (said["applied"], said["gateway_status"]) == ("pending", "pending")
    assert await world.phase(payment) == Phase.INITIATED and await world.events() == events

    for body in ("not json", {"type": "notification", "event": "payment.succeeded"},
                 {"type": "other", "event": "payment.succeeded", "object": {"id": payment}},
                 {"type": "notification", "event": "payment.succeeded", "object": {"id": "../payments"}}):  # fmt: skip
        response = await (world.http.post(YOOKASSA_PATH, data=body) if isinstance(body, str) else world.post(body))
        assert response.status == 400, await response.text()
    assert await world.events() == events and len([r for r in gateway.received if r.method == "GET"]) == 1

    gateway.payments[payment]["status"] = "succeeded"  # YooKassa moved on; its notice of that is late
    stale = {**forged, "event": "payment.canceled", "object": {"id": payment, "status": "canceled"}}
    said = await json_of(await world.post(stale), 200)  # acted on by what YooKassa says now
    assert (said["applied"], said["phase"], said["payment_id"]) == ("advanced", "cleared", payment)
    assert await world.phase(payment) == Phase.CLEARED

    caplog.set_level(logging.INFO)
    stranger = gateway.create("10.00", key="someone-else")
    gateway.payments[stranger]["status"] = "succeeded"
    said = await json_of(await world.post({**forged, "object": {"id": stranger}}), 200)  # not ours: left, logged
    assert said["applied"] == "not_ours" and stranger in caplog.text
    unknown = "2f1c0000-000f-5000-8000-000000000000"
    said = await json_of(await world.post({**forged, "object": {"id": unknown}}), 200)  # not YooKassa's either
    assert said["applied"] == "not_at_gateway"
    said = await json_of(await world.post({**forged, "event": "payout.succeeded"}), 200)  # an event we do not follow
    assert said["applied"] == "other_event"
    assert await world.events() == events + 1


async def test_a_notice_yookassa_cannot_confirm_now_is_a_503_and_its_repeat_is_taken(world: World) -> None:
    gateway = world.gateway
    order_id = await world.order("CN-44")
    payment = await world.checkout(order_id, "idem-CN-44")
    events = await world.events()
    gateway.hang()  # our read of the payment gets no answer
    gateway.pay(payment)
    assert [n.status for n in await gateway.delivered()] == [503]
    assert await world.phase(payment) == Phase.INITIATED and await world.events() == events
    gateway.release()
    assert await gateway.notify("payment.waiting_for_capture", payment) == 200  # YooKassa sends it again
    assert await world.phase(payment) == Phase.AUTHORIZED


YOOKASSA_IPS = (
    "185.71.76.0/27, 185.71.77.0/27, 77.75.153.0/25, 77.75.156.11, 77.75.156.35, 77.75.154.128/25, 2a02:5180::/32"
)


@pytest.fixture
async def listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> AsyncIterator[tuple[TestClient[Any, Any], YooKassaEmulator]]:
    """The service taking notices from YooKassa's published addresses only, behind a reverse proxy on 127.0.0.1 that
    names the sender in X-Forwarded-For (the test speaks from 127.0.0.1)."""
    async with YooKassaEmulator() as gateway:
        services = await _world(_sqlite(tmp_path), monkeypatch, topology, gateway,
                                PAYMENT_GATEWAY_NOTICE_IPS=YOOKASSA_IPS, HTTP_TRUSTED_PROXIES="127.0.0.1")  # fmt: skip
        try:
            async with served(services) as http:
                yield http, gateway
        finally:
            await services.close()


async def test_with_the_address_list_only_yookassas_addresses_are_heard_and_others_refused_before_it_is_asked(
    listed: tuple[TestClient[Any, Any], YooKassaEmulator],
) -> None:
    http, gateway = listed
    body = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {"id": "2f1c0000-000f-5000-8000-0000000000a1"},
    }
    for sender in (None, "203.0.113.7", "185.71.76.32"):  # the proxy itself, a stranger, just outside a range
        headers = {"X-Forwarded-For": sender} if sender else {}
        refused = await json_of(await http.post(YOOKASSA_PATH, json=body, headers=headers), 403)
        assert refused["error"] == "forbidden_source"
    assert gateway.received == []  # nothing was asked of YooKassa for them
    for sender in ("185.71.76.5", "77.75.156.35", "2a02:5180::1"):
        said = await json_of(await http.post(YOOKASSA_PATH, json=body, headers={"X-Forwarded-For": sender}), 200)
        assert said["applied"] == "not_at_gateway"
    assert len(gateway.received) == 3


def test_an_address_list_with_a_mistake_stops_the_start_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_GATEWAY_NOTICE_IPS", "185.71.76.0/27, yookassa.ru")
    with pytest.raises(ConfigurationError, match=r"PAYMENT_GATEWAY_NOTICE_IPS: .*'yookassa.ru' is no IP address"):
        load_settings(env_file=None)
