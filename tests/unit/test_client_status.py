"""What a client reads of their order (the signed page's read model) as the order goes through its money's stages,
on memory, SQLite and PostgreSQL; and the link's signature alone."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from decimal import Decimal

from tests.fakes import FakeClock
from tests.unit.test_client_money import TIR_FULL, MoneyOffice
from workflows.client_links import ClientLinks, LinkRefusal
from workflows.client_status import ClientOrderStatus, ClientPayment, ClientStage, ClientStatus
from workflows.money_model import Purpose
from workflows.office_model import Payment, Phase
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology


async def test_the_stage_follows_the_clients_money_from_nothing_to_paid(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    office = MoneyOffice(uow, topology, clock)
    status = ClientStatus(uow)
    order_id = await office.order("CN-31")
    seen = await status.of(order_id)
    assert (seen.number, seen.stage, seen.payments, seen.money) == ("CN-31", ClientStage.AWAITING_PAYMENT, (), None)

    await office.money.plan(order_id, TIR_FULL)
    seen = await status.of(order_id)
    assert seen.stage == ClientStage.AWAITING_PAYMENT and seen.money is not None
    assert seen.money.left_to_pay == Decimal("1994400.00")
    assert [e.purpose for e in seen.money.earmarks] == list(Purpose)

    await office.payments.record(PaymentEvent("p1-auth", "p1", order_id, "idem-p1", Phase.AUTHORIZED,
                                              Decimal(600_000), "RUB"))  # fmt: skip
    assert (await status.of(order_id)).stage == ClientStage.PAYMENT_PROCESSING
    await office.pay(order_id, "p1", Decimal(600_000))
    seen = await status.of(order_id)
    assert seen.stage == ClientStage.PARTLY_PAID
    assert seen.payments == (ClientPayment(Decimal(600_000), "RUB", Phase.CLEARED, clock.now(), None),)
    assert seen.money is not None
    goods = seen.money.earmarks[0]
    assert (goods.purpose, goods.planned, goods.reserved, goods.spent) == (
        Purpose.GOODS, Decimal(600_000), Decimal(600_000), Decimal(0),
    )  # fmt: skip

    outcome = await office.money.draw(office.carrier_invoice(order_id))  # 1 200 000 ₽ with nothing in logistics
    assert outcome.task_id is not None
    await office.money.answer(outcome.task_id, "request_topup", "Мария")
    seen = await status.of(order_id)
    assert seen.stage == ClientStage.AWAITING_TOPUP
    topup = seen.payments[-1]
    assert (topup.amount, topup.phase, topup.topup_for) == (Decimal("1200000.00"), Phase.INITIATED, Purpose.LOGISTICS)

    payout = await office.payout("tir-inv-1")
    assert payout.topup_payment_id is not None
    await office.pay(order_id, payout.topup_payment_id, Decimal(1_200_000), key=payout.topup_payment_id)
    seen = await status.of(order_id)
    assert seen.stage == ClientStage.PARTLY_PAID  # customs, warehouse and marketplace still to pay
    assert seen.money is not None and seen.money.earmarks[1].spent == Decimal(1_200_000)

    await office.pay(order_id, "p3", Decimal(2_000_000))
    seen = await status.of(order_id)
    assert seen.stage == ClientStage.PAID
    assert seen.money is not None and seen.money.left_to_pay == 0 and seen.money.unallocated > 0

    await office.orders.cancel(order_id, "the client changed their mind")
    assert (await status.of(order_id)).stage == ClientStage.CANCELLED


def test_the_clients_view_has_no_field_for_the_office() -> None:
    """Nothing in it can leak by a page forgetting to hide it: no contacts, names, payees or ids but the order's."""
    names = {f.name for f in fields(ClientOrderStatus)} | {f.name for f in fields(ClientPayment)}
    assert not names & {"customer", "payee", "payment_id", "key", "task_id", "channel", "history", "lines"}


def test_a_link_is_good_for_its_order_until_it_expires() -> None:
    clock = FakeClock()
    links = ClientLinks(b"k" * 32, clock, timedelta(days=1))
    link = links.link(7)
    exp, sig = (part.split("=", 1)[1] for part in link.path.split("?", 1)[1].split("&"))
    assert link.path.startswith("/client/orders/7?exp=") and link.url is None
    assert links.refusal(7, exp, sig) is None
    assert links.refusal(8, exp, sig) == LinkRefusal.INVALID  # another order
    assert links.refusal(7, str(int(exp) + 1), sig) == LinkRefusal.INVALID  # another expiry
    assert ClientLinks(b"q" * 32, clock, timedelta(days=1)).refusal(7, exp, sig) == LinkRefusal.INVALID
    assert links.refusal(7, exp, sig.upper()) == LinkRefusal.INVALID  # as made, or not at all
    assert links.refusal(7, None, sig) == links.refusal(7, exp, "") == LinkRefusal.MISSING
    clock.advance(days=1)
    assert links.refusal(7, exp, sig) == LinkRefusal.EXPIRED
    assert ClientLinks(b"k" * 32, clock, timedelta(hours=1), "https://shop.example.ru/").link(7).url == (
        "https://shop.example.ru" + ClientLinks(b"k" * 32, clock, timedelta(hours=1)).link(7).path
    )


def test_once_paid_the_stage_is_where_the_least_advanced_box_is() -> None:
    from datetime import UTC, datetime

    from workflows.box_model import Box, BoxLine, BoxStatus
    from workflows.client_status import client_stage
    from workflows.model import Customer, Order

    now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    order = Order(7, "site", "CN-7", Customer(), Decimal(100), "RUB", now, [])
    paid = [Payment("p", 7, "p", Phase.CLEARED, Decimal(100), "RUB", now, now)]

    def box(number: int, status: BoxStatus) -> Box:
        return Box(7, 1, number, 2, f"BX-{number}", (BoxLine("A", 1),), Decimal(50), status, now, "k", now)

    assert client_stage(order, paid, None, []) == ClientStage.PAID
    stages = {
        (BoxStatus.IN_TRANSIT, BoxStatus.AT_MOSCOW_WAREHOUSE): ClientStage.PAID,
        (BoxStatus.AT_MOSCOW_WAREHOUSE, BoxStatus.ACCEPTED_AT_FULFILMENT): ClientStage.AT_MOSCOW_WAREHOUSE,
        (BoxStatus.SENT_TO_MARKETPLACE, BoxStatus.ACCEPTED_AT_FULFILMENT): ClientStage.ON_THE_WAY_TO_MARKETPLACE,
        (BoxStatus.ACCEPTED_AT_FULFILMENT, BoxStatus.ACCEPTED_AT_FULFILMENT): ClientStage.ACCEPTED_AT_FULFILMENT,
    }
    for (first, second), stage in stages.items():
        assert client_stage(order, paid, None, [], [box(1, first), box(2, second)]) == stage
    unpaid = [Payment("p", 7, "p", Phase.AUTHORIZED, Decimal(100), "RUB", now, now)]
    assert client_stage(order, unpaid, None, [], [box(1, BoxStatus.ACCEPTED_AT_FULFILMENT)]) == (
        ClientStage.PAYMENT_PROCESSING
    )  # money the client must act on comes first
