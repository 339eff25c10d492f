"""The obligations calendar and the owner's liquidity view, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from tests.fakes import FakeClock
from tests.unit.test_client_money import TIR_FULL, MoneyOffice
from workflows.liquidity import Liquidity
from workflows.model import Customer, Obligation
from workflows.money_model import PayoutRequest, PayoutState, Purpose
from workflows.orders import LineRequest, PlaceOrder
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology


async def test_the_owner_sees_obligations_against_reserves_by_week(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    office = MoneyOffice(uow, topology, clock)  # Saturday 21 November 2026, 12:00 in Moscow
    now = clock.now()
    async with uow() as work:
        await work.fx.store(now.date(), {"EUR": Decimal(100), "CNY": Decimal(12)}, now)
        await work.commit()
    carrier_eu = Obligation("Carrier EU", "EUR", Decimal(500), now + timedelta(days=10))
    placed = await office.orders.place(
        PlaceOrder("site", "CN-9", [LineRequest("IRON", 1)], Customer("Ольга", "+79160000009"), Decimal(1),
                   obligations=[carrier_eu])
    )  # fmt: skip
    order_id = placed.order.id
    assert order_id is not None
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p1", Decimal(1_000_000))  # goods 600 000, logistics 400 000

    def payout(key: str, purpose: Purpose, currency: str, amount: int, days: float) -> PayoutRequest:
        return PayoutRequest(key, order_id, purpose, key, currency, Decimal(amount), now + timedelta(days=days))

    drawn = [
        payout("supplier", Purpose.GOODS, "CNY", 49_900, 1),  # 598 800, Sunday: this week
        payout("sample", Purpose.GOODS, "CNY", 100, 2),  # 1 200, paid below: off the calendar
    ]
    short = [
        payout("tir", Purpose.LOGISTICS, "EUR", 12_000, 3),  # 1 200 000, next week
        payout("fts", Purpose.CUSTOMS, "RUB", 222_000, 9),  # the week after
        payout("storage", Purpose.WAREHOUSE, "RUB", 1_000, -8),  # due last week: overdue
    ]
    for request in drawn:
        assert (await office.money.draw(request)).payout.state == PayoutState.DRAWN
    for request in short:
        assert (await office.money.draw(request)).payout.state == PayoutState.SHORT
    await office.money.mark_paid(order_id, "sample")

    liquidity = Liquidity(uow, clock, "Europe/Moscow")
    calendar = await liquidity.calendar(4)
    assert [(line.reference, line.currency, line.amount_rub) for line in calendar] == [
        ("storage", "RUB", Decimal(1_000)), ("supplier", "CNY", Decimal(598_800)),
        ("tir", "EUR", Decimal(1_200_000)), ("fts", "RUB", Decimal(222_000)),
        (f"obligation:{(await office.orders.get(order_id)).obligations[0].id}", "EUR", Decimal(50_000)),
    ]  # fmt: skip

    view = await liquidity.view(weeks=3)
    assert [w.starts for w in view.weeks] == [date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)]
    assert (view.overdue.payments, view.overdue.waiting_rub) == (1, Decimal(1_000))
    this, next_, after = view.weeks
    assert (this.due_rub, this.covered_rub, this.waiting_rub) == (Decimal(598_800), Decimal(598_800), Decimal(0))
    assert (next_.due_rub, next_.covered_rub, next_.waiting_rub) == (Decimal(1_200_000), Decimal(0), Decimal(1_200_000))
    assert (after.due_rub, after.waiting_rub, after.planned_rub) == (
        Decimal(272_000), Decimal(222_000), Decimal(50_000),
    )  # fmt: skip
    assert after.by_currency == {"RUB": Decimal(222_000), "EUR": Decimal(500)}
    reserves = view.reserves
    assert (reserves.planned, reserves.reserved, reserves.drawn) == (
        Decimal("1994400"), Decimal(1_000_000), Decimal(600_000),
    )  # fmt: skip
    assert (reserves.available, reserves.unfunded) == (Decimal(400_000), Decimal(994_400))
