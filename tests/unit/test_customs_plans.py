"""Customs plans on memory, SQLite and PostgreSQL: on full clearance the client's goods money in opens the managers'
document checklist and plans the FTS payment, once; ticks count once each; the reminder and the owner come with the
clock; a customs payout covers the plan; partial and transport-only clearance get nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.fakes import FakeClock
from tests.unit.test_client_money import TIR_FULL, MoneyOffice
from workflows.customs_model import DEFAULT_DOCUMENTS, CustomsPlan, CustomsRules
from workflows.liquidity import Liquidity
from workflows.model import OrderEvent
from workflows.money_model import ClearanceMode, PayoutRequest, Purpose
from workflows.payloads import CustomsChecklist, CustomsPayment
from workflows.ports import UnitOfWorkFactory
from workflows.tasks import Task, TaskState
from workflows.topology import Topology
from workflows.vocabulary import Assignee, NoticeTopic, TaskKind

CUSTOMS_RUB = Decimal("222000.00")  # 0.32 × 600 000 + 30 000: the customs earmark of TIR_FULL


@pytest.fixture
def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> MoneyOffice:
    return MoneyOffice(uow, topology, clock)


async def _plan(office: MoneyOffice, order_id: int) -> CustomsPlan | None:
    async with office.uow(read_only=True) as work:
        return await work.customs.plan(order_id)


async def _tasks(office: MoneyOffice, order_id: int) -> list[Task]:
    async with office.uow(read_only=True) as work:
        return await work.tasks.open_about(f"order:{order_id}:customs:")


async def _events(office: MoneyOffice, order_id: int) -> list[OrderEvent]:
    async with office.uow(read_only=True) as work:
        order = await work.orders.get(order_id)
    assert order is not None
    return [e for e in order.history if e.kind.startswith("customs_")]


async def test_the_goods_payment_plans_the_documents_and_the_fts_payment_once(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-part", Decimal(599_999))  # a kopeck short of the goods: nothing yet
    assert await _plan(office, order_id) is None
    goods_cleared = office.clock.now()
    await office.pay(order_id, "p-rest", Decimal(1))  # the goods earmark is full now
    await office.pay(order_id, "p-rest", Decimal(1))  # the gateway repeats itself
    office.clock.advance(hours=1)
    await office.pay(order_id, "p-more", Decimal(300_000))  # the logistics money: the plan stays as it was

    plan = await _plan(office, order_id)
    assert plan is not None
    assert (plan.payment_id, plan.goods_cleared_at) == ("p-rest", goods_cleared)
    assert [d.title for d in plan.documents] == list(DEFAULT_DOCUMENTS)
    assert (plan.fts_payee, plan.fts_amount_rub, plan.fts_due_at) == (
        "ФТС России", CUSTOMS_RUB, goods_cleared + timedelta(days=10),
    )  # fmt: skip
    tasks = {task.kind: task for task in await _tasks(office, order_id)}
    assert set(tasks) == {TaskKind.CUSTOMS_DOCUMENTS, TaskKind.CUSTOMS_PAYMENT}
    checklist = tasks[TaskKind.CUSTOMS_DOCUMENTS]
    assert (checklist.assignee, checklist.options) == (Assignee.MANAGERS, ("doc1", "doc2", "doc3", "doc4", "doc5"))
    assert checklist.deadline == goods_cleared + timedelta(days=5)
    payment = tasks[TaskKind.CUSTOMS_PAYMENT]
    assert (payment.deadline, CustomsPayment.from_payload(payment.payload).amount_rub) == (
        plan.fts_due_at, CUSTOMS_RUB,
    )  # fmt: skip
    assert [e.kind for e in await _events(office, order_id)] == ["customs_planned"]

    calendar = await Liquidity(office.uow, office.clock, "Europe/Moscow").calendar(4)
    fts = [line for line in calendar if line.source == "customs_plan"]
    assert [(f.reference, f.currency, f.amount_rub, f.due_at, f.covered) for f in fts] == [
        (f"customs:{order_id}", "RUB", CUSTOMS_RUB, plan.fts_due_at, False),
    ]


async def test_money_credited_before_the_plan_makes_the_customs_plan_when_the_order_is_planned(
    office: MoneyOffice,
) -> None:
    order_id = await office.order()
    await office.pay(order_id, "p-early", Decimal(700_000))
    assert await _plan(office, order_id) is None  # no money plan yet: no clearance mode known
    await office.money.plan(order_id, TIR_FULL)
    await office.money.plan(order_id, TIR_FULL)  # the same plan again changes nothing
    plan = await _plan(office, order_id)
    assert plan is not None and plan.payment_id == ""
    assert len(await _tasks(office, order_id)) == 2


@pytest.mark.parametrize("clearance", [ClearanceMode.PARTIAL, ClearanceMode.TRANSPORT_ONLY])
async def test_partial_and_transport_only_clearance_get_no_checklist_and_no_fts_plan(
    office: MoneyOffice, clearance: ClearanceMode
) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, replace(TIR_FULL, clearance=clearance))
    await office.pay(order_id, "p-all", Decimal(2_000_000))  # every earmark full
    assert await _plan(office, order_id) is None
    assert await _tasks(office, order_id) == []
    assert await _events(office, order_id) == []
    view = await office.money.customs.view(order_id) if office.money.customs else None
    assert view is not None and (view.clearance, view.plan) == (clearance, None)


async def test_ticks_count_once_each_and_the_last_one_answers_the_checklist(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-goods", Decimal(600_000))
    customs = office.money.customs
    assert customs is not None
    (checklist,) = [t for t in await _tasks(office, order_id) if t.kind == TaskKind.CUSTOMS_DOCUMENTS]
    assert checklist.id is not None

    ticked_at = office.clock.now()
    first = await customs.tick(checklist.id, "doc2", "Мария (1002)")
    assert first.accepted and first.task.state == TaskState.OPEN
    office.clock.advance(minutes=5)
    again = await customs.tick(checklist.id, "doc2", "Пётр (1003)")  # a second press on a ticked document
    assert (again.accepted, again.refusal) == (False, "ticked")
    assert (await customs.tick(checklist.id, "doc9", "Пётр (1003)")).refusal == "not_an_option"
    plan = await _plan(office, order_id)
    assert plan is not None
    ticked = plan.document("doc2")
    assert ticked is not None and (ticked.ticked_by, ticked.ticked_at) == ("Мария (1002)", ticked_at)
    shown = CustomsChecklist.from_payload(first.task.payload).items[1]
    assert (shown.option, shown.ticked_by) == ("doc2", "Мария (1002)")

    for option in ("doc1", "doc3", "doc4"):
        assert (await customs.tick(checklist.id, option, "Пётр (1003)")).accepted
    last = await customs.tick(checklist.id, "doc5", "Пётр (1003)")
    assert last.accepted and (last.task.state, last.task.answered_by) == (TaskState.ANSWERED, "Пётр (1003)")
    assert (await customs.tick(checklist.id, "doc5", "Мария (1002)")).refusal == "answered"
    plan = await _plan(office, order_id)
    assert plan is not None and plan.ticked == 5 and plan.documents_done_at == office.clock.now()
    kinds = [e.kind for e in await _events(office, order_id)]
    assert kinds == ["customs_planned", *["customs_document_ticked"] * 5, "customs_documents_done"]
    async with office.uow(read_only=True) as work:
        edits = [n for n in await work.notices.undelivered(100, [NoticeTopic.OFFICE_TASK_CLOSED])
                 if n[2] == {"task_id": checklist.id}]  # fmt: skip
    assert len(edits) == 5  # every accepted tick edits the message; the refused ones do not


async def test_the_reminder_then_the_owner_as_the_clock_moves(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-goods", Decimal(600_000))
    tasks = {task.kind: task for task in await _tasks(office, order_id)}
    checklist, payment = tasks[TaskKind.CUSTOMS_DOCUMENTS], tasks[TaskKind.CUSTOMS_PAYMENT]
    customs = office.money.customs
    assert customs is not None and checklist.id is not None
    await customs.tick(checklist.id, "doc1", "Мария (1002)")

    office.clock.advance(days=2, hours=12, seconds=1)  # half the checklist's five days
    await office.shop.pump.run_once()
    async with office.uow(read_only=True) as work:
        reminded = await work.tasks.get(checklist.id)
        sent = await work.notices.undelivered(100, [NoticeTopic.OFFICE_TASK])
    assert reminded is not None and CustomsChecklist.from_payload(reminded.payload).reminded
    assert sum(1 for _, _, p in sent if p == {"task_id": checklist.id}) == 2  # the question, then the reminder

    office.clock.advance(days=2, hours=12)  # the checklist's deadline: the owner gets the rest
    await office.shop.pump.run_once()
    owners = {task.kind: task for task in await _tasks(office, order_id) if task.assignee == Assignee.OWNER}
    escalated = owners[TaskKind.CUSTOMS_DOCUMENTS]
    question = CustomsChecklist.from_payload(escalated.payload)
    assert question.escalated and question.items[0].ticked_by == "Мария (1002)"  # the tick is kept
    plan = await _plan(office, order_id)
    assert plan is not None and plan.documents_task_id == escalated.id
    assert escalated.id is not None and (await customs.tick(escalated.id, "doc2", "Владелец")).accepted

    office.clock.advance(days=3)  # two days before the FTS date: the managers are reminded
    await office.shop.pump.run_once()
    async with office.uow(read_only=True) as work:
        still = await work.tasks.get(payment.id or 0)
    assert still is not None and still.state == TaskState.OPEN
    assert CustomsPayment.from_payload(still.payload).reminded
    office.clock.advance(days=2)  # the date is missed: the owner, with an alert
    await office.shop.pump.run_once()
    owners = {task.kind: task for task in await _tasks(office, order_id) if task.assignee == Assignee.OWNER}
    assert CustomsPayment.from_payload(owners[TaskKind.CUSTOMS_PAYMENT].payload).escalated
    async with office.uow(read_only=True) as work:
        alerts = await work.alerts.open_of_kind("task_escalated")
    kinds = sorted(str(a.detail["task_kind"]) for a in alerts if a.detail.get("order_id") == order_id)
    assert kinds == ["customs_documents", "customs_payment", "fraud_check"]  # the call check ran out long ago
    kinds = [e.kind for e in await _events(office, order_id)]
    assert kinds.count("customs_escalated") == 2
    view = await customs.view(order_id)
    assert view.payment_task is not None and view.payment_task.assignee == Assignee.OWNER

    liquidity = Liquidity(office.uow, office.clock, "Europe/Moscow")
    assert (await liquidity.view(2)).weeks[0].planned_rub == CUSTOMS_RUB  # missed this week, still not paid
    office.clock.advance(days=7)
    assert (await liquidity.view(2)).overdue.planned_rub == CUSTOMS_RUB  # and in a week's time: overdue


async def test_a_customs_payout_covers_the_plan_and_closes_the_reminder(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-goods", Decimal(1_994_400))  # every earmark full
    plan = await _plan(office, order_id)
    assert plan is not None and plan.fts_task_id is not None
    fts = PayoutRequest("fts-1", order_id, Purpose.CUSTOMS, "ФТС России", "RUB", CUSTOMS_RUB, plan.fts_due_at)
    made = await office.money.draw(fts)
    assert await office.money.draw(fts) == replace(made, duplicate=True)  # the same payout again
    plan = await _plan(office, order_id)
    assert plan is not None and (plan.payout_key, plan.covered) == ("fts-1", True)
    async with office.uow(read_only=True) as work:
        reminder = await work.tasks.get(plan.fts_task_id or 0)
    assert reminder is not None and (reminder.state, reminder.end_reason) == (TaskState.CANCELLED, "customs_paid")
    calendar = await Liquidity(office.uow, office.clock, "Europe/Moscow").calendar(4)
    assert [(line.source, line.reference, line.covered) for line in calendar] == [("payout", "fts-1", True)]
    assert [e.kind for e in await _events(office, order_id)] == ["customs_planned", "customs_payment_made"]

    office.clock.advance(days=11)  # the reminder's and the date's deadlines find it closed: nothing happens
    await office.shop.pump.run_once()
    left = await _tasks(office, order_id)
    assert all(t.kind != TaskKind.CUSTOMS_PAYMENT for t in left)  # no reminder, no owner asked


async def test_a_customs_payout_made_before_the_goods_money_leaves_nothing_to_remind_of(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-goods", Decimal(500_000))
    due = office.clock.now() + timedelta(days=3)
    await office.money.draw(PayoutRequest("fts-early", order_id, Purpose.CUSTOMS, "ФТС", "RUB", CUSTOMS_RUB, due))
    await office.pay(order_id, "p-rest", Decimal(100_000))
    plan = await _plan(office, order_id)
    assert plan is not None and plan.payout_key == "fts-early" and plan.fts_task_id is None
    assert [t.kind for t in await _tasks(office, order_id)] == [TaskKind.CUSTOMS_DOCUMENTS]


def test_the_customs_rules_refuse_what_cannot_work() -> None:
    rules = CustomsRules.model_validate({"documents": ["invoice", " Сертификат происхождения "], "fts_due_days": 7})
    assert rules.documents == ("invoice", "Сертификат происхождения")
    bads: list[dict[str, object]] = [{"documents": []}, {"documents": ["invoice", "invoice"]}, {"documents": [""]},
                {"fts_due_days": 3, "fts_remind_days": 3}, {"documents_within_days": 0}, {"deadline": 3}]  # fmt: skip
    for bad in bads:
        with pytest.raises(ValidationError):
            CustomsRules.model_validate(bad)
    assert Topology.model_validate(
        {"warehouses": [{"code": "online", "kind": "online"}], "channels": {"site": {"serves": ["online"]}},
         "customs": {"fts_due_days": 14}}
    ).customs.fts_due_days == 14  # fmt: skip


async def test_a_cancelled_order_drops_its_customs_tasks_and_leaves_the_calendar(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-goods", Decimal(600_000))
    liquidity = Liquidity(office.uow, office.clock, "Europe/Moscow")
    assert [line.source for line in await liquidity.calendar(4)] == ["customs_plan"]
    await office.orders.cancel(order_id, "the client changed their mind")
    assert await _tasks(office, order_id) == []
    assert await liquidity.calendar(4) == []
    office.clock.advance(days=11)
    await office.shop.pump.run_once()  # the deadlines find the tasks closed: the owner is not asked
    assert await _tasks(office, order_id) == []


async def test_goods_money_on_an_order_cancelled_before_it_plans_nothing(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.orders.cancel(order_id, "the client changed their mind")
    await office.pay(order_id, "p-late", Decimal(600_000))
    assert await _plan(office, order_id) is None
    assert await _tasks(office, order_id) == []
