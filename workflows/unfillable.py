"""A marketplace order with a line nobody can fill (no warehouse had it, or every store said no): the managers decide.

The question offers ``cancel`` — the order is cancelled here (``OrderDesk.cancel_in``: everything it held is
released) and ``cancel_unfillable`` is queued for the marketplace — or ``wait``: a delivery is expected, and the
question comes back ``wait_for`` later (a day by default), or on the date of the next delivery when a manager names
it (:meth:`UnfillableDesk.wait_until`, Telegram's ``/wait <order> <date>``, before or after pressing ``wait``). A
wait that ends after the marketplace's shipping deadline is still allowed (the managers know their deliveries); the
question says so, and so does the order's history.

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
from workflows.errors import OrderNotFound, WorkflowError
from workflows.model import LineStatus, Order, OrderEvent
from workflows.order_actions import Action, ActionState, queue
from workflows.orders import OrderDesk
from workflows.payloads import UnfillableLine, UnfillableOrder
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.tasks import Deadline, Decision, Task, TaskBoard, answer_with, expire, notify_closed
from workflows.vocabulary import Assignee, TaskKind

KIND = TaskKind.UNFILLABLE_ORDER
CANCEL = "cancel"
WAIT = "wait"
OPTIONS = (CANCEL, WAIT)
UNFILLABLE = (LineStatus.OUT_OF_STOCK, LineStatus.UNFULFILLABLE)
SHIP_BY_NEAR = "unfillable_ship_by_near"  # the alert: an order nobody can fill and its marketplace's deadline is near


class NothingToWait(WorkflowError):
    """The order has no question about missing goods, open or waiting: there is nothing to put off."""

    code = "nothing_to_wait"


class InvalidWait(WorkflowError):
    """A date to ask again on that is not in the future."""

    code = "invalid_wait"


def unfillable_lines(order: Order) -> tuple[UnfillableLine, ...]:
    return tuple(UnfillableLine(x.line_no, x.sku, x.qty) for x in order.lines if x.status in UNFILLABLE)


class UnfillableDesk:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        board: TaskBoard,
        alerts: AlertDesk,
        orders: OrderDesk,
        *,
        decide_within: timedelta,
        ship_by_margin: timedelta = timedelta(hours=2),
        wait_for: timedelta = timedelta(days=1),
    ) -> None:
        self._uow, self._clock, self._board, self._alerts, self._orders = uow, clock, board, alerts, orders
        self._decide_within, self._ship_by_margin, self._wait_for = decide_within, ship_by_margin, wait_for

    def now(self) -> datetime:
        """The shop's clock (a delivery day named in chat is read against it)."""
        return self._clock.now()

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
            order.id,
            order.external_id,
            order.channel,
            unfillable_lines(order),
            attempt,
            ship_by=order.ship_by,
            wait_s=int(self._wait_for.total_seconds()),
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
        return await answer_with(self._board, task_id, option, by, self._decided)

    async def wait_until(self, order_id: int, until: datetime, by: str) -> datetime:
        """A manager names the day the goods come: the order's question — open (answered ``wait`` now, the first
        decision standing as ever) or already waiting — comes back at ``until``. Returns when it will. Raises
        :class:`InvalidWait` for a moment not in the future, :class:`OrderNotFound`, :class:`NothingToWait`."""
        if until <= self._clock.now():
            raise InvalidWait(f"{until.isoformat()} is not in the future")
        async with self._uow(read_only=True) as uow:
            if await uow.orders.get(order_id) is None:
                raise OrderNotFound(f"no order {order_id}")
            open_ = [t for t in await uow.tasks.open_about(f"order:{order_id}:unfillable:") if t.kind == KIND]
        if open_:
            assert open_[0].id is not None
            async with self._board.deciding(open_[0].id, WAIT, by) as (uow, decision):
                if decision.accepted:
                    await self._decided(uow, decision.task, WAIT, by, until=until)
                    return until
        async with self._uow() as uow:  # decided (by this press or an earlier one): move the waiting question
            asked = await uow.order_actions.get(order_id, Action.ASK_UNFILLABLE)
            if asked is None or asked.state != ActionState.PENDING:
                raise NothingToWait(f"order {order_id} has no question about missing goods waiting")
            await uow.order_actions.save(replace(asked, next_attempt_at=until))
            detail: dict[str, object] = {"decision": WAIT, "by": by, "ask_again_at": until.isoformat()}
            order = await uow.orders.get(order_id)
            if order is not None and order.ship_by is not None and until > order.ship_by:
                detail["past_ship_by"] = order.ship_by.isoformat()
            await uow.orders.add_events(order_id, [OrderEvent(self._clock.now(), "unfillable_wait_moved", detail)])
            await uow.commit()
        return until

    async def _decided(
        self, uow: UnitOfWork, task: Task, option: str, by: str, *, until: datetime | None = None
    ) -> None:
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
            until = until or now + self._wait_for
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
