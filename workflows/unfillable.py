"""A marketplace order with a line nobody can fill (no warehouse had it, or every store said no): the managers decide.

The question offers ``cancel`` — the order is cancelled here (``OrderDesk.cancel_in``: everything it held is
released) and ``cancel_unfillable`` is queued for the marketplace — or ``wait_1d`` / ``wait_3d``: a delivery is
expected, and the same question comes back that much later. Nobody answering in time (``decide_within``; the
channels do not tell us their shipping deadline) passes the question to the owner with an alert, as the FX approval
does. The first decision stands (``TaskBoard.deciding``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from workflows.alerts import TASK_ESCALATED, AlertDesk
from workflows.model import LineStatus, Order, OrderEvent
from workflows.order_actions import Action, ActionState, queue
from workflows.orders import OrderDesk
from workflows.payloads import UnfillableLine, UnfillableOrder
from workflows.ports import Clock, UnitOfWork
from workflows.tasks import Deadline, Decision, Task, TaskBoard, expire, notify_closed
from workflows.vocabulary import Assignee, TaskKind

KIND = TaskKind.UNFILLABLE_ORDER
CANCEL = "cancel"
WAITS = {"wait_1d": timedelta(days=1), "wait_3d": timedelta(days=3)}
OPTIONS = (CANCEL, *WAITS)
UNFILLABLE = (LineStatus.OUT_OF_STOCK, LineStatus.UNFULFILLABLE)


def unfillable_lines(order: Order) -> tuple[UnfillableLine, ...]:
    return tuple(UnfillableLine(x.line_no, x.sku, x.qty) for x in order.lines if x.status in UNFILLABLE)


class UnfillableDesk:
    def __init__(
        self, clock: Clock, board: TaskBoard, alerts: AlertDesk, orders: OrderDesk, *, decide_within: timedelta
    ) -> None:
        self._clock, self._board, self._alerts, self._orders = clock, board, alerts, orders
        self._decide_within = decide_within

    async def ask(self, uow: UnitOfWork, order: Order, attempt: int) -> Task:
        """Inside the caller's transaction: put the question to the managers."""
        assert order.id is not None
        question = UnfillableOrder(order.id, order.external_id, order.channel, unfillable_lines(order), attempt)
        task = await self._open(uow, question, Assignee.MANAGERS)
        detail: dict[str, object] = {"task_id": task.id, "attempt": attempt}
        await uow.orders.add_events(order.id, [OrderEvent(self._clock.now(), "unfillable_asked", detail)])
        return task

    async def _open(self, uow: UnitOfWork, question: UnfillableOrder, who: str) -> Task:
        now = self._clock.now()
        subject = f"order:{question.order_id}:unfillable:{question.attempt}"
        if question.escalated:
            subject += ":owner"
        task = Task(None, KIND, subject, who, OPTIONS, now + self._decide_within, now, payload=question.to_payload())
        return await self._board.open_for_office(uow, task)

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        async with self._board.deciding(task_id, option, by) as (uow, decision):
            if decision.accepted:
                await self._decided(uow, decision.task, option, by)
        return decision

    async def _decided(self, uow: UnitOfWork, task: Task, option: str, by: str) -> None:
        now = self._clock.now()
        order_id = UnfillableOrder.from_payload(task.payload).order_id
        await notify_closed(uow, task, now)
        asked = await uow.order_actions.get(order_id, Action.ASK_UNFILLABLE)
        detail: dict[str, object] = {"task_id": task.id, "decision": option, "by": by}
        if option == CANCEL:
            await self._orders.cancel_in(uow, order_id, f"unfillable: {by}")
            await queue(uow, order_id, Action.CANCEL_UNFILLABLE, now)
            if asked is not None:
                await uow.order_actions.save(replace(asked, state=ActionState.DONE, done_at=now))
        else:
            until = now + WAITS[option]
            detail["ask_again_at"] = until.isoformat()
            if asked is not None:
                await uow.order_actions.save(replace(asked, state=ActionState.PENDING, next_attempt_at=until))
        await uow.orders.add_events(order_id, [OrderEvent(now, "unfillable_decided", detail)])

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        now = self._clock.now()
        if not await expire(uow, task, deadline, now):
            return
        await notify_closed(uow, task, now)
        if task.assignee == Assignee.OWNER:
            return  # the owner's own question ran out: the order waits for people, as the alert said
        question = UnfillableOrder.from_payload(task.payload)
        await self._open(uow, replace(question, escalated="timeout"), Assignee.OWNER)
        detail: dict[str, object] = {"task_kind": KIND.value, "order_id": question.order_id, "why": "timeout"}
        await self._alerts.raise_alert(uow, f"{TASK_ESCALATED}:{task.id}", TASK_ESCALATED, detail)
