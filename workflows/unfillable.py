"""A marketplace order with a line nobody can fill (no warehouse had it, or every store said no): the managers decide.

The question offers ``cancel`` — the order is cancelled here (``OrderDesk.cancel_in``: everything it held is
released) and ``cancel_unfillable`` is queued for the marketplace — or ``wait_1d`` / ``wait_3d``: a delivery is
expected, and the question comes back that much later. A wait that ends after the marketplace's shipping deadline
is still allowed (the managers know their deliveries); the question says so, and so does the order's history.

The managers have ``decide_within``, but at the latest until ``ship_by_margin`` before the marketplace's own
shipping deadline (``Order.ship_by``: Ozon's and Yandex Market's; Wildberries tells none, so the setting alone
applies there). Nobody answering in time passes the question to the owner with an alert, as the FX approval does;
an order whose deadline is already that near goes to the owner at once, the alert naming the deadline. The first
decision stands (``TaskBoard.deciding``).

When a waited question comes due, the lines are routed again first, as intake routes them
(:meth:`OrderDesk.route_again`): a delivery that came meanwhile is reserved (or its store asked) and the managers
are not bothered; only lines still without stock are asked about again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

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
SHIP_BY_NEAR = "unfillable_ship_by_near"  # the alert: an order nobody can fill and its marketplace's deadline is near


def unfillable_lines(order: Order) -> tuple[UnfillableLine, ...]:
    return tuple(UnfillableLine(x.line_no, x.sku, x.qty) for x in order.lines if x.status in UNFILLABLE)


class UnfillableDesk:
    def __init__(
        self,
        clock: Clock,
        board: TaskBoard,
        alerts: AlertDesk,
        orders: OrderDesk,
        *,
        decide_within: timedelta,
        ship_by_margin: timedelta = timedelta(hours=2),
    ) -> None:
        self._clock, self._board, self._alerts, self._orders = clock, board, alerts, orders
        self._decide_within, self._ship_by_margin = decide_within, ship_by_margin

    def deadline(self, order: Order) -> datetime:
        """Until when the managers may decide: ``decide_within`` from now, but no later than ``ship_by_margin``
        before the marketplace's shipping deadline (possibly already past: then the owner is asked at once)."""
        deadline = self._clock.now() + self._decide_within
        if order.ship_by is not None:
            deadline = min(deadline, order.ship_by - self._ship_by_margin)
        return deadline

    async def ask(self, uow: UnitOfWork, order: Order, attempt: int) -> Task:
        """Inside the caller's transaction: put the question to the managers — or to the owner at once, with an
        alert, when the marketplace's deadline leaves the managers no time."""
        assert order.id is not None
        now = self._clock.now()
        question = UnfillableOrder(
            order.id, order.external_id, order.channel, unfillable_lines(order), attempt, ship_by=order.ship_by
        )
        deadline = self.deadline(order)
        detail: dict[str, object] = {"attempt": attempt}
        if deadline > now:
            task = await self._open(uow, question, Assignee.MANAGERS, deadline)
        else:
            task = await self._open(
                uow, replace(question, escalated="ship_by"), Assignee.OWNER, now + self._decide_within
            )
            assert order.ship_by is not None
            detail["escalated"] = "ship_by"
            alert: dict[str, object] = {
                "order_id": order.id, "order": order.external_id, "channel": order.channel,
                "ship_by": order.ship_by.isoformat(), "task_id": task.id,
            }  # fmt: skip
            await self._alerts.raise_alert(uow, f"{SHIP_BY_NEAR}:order:{order.id}:{attempt}", SHIP_BY_NEAR, alert)
        detail["task_id"] = task.id
        await uow.orders.add_events(order.id, [OrderEvent(now, "unfillable_asked", detail)])
        return task

    async def route_again(self, uow: UnitOfWork, order: Order) -> bool:
        """Inside the caller's transaction, when a wait is over: route the unfillable lines again, as intake does;
        ``True`` (and the history says so) when every one found stock — reserved, or a store asked."""
        assert order.id is not None
        routed = await self._orders.route_again(uow, order, [line.line for line in unfillable_lines(order)])
        left = [line.line_no for line in routed if line.status in UNFILLABLE]
        if left:
            return False
        detail: dict[str, object] = {"lines": [line.line_no for line in routed]}
        await uow.orders.add_events(order.id, [OrderEvent(self._clock.now(), "unfillable_rerouted", detail)])
        return True

    async def _open(self, uow: UnitOfWork, question: UnfillableOrder, who: str, deadline: datetime) -> Task:
        now = self._clock.now()
        subject = f"order:{question.order_id}:unfillable:{question.attempt}"
        if question.escalated:
            subject += ":owner"
        task = Task(None, KIND, subject, who, OPTIONS, deadline, now, payload=question.to_payload())
        return await self._board.open_for_office(uow, task)

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        async with self._board.deciding(task_id, option, by) as (uow, decision):
            if decision.accepted:
                await self._decided(uow, decision.task, option, by)
        return decision

    async def _decided(self, uow: UnitOfWork, task: Task, option: str, by: str) -> None:
        now = self._clock.now()
        question = UnfillableOrder.from_payload(task.payload)
        order_id = question.order_id
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
            if question.ship_by is not None and until > question.ship_by:
                detail["past_ship_by"] = question.ship_by.isoformat()  # the managers chose it: said, not refused
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
        await self._open(uow, replace(question, escalated="timeout"), Assignee.OWNER, now + self._decide_within)
        detail: dict[str, object] = {"task_kind": KIND.value, "order_id": question.order_id, "why": "timeout"}
        await self._alerts.raise_alert(uow, f"{TASK_ESCALATED}:{task.id}", TASK_ESCALATED, detail)
