"""Returns: goods of an order line coming back, and what the warehouse that shipped them says arrived.

A return is announced by a channel (its name is the source) or by a manager's ``/return`` (``manager:<id>``).
Announcing opens one task for the warehouse that shipped the line: a warehouse with a Slack channel is asked
there (its staff answer, as in the store cascade), one without is the managers' task in Telegram. Announcing
the same order and SKU again changes nothing. The first answer stands:

- ``sellable``: the units are *expected back* at that warehouse until 1C sends a figure for the SKU there
  computed after the answer (1C's figures are the truth; the figure then counts them). With the shop's
  ``sellable_at_once`` they are added to the warehouse's stock in the same transaction instead, so the commit
  queues the new availability for every channel;
- ``defective``: an alert asks the owner to write the units off in 1C (1C learns of it from a person: the
  order went to 1C as a sale, and the standard exchange has nothing for a return's condition);
- ``not_received``: an alert tells the managers (and the owner) to chase the parcel.

A task nobody answers stays open: its deadline is a long formality, and firing it changes nothing.
Everything lands in the order's history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from workflows.alerts import AlertDesk, alert_key
from workflows.errors import OrderNotFound, WorkflowError
from workflows.ledger import CLEARED_AS_OF
from workflows.model import Order, OrderEvent, ReservationState
from workflows.payloads import ReturnReceipt, TaskNotice
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.return_model import RETURN_DEFECTIVE, RETURN_NOT_RECEIVED, ReturnRecord, ReturnState
from workflows.store_confirmation import NotStaff
from workflows.tasks import Deadline, Decision, Task, TaskBoard, UnknownTask, answered_by, notify_closed
from workflows.topology import Topology, Warehouse
from workflows.typed_names import same_name
from workflows.vocabulary import Assignee, NoticeTopic, TaskKind, assigned_store, store_assignee

KIND = TaskKind.RETURN_RECEIPT
OPTIONS = ("sellable", "defective", "not_received")
# nobody is chased for an answer: the task stays open this long before its (inert) deadline fires
STAYS_OPEN = timedelta(days=365)


class SkuNotInOrder(WorkflowError):
    """The order has no line of that SKU."""

    code = "sku_not_in_order"


class NotShipped(WorkflowError):
    """The order's line of that SKU never left a warehouse — it was never allocated to one, or its goods were released
    when the order was cancelled: nothing went out to come back."""

    code = "not_shipped"


class InvalidReturn(WorkflowError):
    """A quantity that is not between 1 and what the order holds of the SKU."""

    code = "invalid_return"


def line_sku(order: Order, typed: str) -> str:
    """The SKU of ``order``'s line that ``typed`` names: itself, else the one line's it names in another case
    (``кр-7/2`` for ``КР-7/2``); ``typed`` as it is when it names none or several."""
    skus = {line.sku for line in order.lines}
    if typed in skus:
        return typed
    named = [sku for sku in skus if same_name(sku, typed)]
    return named[0] if len(named) == 1 else typed


class Returns:
    def __init__(
        self, uow: UnitOfWorkFactory, topology: Topology, clock: Clock, board: TaskBoard, alerts: AlertDesk,
        *, sellable_at_once: bool = False,
    ) -> None:  # fmt: skip
        self._uow, self._topology, self._clock, self._board, self._alerts = uow, topology, clock, board, alerts
        self._at_once = sellable_at_once

    async def announce(self, order_id: int, sku: str, qty: int | None, source: str) -> ReturnRecord:
        """A return of ``qty`` of ``sku`` (the whole line's when ``None``) from ``order_id`` is on its way: ask the
        warehouse that shipped it. The same order and SKU again returns the first return and changes nothing.
        Raises :class:`OrderNotFound`, :class:`SkuNotInOrder`, :class:`NotShipped`, :class:`InvalidReturn`."""
        async with self._uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise OrderNotFound(f"no order {order_id}")
            record, new = await self.announce_in(uow, order, sku, qty, source)
            if new:
                await uow.commit()
        return record

    async def announce_in(
        self, uow: UnitOfWork, order: Order, sku: str, qty: int | None, source: str
    ) -> tuple[ReturnRecord, bool]:
        """:meth:`announce` inside the caller's unit of work (a channel's "returned" event); the return and
        whether it is new here. Raises as :meth:`announce` does, before anything is written."""
        assert order.id is not None
        await uow.locks.hold(f"return:{order.id}")  # two announcements at once: one task
        if (known := await uow.returns.get(order.id, sku)) is not None:
            return known, False
        warehouse, qty = self._shipped_from(order, sku, qty)
        await self._check_left(uow, order, sku)
        record = ReturnRecord(order.id, sku, warehouse.code, qty, source, self._clock.now())
        task = await self._ask(uow, order, record, warehouse)
        record = ReturnRecord(order.id, sku, warehouse.code, qty, source, record.announced_at, task.id)
        if not await uow.returns.add(record):  # announced meanwhile by another instance: keep theirs
            return await uow.returns.get(order.id, sku) or record, False
        return record, True

    def _shipped_from(self, order: Order, sku: str, qty: int | None) -> tuple[Warehouse, int]:
        lines = [line for line in order.lines if line.sku == sku]
        if not lines:
            raise SkuNotInOrder(f"order {order.id} has no line of {sku!r}")
        held = sum(line.qty for line in lines)
        code = next((line.warehouse for line in lines if line.warehouse), None)
        warehouse = self._topology.warehouse(code) if code else None
        if warehouse is None:
            raise NotShipped(f"order {order.id}: {sku!r} was not allocated to a warehouse")
        if qty is not None and not 0 < qty <= held:
            raise InvalidReturn(f"order {order.id} holds {held} of {sku!r}, not {qty}")
        return warehouse, held if qty is None else qty

    @staticmethod
    async def _check_left(uow: UnitOfWork, order: Order, sku: str) -> None:
        """A line whose goods were all released (the order was cancelled before 1C deducted them) never left: the
        ledger already counts them free where they lie, so receiving them back would count them twice."""
        assert order.id is not None
        lines = {line.line_no for line in order.lines if line.sku == sku}  # a kit line's are its components'
        held = [r for r in await uow.reservations.for_order(order.id) if r.line_no in lines]
        if held and all(r.state == ReservationState.RELEASED for r in held):
            raise NotShipped(f"order {order.id}: {sku!r} was released when the order was cancelled; it never left")

    async def _ask(self, uow: UnitOfWork, order: Order, record: ReturnRecord, warehouse: Warehouse) -> Task:
        assert order.id is not None
        now = record.announced_at
        receipt = ReturnReceipt(
            order.id, order.external_id, order.channel, record.sku, record.qty, warehouse.code, record.source
        )
        in_slack = not self.asks_managers(warehouse.code)
        assignee = store_assignee(warehouse.code) if in_slack else Assignee.MANAGERS
        task = Task(
            None, KIND, alert_key("return", str(order.id), record.sku), assignee, OPTIONS, now + STAYS_OPEN, now,
            payload=receipt.to_payload(),
        )  # fmt: skip
        await self._board.open(uow, task, remind=False)
        assert task.id is not None
        if in_slack:
            await uow.notices.add(NoticeTopic.STORE_QUESTION, TaskNotice(task.id, warehouse.code).to_payload(), now)
        else:
            await uow.notices.add(NoticeTopic.OFFICE_TASK, TaskNotice(task.id).to_payload(), now)
        detail = {
            "sku": record.sku, "qty": record.qty, "warehouse": warehouse.code, "source": record.source,
            "task_id": task.id, "asked": "slack" if in_slack else "managers",
        }  # fmt: skip
        await uow.orders.add_events(order.id, [OrderEvent(now, "return_announced", detail)])
        return task

    def asks_managers(self, code: str) -> bool:
        """Whether a return to warehouse ``code`` is the managers' task (it has no Slack channel)."""
        warehouse = self._topology.warehouse(code)
        return warehouse is None or not warehouse.slack_channel

    async def answer(self, task_id: int, option: str, user: str, *, name: str | None = None) -> Decision:
        """The warehouse's answer (a store's staff in Slack, the office in Telegram); the first answer stands.
        ``name``: the person as their chat shows them, when it told (Slack's ``user`` is an id)."""
        async with self._board.deciding(task_id, option, user) as (uow, decision):
            if decision.accepted:
                if decision.task.kind != KIND:  # a button of another kind of task: changes nothing
                    raise UnknownTask(f"task {task_id} is not a return receipt")
                store = assigned_store(decision.task.assignee)
                warehouse = self._topology.warehouse(store) if store is not None else None
                if store is not None and (warehouse is None or user not in warehouse.staff):
                    raise NotStaff(f"{user} is not on the staff of {store}")  # rolls the claim back
                await self._settle(uow, decision.task, option, self._clock.now(), name)
        return decision

    async def answer_in_office(self, task_id: int, option: str, user: str) -> Decision:
        """The office's answer: only a return receipt that is the managers' (a store's is answered in Slack)."""
        async with self._uow(read_only=True) as uow:
            task = await uow.tasks.get(task_id)
        if task is None or task.kind != KIND or assigned_store(task.assignee) is not None:
            raise UnknownTask(f"no office return receipt {task_id}")
        return await self.answer(task_id, option, user)

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """Deadline handler: nobody is chased; the task stays open until the parcel is seen."""
        return None

    async def _settle(self, uow: UnitOfWork, task: Task, outcome: str, now: datetime, name: str | None = None) -> None:
        receipt = ReturnReceipt.from_payload(task.payload)
        state = ReturnState(outcome)
        if state == ReturnState.SELLABLE and self._at_once:
            state = ReturnState.RESTOCKED
            for sku, qty in (await _units_back(uow, receipt)).items():
                await uow.returns.take_back(sku, receipt.warehouse, qty, CLEARED_AS_OF)
        await uow.returns.settle(receipt.order_id, receipt.sku, state, now)
        await notify_closed(uow, task, now)
        detail: dict[str, object] = {
            "sku": receipt.sku, "qty": receipt.qty, "warehouse": receipt.warehouse, "outcome": state.value,
            "task_id": task.id, "by": task.answered_by or "", **answered_by(task, name),
        }  # fmt: skip
        await uow.orders.add_events(receipt.order_id, [OrderEvent(now, f"return_{state.value}", detail)])
        if state in (ReturnState.DEFECTIVE, ReturnState.NOT_RECEIVED):
            kind = RETURN_DEFECTIVE if state == ReturnState.DEFECTIVE else RETURN_NOT_RECEIVED
            alert = {"order": receipt.external_id or receipt.order_id, "order_id": receipt.order_id, **detail}
            await self._alerts.raise_alert(uow, alert_key(kind, str(receipt.order_id), receipt.sku), kind, alert)

    async def expected_back(self, sku: str) -> dict[str, int]:
        """Units of ``sku`` per warehouse that came back sellable and that 1C's figures do not count yet."""
        async with self._uow(read_only=True) as uow:
            return await uow.returns.expected_back(sku)


async def _units_back(uow: UnitOfWork, receipt: ReturnReceipt) -> dict[str, int]:
    """What goes back on the shelf: the SKU returned, or for a kit its components, as many a kit as its order
    line took (the composition may have changed since)."""
    order = await uow.orders.get(receipt.order_id)
    lines = {line.line_no: line.qty for line in order.lines if line.sku == receipt.sku} if order else {}
    per_kit = {
        r.sku: r.qty // lines[r.line_no]
        for r in await uow.reservations.for_order(receipt.order_id)
        if r.line_no in lines and r.sku != receipt.sku
    }
    return {sku: qty * receipt.qty for sku, qty in per_kit.items()} or {receipt.sku: receipt.qty}
