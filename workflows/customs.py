"""Customs plans: on full clearance, once the client's goods payment is in, the managers collect the customs
documents and the payment to customs (FTS) is planned from the order's ``customs`` earmark.

**The trigger.** The first moment cleared client money fills the order's ``goods`` earmark to its planned amount —
in the clearing transaction of the payment that does it (:meth:`ClientMoney.credit`), or at planning when money
credited before fills it (:meth:`ClientMoney.plan`) — on an order planned with ``clearance = full``. The plan is one
row per order, inserted only if there is none, under the order's money lock: a repeated payment event (credited once
anyway), a later payment or a second instance changes nothing. Partial and transport-only clearance get no plan.

**The checklist** (task ``customs_documents``, for the managers): one button per unticked document,
``task:<id>:doc<n>``. A tick is kept with who and when; a second press on a ticked document changes nothing and is
told so; the task is answered when the last document is ticked. Its deadline is ``documents_within_days`` with a
reminder at half time; missed, the owner gets the unticked rest, with an alert, as for every office task.

**The FTS payment** (task ``customs_payment``, for the managers): ``customs`` earmark's planned roubles to
``fts_payee``, due ``fts_due_days`` after the goods money cleared, reminded ``fts_remind_days`` before; it is on the
obligations calendar until a customs payout of the order is made (``POST /api/orders/{id}/payouts`` with purpose
``customs``), which covers it and closes the reminder; the payout is on the calendar from then on. Missed, the owner
is asked, with an alert. See docs/client_money.md, "Customs plans".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from workflows.alerts import TASK_ESCALATED, AlertDesk
from workflows.customs_model import CustomsDocument, CustomsPlan, CustomsRules, customs_lock
from workflows.errors import OrderNotFound
from workflows.model import Order, OrderEvent
from workflows.money_model import ClearanceMode, MoneyAccount, Payout, Purpose
from workflows.payloads import ChecklistItem, CustomsChecklist, CustomsPayment, TaskNotice
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.tasks import Deadline, Decision, Task, TaskBoard, TaskState, UnknownTask, expire, notify_closed
from workflows.vocabulary import Assignee, NoticeTopic, TaskKind

DOCUMENTS = TaskKind.CUSTOMS_DOCUMENTS
PAYMENT = TaskKind.CUSTOMS_PAYMENT
OWNER_GRACE = timedelta(days=1)  # what the owner is given to pay customs once the date is missed


@dataclass(frozen=True)
class CustomsView:
    order_id: int
    clearance: ClearanceMode | None
    plan: CustomsPlan | None
    documents_task: Task | None
    payment_task: Task | None


class CustomsPlans:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, board: TaskBoard, alerts: AlertDesk, rules: CustomsRules
    ) -> None:
        self._uow, self._clock, self._board, self._alerts, self._rules = uow, clock, board, alerts, rules

    async def goods_paid(self, uow: UnitOfWork, order: Order, account: MoneyAccount, payment_id: str) -> None:
        """Inside the money transaction, under the order's money lock: make the plan if the goods earmark is full on
        full clearance and the order has none yet (see the module's docstring)."""
        if account.clearance != ClearanceMode.FULL or not account.planned or order.cancelled_at is not None:
            return
        goods = account.earmark(Purpose.GOODS)
        if goods.reserved - goods.absorbed < goods.planned:
            return
        assert order.id is not None
        if await uow.customs.plan(order.id) is not None:
            return
        now, rules = self._clock.now(), self._rules
        plan = CustomsPlan(
            order.id, now, payment_id, rules.fts_payee, account.earmark(Purpose.CUSTOMS).planned,
            now + timedelta(days=rules.fts_due_days),
            documents=[CustomsDocument(n, title) for n, title in enumerate(rules.documents, start=1)],
        )  # fmt: skip
        made = next((p for p in await uow.money.payouts_of(order.id) if p.purpose == Purpose.CUSTOMS), None)
        if made is not None:  # customs were paid before the goods money came: nothing to remind of
            plan.payout_key, plan.covered_at = made.key, now
        if not await uow.customs.add(plan):
            return
        checklist = await self._ask_documents(uow, order, plan, Assignee.MANAGERS, now + self._documents_within)
        plan.documents_task_id = checklist.id
        if not plan.covered:
            payment = self._payment(order, plan)
            remind_at = plan.fts_due_at - timedelta(days=rules.fts_remind_days)
            task = Task(None, PAYMENT, _subject(order.id, "payment"), Assignee.MANAGERS, (), plan.fts_due_at, now,
                        payload=payment.to_payload())  # fmt: skip
            await self._board.open_for_office(uow, task, remind=remind_at > now, remind_at=remind_at)
            plan.fts_task_id = task.id
        await uow.customs.save(plan)
        detail: dict[str, object] = {
            "documents": len(plan.documents), "answer_by": checklist.deadline.isoformat(), "payee": plan.fts_payee,
            "amount_rub": str(plan.fts_amount_rub), "due_at": plan.fts_due_at.isoformat(),
            "covered": plan.covered, "task_id": checklist.id,
        }  # fmt: skip
        await uow.orders.add_events(order.id, [OrderEvent(now, "customs_planned", detail)])

    @property
    def _documents_within(self) -> timedelta:
        return timedelta(days=self._rules.documents_within_days)

    async def _ask_documents(
        self, uow: UnitOfWork, order: Order, plan: CustomsPlan, who: str, deadline: datetime, *, escalated: bool = False
    ) -> Task:
        assert order.id is not None
        now = self._clock.now()
        question = CustomsChecklist(order.id, order.external_id, _items(plan), escalated=escalated)
        options = tuple(d.option for d in plan.documents)
        task = Task(None, DOCUMENTS, _subject(order.id, "documents"), who, options, deadline, now,
                    payload=question.to_payload())  # fmt: skip
        return await self._board.open_for_office(uow, task, remind=True)

    def _payment(self, order: Order, plan: CustomsPlan) -> CustomsPayment:
        assert order.id is not None
        return CustomsPayment(order.id, order.external_id, plan.fts_payee, plan.fts_amount_rub, plan.fts_due_at)

    async def tick(self, task_id: int, option: str, by: str) -> Decision:
        """A manager ticks a document of the checklist. The first tick of a document stands; another press on it is
        refused (``ticked``) and changes nothing. The last tick answers the task. The task's messages are edited to
        show who ticked what and when. Raises :class:`UnknownTask`."""
        async with self._uow() as uow:
            task = await uow.tasks.get(task_id)
            if task is None or task.kind != DOCUMENTS:
                raise UnknownTask(f"no checklist {task_id}")
            order_id = CustomsChecklist.from_payload(task.payload).order_id
            await uow.locks.hold(customs_lock(order_id))
            task = await uow.tasks.get(task_id)  # as it is now that we hold the lock
            assert task is not None
            if task.state != TaskState.OPEN:
                return Decision(False, task, task.state.value)
            plan = await uow.customs.plan(order_id)
            document = plan.document(option) if plan is not None else None
            if plan is None or document is None or option not in task.options:
                return Decision(False, task, "not_an_option")
            if document.ticked_at is not None:
                return Decision(False, task, "ticked")
            now = self._clock.now()
            document.ticked_by, document.ticked_at = by, now
            done = all(d.ticked_at is not None for d in plan.documents)
            if done:
                plan.documents_done_at = now
            await uow.customs.save(plan)
            question = replace(CustomsChecklist.from_payload(task.payload), items=_items(plan))
            task.payload = question.to_payload()
            await uow.tasks.set_payload(task_id, task.payload)
            detail: dict[str, object] = {"document": document.title, "n": document.n, "by": by, "task_id": task_id}
            events = [OrderEvent(now, "customs_document_ticked", detail)]
            if done and await uow.tasks.close(task_id, TaskState.ANSWERED, now, reason="answered", answer=option,
                                              by=by):  # fmt: skip
                task.state, task.answer, task.answered_by, task.closed_at, task.end_reason = (
                    TaskState.ANSWERED, option, by, now, "answered",
                )  # fmt: skip
                events.append(OrderEvent(now, "customs_documents_done", {"documents": len(plan.documents)}))
            await uow.orders.add_events(order_id, events)
            await notify_closed(uow, task, now)  # edits its messages: the ticks, and the buttons left
            await uow.commit()
        return Decision(True, task)

    async def payout_made(self, uow: UnitOfWork, payout: Payout) -> None:
        """Inside the payout's transaction, under the order's money lock: a customs payout covers the planned FTS
        payment (the payout is on the calendar from now on) and closes its reminder. Only the first counts."""
        if payout.purpose != Purpose.CUSTOMS:
            return
        plan = await uow.customs.plan(payout.order_id)
        if plan is None or plan.covered:
            return
        now = self._clock.now()
        plan.payout_key, plan.covered_at = payout.key, now
        await uow.customs.save(plan)
        if plan.fts_task_id is not None and await uow.tasks.close(plan.fts_task_id, TaskState.CANCELLED, now,
                                                                  reason="customs_paid"):  # fmt: skip
            task = await uow.tasks.get(plan.fts_task_id)
            assert task is not None
            await notify_closed(uow, task, now)
        detail: dict[str, object] = {"payout": payout.key, "payee": payout.payee, "amount_rub": str(payout.amount_rub)}
        await uow.orders.add_events(payout.order_id, [OrderEvent(now, "customs_payment_made", detail)])

    async def on_reminder(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """Half time of the checklist, or ``fts_remind_days`` before the FTS date: the task is sent again, saying
        it is a reminder (every copy is edited when it closes)."""
        assert task.id is not None
        if task.kind == DOCUMENTS:
            task.payload = replace(CustomsChecklist.from_payload(task.payload), reminded=True).to_payload()
        else:
            task.payload = replace(CustomsPayment.from_payload(task.payload), reminded=True).to_payload()
        await uow.tasks.set_payload(task.id, task.payload)
        await uow.notices.add(NoticeTopic.OFFICE_TASK, TaskNotice(task.id).to_payload(), self._clock.now())

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """The managers missed the date: the owner gets the task (the unticked documents, or the payment), with an
        alert. The owner's own task running out leaves the plan as it is: open in the API, overdue on the calendar."""
        now = self._clock.now()
        if not await expire(uow, task, deadline, now):
            return
        await notify_closed(uow, task, now)
        if task.assignee == Assignee.OWNER:
            return
        if task.kind == DOCUMENTS:
            order_id = CustomsChecklist.from_payload(task.payload).order_id
            await uow.locks.hold(customs_lock(order_id))
        else:
            order_id = CustomsPayment.from_payload(task.payload).order_id
        plan, order = await uow.customs.plan(order_id), await uow.orders.get(order_id)
        if plan is None or order is None:
            return
        if task.kind == DOCUMENTS:
            again = await self._ask_documents(
                uow, order, plan, Assignee.OWNER, now + self._documents_within, escalated=True
            )
            plan.documents_task_id = again.id
        else:
            if plan.covered:
                return
            question = replace(self._payment(order, plan), escalated=True)
            again = Task(None, PAYMENT, _subject(order_id, "payment"), Assignee.OWNER, (), now + OWNER_GRACE, now,
                         payload=question.to_payload())  # fmt: skip
            await self._board.open_for_office(uow, again)
            plan.fts_task_id = again.id
        await uow.customs.save(plan)
        detail: dict[str, object] = {"task_kind": str(task.kind), "order_id": order_id}
        await self._alerts.raise_alert(uow, f"{TASK_ESCALATED}:{task.id}", TASK_ESCALATED, detail)
        await uow.orders.add_events(order_id, [OrderEvent(now, "customs_escalated", {"task_kind": str(task.kind)})])

    async def view(self, order_id: int) -> CustomsView:
        """The order's customs plan as the API shows it: the checklist's state, the FTS plan and their tasks."""
        async with self._uow(read_only=True) as uow:
            if await uow.orders.get(order_id) is None:
                raise OrderNotFound(f"no order {order_id}")
            account = await uow.money.account(order_id)
            plan = await uow.customs.plan(order_id)
            documents = await uow.tasks.get(plan.documents_task_id) if plan and plan.documents_task_id else None
            payment = await uow.tasks.get(plan.fts_task_id) if plan and plan.fts_task_id else None
        return CustomsView(order_id, account.clearance if account else None, plan, documents, payment)


def _subject(order_id: int, what: str) -> str:
    return f"order:{order_id}:customs:{what}"


def _items(plan: CustomsPlan) -> tuple[ChecklistItem, ...]:
    return tuple(ChecklistItem(d.option, d.title, d.ticked_by, d.ticked_at) for d in plan.documents)
