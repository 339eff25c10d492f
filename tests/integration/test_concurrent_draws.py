"""Payouts racing on one earmark, on SQLite and PostgreSQL: never more drawn than the earmark holds — by the money
desk's lock, and underneath it by the conditional update and the database's CHECK."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from storage import schema as t
from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import table_count
from tests.fakes import FakeClock, assembled
from tests.unit.test_client_money import TIR_FULL
from workflows.model import Customer
from workflows.money_model import PayoutRequest, PayoutState, Purpose
from workflows.office_model import Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent
from workflows.topology import Topology

RACERS = 12


async def _funded(database: Database, topology: Topology) -> tuple[SqlUnitOfWorkFactory, FakeClock, int]:
    uow, clock = SqlUnitOfWorkFactory(database), FakeClock()
    shop = assembled(uow, topology, clock)
    placed = await shop.orders.place(
        PlaceOrder("site", "CN-R", [LineRequest("IRON", 1)], Customer("Ольга", "+79160000001"), Decimal(1))
    )
    order_id = placed.order.id
    assert order_id is not None and shop.money is not None
    await shop.money.plan(order_id, TIR_FULL)
    paid = PaymentEvent("e1", "p1", order_id, "k1", Phase.CLEARED, Decimal(1_000_000), "RUB")  # logistics: 400 000
    await shop.payments.record(paid)
    return uow, clock, order_id


async def test_concurrent_draws_on_one_earmark_cannot_both_pass(database: Database, topology: Topology) -> None:
    uow, clock, order_id = await _funded(database, topology)
    shop = assembled(uow, topology, clock)
    assert shop.money is not None
    due = clock.now() + timedelta(days=3)
    requests = [  # each 300 000 of the 400 000: any two together overdraw it
        PayoutRequest(f"inv-{n}", order_id, Purpose.LOGISTICS, f"carrier {n}", "EUR", Decimal(3_000), due, Decimal(100))
        for n in range(RACERS)
    ]
    outcomes = await asyncio.gather(*(shop.money.draw(request) for request in requests))
    states = [o.payout.state for o in outcomes]
    assert states.count(PayoutState.DRAWN) == 1
    assert states.count(PayoutState.SHORT) == RACERS - 1
    logistics = (await shop.money.account_of(order_id)).account.earmark(Purpose.LOGISTICS)
    assert (logistics.reserved, logistics.drawn) == (Decimal(400_000), Decimal(300_000))
    assert await table_count(database, "payouts") == RACERS


async def test_the_same_draw_sent_concurrently_is_drawn_once(database: Database, topology: Topology) -> None:
    uow, clock, order_id = await _funded(database, topology)
    shop = assembled(uow, topology, clock)
    assert shop.money is not None
    request = PayoutRequest("inv-same", order_id, Purpose.LOGISTICS, "carrier", "EUR", Decimal(1_000),
                            clock.now() + timedelta(days=3), Decimal(100))  # fmt: skip
    outcomes = await asyncio.gather(*(shop.money.draw(request) for _ in range(RACERS)))
    assert [o.duplicate for o in outcomes].count(False) == 1
    logistics = (await shop.money.account_of(order_id)).account.earmark(Purpose.LOGISTICS)
    assert logistics.drawn == Decimal(100_000)
    assert await table_count(database, "payouts") == 1


async def test_the_database_refuses_an_overdrawn_earmark(database: Database, topology: Topology) -> None:
    """Even a write that skipped the desk cannot leave an earmark below zero."""
    _, _, order_id = await _funded(database, topology)
    with pytest.raises(IntegrityError):
        async with database.engine.begin() as connection:
            await connection.execute(
                t.earmarks.update().where(t.earmarks.c.order_id == order_id).values(drawn=t.earmarks.c.reserved + 1)
            )


async def test_the_conditional_draw_alone_lets_one_of_two_through(database: Database, topology: Topology) -> None:
    """Without the desk's lock: two transactions drawing 300 000 each from 400 000 — the second update re-reads the
    row the first changed and finds no room."""
    uow, _, order_id = await _funded(database, topology)
    async with uow(read_only=True) as work:
        account = await work.money.account(order_id)
    assert account is not None
    earmark_id = account.earmark(Purpose.LOGISTICS).id
    assert earmark_id is not None

    async def draw() -> bool:
        async with uow() as work:
            drawn = await work.money.draw(earmark_id, Decimal(300_000))
            await asyncio.sleep(0.05)  # hold the row while the other one tries
            await work.commit()
            return drawn

    assert sorted(await asyncio.gather(draw(), draw())) == [False, True]
    async with uow(read_only=True) as work:
        account = await work.money.account(order_id)
    assert account is not None and account.earmark(Purpose.LOGISTICS).drawn == Decimal(300_000)
