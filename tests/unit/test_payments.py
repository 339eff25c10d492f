"""Payments from the gateway on memory, SQLite and PostgreSQL: each event once, phases only
forward, several payments per order, and what the order's money allows."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock, assembled
from workflows.errors import OrderNotFound, PaymentConflict
from workflows.model import Customer, StockFigure
from workflows.office_model import Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.shop import Rules
from workflows.topology import Topology

THRESHOLD = Decimal(100_000)
IVAN = Customer("Иван Петров", "+79161234567", "ivan@example.ru")


class Office:
    """The payment desk as production wires it."""

    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.clock = uow, clock
        shop = assembled(uow, topology, clock, rules=Rules(fraud_amount_threshold_rub=THRESHOLD))
        self.ledger, self.orders, self.fraud, self.desk = shop.ledger, shop.orders, shop.fraud, shop.payments

    async def place(self, external_id: str, total: str, customer: Customer = IVAN) -> int:
        command = PlaceOrder("site", external_id, [LineRequest("IRON", 1)], customer, Decimal(total))
        order_id = (await self.orders.place(command)).order.id
        assert order_id is not None
        return order_id

    async def pay(self, order_id: int, phase: Phase, payment: str = "p1", n: int = 1, key: str | None = None):
        event = PaymentEvent(
            f"{payment}-{phase.value}-{n}",
            payment,
            order_id,
            key or f"idem-{payment}",
            phase,
            Decimal("50000.00"),
            "RUB",
        )
        return await self.desk.record(event)

    async def stored(self, payment_id: str):
        async with self.uow(read_only=True) as work:
            return await work.payments.get(payment_id)

    async def history(self, order_id: int) -> list[str]:
        return [e.kind for e in (await self.orders.get(order_id)).history]


@pytest.fixture
async def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Office:
    o = Office(uow, topology, clock)
    await o.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    return o


async def test_an_event_counts_once(office: Office, clock: FakeClock) -> None:
    """A repeat of an ``event_id`` changes nothing and says it is a duplicate."""
    order_id = await office.place("A-1", "5000")
    first = await office.pay(order_id, Phase.AUTHORIZED)
    assert (first.duplicate, first.applied, first.phase) == (False, "advanced", Phase.AUTHORIZED)
    paid_at = clock.now()
    clock.advance(minutes=5)
    again = await office.pay(order_id, Phase.AUTHORIZED)
    assert (again.duplicate, again.applied, again.phase) == (True, "duplicate", Phase.AUTHORIZED)
    payment = await office.stored("p1")
    assert payment is not None
    assert (payment.phase, payment.created_at, payment.updated_at) == (Phase.AUTHORIZED, paid_at, paid_at)
    assert (await office.history(order_id)).count("payment_authorized") == 1


async def test_a_repeated_failure_notice_is_one_failed_attempt(office: Office) -> None:
    """The gateway telling twice that one payment failed is one failed attempt, not two."""
    order_id = await office.place("A-1", "5000")
    assert (await office.pay(order_id, Phase.FAILED, n=1)).applied == "advanced"
    assert (await office.pay(order_id, Phase.FAILED, n=1)).duplicate
    assert (await office.pay(order_id, Phase.FAILED, n=2)).applied == "ignored_after_end"  # a new event id
    async with office.uow(read_only=True) as work:
        assert await work.payments.failed_attempts(order_id) == 1


async def test_a_payment_only_moves_forward(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("A-1", "5000")
    for phase in (Phase.INITIATED, Phase.THREE_DS, Phase.AUTHORIZED, Phase.CLEARED):
        clock.advance(seconds=10)
        assert (await office.pay(order_id, phase)).applied == "advanced"
    cleared_at = clock.now()
    clock.advance(minutes=1)
    late = await office.pay(order_id, Phase.AUTHORIZED, n=2)
    assert (late.duplicate, late.applied, late.phase) == (False, "ignored_out_of_order", Phase.CLEARED)
    assert (await office.pay(order_id, Phase.INITIATED, n=2)).applied == "ignored_out_of_order"
    payment = await office.stored("p1")
    assert payment is not None and (payment.phase, payment.updated_at) == (Phase.CLEARED, cleared_at)
    assert await office.history(order_id) == [
        "received", "reserved", "payment_initiated", "payment_3ds", "payment_authorized", "payment_cleared",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("phases", "applied", "final"),
    [
        # failed ends a payment that has not cleared; nothing moves it afterwards
        ([Phase.AUTHORIZED, Phase.FAILED, Phase.CLEARED], ["advanced", "advanced", "ignored_after_end"], Phase.FAILED),
        ([Phase.INITIATED, Phase.FAILED], ["advanced", "advanced"], Phase.FAILED),
        # cleared money cannot fail any more; it can only be refunded
        ([Phase.CLEARED, Phase.FAILED], ["advanced", "ignored_out_of_order"], Phase.CLEARED),
        ([Phase.CLEARED, Phase.REFUNDED, Phase.CLEARED], ["advanced", "advanced", "ignored_after_end"],
         Phase.REFUNDED),
        ([Phase.AUTHORIZED, Phase.REFUNDED], ["advanced", "advanced"], Phase.REFUNDED),
        # nothing was taken yet: nothing to refund
        ([Phase.INITIATED, Phase.REFUNDED], ["advanced", "ignored_out_of_order"], Phase.INITIATED),
        ([Phase.FAILED, Phase.REFUNDED], ["advanced", "ignored_after_end"], Phase.FAILED),
    ],
)  # fmt: skip
async def test_failed_and_refunded_end_a_payment(
    office: Office, phases: list[Phase], applied: list[str], final: Phase
) -> None:
    order_id = await office.place("A-1", "5000")
    outcomes = [await office.pay(order_id, phase, n=n) for n, phase in enumerate(phases)]
    assert [o.applied for o in outcomes] == applied
    assert outcomes[-1].phase == final
    payment = await office.stored("p1")
    assert payment is not None and payment.phase == final


async def test_several_payments_of_one_order_stay_linked(office: Office, clock: FakeClock) -> None:
    """Goods now, customs duty later: both belong to the order, each with its own phase."""
    order_id = await office.place("A-1", "5000")
    other = await office.place("A-2", "5000", Customer("Пётр", "+79160000002", "petr@example.ru"))
    await office.pay(order_id, Phase.CLEARED, payment="goods")
    await office.pay(other, Phase.CLEARED, payment="elsewhere")
    clock.advance(days=3)
    await office.pay(order_id, Phase.AUTHORIZED, payment="duty")
    async with office.uow(read_only=True) as work:
        linked = await work.payments.for_order(order_id)
    assert [(p.payment_id, p.order_id, p.phase, p.idempotency_key) for p in linked] == [
        ("goods", order_id, Phase.CLEARED, "idem-goods"), ("duty", order_id, Phase.AUTHORIZED, "idem-duty"),
    ]  # fmt: skip


async def test_a_payment_id_seen_with_another_order_or_key_is_a_conflict(office: Office) -> None:
    order_id = await office.place("A-1", "5000")
    other = await office.place("A-2", "5000", Customer("Пётр", "+79160000002", "petr@example.ru"))
    await office.pay(order_id, Phase.AUTHORIZED)
    with pytest.raises(PaymentConflict) as raised:
        await office.pay(other, Phase.CLEARED)
    assert raised.value.details == [{"payment_id": "p1", "order_id": order_id}]
    with pytest.raises(PaymentConflict):
        await office.pay(order_id, Phase.CLEARED, key="another-session")
    payment = await office.stored("p1")
    assert payment is not None and (payment.order_id, payment.phase) == (order_id, Phase.AUTHORIZED)
    assert "payment_cleared" not in await office.history(order_id) + await office.history(other)
    # the refused event was not consumed: the real one with that id is still taken
    assert (await office.pay(order_id, Phase.CLEARED)).applied == "advanced"


async def test_an_event_for_an_unknown_order_is_refused(office: Office) -> None:
    with pytest.raises(OrderNotFound):
        await office.pay(10_000, Phase.AUTHORIZED)
    assert await office.stored("p1") is None
    with pytest.raises(OrderNotFound):
        await office.desk.money_state(10_000)


async def test_a_new_client_needs_cleared_money(office: Office) -> None:
    """No cleared payment on another order by this phone or e-mail: authorised is not enough,
    however small the order; the order's own cleared payment does not make them a returning client."""
    order_id = await office.place("A-1", "5000")
    await office.pay(order_id, Phase.AUTHORIZED)
    state = await office.desk.money_state(order_id)
    assert (state.requires, state.best_phase, state.may_spend) == (Phase.CLEARED, Phase.AUTHORIZED, False)
    await office.pay(order_id, Phase.CLEARED)
    state = await office.desk.money_state(order_id)
    assert (state.requires, state.best_phase, state.may_spend) == (Phase.CLEARED, Phase.CLEARED, True)


@pytest.mark.parametrize(
    ("returning_by", "total", "requires"),
    [
        ("phone", "99999.99", Phase.AUTHORIZED),
        ("email", "5000", Phase.AUTHORIZED),
        ("phone", "100000", Phase.CLEARED),  # at the threshold: large
        ("nobody", "5000", Phase.CLEARED),
    ],
)
async def test_a_returning_client_under_the_threshold_may_go_on_authorised_money(
    office: Office, returning_by: str, total: str, requires: Phase
) -> None:
    earlier = {
        "phone": Customer("Иван", IVAN.phone, "old@example.ru"),
        "email": Customer("Иван", "+70000000000", IVAN.email),
        "nobody": Customer("Пётр", "+79160000002", "petr@example.ru"),
    }[returning_by]
    first = await office.place("A-1", "5000", earlier)
    await office.pay(first, Phase.CLEARED, payment="first")
    order_id = await office.place("A-2", total)
    await office.pay(order_id, Phase.AUTHORIZED)
    state = await office.desk.money_state(order_id)
    assert (state.requires, state.may_spend, state.shipping_hold) == (
        requires, requires == Phase.AUTHORIZED, None,
    )  # fmt: skip


async def test_only_cleared_money_on_another_order_makes_a_returning_client(office: Office) -> None:
    first = await office.place("A-1", "5000")
    await office.pay(first, Phase.AUTHORIZED, payment="first")  # authorised only, then refunded
    await office.pay(first, Phase.REFUNDED, payment="first")
    order_id = await office.place("A-2", "5000")
    await office.pay(order_id, Phase.AUTHORIZED)
    assert (await office.desk.money_state(order_id)).requires == Phase.CLEARED


async def test_nothing_may_be_spent_while_shipping_is_held(office: Office) -> None:
    order_id = await office.place("A-1", "150000")
    outcome = await office.pay(order_id, Phase.CLEARED)
    assert outcome.fraud_check_task is not None
    state = await office.desk.money_state(order_id)
    assert (state.best_phase, state.may_spend, state.shipping_hold) == (Phase.CLEARED, False, "fraud_check")
    assert (await office.fraud.answer(outcome.fraud_check_task, "verified", "1002")).accepted
    state = await office.desk.money_state(order_id)
    assert (state.may_spend, state.shipping_hold) == (True, None)


async def test_failed_refunded_or_cancelled_money_allows_nothing(office: Office) -> None:
    failed = await office.place("A-1", "5000")
    await office.pay(failed, Phase.FAILED, payment="f")
    refunded = await office.place("A-2", "5000")
    await office.pay(refunded, Phase.CLEARED, payment="r")
    await office.pay(refunded, Phase.REFUNDED, payment="r")
    cancelled = await office.place("A-3", "5000")
    await office.pay(cancelled, Phase.CLEARED, payment="c")
    await office.orders.cancel(cancelled, "client changed mind")
    states = [await office.desk.money_state(order_id) for order_id in (failed, refunded, cancelled)]
    assert [(s.best_phase, s.may_spend) for s in states] == [(None, False), (None, False), (Phase.CLEARED, False)]


async def test_one_event_delivered_several_times_at_once_is_applied_once(
    database: Database, topology: Topology, clock: FakeClock
) -> None:
    """The gateway retries while the first delivery is still in flight: one applies, the rest
    are duplicates (not a unique-key error that the gateway would retry forever)."""
    office = Office(SqlUnitOfWorkFactory(database), topology, clock)
    await office.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    for n in range(5):
        order_id = await office.place(f"A-{n}", "5000")
        outcomes = await asyncio.gather(*(office.pay(order_id, Phase.AUTHORIZED, payment=f"p{n}") for _ in range(4)))
        assert sorted(o.duplicate for o in outcomes) == [False, True, True, True]
        assert (await office.history(order_id)).count("payment_authorized") == 1


async def test_concurrent_phases_of_one_payment_never_regress(
    database: Database, topology: Topology, clock: FakeClock
) -> None:
    """``authorized`` and ``cleared`` racing: whichever lands last, the payment ends cleared."""
    office = Office(SqlUnitOfWorkFactory(database), topology, clock)
    await office.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    for n in range(5):
        order_id = await office.place(f"A-{n}", "5000")
        await office.pay(order_id, Phase.INITIATED, payment=f"p{n}")
        clock.advance(seconds=1)
        await asyncio.gather(
            office.pay(order_id, Phase.CLEARED, payment=f"p{n}"),
            office.pay(order_id, Phase.AUTHORIZED, payment=f"p{n}"),
        )
        payment = await office.stored(f"p{n}")
        assert payment is not None and payment.phase == Phase.CLEARED, n
