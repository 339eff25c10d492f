"""A client's top-up created at the gateway on memory, SQLite and PostgreSQL, with a scripted YooKassa and a fake
clock: created once with our payment id as the idempotency key (a lost answer retried, two workers, a lease that ran
out), its link kept for the client's page, read by the gateway's id, paid and then drawing the waiting payout."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.order_history import history_line
from integrations.yookassa import PHASES
from tests.fakes import FakeClock, FakeRates
from tests.unit.test_client_money import TIR_FULL
from workflows.client_status import ClientStage, ClientStatus
from workflows.model import Customer, StockFigure
from workflows.money_model import Payout, PayoutRequest, PayoutState, Purpose
from workflows.office_model import Payment, Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payment_gateway import (
    CreatedPayment,
    GatewayPayment,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    NewPayment,
)
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.shop import Instance, Outside, Rules, Shop, assemble
from workflows.topology import Topology
from workflows.topup_checkout import TopupCheckout
from workflows.vocabulary import TaskKind

POLL_AFTER, TASK_AFTER = timedelta(minutes=15), timedelta(hours=2)


class ScriptedYooKassa:
    """Creates one payment per idempotency key, as YooKassa does (another body with the same key is refused), and
    reads payments by its own id. ``lose_answers``: that many creates are made and then not answered;
    ``hold``: creates wait for it before they are made."""

    name = "the test YooKassa"

    def __init__(self) -> None:
        self.payments: dict[str, str] = {}  # gateway id -> status
        self.by_key: dict[str, tuple[str, NewPayment]] = {}
        self.creates: list[NewPayment] = []
        self.asked: list[str] = []
        self.lose_answers = 0
        self.hold: asyncio.Event | None = None

    @property
    def charges(self) -> int:
        return len(self.payments)

    async def create(self, payment: NewPayment) -> CreatedPayment:
        self.creates.append(payment)
        if self.hold is not None:
            await self.hold.wait()
        if payment.key in self.by_key:
            gateway_id, first = self.by_key[payment.key]
            if first != payment:
                raise GatewayRefused("Idempotence key duplicated")
        else:
            gateway_id = f"yk-{len(self.payments) + 1}"
            self.payments[gateway_id], self.by_key[payment.key] = "pending", (gateway_id, payment)
        if self.lose_answers:
            self.lose_answers -= 1
            raise GatewayUnavailable("the test YooKassa did not answer in time")
        return CreatedPayment(gateway_id, self.payments[gateway_id], f"https://yoomoney.test/checkout/{gateway_id}")

    async def status(self, payment_id: str, *, trace_key: str = "") -> GatewayStatus:
        self.asked.append(payment_id)
        if payment_id not in self.payments:
            raise GatewayRefused("not_found")
        status = self.payments[payment_id]
        return GatewayStatus(payment_id, status, PHASES[status])


def page(order_id: int) -> str:
    return f"https://shop.example.ru/client/orders/{order_id}?exp=1767000000&sig=ab12"


class TopupOffice:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.clock, self.gateway = uow, clock, ScriptedYooKassa()
        outside = Outside(
            FakeRates(clock), payment_gateway=self.gateway, payment_checkout=self.gateway, topup_return_url=page
        )
        rules = Rules(payment_poll_after=POLL_AFTER, payment_task_after=TASK_AFTER)
        self.shop: Shop = assemble(uow, topology, clock, outside, rules, Instance(owner="test/1"))
        assert self.shop.topup_checkout is not None and self.shop.payment_watch is not None and self.shop.money
        self.checkout, self.watch, self.money = self.shop.topup_checkout, self.shop.payment_watch, self.shop.money

    def worker(self, owner: str) -> TopupCheckout:
        """Another instance's checkout on the same database and gateway."""
        return TopupCheckout(self.uow, self.clock, self.gateway, page, owner=owner)

    async def short_payout(self) -> tuple[int, str]:
        """An order whose carrier's payout is short, the managers having pressed request_topup: the order and the
        top-up's payment id."""
        await self.shop.ledger.apply_stock(self.clock.now(), [StockFigure("IRON", "online", 10)])
        customer = Customer("Ольга Смирнова", "+79161234567", "olga@example.ru")
        placed = await self.shop.orders.place(
            PlaceOrder("site", "CN-7", [LineRequest("IRON", 1)], customer, Decimal(1_994_400))
        )
        order_id = placed.order.id
        assert order_id is not None
        await self.money.plan(order_id, TIR_FULL)
        await self.shop.payments.record(
            PaymentEvent("goods-cleared", "p-goods", order_id, "idem-goods", Phase.CLEARED, Decimal(600_000), "RUB")
        )
        due = self.clock.now() + timedelta(days=3)
        invoice = PayoutRequest("tir-1", order_id, Purpose.LOGISTICS, "TIR carrier", "EUR", Decimal(12_000), due,
                                Decimal(100))  # fmt: skip
        outcome = await self.money.draw(invoice)
        assert outcome.task_id is not None
        assert (await self.money.answer(outcome.task_id, "request_topup", "1002")).accepted
        payout = await self.payout()
        assert payout.topup_payment_id is not None
        return order_id, payout.topup_payment_id

    async def payout(self) -> Payout:
        async with self.uow(read_only=True) as work:
            found = await work.money.payout("tir-1")
        assert found is not None
        return found

    async def row(self, payment_id: str) -> GatewayPayment:
        async with self.uow(read_only=True) as work:
            found = await work.gateway_payments.get(payment_id)
        assert found is not None
        return found

    async def history(self, order_id: int) -> list[str]:
        return [event.kind for event in (await self.shop.orders.get(order_id)).history]

    async def phase(self, payment_id: str) -> Phase:
        async with self.uow(read_only=True) as work:
            payment = await work.payments.get(payment_id)
        assert payment is not None
        return payment.phase


@pytest.fixture
def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> TopupOffice:
    return TopupOffice(uow, topology, clock)


async def test_a_topup_is_created_once_with_our_id_as_the_key_and_its_link_is_on_the_clients_page(
    office: TopupOffice,
) -> None:
    order_id, payment_id = await office.short_payout()
    assert (await office.row(payment_id)).state == "pending"  # written with the request; nothing asked yet
    assert office.gateway.creates == []

    assert await office.checkout.run_once() == 1
    [sent] = office.gateway.creates
    assert (sent.key, sent.order_id, sent.amount, sent.currency) == (payment_id, order_id, Decimal(1_200_000), "RUB")
    assert sent.return_url == page(order_id) and "CN-7" in sent.description and "доставка из Китая" in sent.description
    row = await office.row(payment_id)
    assert (row.state, row.gateway_id, row.confirmation_url) == (
        "created",
        "yk-1",
        "https://yoomoney.test/checkout/yk-1",
    )
    [sent_line] = [e for e in (await office.shop.orders.get(order_id)).history if e.kind == "topup_link_sent"]
    said = {
        locale: history_line(locale, sent_line.kind, sent_line.detail).replace("\xa0", " ") for locale in ("ru", "en")
    }
    assert said["ru"] == "Клиенту отправлена ссылка на оплату доплаты 1 200 000,00 ₽ (ЮKassa): она на странице заказа"
    assert said["en"].startswith("The client was sent the link to pay the top-up of ")

    status = await ClientStatus(office.uow).of(order_id)
    assert status.stage == ClientStage.AWAITING_TOPUP
    assert [p.pay_url for p in status.payments if p.pay_url] == ["https://yoomoney.test/checkout/yk-1"]

    assert await office.checkout.run_once() == 0  # made: never asked again
    assert len(office.gateway.creates) == 1 and office.gateway.charges == 1


async def test_a_create_whose_answer_was_lost_is_retried_with_the_same_key_and_makes_one_payment(
    office: TopupOffice, clock: FakeClock
) -> None:
    order_id, payment_id = await office.short_payout()
    office.gateway.lose_answers = 1  # YooKassa made it, the answer never came
    assert await office.checkout.run_once() == 0
    row = await office.row(payment_id)
    assert (row.state, row.attempts, row.gateway_id) == ("pending", 1, None) and "did not answer" in (
        row.last_error or ""
    )
    assert await office.checkout.run_once() == 0 and len(office.gateway.creates) == 1  # backing off a minute
    clock.advance(minutes=1)
    assert await office.checkout.run_once() == 1
    assert [c.key for c in office.gateway.creates] == [payment_id, payment_id]  # the same key: the same payment
    assert office.gateway.charges == 1
    assert (await office.row(payment_id)).gateway_id == "yk-1"
    assert (await office.history(order_id)).count("topup_link_sent") == 1


async def test_two_workers_at_once_ask_once_and_a_worker_whose_lease_ran_out_makes_no_second_payment(
    office: TopupOffice, clock: FakeClock
) -> None:
    order_id, payment_id = await office.short_payout()
    first, second = office.worker("shop-a/1"), office.worker("shop-b/1")
    assert sorted(await asyncio.gather(first.run_once(), second.run_once())) == [0, 1]
    assert [c.key for c in office.gateway.creates] == [payment_id]  # the lease: only one even asked
    assert office.gateway.charges == 1

    # a second top-up: the first worker's request hangs past its lease, the second takes the row over
    await _pending_payment(office, order_id, "slow")
    office.gateway.hold = held = asyncio.Event()
    stuck = asyncio.create_task(first.run_once())
    while len(office.gateway.creates) < 2:
        await asyncio.sleep(0.01)
    office.gateway.hold = None  # only the first worker's request hangs
    clock.advance(minutes=1)  # its lease ran out
    assert await second.run_once() == 1
    held.set()
    assert await stuck == 1  # its answer came late: the same payment, its save refused, nothing written twice
    assert [c.key for c in office.gateway.creates[1:]] == ["slow", "slow"] and office.gateway.charges == 2
    assert (await office.history(order_id)).count("topup_link_sent") == 2  # one per top-up


async def _pending_payment(office: TopupOffice, order_id: int, payment_id: str) -> None:
    """Another top-up request of the order, written as ``ask_client`` writes one."""
    now = office.clock.now()
    async with office.uow() as work:
        await work.payments.save(
            Payment(payment_id, order_id, payment_id, Phase.INITIATED, Decimal(10), "RUB", now, now)
        )
        await work.gateway_payments.add(GatewayPayment(payment_id, order_id, "Заказ CN-7: доплата", now))
        await work.commit()


async def test_the_watch_reads_it_by_the_gateways_id_and_paying_it_draws_the_waiting_payout(
    office: TopupOffice, clock: FakeClock
) -> None:
    order_id, payment_id = await office.short_payout()
    clock.advance(minutes=20)
    await office.watch.run_once()
    assert office.gateway.asked == []  # not made at the gateway yet: nobody asks it about the top-up
    await office.checkout.run_once()
    for _ in range(10):  # the client takes their time: pending is no question for the managers
        clock.advance(minutes=30)
        await office.watch.run_once()
    assert set(office.gateway.asked) == {"yk-1"}  # by YooKassa's id, never ours
    async with office.uow(read_only=True) as work:
        assert [t for t in await work.tasks.open_about("payment:") if t.kind == TaskKind.PAYMENT_UNKNOWN] == []
    assert (await office.payout()).state == PayoutState.AWAITING_TOPUP

    office.gateway.payments["yk-1"] = "succeeded"  # the client paid
    clock.advance(minutes=30)
    await office.watch.run_once()
    assert await office.phase(payment_id) == Phase.CLEARED
    assert (await office.payout()).state == PayoutState.DRAWN
    status = await ClientStatus(office.uow).of(order_id)
    assert status.stage != ClientStage.AWAITING_TOPUP and not any(p.pay_url for p in status.payments)


async def test_the_gateways_notice_naming_its_own_id_moves_our_payment(office: TopupOffice) -> None:
    order_id, payment_id = await office.short_payout()
    await office.checkout.run_once()
    notice = PaymentEvent("yk-evt-1", "yk-1", order_id, "whatever", Phase.CLEARED, Decimal(1_200_000), "RUB")
    assert (await office.shop.payments.record(notice)).applied == "advanced"
    assert await office.phase(payment_id) == Phase.CLEARED
    async with office.uow(read_only=True) as work:
        assert await work.payments.get("yk-1") is None  # no second payment under the gateway's id
    assert (await office.payout()).state == PayoutState.DRAWN


async def test_a_topup_settled_before_it_was_created_is_dropped(office: TopupOffice) -> None:
    order_id, payment_id = await office.short_payout()
    failed = PaymentEvent("f-1", payment_id, order_id, payment_id, Phase.FAILED, Decimal(1_200_000), "RUB")
    await office.shop.payments.record(failed)
    assert await office.checkout.run_once() == 0
    assert (await office.row(payment_id)).state == "dropped" and office.gateway.creates == []


async def test_without_a_gateway_the_request_is_recorded_as_before_and_nothing_is_created(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = assemble(uow, topology, clock, Outside(FakeRates(clock)), Rules(), Instance(owner="test"))
    assert shop.topup_checkout is None and shop.payment_watch is None


async def test_a_topup_the_gateway_never_took_within_a_day_of_keys_is_given_up_not_asked_again(
    office: TopupOffice, clock: FakeClock
) -> None:
    _, payment_id = await office.short_payout()
    office.gateway.lose_answers = 1_000  # every create lost: nobody knows whether YooKassa made it
    for _ in range(50):
        await office.checkout.run_once()
        clock.advance(minutes=30)
    row = await office.row(payment_id)
    assert row.state == "given_up" and office.gateway.charges == 1  # past 23 h a retry could make a second payment
    asked = len(office.gateway.creates)
    assert {c.return_url for c in office.gateway.creates} == {page(row.order_id)}  # the same request every time
    clock.advance(hours=1)
    await office.checkout.run_once()
    assert len(office.gateway.creates) == asked
