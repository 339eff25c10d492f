"""Our orders into RetailCRM and its managers' status changes back (``integrations.retailcrm_orders``), on the real
``httpx.AsyncClient``, against the RetailCRM emulator over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from emulators.retailcrm import RetailCrmEmulator
from integrations.retailcrm import RetailCrmClient
from integrations.retailcrm_orders import RetailCrmOrders
from tests.fakes import FakeTime
from workflows.channels import ChannelRefused, ChannelUnavailable
from workflows.crm import CrmLine, CrmOrder
from workflows.model import Customer, Delivery

KEY = "crm-secret-api-key-0123456789abcdef"
SITE = "shop"
CLIENT = Customer("Анна Петрова", "+7 (916) 123-45-67", "anna@example.ru")


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def crm(time_: FakeTime) -> AsyncIterator[RetailCrmEmulator]:
    async with RetailCrmEmulator(KEY, SITE, ["main"], ["A-1"], clock=time_.clock) as emulator:
        yield emulator


@pytest.fixture
async def orders(crm: RetailCrmEmulator, time_: FakeTime) -> AsyncIterator[RetailCrmOrders]:
    async with httpx.AsyncClient(timeout=2.0) as http:
        client = RetailCrmClient(
            http, base=crm.base_url, api_key=KEY, site=SITE, store_code="main", clock=time_.clock, sleep=time_.sleep
        )
        yield RetailCrmOrders(client, cancel_status="cancel-other", payment_type="cash")


def an_order(order_id: int = 7, **changes: object) -> CrmOrder:
    fields: dict[str, object] = {
        "order_id": order_id, "number": f"wildberries-WB-{order_id}", "channel": "wildberries", "customer": CLIENT,
        "lines": (CrmLine("A-1", 2, Decimal("1259.50")),), "total": Decimal("2519.00"), "currency": "RUB",
        "paid": True, "cancelled": False, "status": "reserved", "created_at": datetime(2026, 12, 1, tzinfo=UTC),
    }  # fmt: skip
    fields.update(changes)
    return CrmOrder(**fields)  # type: ignore[arg-type]


async def named(orders: RetailCrmOrders, order: CrmOrder) -> CrmOrder:
    """The order with its client's customer, as ``workflows.crm_orders`` sends it."""
    return replace(order, customer_id=await orders.customer_id(order.customer))


async def test_an_order_is_created_with_its_client_lines_payment_and_delivery(
    crm: RetailCrmEmulator, orders: RetailCrmOrders
) -> None:
    delivery = Delivery(136, "RU", "Москва", "ул. Тверская, 1, кв. 5", "125009")
    await orders.upsert(await named(orders, an_order(delivery=delivery)))

    held = crm.order("storeops-7")
    assert held is not None
    assert held["number"] == "wildberries-WB-7" and held["source"] == {"source": "wildberries"}
    assert held["items"] == [{"offer": {"xmlId": "A-1"}, "quantity": 2, "initialPrice": 1259.5}]
    assert list(held["payments"].values()) == [{"id": 1, "type": "cash", "status": "paid", "amount": 2519.0}]
    assert held["delivery"]["address"]["text"] == "ул. Тверская, 1, кв. 5"
    assert held["delivery"]["address"]["city"] == "Москва"
    assert held["customer"] == {"id": crm.customers[0]["id"]}
    assert crm.customers[0]["phones"] == [{"number": CLIENT.phone}]
    assert "customFields" not in held  # no field named for our status: the CRM's statuses only
    create = crm.calls_of("orders/create")[0]
    assert create.content_type == "application/x-www-form-urlencoded" and create.form["site"] == SITE
    assert json.loads(create.form["order"])["externalId"] == "storeops-7"


async def test_a_repeat_edits_by_external_id_and_makes_no_second_order_or_customer(
    crm: RetailCrmEmulator, orders: RetailCrmOrders
) -> None:
    await orders.upsert(an_order(customer_id=41))
    await orders.upsert(an_order(lines=(CrmLine("A-1", 3),), cancelled=True, customer_id=41))
    await orders.upsert(an_order(lines=(CrmLine("A-1", 3),), cancelled=True, customer_id=41))

    assert list(crm.orders) == ["storeops-7"] and crm.customers == []  # the order names the customer it is given
    held = crm.order("storeops-7")
    assert held is not None and held["items"] == [{"offer": {"xmlId": "A-1"}, "quantity": 3}]
    assert held["status"] == "cancel-other"
    edits = crm.calls_of("orders/edit")
    assert [call.status for call in edits] == [200, 200]
    assert edits[0].path == "/api/v5/orders/storeops-7/edit" and edits[0].form["by"] == "externalId"


async def test_the_client_is_found_by_phone_whatever_its_spelling(
    crm: RetailCrmEmulator, orders: RetailCrmOrders
) -> None:
    crm.customers.append({"id": 40, "firstName": "Анна", "phones": [{"number": "+7 916 123-45-60"}]})
    crm.customers.append({"id": 41, "firstName": "Анна", "phones": [{"number": "8 916 123 45 67"}]})

    assert await orders.customer_id(CLIENT) == 41

    assert len(crm.customers) == 2 and crm.calls_of("customers/create") == []
    # RetailCRM has no phone filter: its name search looks in the phones too, given the number's last ten digits
    assert crm.calls_of("customers")[0].query == (("filter[name]", "9161234567"), ("limit", "100"))


async def test_a_client_known_by_e_mail_alone_is_found_by_it_exactly(
    crm: RetailCrmEmulator, orders: RetailCrmOrders
) -> None:
    crm.customers.append({"id": 50, "firstName": "Жанна", "email": "zhanna@example.ru"})  # the search finds it too
    crm.customers.append({"id": 51, "firstName": "Анна", "email": "Anna@Example.ru"})

    assert await orders.customer_id(Customer("Анна", "", "anna@example.ru")) == 51
    assert crm.calls_of("customers/create") == []
    with pytest.raises(ChannelRefused):
        await orders.customer_id(Customer("Аноним"))  # nothing to find or make a customer by


async def test_the_history_gives_managers_status_changes_of_our_orders_page_after_page(
    crm: RetailCrmEmulator, orders: RetailCrmOrders
) -> None:
    for order_id in range(1, 121):  # 120 creates: more than one page of 100
        crm.orders[f"storeops-{order_id}"] = {"id": order_id, "externalId": f"storeops-{order_id}", "site": SITE}
        crm.set_status(f"storeops-{order_id}", "assembling")
    crm.orders["their-1"] = {"id": 999, "externalId": "their-1", "site": SITE}
    crm.set_status("their-1", "cancel-other")  # not ours: left out
    await orders.upsert(an_order(121, cancelled=True))  # our own change: left out

    changes, cursor = await orders.status_changes(0)

    assert [change.order_id for change in changes] == list(range(1, 121))
    assert {change.status for change in changes} == {"assembling"}
    assert cursor == crm.history[-1]["id"]
    assert [dict(call.query)["filter[sinceId]"] for call in crm.calls_of("orders/history")] == ["0", "100"]

    crm.set_status("storeops-5", "cancel-other")
    again, after = await orders.status_changes(cursor)
    assert [(c.order_id, c.status, c.old_status) for c in again] == [(5, "cancel-other", "assembling")]
    assert after == crm.history[-1]["id"] and await orders.status_changes(after) == ([], after)


async def test_a_503_is_unavailable_and_a_400_is_refused_in_retailcrms_words(
    crm: RetailCrmEmulator, orders: RetailCrmOrders
) -> None:
    crm.fail_with(503, "Service temporarily unavailable")
    with pytest.raises(ChannelUnavailable):
        await orders.upsert(an_order())
    with pytest.raises(ChannelUnavailable):
        await orders.status_changes(0)
    crm.recover()

    with pytest.raises(ChannelRefused) as refused:
        await orders.upsert(an_order(lines=(CrmLine("A-1", 0),)))
    assert "Errors in the input parameters" in refused.value.reason
    assert "items[0].quantity" in refused.value.reason
    assert crm.orders == {}


async def test_our_status_goes_into_the_named_custom_field_and_the_order_reads_back_by_external_id(
    crm: RetailCrmEmulator, time_: FakeTime
) -> None:
    async with httpx.AsyncClient(timeout=2.0) as http:
        client = RetailCrmClient(
            http, base=crm.base_url, api_key=KEY, site=SITE, store_code="main", clock=time_.clock, sleep=time_.sleep
        )
        await RetailCrmOrders(client, status_field="storeops_status").upsert(an_order(status="out_of_stock"))
        read = await client.call("GET", "/orders/storeops-7", params=[("by", "externalId")])

    assert read["order"]["customFields"] == {"storeops_status": "out_of_stock"}
    assert "status" not in json.loads(crm.calls_of("orders/create")[0].form["order"])


async def test_after_an_edit_our_payment_is_made_or_moved_to_paid_and_never_back(
    crm: RetailCrmEmulator, orders: RetailCrmOrders
) -> None:
    crm.orders["storeops-7"] = {"id": 1, "externalId": "storeops-7", "site": SITE, "status": "new", "payments": {}}

    await orders.upsert(an_order(paid=False))  # already there, without our payment: it is made
    held = crm.order("storeops-7")
    assert held is not None
    assert [(p["type"], p["status"]) for p in held["payments"].values()] == [("cash", "not-paid")]

    await orders.upsert(an_order(paid=True))  # the money cleared: the same entry moves to paid
    assert [(p["type"], p["status"]) for p in held["payments"].values()] == [("cash", "paid")]
    assert len(crm.calls_of("payments/create")) == 1 and len(crm.calls_of("payments/edit")) == 1

    await orders.upsert(an_order(paid=False))  # a manager's "paid" is never taken back
    assert [p["status"] for p in held["payments"].values()] == ["paid"]
    assert len(crm.calls_of("payments/edit")) == 1


async def test_two_orders_of_one_new_client_pushed_at_once_make_one_customer(
    crm: RetailCrmEmulator, orders: RetailCrmOrders
) -> None:
    """The CRM's own safety net under our claim (``workflows.crm_orders``): two asks for one new client at once both
    find none and both create; the customer carries an ``externalId`` made from the phone, so the CRM refuses the
    second create and it is read by that id."""
    made = await asyncio.gather(orders.customer_id(CLIENT), orders.customer_id(CLIENT))
    for order_id, customer_id in zip((7, 8), made, strict=True):
        await orders.upsert(an_order(order_id, customer_id=customer_id))

    assert len(crm.customers) == 1 and len(crm.calls_of("customers")) == 4  # both looked (phone, e-mail): none
    (customer,) = crm.customers
    assert str(customer["externalId"]).startswith("storeops-client-")
    assert [crm.order(f"storeops-{n}")["customer"] for n in (7, 8)] == [{"id": customer["id"]}] * 2  # type: ignore[index]
    creates = crm.calls_of("customers/create")
    assert sorted(call.status for call in creates) == [201, 400]
