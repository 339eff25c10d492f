"""The fraud call check: a manager phones the client before anything ships.

``verified`` lifts the shipping hold. ``no_answer`` asks again later (a new task that says when
to call), and after the last attempt the owner decides. ``fraud`` cancels the order (its holds
released, its open questions closed), marks its payments for void or refund and blocks the
client. Nobody answering in time also goes to the owner; shipping stays held throughout.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from workflows.alerts import TASK_ESCALATED, AlertDesk
from workflows.model import Order, OrderEvent
from workflows.orders import OrderDesk
from workflows.payloads import FraudCall
from workflows.ports import Clock, UnitOfWork
from workflows.tasks import Deadline, Decision, Task, TaskBoard, answer_with, expire, notify_closed
from workflows.vocabulary import Assignee, TaskKind

KIND = TaskKind.FRAUD_CHECK
OPTIONS = ("verified", "no_answer", "fraud")
HOLD = "fraud_check"


class FraudCheck:
    def __init__(
        self,
        clock: Clock,
        board: TaskBoard,
        alerts: AlertDesk,
        orders: OrderDesk,
        *,
        answer_within: timedelta = timedelta(minutes=30),
        call_again_after: timedelta = timedelta(minutes=30),
        attempts: int = 3,
    ) -> None:
        self._clock, self._board, self._alerts, self._orders = clock, board, alerts, orders
        self._answer_within, self._call_again_after, self._attempts = answer_within, call_again_after, attempts

    async def open(self, uow: UnitOfWork, order: Order, reasons: list[str], payer: str, failed: int) -> Task:
        """Inside the caller's transaction: hold shipping and ask the managers to call."""
        assert order.id is not None
        now = self._clock.now()
        call = FraudCall(
            order.id, order.external_id, order.customer.phone, order.customer.name, order.customer.email, payer,
            order.total, order.currency, tuple(reasons), failed,
        )  # fmt: skip
        await uow.orders.set_hold(order.id, HOLD)
        task = await self._ask(uow, call, Assignee.MANAGERS)
        detail: dict[str, object] = {"task_id": task.id, "reasons": reasons}
        await uow.orders.add_events(order.id, [OrderEvent(now, "fraud_check_opened", detail)])
        return task

    async def _ask(self, uow: UnitOfWork, call: FraudCall, who: str, not_before: datetime | None = None) -> Task:
        """``not_before``: a call to make later gets its full time to answer from then on."""
        now = self._clock.now()
        deadline = max(now, not_before or now) + self._answer_within
        subject = f"order:{call.order_id}:fraud_check:{call.attempt}"
        task = Task(None, KIND, subject, who, OPTIONS, deadline, now, payload=call.to_payload())
        return await self._board.open_for_office(uow, task)

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        return await answer_with(self._board, task_id, option, by, self._decided)

    async def _decided(self, uow: UnitOfWork, task: Task, option: str, by: str) -> None:
        now = self._clock.now()
        order_id = FraudCall.from_payload(task.payload).order_id
        await notify_closed(uow, task, now)
        detail: dict[str, object] = {"task_id": task.id, "decision": option, "by": by}
        await uow.orders.add_events(order_id, [OrderEvent(now, "fraud_check_answered", detail)])
        if option == "verified":
            await uow.orders.set_hold(order_id, None)
        elif option == "no_answer":
            await self._again_or_escalate(uow, task)
        else:
            await self._fraud(uow, task, by)

    async def _again_or_escalate(self, uow: UnitOfWork, task: Task) -> None:
        call = FraudCall.from_payload(task.payload)
        if call.attempt < self._attempts and task.assignee != Assignee.OWNER:
            call_after = self._clock.now() + self._call_again_after
            again = replace(call, attempt=call.attempt + 1, call_after=call_after)
            await self._ask(uow, again, task.assignee, not_before=call_after)
            return
        await self._escalate(uow, task, "no_answer")

    async def _escalate(self, uow: UnitOfWork, task: Task, why: str) -> None:
        if task.assignee == Assignee.OWNER:
            return  # the owner's own question: the hold stays, the task is in /tasks
        call = FraudCall.from_payload(task.payload)
        await self._ask(uow, replace(call, attempt=call.attempt + 1, escalated=why), Assignee.OWNER)
        key = f"{TASK_ESCALATED}:{task.id}"
        await self._alerts.raise_alert(
            uow, key, TASK_ESCALATED, {"task_kind": KIND.value, "order_id": call.order_id, "why": why}
        )

    async def _fraud(self, uow: UnitOfWork, task: Task, by: str) -> None:
        now = self._clock.now()
        call = FraudCall.from_payload(task.payload)
        order_id = call.order_id
        await self._orders.cancel_in(uow, order_id, f"fraud_confirmed: {by}")
        for payment in await uow.payments.for_order(order_id):
            payment.void_requested_at = now
            await uow.payments.save(payment)
        phone, email = call.phone, call.email
        if phone or email:
            await uow.payments.block(phone, email, f"fraud on order {call.external_id}", now)
        voided = len(await uow.payments.for_order(order_id))
        detail: dict[str, object] = {"phone": phone, "email": email, "payments_to_void": voided}
        await uow.orders.add_events(order_id, [OrderEvent(now, "client_blocked", detail)])

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        now = self._clock.now()
        if await expire(uow, task, deadline, now):
            await notify_closed(uow, task, now)
            await self._escalate(uow, task, "timeout")
