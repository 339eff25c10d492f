"""The purchase watch: the client's money on an order cleared, and no purchase started.

A purchase is a payout with purpose ``goods`` (in any state: asked for, short or drawn). When an order's first client
payment is credited and no goods payout exists, the account notes when to look (``purchase_ask_at``: the credit plus
``MONEY_PURCHASE_WATCH_S``). A scheduled run (:meth:`PurchaseWatch.run_once`) asks the managers then — once per order
— with the order, the client's money on it and since when:

* ``started``: the purchase is under way (the supplier's invoice is not in storeops yet); the watch ends.
* ``postpone``: asked again after ``MONEY_POSTPONE_S`` unless a goods payout appears meanwhile.
* ``refund``: the client gets the money back; the watch ends, and the gateway's refund takes it out of the account.

A goods payout closes the question by itself (``purchase_started``). No answer in time: the owner is asked, with an
alert, as for every office task. See docs/client_money.md.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from workflows.alerts import TASK_ESCALATED, AlertDesk
from workflows.model import OrderEvent
from workflows.money_model import MoneyAccount, Purpose
from workflows.payloads import PurchaseNotStarted
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.tasks import Deadline, Decision, Task, TaskBoard, TaskState, answer_with, expire, notify_closed
from workflows.vocabulary import Assignee, TaskKind

KIND = TaskKind.PURCHASE_NOT_STARTED
OPTIONS = ("started", "postpone", "refund")


def money_lock(order_id: int) -> str:  # the money desk's lock (workflows.client_money.money_lock)
    return f"order:{order_id}:money"


def watch_from(account: MoneyAccount, now: datetime, after: timedelta, purchased: bool) -> None:
    """At the order's first credited payment: note when to ask, unless goods were bought already. Only an order
    with a money plan is watched: a shop's everyday order, paid and shipped from stock, buys nothing abroad."""
    if account.cleared_at is None:
        account.cleared_at = now
        if account.planned and not purchased and account.purchase_task_id is None:
            account.purchase_ask_at = now + after


def watch_planned(account: MoneyAccount, after: timedelta) -> None:
    """At the order's money plan, when the client's money came first: the watch counts from when it came."""
    if account.cleared_at is not None and account.purchase_task_id is None:
        account.purchase_ask_at = account.cleared_at + after


async def purchase_started(uow: UnitOfWork, account: MoneyAccount, now: datetime) -> None:
    """A goods payout appeared: the watch ends and its open question closes itself ("the purchase started")."""
    if account.purchase_ask_at is None and account.purchase_task_id is None:
        return
    task_id, account.purchase_ask_at, account.purchase_task_id = account.purchase_task_id, None, None
    await uow.money.save_account(account)
    if task_id is not None and await uow.tasks.close(task_id, TaskState.CANCELLED, now, reason="purchase_started"):
        task = await uow.tasks.get(task_id)
        assert task is not None
        await notify_closed(uow, task, now)


class PurchaseWatch:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, board: TaskBoard, alerts: AlertDesk,
        decide_within: timedelta = timedelta(hours=4), postpone_for: timedelta = timedelta(days=1),
    ) -> None:  # fmt: skip
        self._uow, self._clock, self._board, self._alerts = uow, clock, board, alerts
        self._decide_within, self._postpone_for = decide_within, postpone_for

    async def run_once(self, limit: int = 100) -> int:
        """Scheduled: the orders whose watch is due are asked about, or let go when goods were bought or the money
        went back. Returns how many questions were opened."""
        asked = 0
        async with self._uow() as uow:
            for order_id in await uow.money.purchase_due(self._clock.now(), limit):
                await uow.locks.hold(money_lock(order_id))
                asked += await self._look(uow, order_id)
            await uow.commit()
        return asked

    async def _look(self, uow: UnitOfWork, order_id: int) -> int:
        account, order, now = await uow.money.account(order_id), await uow.orders.get(order_id), self._clock.now()
        if account is None or account.purchase_ask_at is None or account.purchase_ask_at > now:
            return 0  # another run took it meanwhile
        account.purchase_ask_at = None
        bought = any(p.purpose == Purpose.GOODS for p in await uow.money.payouts_of(order_id))
        if bought or order is None or account.credited <= 0 or account.cleared_at is None:
            await uow.money.save_account(account)
            return 0
        question = PurchaseNotStarted(order_id, order.external_id, account.credited, account.cleared_at)
        task = await self._ask(uow, question, Assignee.MANAGERS)
        account.purchase_task_id = task.id
        await uow.money.save_account(account)
        detail: dict[str, object] = {"amount_rub": str(account.credited), "since": account.cleared_at.isoformat(),
                                     "task_id": task.id}  # fmt: skip
        await uow.orders.add_events(order_id, [OrderEvent(now, "purchase_watch_asked", detail)])
        return 1

    async def _ask(self, uow: UnitOfWork, question: PurchaseNotStarted, who: str) -> Task:
        now = self._clock.now()
        subject = f"order:{question.order_id}:purchase"
        task = Task(None, KIND, subject, who, OPTIONS, now + self._decide_within, now, payload=question.to_payload())
        return await self._board.open_for_office(uow, task)

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        return await answer_with(self._board, task_id, option, by, self._decided)

    async def _decided(self, uow: UnitOfWork, task: Task, option: str, by: str) -> None:
        question, now = PurchaseNotStarted.from_payload(task.payload), self._clock.now()
        await uow.locks.hold(money_lock(question.order_id))
        await notify_closed(uow, task, now)
        account = await uow.money.account(question.order_id)
        if account is not None and account.purchase_task_id == task.id:
            account.purchase_task_id = None
            account.purchase_ask_at = now + self._postpone_for if option == "postpone" else None
            await uow.money.save_account(account)
        detail: dict[str, object] = {"decision": option, "by": by, "amount_rub": str(question.credited_rub)}
        await uow.orders.add_events(question.order_id, [OrderEvent(now, "purchase_watch_decision", detail)])

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """No manager answered in time: the owner is asked (with an alert); the owner's own question just ends."""
        now = self._clock.now()
        if not await expire(uow, task, deadline, now):
            return
        await notify_closed(uow, task, now)
        if task.assignee == Assignee.OWNER:
            return
        question = PurchaseNotStarted.from_payload(task.payload)
        await uow.locks.hold(money_lock(question.order_id))
        account = await uow.money.account(question.order_id)
        if account is None or account.purchase_task_id != task.id:
            return  # a goods payout closed it meanwhile
        again = await self._ask(uow, replace(question, escalated=True), Assignee.OWNER)
        account.purchase_task_id = again.id
        await uow.money.save_account(account)
        detail: dict[str, object] = {"task_kind": KIND.value, "order_id": question.order_id}
        await self._alerts.raise_alert(uow, f"{TASK_ESCALATED}:{task.id}", TASK_ESCALATED, detail)


__all__ = ["KIND", "OPTIONS", "PurchaseWatch", "purchase_started", "watch_from", "watch_planned"]
