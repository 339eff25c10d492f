"""The store cascade: an order line that only offline stores hold is confirmed by a person.

The first store in priority order that holds the line is asked in its Slack channel (a task
with ``available`` / ``missing`` / ``defective`` and a deadline); the quantity is held there
meanwhile. ``available`` allocates the line to that store. ``missing`` or ``defective`` flags
that store's stock of the SKU as suspect and asks the next store; so does a timeout (without
the flag). When no store is left the line is ``unfulfillable``, the hold is released and an
alert is queued for the owner and managers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from workflows.alerts import AlertDesk
from workflows.errors import WorkflowError
from workflows.ledger import Ledger, free_stock
from workflows.model import LineStatus, Order, OrderEvent, OrderLine, Reservation, ReservationState
from workflows.payloads import StoreQuestion, TaskNotice
from workflows.ports import Clock, UnitOfWork
from workflows.tasks import Deadline, Decision, Task, TaskBoard, answered_by, expire, notify_closed
from workflows.topology import Topology, Warehouse, WarehouseKind
from workflows.vocabulary import NoticeTopic, TaskKind, store_assignee

KIND = TaskKind.STORE_CONFIRMATION
OPTIONS = ("available", "missing", "defective")
EXHAUSTED = "store_cascade_exhausted"  # the alert when no store is left to ask


class NotStaff(WorkflowError):
    """Someone who is not on the store's staff list tried to answer for it."""

    code = "not_staff"


class StoreCascade:
    def __init__(
        self,
        topology: Topology,
        clock: Clock,
        board: TaskBoard,
        ledger: Ledger,
        timeout: timedelta,
        alerts: AlertDesk | None = None,
    ) -> None:
        self._topology, self._clock, self._board, self._ledger = topology, clock, board, ledger
        self._timeout = timeout
        self._alerts = alerts or AlertDesk(clock, board)

    def skips(self, store: Warehouse, now: datetime) -> bool:
        """Whether a closed store is passed over rather than asked (topology ``store_questions``)."""
        return self._topology.store_questions.outside_hours == "skip" and store.opens_at(now) != now

    async def ask(self, uow: UnitOfWork, order: Order, line: OrderLine) -> Task:
        """Open the question for the store now holding ``line``, inside the caller's transaction."""
        assert order.id is not None
        assert line.warehouse is not None
        store = self._topology.warehouse(line.warehouse)
        assert store is not None
        now = self._clock.now()
        # a closed store asked anyway ("wait") gets its full time from when it opens
        question = StoreQuestion(
            order.id, order.external_id, order.channel, line.line_no, line.sku, line.qty, store.code
        )
        task = Task(
            None, KIND, f"order:{order.id}:line:{line.line_no}", store_assignee(store.code), OPTIONS,
            store.opens_at(now) + self._timeout, now, payload=question.to_payload(),
        )  # fmt: skip
        await self._board.open(uow, task)
        assert task.id is not None
        await uow.notices.add(NoticeTopic.STORE_QUESTION, TaskNotice(task.id, store.code).to_payload(), now)
        detail = {"line": line.line_no, "store": store.code, "task_id": task.id, "answer_by": task.deadline.isoformat()}
        await uow.orders.add_events(order.id, [OrderEvent(now, "store_asked", detail)])
        return task

    async def answer(self, task_id: int, option: str, user: str, *, name: str | None = None) -> Decision:
        """A store person's button (``user``: their chat id, ``name``: as the chat shows them, when it told). Only
        the store's staff may answer; the first answer stands."""
        async with self._board.deciding(task_id, option, user) as (uow, decision):
            if decision.accepted:
                code = StoreQuestion.from_payload(decision.task.payload).store
                store = self._topology.warehouse(code)
                if store is None or user not in store.staff:
                    raise NotStaff(f"{user} is not on the staff of {code}")  # rolls the claim back
                await self._settle(uow, decision.task, option, self._clock.now(), name)
        return decision

    @staticmethod
    def lock_key(task: Task) -> str:
        """What settling ``task`` locks: the stock rows of its SKU (for the deadline pump)."""
        return f"sku:{StoreQuestion.from_payload(task.payload).sku}"

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """Deadline handler: the store did not answer in time — ask the next one."""
        now = self._clock.now()
        if await expire(uow, task, deadline, now):
            await self._settle(uow, task, "timeout", now)

    async def on_reminder(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """Deadline handler: half the time is gone — nudge the store in the question's thread."""
        assert task.id is not None
        await uow.notices.add(NoticeTopic.STORE_REMINDER, TaskNotice(task.id).to_payload(), self._clock.now())

    async def _settle(self, uow: UnitOfWork, task: Task, outcome: str, now: datetime, name: str | None = None) -> None:
        question = StoreQuestion.from_payload(task.payload)
        order_id, line_no, store = question.order_id, question.line, question.store
        order = await uow.orders.get(order_id)
        assert order is not None
        line = next(item for item in order.lines if item.line_no == line_no)
        detail: dict[str, object] = {"line": line_no, "store": store, "task_id": task.id, "outcome": outcome}
        detail |= answered_by(task, name)
        await notify_closed(uow, task, now)
        if outcome == "available":
            line.status = LineStatus.RESERVED
            await uow.orders.save_lines(order_id, [line])
            await uow.orders.add_events(order_id, [OrderEvent(now, "store_confirmed", detail)])
            return
        if outcome in ("missing", "defective"):
            await uow.stock.mark_suspect(line.sku, store, now)
        held = [r for r in await uow.reservations.active_for_order(order_id) if r.line_no == line_no]
        await self._ledger.release(uow, held)
        await uow.orders.add_events(order_id, [OrderEvent(now, "store_declined", detail)])
        await self._next_store(uow, order, line, now)

    async def _next_store(self, uow: UnitOfWork, order: Order, line: OrderLine, now: datetime) -> None:
        assert order.id is not None
        asked = {
            e.detail.get("store")
            for e in order.history
            if e.kind == "store_asked" and e.detail.get("line") == line.line_no
        }
        channel = self._topology.channels[order.channel]
        free = await free_stock(uow, line.sku)
        for store in self._topology.routing_order(channel):
            if store.kind != WarehouseKind.STORE or store.code in asked or free.get(store.code, 0) < line.qty:
                continue
            if self.skips(store, now):
                skipped = {"line": line.line_no, "store": store.code, "reason": "closed"}
                await uow.orders.add_events(order.id, [OrderEvent(now, "store_skipped", skipped)])
                asked.add(store.code)
                continue
            reservation = Reservation(
                None, order.id, line.line_no, line.sku, store.code, line.qty, ReservationState.ACTIVE, now
            )
            if await uow.reservations.take(reservation):
                line.warehouse, line.status = store.code, LineStatus.AWAITING_STORE_CONFIRMATION
                await uow.orders.save_lines(order.id, [line])
                await self.ask(uow, order, line)
                return
        line.warehouse, line.status = None, LineStatus.UNFULFILLABLE
        await uow.orders.save_lines(order.id, [line])
        detail = {"line": line.line_no, "sku": line.sku, "qty": line.qty, "asked": sorted(str(s) for s in asked)}
        await uow.orders.add_events(order.id, [OrderEvent(now, "unfulfillable", detail)])
        alert = {"order_id": order.id, "external_id": order.external_id, **detail}
        key = f"{EXHAUSTED}:order:{order.id}:line:{line.line_no}"
        await self._alerts.raise_alert(uow, key, EXHAUSTED, alert)
