"""Carrier out end to end: orders with a delivery over the real HTTP API, payments over the API, the service built by
``app.bootstrap`` from settings, and the shipping run registering with the CDEK emulator through the real
``CdekClient`` — on SQLite and PostgreSQL. The business clock is a fake one; nothing sleeps for a business
timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient

from app.bootstrap import Services, build
from app.outside import cdek_carrier
from app.settings import ConfigurationError, load_settings
from emulators.cdek import ORDERS_PATH, CdekEmulator
from integrations.cdek import CdekClient
from integrations.cdek_carrier import CdekCarrier
from tests.conftest import ROOT, _clean, table_count
from tests.fakes import FakeClock
from tests.serving import json_of, served
from workflows.carrier import ParcelItem, ShipmentRefused, ShipmentRequest
from workflows.channels import ChannelRefused
from workflows.model import Delivery
from workflows.shipping import ShippingDesk
from workflows.topology import Topology

TOKEN = "test-token-7f3a-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CDEK_ID, CDEK_SECRET = "shop-account-7", "s3cr3t-CDEK-password-xyz"
SENDER = "ООО Ромашка"


@pytest.fixture
async def cdek() -> AsyncIterator[CdekEmulator]:
    async with CdekEmulator(CDEK_ID, CDEK_SECRET) as emulator:
        yield emulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def services(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology,
    cdek: CdekEmulator, clock: FakeClock,
) -> AsyncIterator[Services]:  # fmt: skip
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'api.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    )
    env = {
        "DATABASE_URL": url, "API_TOKEN": TOKEN, "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"),
        "CDEK_CLIENT_ID": CDEK_ID, "CDEK_CLIENT_SECRET": CDEK_SECRET, "CDEK_API_BASE": cdek.base_url,
        "CDEK_SENDER_NAME": SENDER, "CDEK_SENDER_PHONE": "+74950000001", "CDEK_SHIPMENT_POINT": "MSK123",
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    built = await build(load_settings(env_file=None), topology, clock=clock)
    await _clean(built.database)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient[Any, Any]]:
    async with served(services) as test_client:
        yield test_client


def _order(external_id: str, delivery: dict[str, Any] | None, lines: tuple[tuple[str, int], ...] = (("IRON", 1),),
           phone: str = "+79161234567") -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "channel": "site", "external_id": external_id, "lines": [{"sku": s, "qty": q} for s, q in lines],
        "customer": {"name": "Ирина Щукина", "phone": phone, "email": f"{external_id}@example.ru"},
        "total": "2590.00", "currency": "RUB",
    }  # fmt: skip
    if delivery is not None:
        body["delivery"] = delivery
    return body


DOOR = {"country_code": "RU", "city": "Москва", "postal_code": "125009", "line": "ул. Тверская, д. 1, кв. 5"}
TO_DOOR: dict[str, Any] = {"tariff_code": 137, "address": DOOR}


class Shop:
    """The shop's side as a channel and a payment gateway see it: HTTP only."""

    def __init__(self, client: TestClient[Any, Any], services: Services) -> None:
        self.client, self.services = client, services

    async def stock(self, *items: tuple[str, str, int]) -> None:
        payload = {"as_of": "2026-11-21T12:00:00+03:00", "items": [{"sku": s, "warehouse": w, "qty": q}
                                                                   for s, w, q in items]}  # fmt: skip
        await json_of(await self.client.post("/api/1c/stock", json=payload, headers=AUTH), 200)

    async def order(self, body: dict[str, Any]) -> int:
        created = await json_of(await self.client.post("/api/orders", json=body, headers=AUTH), 201)
        return int(created["order_id"])

    async def pay(self, order_id: int, phase: str = "cleared") -> None:
        event = {
            "event_id": f"e-{order_id}-{phase}", "payment_id": f"p-{order_id}", "order_id": order_id,
            "idempotency_key": f"idem-{order_id}", "phase": phase, "amount": "2590.00", "currency": "RUB",
        }  # fmt: skip
        await json_of(await self.client.post("/api/payments/events", json=event, headers=AUTH), 202)

    async def get(self, order_id: int) -> Any:
        return await json_of(await self.client.get(f"/api/orders/{order_id}", headers=AUTH), 200)

    @property
    def shipping(self) -> ShippingDesk:
        assert self.services.shop.shipping is not None, "CDEK_CLIENT_ID is set: the shipping desk is built"
        return self.services.shop.shipping


@pytest.fixture
async def shop(client: TestClient[Any, Any], services: Services) -> Shop:
    s = Shop(client, services)
    await s.stock(("IRON", "online", 20), ("LAMP", "3f86a8a6-4a24-11e0-af0f-0015e9b8c48d", 1))
    return s


async def test_a_paid_order_goes_to_cdek_and_its_tracking_number_shows_in_the_order(
    shop: Shop, cdek: CdekEmulator, clock: FakeClock
) -> None:
    order_id = await shop.order(_order("site-1", TO_DOOR, (("IRON", 2),)))
    waiting = await shop.get(order_id)
    assert waiting["shipment"]["state"] == "waiting"
    assert waiting["shipment"]["address"]["city"] == "Москва"

    await shop.shipping.run_once()
    assert cdek.orders() == []  # not paid yet
    await shop.pay(order_id)
    clock.advance(minutes=2)
    await shop.shipping.run_once()

    [sent] = cdek.orders()
    assert sent.number == str(order_id)
    assert sent.body["recipient"] == {"name": "Ирина Щукина", "phones": [{"number": "+79161234567"}]}
    assert sent.body["sender"]["name"] == SENDER
    assert sent.body["shipment_point"] == "MSK123"
    assert sent.body["to_location"] == {
        "address": "ул. Тверская, д. 1, кв. 5", "country_code": "RU", "postal_code": "125009", "city": "Москва",
    }  # fmt: skip
    assert sent.body["packages"][0]["items"] == [
        {"name": "IRON", "ware_key": "IRON", "payment": {"value": 0}, "cost": 1295.0, "weight": 500, "amount": 2}
    ]
    accepted = await shop.get(order_id)
    assert (accepted["shipment"]["state"], accepted["shipment"]["carrier_id"]) == ("accepted", sent.uuid)

    cdek.settle()
    clock.advance(seconds=30)
    await shop.shipping.run_once()

    registered = await shop.get(order_id)
    assert registered["shipment"]["state"] == "registered"
    assert registered["shipment"]["tracking_number"] == "1106000001"
    events = [event["event"] for event in registered["history"]]
    assert events[-2:] == ["shipment_accepted", "shipment_registered"]
    assert registered["history"][-1]["tracking_number"] == "1106000001"
    assert len(cdek.orders()) == 1


async def test_an_international_order_to_a_pickup_point_goes_out_in_latin(
    shop: Shop, cdek: CdekEmulator, clock: FakeClock
) -> None:
    abroad = {"tariff_code": 136, "address": {"country_code": "KZ", "city": "Алматы", "line": "ул. Абая, 1"}}
    pickup = {"tariff_code": 136, "pickup_point": "MSK45", "weight_g": 900}
    first, second = await shop.order(_order("site-kz", abroad)), await shop.order(_order("site-pvz", pickup))
    await shop.pay(first)
    await shop.pay(second)
    clock.advance(minutes=2)

    await shop.shipping.run_once()

    to_kz, to_point = sorted(cdek.orders(), key=lambda order: int(order.number))
    assert to_kz.body["recipient"]["name"] == "Irina Shchukina"  # the emulator refuses Cyrillic abroad
    assert to_kz.body["to_location"]["city"] == "Almaty"
    assert to_point.body["delivery_point"] == "MSK45"
    assert to_point.body["packages"][0]["weight"] == 900
    assert {(await shop.get(n))["shipment"]["state"] for n in (first, second)} == {"accepted"}


async def test_a_shipment_cdek_refuses_is_in_the_history_and_alerted_with_cdeks_reason(
    shop: Shop, services: Services, cdek: CdekEmulator, clock: FakeClock
) -> None:
    cdek.reject_next("Адрес не найден: ул. Тверская, д. 1, кв. 5")
    order_id = await shop.order(_order("site-2", TO_DOOR))
    await shop.pay(order_id)
    clock.advance(minutes=2)
    await shop.shipping.run_once()
    cdek.settle()
    clock.advance(seconds=30)

    await shop.shipping.run_once()

    order = await shop.get(order_id)
    assert order["shipment"]["state"] == "refused"
    assert order["shipment"]["reason"] == "Адрес не найден: ул. Тверская, д. 1, кв. 5"
    assert order["history"][-1]["event"] == "shipment_refused"
    async with services.shop.uow(read_only=True) as work:
        alert = await work.alerts.open_for(f"shipment_refused:order:{order_id}")
        notices = await work.notices.undelivered(10, ["alert"])
    assert alert is not None
    assert alert.detail["reason"] == "Адрес не найден: ул. Тверская, д. 1, кв. 5"
    assert [payload["alert_id"] for _, _, payload in notices] == [alert.id]  # the owner's Telegram gets it


async def test_orders_awaiting_a_store_or_payment_are_not_sent(
    shop: Shop, cdek: CdekEmulator, clock: FakeClock
) -> None:
    in_store = await shop.order(_order("site-3", TO_DOOR, (("LAMP", 1),)))
    await shop.pay(in_store)
    unpaid = await shop.order(_order("site-4", TO_DOOR))
    authorised = await shop.order(_order("site-5", TO_DOOR, phone="+79160000005"))
    await shop.pay(authorised, "authorized")  # a new client (no cleared payment before): it must clear first

    for _ in range(3):
        await shop.shipping.run_once()
        clock.advance(minutes=2)

    assert cdek.orders() == []
    assert (await shop.get(in_store))["status"] == "awaiting_store_confirmation"
    for order_id in (in_store, unpaid, authorised):
        assert (await shop.get(order_id))["shipment"]["state"] == "waiting"


async def test_two_instances_running_side_by_side_register_each_order_exactly_once(
    shop: Shop, services: Services, cdek: CdekEmulator, clock: FakeClock
) -> None:
    order_ids = [await shop.order(_order(f"site-many-{n}", TO_DOOR)) for n in range(6)]
    for order_id in order_ids:
        await shop.pay(order_id)
    clock.advance(minutes=2)
    carrier = cdek_carrier(services.settings, services.http_client)  # the second instance's own client and token
    assert carrier is not None
    other = ShippingDesk(
        services.shop.uow, clock, carrier, services.shop.alerts, shop.shipping._threshold, owner="instance-b"
    )

    for _ in range(3):
        await asyncio.gather(shop.shipping.run_once(), other.run_once(), shop.shipping.run_once())
    cdek.settle()
    clock.advance(seconds=30)
    await asyncio.gather(shop.shipping.run_once(), other.run_once())

    assert sorted(int(order.number) for order in cdek.orders()) == order_ids
    assert sum(call.method == "POST" and call.path == ORDERS_PATH for call in cdek.calls()) == len(order_ids)
    for order_id in order_ids:
        events = [event["event"] for event in (await shop.get(order_id))["history"]]
        assert (events.count("shipment_accepted"), events.count("shipment_registered")) == (1, 1)


async def test_a_registration_whose_answer_timed_out_is_found_at_cdek_not_sent_twice(
    shop: Shop, services: Services, cdek: CdekEmulator, clock: FakeClock
) -> None:
    order_id = await shop.order(_order("site-6", TO_DOOR))
    await shop.pay(order_id)
    clock.advance(minutes=2)
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        client = CdekClient(impatient, base=cdek.base_url, client_id=CDEK_ID, client_secret=CDEK_SECRET)
        carrier = CdekCarrier(client, sender_name=SENDER, sender_phone="+74950000001", shipment_point="MSK123")
        desk = ShippingDesk(
            services.shop.uow, clock, carrier, services.shop.alerts, shop.shipping._threshold, owner="impatient"
        )
        cdek.hold_answers()
        await desk.run_once()  # times out: did CDEK get it?
        cdek.recover()
        assert len(cdek.orders()) == 1  # it did
        assert (await shop.get(order_id))["shipment"]["state"] == "waiting"
        clock.advance(minutes=11)

        await desk.run_once()

    assert (await shop.get(order_id))["shipment"]["state"] == "accepted"
    assert sum(call.method == "POST" and call.path == ORDERS_PATH for call in cdek.calls()) == 1
    assert len(cdek.orders()) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"delivery": {"tariff_code": 137}}, "delivery"),
        ({"delivery": {**TO_DOOR, "tariff_code": "137"}}, "delivery.tariff_code"),
        ({"delivery": {**TO_DOOR, "address": {**DOOR, "country_code": "rus"}}}, "delivery.address"),
        ({"delivery": {**TO_DOOR, "address": {**DOOR, "city": ""}}}, "delivery.address.city"),
        ({"delivery": {**TO_DOOR, "pickup_point": "MSK 45"}}, "delivery.pickup_point"),
        ({"delivery": {**TO_DOOR, "weight_g": 0}}, "delivery.weight_g"),
        ({"delivery": {**TO_DOOR, "carrier": "dhl"}}, "delivery.carrier"),
        ({"delivery": {**TO_DOOR, "floor": 3}}, "delivery.floor"),
    ],
)
async def test_a_bad_delivery_is_refused_with_the_field_and_nothing_is_written(
    client: TestClient[Any, Any], services: Services, change: dict[str, Any], field: str
) -> None:
    body = {**_order("site-bad", None), **change}

    refused = await json_of(await client.post("/api/orders", json=body, headers=AUTH), 422)

    assert refused["error"] == "invalid_request"
    assert any(detail["field"].startswith(field) for detail in refused["details"]), refused["details"]
    assert await table_count(services.database, "orders") == 0
    assert await table_count(services.database, "shipments") == 0


async def test_a_delivery_without_the_recipients_phone_is_refused(
    client: TestClient[Any, Any], services: Services
) -> None:
    body = _order("site-nophone", TO_DOOR, phone="")

    refused = await json_of(await client.post("/api/orders", json=body, headers=AUTH), 422)

    assert refused["error"] == "invalid_delivery"
    assert refused["details"] == [
        {"field": "customer.phone", "problem": "a delivery needs the recipient's phone, e.g. +79161234567"}
    ]
    assert await table_count(services.database, "orders") == 0
    without = await json_of(await client.post("/api/orders", json=_order("site-nodelivery", None, phone=""),
                                            headers=AUTH), 201)  # fmt: skip
    assert (await json_of(await client.get(f"/api/orders/{without['order_id']}", headers=AUTH), 200))[
        "shipment"
    ] is None


def test_the_cdek_account_needs_the_shop_as_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDEK_CLIENT_ID", CDEK_ID)
    monkeypatch.setenv("CDEK_CLIENT_SECRET", CDEK_SECRET)
    for key in ("CDEK_SENDER_NAME", "CDEK_SENDER_PHONE"):
        monkeypatch.delenv(key, raising=False)

    with pytest.raises(ConfigurationError, match="CDEK_SENDER_NAME") as refused:
        load_settings(env_file=None)

    assert CDEK_SECRET not in str(refused.value)


async def test_the_cdek_adapter_keeps_the_order_and_the_account_apart(cdek: CdekEmulator) -> None:
    items = (ParcelItem("IRON", "IRON", 1, Decimal("990.00"), 700),)
    request = ShipmentRequest(
        "77", "Ирина Щукина", "+79161234567", Delivery(137, "RU", "Москва", "ул. Ленина, 1"), items
    )
    async with httpx.AsyncClient(timeout=2.0) as http:
        client = CdekClient(http, base=cdek.base_url, client_id=CDEK_ID, client_secret=CDEK_SECRET)
        carrier = CdekCarrier(client, sender_name=SENDER, sender_phone="+74950000001")
        first = await client.register(carrier.shipment(request))  # got there; our side never heard

        assert await carrier.register(request) == first  # CDEK says the number is taken: that order is ours
        assert len(cdek.orders()) == 1
        with pytest.raises(ShipmentRefused, match=r"outside 1\.\.999"):  # never sent: CDEK could not take it
            await carrier.register(replace(request, number="78", items=(replace(items[0], qty=1000),)))
        with pytest.raises(ShipmentRefused, match=r"Field is empty: recipient\.phones"):
            await carrier.register(replace(request, number="79", recipient_phone=""))
        wrong = CdekCarrier(
            CdekClient(http, base=cdek.base_url, client_id=CDEK_ID, client_secret="old"),
            sender_name=SENDER, sender_phone="+74950000001",
        )  # fmt: skip
        with pytest.raises(ChannelRefused) as refused:
            await wrong.register(replace(request, number="80"))
        assert not isinstance(refused.value, ShipmentRefused)  # the account, not the order
        assert len(cdek.orders()) == 1
