"""Clients' money that goes wrong after it came in, on memory, SQLite and PostgreSQL with a clock moved by hand: a
refund taken back out of the account (never out of what was paid out), a top-up whose payment failed, and cleared
money with no purchase started."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.bootstrap import rules
from app.settings import ConfigurationError, load_settings
from tests.fakes import FakeClock
from tests.unit.test_client_money import PLANNED, TIR_FULL, MoneyOffice
from workflows.money_model import MoneyAccount, PayoutRequest, PayoutState, Purpose
from workflows.office_model import Phase
from workflows.payloads import PurchaseNotStarted, RefundShortfall
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.purchase_watch import KIND
from workflows.purchase_watch import OPTIONS as PURCHASE_OPTIONS
from workflows.tasks import Task, TaskState
from workflows.topology import Topology
from workflows.vocabulary import Assignee, TaskKind


@pytest.fixture
def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> MoneyOffice:
    return MoneyOffice(uow, topology, clock)


async def event(office: MoneyOffice, order_id: int, payment: str, phase: Phase, amount: Decimal, key: str = "") -> str:
    sent = PaymentEvent(f"{payment}-{phase.value}", payment, order_id, key or f"idem-{payment}", phase, amount, "RUB")
    return (await office.payments.record(sent)).applied


async def open_tasks(office: MoneyOffice, order_id: int, about: str) -> list[Task]:
    async with office.uow(read_only=True) as work:
        return await work.tasks.open_about(f"order:{order_id}:{about}")


def books_balance(account: MoneyAccount) -> bool:
    marks = account.earmarks
    reserved = sum((e.reserved for e in marks), Decimal(0)) - sum((e.absorbed for e in marks), Decimal(0))
    return account.credited == account.unallocated + reserved and all(0 <= e.drawn <= e.reserved for e in marks)


def supplier(order_id: int, office: MoneyOffice, key: str = "cn-1", rub: str = "600000") -> PayoutRequest:
    due = office.clock.now() + timedelta(days=5)
    return PayoutRequest(key, order_id, Purpose.GOODS, "Yiwu supplier", "RUB", Decimal(rub), due)


# -- refunds ------------------------------------------------------------------------------------------------------


async def test_a_refund_takes_back_unallocated_then_undrawn_money_last_filled_first(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-all", Decimal(1_994_400))
    await office.pay(order_id, "p-extra", Decimal(50_000))  # waits unallocated
    await office.money.draw(supplier(order_id, office))  # the goods are paid for: 600 000 drawn
    await office.money.draw(office.carrier_invoice(order_id, eur="10000"))  # 1 000 000 of logistics drawn

    assert await event(office, order_id, "p-all", Phase.REFUNDED, Decimal(1_994_400)) == "advanced"
    account = await office.account(order_id)
    reserved = {e.purpose: e.reserved for e in account.earmarks}
    assert reserved == {
        Purpose.GOODS: PLANNED[Purpose.GOODS],  # drawn in full: nothing to take
        Purpose.LOGISTICS: Decimal(1_000_000),  # what was drawn stays; the undrawn 150 000 went back
        Purpose.CUSTOMS: 0, Purpose.WAREHOUSE: 0, Purpose.MARKETPLACE: 0,
    }  # fmt: skip
    assert account.unallocated == 0
    assert account.credited == Decimal(1_600_000)  # 2 044 400 in, 444 400 taken back
    assert books_balance(account)
    entries = {e.key: e for e in (await office.money.account_of(order_id)).entries}
    refund = entries["refund:p-all"]
    assert refund.amount_rub == Decimal(444_400)
    assert refund.detail["unallocated"] == "50000.00" and refund.detail["marketplace"] == "5000.00"
    assert entries["refund_shortfall:p-all"].amount_rub == Decimal(1_550_000)  # left with the supplier, the carrier
    (task,) = await open_tasks(office, order_id, "refund:")
    assert (task.kind, task.assignee, task.options) == (TaskKind.REFUND_SHORTFALL, Assignee.MANAGERS, ("checked",))
    question = RefundShortfall.from_payload(task.payload)
    assert (question.refunded_rub, question.taken_rub, question.shortfall_rub) == (
        Decimal(1_994_400), Decimal(444_400), Decimal(1_550_000),
    )  # fmt: skip
    kinds = [e.kind for e in (await office.orders.get(order_id)).history]
    assert kinds.count("money_refunded") == 1 and kinds.count("refund_short") == 1

    assert (await office.money.refunds.answer(task.id or 0, "checked", "Мария (1002)")).accepted
    assert "refund_short_checked" in [e.kind for e in (await office.orders.get(order_id)).history]


async def test_a_repeated_refund_changes_nothing(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-1", Decimal(300_000))
    assert await event(office, order_id, "p-1", Phase.REFUNDED, Decimal(300_000)) == "advanced"
    after = await office.account(order_id)
    assert (after.credited, after.earmark(Purpose.GOODS).reserved) == (Decimal(0), Decimal(0))
    assert await event(office, order_id, "p-1", Phase.REFUNDED, Decimal(300_000)) == "duplicate"
    async with office.uow() as work:  # the money desk itself told twice: the journal key is taken
        order, payment = await work.orders.get(order_id), await work.payments.get("p-1")
        assert order is not None and payment is not None
        await office.money.refunded(work, order, payment)
        await work.commit()
    assert await office.account(order_id) == after
    assert [e.key for e in (await office.money.account_of(order_id)).entries if e.kind == "refund"] == ["refund:p-1"]
    assert await open_tasks(office, order_id, "refund:") == []  # all of it was still there: no shortfall


async def test_a_payment_refunded_before_it_cleared_takes_nothing_back(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-1", Decimal(100_000))
    await event(office, order_id, "p-2", Phase.AUTHORIZED, Decimal(50_000))
    assert await event(office, order_id, "p-2", Phase.REFUNDED, Decimal(50_000)) == "advanced"
    account = await office.account(order_id)
    assert (account.credited, account.earmark(Purpose.GOODS).reserved) == (Decimal(100_000), Decimal(100_000))
    assert all(e.kind != "refund" for e in (await office.money.account_of(order_id)).entries)


# -- a failed top-up ----------------------------------------------------------------------------------------------


async def test_a_failed_top_up_puts_its_payout_back_to_short_and_asks_again(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    outcome = await office.money.draw(office.carrier_invoice(order_id))
    assert (await office.money.answer(outcome.task_id or 0, "request_topup", "1002")).accepted
    asked = await office.payout("tir-inv-1")
    request = asked.topup_payment_id or ""
    assert (await office.account(order_id)).earmark(Purpose.LOGISTICS).planned == Decimal(2_350_000)

    assert await event(office, order_id, request, Phase.FAILED, Decimal(1_200_000), key=request) == "advanced"
    payout = await office.payout("tir-inv-1")
    assert (payout.state, payout.topup_payment_id) == (PayoutState.SHORT, None)
    assert (await office.account(order_id)).earmark(Purpose.LOGISTICS).planned == PLANNED[Purpose.LOGISTICS]
    (again,) = await office.questions(order_id)
    assert again.id != outcome.task_id and payout.task_id == again.id
    assert await event(office, order_id, request, Phase.FAILED, Decimal(1_200_000), key=request) == "duplicate"
    assert len(await office.questions(order_id)) == 1
    kinds = [e.kind for e in (await office.orders.get(order_id)).history]
    assert kinds.count("topup_failed") == 1 and kinds.count("earmark_short") == 2

    assert (await office.money.answer(again.id or 0, "request_topup", "1002")).accepted  # a second request
    second = (await office.payout("tir-inv-1")).topup_payment_id or ""
    assert second not in ("", request)
    await office.pay(order_id, second, Decimal(1_200_000), key=second)
    assert (await office.payout("tir-inv-1")).state == PayoutState.DRAWN
    assert books_balance(await office.account(order_id))


# -- cleared money, no purchase -----------------------------------------------------------------------------------


async def test_cleared_money_with_no_purchase_asks_the_managers_once_and_a_goods_payout_closes_it(
    office: MoneyOffice, clock: FakeClock
) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    cleared_at = clock.now()
    await office.pay(order_id, "p-1", Decimal(700_000))
    watch = office.shop.purchase_watch
    assert watch is not None
    clock.advance(hours=23, minutes=59)
    assert await watch.run_once() == 0  # not yet
    await office.pay(order_id, "p-2", Decimal(100_000))  # a second payment does not move the moment
    clock.advance(minutes=1)
    assert await watch.run_once() == 1
    (task,) = await open_tasks(office, order_id, "purchase")
    assert (task.kind, task.assignee, task.options) == (TaskKind.PURCHASE_NOT_STARTED, Assignee.MANAGERS,
                                                        PURCHASE_OPTIONS)  # fmt: skip
    question = PurchaseNotStarted.from_payload(task.payload)
    assert (question.credited_rub, question.cleared_at, question.external_id) == (Decimal(800_000), cleared_at, "CN-1")
    clock.advance(days=3)
    assert await watch.run_once() == 0  # once per order

    await office.money.draw(supplier(order_id, office))
    async with office.uow(read_only=True) as work:
        closed = await work.tasks.get(task.id or 0)
    assert closed is not None and (closed.state, closed.end_reason) == (TaskState.CANCELLED, "purchase_started")
    kinds = [e.kind for e in (await office.orders.get(order_id)).history]
    assert kinds.count("purchase_watch_asked") == 1


async def test_a_purchase_started_in_time_asks_nobody(office: MoneyOffice, clock: FakeClock) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-1", Decimal(700_000))
    clock.advance(hours=3)
    await office.money.draw(supplier(order_id, office, rub="900000"))  # short, but a purchase all the same
    clock.advance(days=2)
    assert office.shop.purchase_watch is not None
    assert await office.shop.purchase_watch.run_once() == 0
    assert await open_tasks(office, order_id, "purchase") == []
    assert (await office.account(order_id)).purchase_ask_at is None


async def test_postpone_asks_again_later_and_started_ends_the_watch(office: MoneyOffice, clock: FakeClock) -> None:
    order_id = await office.order()
    await office.pay(order_id, "p-1", Decimal(700_000))  # the money before the plan: counted from when it came
    await office.money.plan(order_id, TIR_FULL)
    watch = office.shop.purchase_watch
    assert watch is not None
    clock.advance(days=1)
    assert await watch.run_once() == 1
    (first,) = await open_tasks(office, order_id, "purchase")
    assert (await watch.answer(first.id or 0, "postpone", "Мария (1002)")).accepted
    assert not (await watch.answer(first.id or 0, "started", "Иван (1003)")).accepted  # the first answer stands
    clock.advance(hours=23)
    assert await watch.run_once() == 0
    clock.advance(hours=1)
    assert await watch.run_once() == 1  # MONEY_POSTPONE_S later: asked again
    (second,) = await open_tasks(office, order_id, "purchase")
    assert (await watch.answer(second.id or 0, "started", "Мария (1002)")).accepted
    clock.advance(days=5)
    assert await watch.run_once() == 0
    decisions = [e.detail["decision"] for e in (await office.orders.get(order_id)).history
                 if e.kind == "purchase_watch_decision"]  # fmt: skip
    assert decisions == ["postpone", "started"]


async def test_money_refunded_in_full_before_the_watch_asks_nobody(office: MoneyOffice, clock: FakeClock) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-1", Decimal(700_000))
    await event(office, order_id, "p-1", Phase.REFUNDED, Decimal(700_000))
    clock.advance(days=1)
    assert office.shop.purchase_watch is not None
    assert await office.shop.purchase_watch.run_once() == 0


async def test_no_answer_in_time_goes_to_the_owner_with_an_alert(office: MoneyOffice, clock: FakeClock) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-1", Decimal(700_000))
    assert office.shop.purchase_watch is not None
    clock.advance(days=1)
    await office.shop.purchase_watch.run_once()
    clock.advance(hours=4, seconds=1)
    await office.shop.pump.run_once()
    (owners,) = await open_tasks(office, order_id, "purchase")
    assert owners.assignee == Assignee.OWNER and PurchaseNotStarted.from_payload(owners.payload).escalated
    assert (await office.account(order_id)).purchase_task_id == owners.id
    async with office.uow(read_only=True) as work:
        alerts = await work.tasks.open_about("alert:task_escalated:")
    assert [a.payload["order_id"] for a in alerts if a.payload.get("task_kind") == KIND] == [order_id]
    await office.money.draw(supplier(order_id, office))  # the goods bought at last: the owner's question closes
    assert await open_tasks(office, order_id, "purchase") == []


# -- the setting ----------------------------------------------------------------------------------------------------


def test_the_watch_time_is_a_setting_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    assert rules(load_settings(env_file=None)).money_purchase_watch == timedelta(days=1)
    monkeypatch.setenv("MONEY_PURCHASE_WATCH_S", "7200")
    assert rules(load_settings(env_file=None)).money_purchase_watch == timedelta(hours=2)
    for bad in ("60", "a day", "99999999"):
        monkeypatch.setenv("MONEY_PURCHASE_WATCH_S", bad)
        with pytest.raises(ConfigurationError, match="MONEY_PURCHASE_WATCH_S"):
            load_settings(env_file=None)


async def test_an_everyday_order_with_no_money_plan_is_not_watched(office: MoneyOffice, clock: FakeClock) -> None:
    """A shop's order paid and shipped from stock buys nothing abroad: its cleared money asks nobody."""
    order_id = await office.order()
    await office.pay(order_id, "p-1", Decimal(700_000))
    clock.advance(days=3)
    assert office.shop.purchase_watch is not None
    assert await office.shop.purchase_watch.run_once() == 0
    assert await open_tasks(office, order_id, "purchase") == []
