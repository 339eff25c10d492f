"""Clients' money per order on memory, SQLite and PostgreSQL: earmarks filled by the client's payments, payments out
drawn each from one earmark, a shortfall that is never drawn without a manager's decision, and repeats that change
nothing."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.fakes import FakeClock, assembled
from workflows.client_money import KIND, OPTIONS
from workflows.estimates import Consignment, EstimateRates, Rate, estimate
from workflows.model import Customer, StockFigure
from workflows.money_model import (
    ClearanceMode,
    MoneyAccount,
    MoneyConflict,
    MoneyNotPlanned,
    NoRate,
    Payout,
    PayoutNotFound,
    PayoutRequest,
    PayoutState,
    Purpose,
    TransportMode,
)
from workflows.office_model import Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.tasks import Task, TaskState
from workflows.topology import Topology
from workflows.vocabulary import Assignee

TIR_FULL = Consignment(Decimal(600_000), TransportMode.TIR, ClearanceMode.FULL, Decimal(4_000), Decimal(12), 20)
# goods 600 000; TIR 1 150 000; customs 0.32 × 600 000 + 30 000; warehouse 20 × 150 + 12 × 1 200; 20 × 250
PLANNED = {
    Purpose.GOODS: Decimal("600000.00"), Purpose.LOGISTICS: Decimal("1150000.00"),
    Purpose.CUSTOMS: Decimal("222000.00"), Purpose.WAREHOUSE: Decimal("17400.00"),
    Purpose.MARKETPLACE: Decimal("5000.00"),
}  # fmt: skip


class MoneyOffice:
    """The shop's money desk and payment desk as production wires them."""

    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.clock = uow, clock
        shop = assembled(uow, topology, clock)
        assert shop.money is not None
        self.shop, self.money, self.payments, self.orders = shop, shop.money, shop.payments, shop.orders

    async def order(self, external_id: str = "CN-1") -> int:
        await self.shop.ledger.apply_stock(self.clock.now(), [StockFigure("IRON", "online", 10)])
        customer = Customer("Ольга Смирнова", "+79161234567", "olga@example.ru")
        placed = await self.orders.place(
            PlaceOrder("site", external_id, [LineRequest("IRON", 1)], customer, Decimal(1_994_400))
        )
        assert placed.order.id is not None
        return placed.order.id

    async def pay(self, order_id: int, payment: str, amount: Decimal, key: str | None = None) -> str:
        event = PaymentEvent(
            f"{payment}-cleared", payment, order_id, key or f"idem-{payment}", Phase.CLEARED, amount, "RUB"
        )
        return (await self.payments.record(event)).applied

    async def account(self, order_id: int) -> MoneyAccount:
        return (await self.money.account_of(order_id)).account

    async def payout(self, key: str) -> Payout:
        async with self.uow(read_only=True) as work:
            found = await work.money.payout(key)
        assert found is not None
        return found

    async def questions(self, order_id: int) -> list[Task]:
        async with self.uow(read_only=True) as work:
            return await work.tasks.open_about(f"order:{order_id}:payout:")

    def carrier_invoice(self, order_id: int, key: str = "tir-inv-1", eur: str = "12000") -> PayoutRequest:
        due = self.clock.now() + timedelta(days=3)
        return PayoutRequest(key, order_id, Purpose.LOGISTICS, "TIR carrier", "EUR", Decimal(eur), due, Decimal(100))


@pytest.fixture
def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> MoneyOffice:
    return MoneyOffice(uow, topology, clock)


def test_the_estimate_takes_each_rate_from_configuration() -> None:
    assert estimate(EstimateRates(), TIR_FULL) == PLANNED
    rates = EstimateRates.model_validate(
        {"logistics": {"consolidated_truck": {"per_kg_rub": "250", "per_m3_rub": "1000"}},
         "customs": {"partial": {"share_of_goods": "0.1", "flat_rub": "5000"}}}
    )  # fmt: skip
    truck = Consignment(Decimal("1000.005"), TransportMode.CONSOLIDATED_TRUCK, ClearanceMode.PARTIAL,
                        Decimal(10), Decimal("0.5"), 2)  # fmt: skip
    figures = estimate(rates, truck)
    assert figures[Purpose.GOODS] == Decimal("1000.01")  # to the kopeck, halves up
    assert figures[Purpose.LOGISTICS] == Decimal("3000.00")  # 10 kg × 250 + 0.5 m³ × 1 000, the flat part dropped
    assert figures[Purpose.CUSTOMS] == Decimal("5100.00")  # 0.1 × 1 000.005 + 5 000, rounded once at the end
    assert rates.logistics[TransportMode.TIR] == EstimateRates().logistics[TransportMode.TIR]  # not given: default
    assert estimate(rates, TIR_FULL)[Purpose.CUSTOMS] == PLANNED[Purpose.CUSTOMS]
    assert Rate().cost(TIR_FULL) == 0


async def test_payments_fill_the_earmarks_in_order_and_a_repeat_is_credited_once(office: MoneyOffice) -> None:
    order_id = await office.order()
    assert await office.pay(order_id, "p-early", Decimal(100_000)) == "advanced"  # before the plan: it waits
    early = await office.account(order_id)
    assert (early.credited, early.unallocated, early.planned) == (Decimal(100_000), Decimal(100_000), False)

    planned = await office.money.plan(order_id, TIR_FULL)
    assert {e.purpose: e.planned for e in planned.earmarks} == PLANNED
    assert await office.money.plan(order_id, TIR_FULL) == planned  # the same plan again: nothing changes
    with pytest.raises(MoneyConflict):
        await office.money.plan(order_id, Consignment(Decimal(1), TransportMode.TIR, ClearanceMode.FULL))

    assert await office.pay(order_id, "p-goods", Decimal(700_000)) == "advanced"
    assert await office.pay(order_id, "p-goods", Decimal(700_000)) == "duplicate"  # the gateway says it again
    account = await office.account(order_id)
    assert account.credited == Decimal(800_000)
    assert account.earmark(Purpose.GOODS).reserved == PLANNED[Purpose.GOODS]
    assert account.earmark(Purpose.LOGISTICS).reserved == Decimal(200_000)  # the rest, next in line
    assert account.earmark(Purpose.CUSTOMS).reserved == 0
    assert account.unallocated == 0
    credits = [e for e in (await office.money.account_of(order_id)).entries if e.kind == "credit"]
    assert [(e.key, e.amount_rub) for e in credits] == [
        ("credit:p-early", Decimal(100_000)), ("credit:p-goods", Decimal(700_000)),
    ]  # fmt: skip


async def test_a_draw_within_its_earmark_is_drawn_once_and_a_repeat_changes_nothing(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p1", Decimal(1_000_000))
    supplier = PayoutRequest("cn-inv-7", order_id, Purpose.GOODS, "Guangzhou Textile", "CNY", Decimal(50_000),
                             office.clock.now() + timedelta(days=2), Decimal("11.80"))  # fmt: skip
    first = await office.money.draw(supplier)
    assert (first.duplicate, first.payout.state, first.payout.amount_rub) == (
        False,
        PayoutState.DRAWN,
        Decimal(590_000),
    )
    again = await office.money.draw(supplier)
    assert (again.duplicate, again.payout.state) == (True, PayoutState.DRAWN)
    goods = (await office.account(order_id)).earmark(Purpose.GOODS)
    assert (goods.drawn, goods.available) == (Decimal(590_000), Decimal(10_000))
    with pytest.raises(MoneyConflict):  # the same key with other figures
        await office.money.draw(PayoutRequest(**{**supplier.__dict__, "amount": Decimal(1)}))
    assert (await office.account(order_id)).earmark(Purpose.GOODS).drawn == Decimal(590_000)


async def test_a_draw_is_refused_before_a_plan_and_without_a_rate(office: MoneyOffice) -> None:
    order_id = await office.order()
    with pytest.raises(MoneyNotPlanned):
        await office.money.draw(office.carrier_invoice(order_id))
    await office.money.plan(order_id, TIR_FULL)
    no_rate = PayoutRequest("x", order_id, Purpose.LOGISTICS, "carrier", "EUR", Decimal(1), office.clock.now())
    with pytest.raises(NoRate):
        await office.money.draw(no_rate)
    assert (await office.money.account_of(order_id)).payouts == []


async def test_a_shortfall_is_never_drawn_and_asks_the_managers(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-goods", Decimal(600_000))  # goods only: logistics holds nothing yet
    outcome = await office.money.draw(office.carrier_invoice(order_id))
    assert outcome.payout.state == PayoutState.SHORT
    logistics = (await office.account(order_id)).earmark(Purpose.LOGISTICS)
    assert logistics.reserved == logistics.drawn == 0  # not a kopeck below zero
    (task,) = await office.questions(order_id)
    assert (task.id, task.kind, task.options, task.assignee) == (outcome.task_id, KIND, OPTIONS, Assignee.MANAGERS)
    assert Decimal(str(task.payload["shortfall_rub"])) == Decimal(1_200_000)
    assert (await office.money.draw(office.carrier_invoice(order_id))).task_id is None  # a repeat asks nothing
    assert len(await office.questions(order_id)) == 1


async def test_absorb_puts_in_the_shops_money_and_draws(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p1", Decimal(1_000_000))  # logistics holds 400 000
    outcome = await office.money.draw(office.carrier_invoice(order_id))
    assert outcome.task_id is not None
    decision = await office.money.answer(outcome.task_id, "absorb", "1002")
    assert decision.accepted
    assert not (await office.money.answer(outcome.task_id, "request_topup", "1003")).accepted  # the first stands
    payout = await office.payout("tir-inv-1")
    assert (payout.state, payout.absorbed_rub) == (PayoutState.DRAWN, Decimal(800_000))
    logistics = (await office.account(order_id)).earmark(Purpose.LOGISTICS)
    assert (logistics.reserved, logistics.drawn, logistics.absorbed) == (
        Decimal(1_200_000),
        Decimal(1_200_000),
        Decimal(800_000),
    )
    assert await office.payments.money_state(order_id)  # the order's money is still readable as before


async def test_request_topup_asks_the_client_and_the_payout_is_drawn_when_it_clears(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-goods", Decimal(600_000))
    outcome = await office.money.draw(office.carrier_invoice(order_id))
    assert outcome.task_id is not None
    assert (await office.money.answer(outcome.task_id, "request_topup", "1002")).accepted
    payout = await office.payout("tir-inv-1")
    assert payout.state == PayoutState.AWAITING_TOPUP and payout.topup_payment_id is not None
    async with office.uow(read_only=True) as work:
        request = await work.payments.get(payout.topup_payment_id)
    assert request is not None  # linked to the order like its other payments
    assert (request.order_id, request.phase, request.amount, request.currency) == (
        order_id, Phase.INITIATED, Decimal(1_200_000), "RUB",
    )  # fmt: skip
    assert (await office.account(order_id)).earmark(Purpose.LOGISTICS).planned == Decimal(2_350_000)

    paid = await office.pay(order_id, request.payment_id, Decimal(1_200_000), key=request.idempotency_key)
    assert paid == "advanced"
    drawn = await office.payout("tir-inv-1")
    assert drawn.state == PayoutState.DRAWN
    logistics = (await office.account(order_id)).earmark(Purpose.LOGISTICS)
    assert (logistics.reserved, logistics.drawn) == (Decimal(1_200_000), Decimal(1_200_000))
    assert await office.pay(order_id, request.payment_id, Decimal(1_200_000), key=request.idempotency_key) == (
        "duplicate"
    )
    assert (await office.account(order_id)).credited == Decimal(1_800_000)
    kinds = [e.kind for e in (await office.orders.get(order_id)).history]
    assert kinds.index("earmark_short") < kinds.index("topup_requested") < kinds.index("payout_drawn")


async def test_postpone_looks_again_at_the_new_date_and_a_payment_meanwhile_draws_it(
    office: MoneyOffice, clock: FakeClock
) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    outcome = await office.money.draw(office.carrier_invoice(order_id, eur="11500"))  # as estimated
    assert outcome.task_id is not None
    await office.money.answer(outcome.task_id, "postpone", "1002")
    postponed = await office.payout("tir-inv-1")
    assert (postponed.state, postponed.due_at) == (PayoutState.POSTPONED, clock.now() + timedelta(days=1))
    assert await office.money.retry_postponed() == 0  # not yet
    clock.advance(days=1)
    assert await office.money.retry_postponed() == 1  # still nothing in the earmark: asked again
    (again,) = await office.questions(order_id)
    assert again.id != outcome.task_id
    await office.pay(order_id, "p-all", Decimal(1_994_400))  # the client pays everything: the question is moot
    assert (await office.payout("tir-inv-1")).state == PayoutState.DRAWN
    assert await office.questions(order_id) == []
    async with office.uow(read_only=True) as work:
        closed = await work.tasks.get(again.id or 0)
    assert closed is not None and (closed.state, closed.end_reason) == (TaskState.CANCELLED, "covered")
    assert not (await office.money.answer(again.id or 0, "absorb", "1002")).accepted  # nothing absorbed
    assert (await office.account(order_id)).earmark(Purpose.LOGISTICS).absorbed == 0


async def test_nobody_deciding_in_time_goes_to_the_owner(office: MoneyOffice, clock: FakeClock) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.money.draw(office.carrier_invoice(order_id))
    clock.advance(hours=4, seconds=1)
    await office.shop.pump.run_once()
    (owners,) = await office.questions(order_id)
    assert owners.assignee == Assignee.OWNER and owners.payload.get("escalated") is True
    assert (await office.payout("tir-inv-1")).task_id == owners.id
    assert (await office.account(order_id)).earmark(Purpose.LOGISTICS).drawn == 0


async def test_every_payout_is_drawn_from_exactly_one_earmark(office: MoneyOffice) -> None:
    order_id = await office.order()
    account = await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-all", Decimal(1_994_400))
    due = office.clock.now() + timedelta(days=5)
    requests = [
        PayoutRequest("cn-1", order_id, Purpose.GOODS, "supplier", "CNY", Decimal(20_000), due, Decimal(12)),
        PayoutRequest("cn-2", order_id, Purpose.GOODS, "supplier", "CNY", Decimal(30_000), due, Decimal(12)),
        office.carrier_invoice(order_id, eur="11500"),
        PayoutRequest("fts-1", order_id, Purpose.CUSTOMS, "ФТС", "RUB", Decimal(222_000), due),
        PayoutRequest("wh-1", order_id, Purpose.WAREHOUSE, "Склад Подольск", "RUB", Decimal(17_400), due),
    ]
    for request in requests:
        assert (await office.money.draw(request)).payout.state == PayoutState.DRAWN
    view = await office.money.account_of(order_id)
    ids = {e.purpose: e.id for e in account.earmarks}
    assert all(p.earmark_id == ids[p.purpose] for p in view.payouts)
    for earmark in view.account.earmarks:
        mine = [p.amount_rub for p in view.payouts if p.earmark_id == earmark.id]
        assert earmark.drawn == sum(mine, Decimal(0))
        assert earmark.available >= 0
    assert [e.key for e in view.entries if e.kind == "draw"] == [f"draw:{r.key}" for r in requests]
    with pytest.raises(PayoutNotFound):  # another order's key
        await office.money.mark_paid(order_id + 1, "fts-1")
    assert (await office.money.mark_paid(order_id, "fts-1")).state == PayoutState.PAID
    assert (await office.money.mark_paid(order_id, "fts-1")).paid_at == (await office.payout("fts-1")).paid_at


async def _check_the_books(office: MoneyOffice, order_id: int) -> None:
    view = await office.money.account_of(order_id)
    account, payouts = view.account, view.payouts
    drawn_keys = [e.detail["payout"] for e in view.entries if e.kind == "draw"]
    assert len(drawn_keys) == len(set(drawn_keys))  # each payout drawn at most once
    for earmark in account.earmarks:
        mine = [p for p in payouts if p.earmark_id == earmark.id]
        assert all(p.purpose == earmark.purpose for p in mine)
        taken = [p for p in mine if p.state in (PayoutState.DRAWN, PayoutState.PAID)]
        assert Decimal(0) <= earmark.drawn <= earmark.reserved
        assert earmark.drawn == sum((p.amount_rub for p in taken), Decimal(0))
        assert earmark.absorbed == sum((p.absorbed_rub for p in mine), Decimal(0))
        assert sorted(p.key for p in taken) == sorted(k for k in drawn_keys if k in {p.key for p in mine})
    reserved = sum((e.reserved - e.absorbed for e in account.earmarks), Decimal(0))
    assert account.credited == account.unallocated + reserved


async def test_any_sequence_of_payments_draws_and_decisions_keeps_the_books(office: MoneyOffice) -> None:
    """A seeded walk of client payments (some repeated), payouts (some repeated) and the managers' answers: after
    every step no earmark is below zero, each one's drawn is exactly its drawn payouts, and the account adds up."""
    rng = random.Random(20261204)
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    purposes = list(Purpose)
    for step in range(40):
        move = rng.choice(["pay", "pay_again", "draw", "draw_again", "answer", "answer"])
        if move.startswith("pay"):
            n = step if move == "pay" or step == 0 else rng.randrange(step)
            await office.pay(order_id, f"p{n}", Decimal(rng.randrange(1, 400)) * 1000)
        elif move.startswith("draw"):
            n = step if move == "draw" or step == 0 else rng.randrange(step)
            amount = Decimal(rng.randrange(1, 60)) * 5000
            request = PayoutRequest(f"out-{n}", order_id, purposes[n % 5], "payee", "RUB", amount,
                                    office.clock.now() + timedelta(days=n % 9))  # fmt: skip
            with contextlib.suppress(MoneyConflict):  # a repeated key with other figures: refused, nothing changed
                await office.money.draw(request)
        else:
            open_ = await office.questions(order_id)
            if open_:
                await office.money.answer(open_[0].id or 0, rng.choice(OPTIONS), "1002")
        await _check_the_books(office, order_id)
    view = await office.money.account_of(order_id)
    assert {"credit", "draw", "absorb", "topup_requested"} <= {e.kind for e in view.entries}  # the walk went far
    assert {PayoutState.DRAWN, PayoutState.SHORT} <= {p.state for p in view.payouts}


async def test_kopecks_add_up_exactly_on_every_backend(office: MoneyOffice) -> None:
    """0.10 + 0.20 is 0.30: SQLite keeps these figures as binary floats, and a draw that exactly empties an earmark
    must still pass its conditional update and the CHECK."""
    order_id = await office.order()
    await office.money.plan(order_id, Consignment(Decimal("0.30"), TransportMode.TIR, ClearanceMode.TRANSPORT_ONLY))
    await office.pay(order_id, "p-kopecks", Decimal("0.30"))
    due = office.clock.now() + timedelta(days=1)
    for key, amount in (("k-10", "0.10"), ("k-20", "0.20")):
        request = PayoutRequest(key, order_id, Purpose.GOODS, "supplier", "RUB", Decimal(amount), due)
        assert (await office.money.draw(request)).payout.state == PayoutState.DRAWN
    goods = (await office.account(order_id)).earmark(Purpose.GOODS)
    assert (goods.reserved, goods.drawn, goods.available) == (Decimal("0.30"), Decimal("0.30"), Decimal("0.00"))
    last = PayoutRequest("k-01", order_id, Purpose.GOODS, "supplier", "RUB", Decimal("0.01"), due)
    assert (await office.money.draw(last)).payout.state == PayoutState.SHORT
