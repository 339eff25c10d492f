"""One phone, one RetailCRM customer: our orders pushed by ``workflows.crm_orders`` through the real RetailCRM client
(``integrations.retailcrm_orders``) to the RetailCRM emulator over HTTP, on memory, SQLite and PostgreSQL — the phone
written differently, the customer made in the CRM by someone else first, two instances pushing a new client's first
orders at once, a create whose answer was lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from emulators.retailcrm import RetailCrmEmulator
from integrations.retailcrm import RetailCrmClient
from integrations.retailcrm_orders import RetailCrmOrders
from tests.fakes import FakeClock, FakeTime
from workflows.crm_orders import CrmOrderSync
from workflows.ledger import Ledger
from workflows.model import Customer, StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import UnitOfWorkFactory

KEY = "crm-secret-api-key-0123456789abcdef"
SITE = "shop"


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def crm(time_: FakeTime) -> AsyncIterator[RetailCrmEmulator]:
    async with RetailCrmEmulator(KEY, SITE, ["main"], ["IRON"], clock=time_.clock) as emulator:
        yield emulator


@pytest.fixture
async def book(crm: RetailCrmEmulator, time_: FakeTime) -> AsyncIterator[RetailCrmOrders]:
    async with httpx.AsyncClient(timeout=2.0) as http:
        client = RetailCrmClient(
            http, base=crm.base_url, api_key=KEY, site=SITE, store_code="main", clock=time_.clock, sleep=time_.sleep
        )
        yield RetailCrmOrders(client, payment_type="cash")


@pytest.fixture
def sync(uow: UnitOfWorkFactory, clock: FakeClock, book: RetailCrmOrders, desk: OrderDesk) -> CrmOrderSync:
    return CrmOrderSync(uow, clock, book, desk)


async def _order(desk: OrderDesk, ledger: Ledger, clock: FakeClock, number: str, phone: str, email: str = "") -> int:
    await ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 5)])
    placed = await desk.place(PlaceOrder("ozon", number, [LineRequest("IRON", 1)], Customer("Анна", phone, email)))
    assert placed.order.id is not None
    return placed.order.id


def _named(crm: RetailCrmEmulator, *order_ids: int) -> list[object]:
    return [(crm.order(f"storeops-{order_id}") or {}).get("customer") for order_id in order_ids]


async def test_orders_of_one_phone_however_written_name_one_customer(
    sync: CrmOrderSync, crm: RetailCrmEmulator, desk: OrderDesk, ledger: Ledger, clock: FakeClock
) -> None:
    first = await _order(desk, ledger, clock, "A-1", "+7 916 123-45-67")
    assert (await sync.push_changed()).sent == 1
    others = [
        await _order(desk, ledger, clock, "A-2", "89161234567"),
        await _order(desk, ledger, clock, "A-3", "(916) 123-45-67"),
        await _order(desk, ledger, clock, "A-4", "+7 916 123-45-67", "anna@example.ru"),
    ]
    assert (await sync.push_changed()).sent == 3

    assert len(crm.customers) == 1 and len(crm.calls_of("customers/create")) == 1
    assert _named(crm, first, *others) == [{"id": crm.customers[0]["id"]}] * 4


async def test_a_customer_the_crm_had_before_our_first_order_is_named_not_made_again(
    sync: CrmOrderSync, crm: RetailCrmEmulator, desk: OrderDesk, ledger: Ledger, clock: FakeClock
) -> None:
    """A manager made the client by hand, phone written their way, and no ``externalId`` of ours."""
    crm.customers.append({"id": 41, "firstName": "Анна", "phones": [{"number": "8 (916) 123-45-67"}]})
    crm.customers.append({"id": 42, "firstName": "79161234567 не звонить", "phones": [{"number": "+7 903 000-00-01"}]})
    order_id = await _order(desk, ledger, clock, "A-1", "+7 916 123-45-67")

    assert (await sync.push_changed()).sent == 1

    assert crm.calls_of("customers/create") == [] and len(crm.customers) == 2
    assert _named(crm, order_id) == [{"id": 41}]  # not 42, whose name holds the digits: phones are compared


async def test_two_instances_pushing_a_new_clients_first_orders_at_once_make_one_customer(
    uow: UnitOfWorkFactory, clock: FakeClock, book: RetailCrmOrders, crm: RetailCrmEmulator, desk: OrderDesk,
    ledger: Ledger,
) -> None:  # fmt: skip
    """The two spellings make two different ``externalId``s in the CRM: only our own table keeps the second instance
    from making a second customer while the first one is making it."""
    first = await _order(desk, ledger, clock, "A-1", "+7 916 123-45-67")
    second = await _order(desk, ledger, clock, "A-2", "(916) 123-45-67")
    one = CrmOrderSync(uow, clock, book, desk, owner="one/1", batch=1)
    two = CrmOrderSync(uow, clock, book, desk, owner="two/1")

    await asyncio.gather(one.push_changed(), two.push_changed())
    await one.push_changed()
    await two.push_changed()

    assert len(crm.customers) == 1 and len(crm.calls_of("customers/create")) == 1
    assert _named(crm, first, second) == [{"id": crm.customers[0]["id"]}] * 2


async def test_a_create_whose_answer_was_lost_is_found_when_tried_again(
    sync: CrmOrderSync, crm: RetailCrmEmulator, desk: OrderDesk, ledger: Ledger, clock: FakeClock
) -> None:
    order_id = await _order(desk, ledger, clock, "A-1", "+7 916 123-45-67")
    crm.lose_next_answer("customers/create")  # RetailCRM makes the customer; its answer never reaches us

    assert (await sync.push_changed()).failed == 1
    assert len(crm.customers) == 1
    clock.advance(seconds=30)
    assert (await sync.push_changed()).sent == 1

    assert len(crm.customers) == 1 and len(crm.calls_of("customers/create")) == 1
    assert _named(crm, order_id) == [{"id": crm.customers[0]["id"]}]
