"""A client payment that ends badly after money was counted on it: a refund after it was credited, and a top-up the
client was asked for whose payment failed. Both run inside the payment event's transaction, under the order's money
lock (the money desk, :class:`~workflows.client_money.ClientMoney`, calls them).

* **Refund.** The rouble figure the payment was credited at comes out of the account once (journal
  ``refund:<payment>``): first what waits unallocated, then undrawn earmark money in the reverse of the fill order
  (marketplace → warehouse → customs → logistics → goods). Money already drawn for a supplier or a carrier is not
  there to take: what cannot be taken is a shortfall, recorded (``refund_shortfall:<payment>``) and put to the
  managers as a task. An earmark never goes below what was drawn from it, nor below what the shop absorbed.
* **A failed top-up.** The payout that waited for it is short again (its earmark plans the top-up no more) and the
  managers are asked again, as when it first fell short.

See docs/client_money.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from workflows.alerts import TASK_ESCALATED, AlertDesk
from workflows.model import Order, OrderEvent
from workflows.money_model import PURPOSES, MoneyAccount, MoneyEntry, Payout, PayoutState, Purpose
from workflows.office_model import Payment
from workflows.payloads import RefundShortfall
from workflows.ports import Clock, UnitOfWork
from workflows.tasks import Deadline, Decision, Task, TaskBoard, answer_with, expire, notify_closed
from workflows.vocabulary import Assignee, TaskKind

KIND = TaskKind.REFUND_SHORTFALL
OPTIONS = ("checked",)
TAKE_BACK_ORDER = tuple(reversed(PURPOSES))  # the last filled gives back first

# the money desk's "draw it if its earmark holds it, else ask the managers" (ClientMoney._settle with ask)
AskAgain = Callable[[UnitOfWork, Order, MoneyAccount, Payout], Awaitable[None]]


@dataclass(frozen=True)
class TakenBack:
    from_unallocated: Decimal
    from_earmarks: dict[Purpose, Decimal]
    shortfall: Decimal

    @property
    def taken(self) -> Decimal:
        return self.from_unallocated + sum(self.from_earmarks.values(), Decimal(0))


def take_back(account: MoneyAccount, amount: Decimal) -> TakenBack:
    """Take ``amount`` out of ``account``: unallocated money first, then each earmark's undrawn client money in
    :data:`TAKE_BACK_ORDER`; what is left over is the shortfall. ``credited`` falls by what was taken."""
    from_unallocated = min(amount, max(Decimal(0), account.unallocated))
    account.unallocated -= from_unallocated
    rest, took = amount - from_unallocated, {}
    for purpose in TAKE_BACK_ORDER if account.planned else ():
        earmark = account.earmark(purpose)
        share = min(rest, earmark.refundable)
        if share > 0:
            earmark.reserved -= share
            took[purpose], rest = share, rest - share
    result = TakenBack(from_unallocated, took, rest)
    account.credited -= result.taken
    return result


class ClientRefunds:
    """The refund and the failed top-up, and the managers' task about a refund the account could not cover."""

    def __init__(self, clock: Clock, board: TaskBoard, alerts: AlertDesk, answer_within: timedelta) -> None:
        self._clock, self._board, self._alerts, self._answer_within = clock, board, alerts, answer_within

    async def refunded(self, uow: UnitOfWork, order: Order, payment: Payment, now: datetime) -> None:
        """The gateway says ``payment`` was refunded: take what it was credited at back out of the account, once."""
        assert order.id is not None
        credit = await uow.money.entry(f"credit:{payment.payment_id}")
        account = await uow.money.account(order.id)
        if credit is None or account is None:
            return  # never credited (refunded before it cleared, or no rate held then): nothing to take back
        result = take_back(account, credit.amount_rub)
        detail: dict[str, object] = {
            "payment_id": payment.payment_id, "refunded_rub": str(credit.amount_rub), "amount_rub": str(result.taken),
            "unallocated": str(result.from_unallocated), "shortfall_rub": str(result.shortfall),
            **{p.value: str(x) for p, x in result.from_earmarks.items()},
        }  # fmt: skip
        if not await uow.money.record(MoneyEntry(f"refund:{payment.payment_id}", order.id, "refund", result.taken,
                                                 now, detail=detail)):  # fmt: skip
            return  # taken back before: a repeated refund event changes nothing
        await uow.money.save_account(account)
        await uow.orders.add_events(order.id, [OrderEvent(now, "money_refunded", detail)])
        if result.shortfall > 0:
            await self._short(uow, order, payment, credit.amount_rub, result, now)

    async def _short(
        self, uow: UnitOfWork, order: Order, payment: Payment, refunded: Decimal, result: TakenBack, now: datetime
    ) -> None:
        assert order.id is not None
        key, detail = f"refund_shortfall:{payment.payment_id}", dict[str, object](payment_id=payment.payment_id)
        await uow.money.record(MoneyEntry(key, order.id, "refund_shortfall", result.shortfall, now, detail=detail))
        question = RefundShortfall(order.id, order.external_id, payment.payment_id, refunded, result.taken,
                                   result.shortfall)  # fmt: skip
        subject = f"order:{order.id}:refund:{payment.payment_id}"
        task = Task(None, KIND, subject, Assignee.MANAGERS, OPTIONS, now + self._answer_within, now,
                    payload=question.to_payload())  # fmt: skip
        await self._board.open_for_office(uow, task)
        told: dict[str, object] = {**detail, "shortfall_rub": str(result.shortfall), "task_id": task.id}
        await uow.orders.add_events(order.id, [OrderEvent(now, "refund_short", told)])

    async def topup_failed(
        self, uow: UnitOfWork, order: Order, payment: Payment, now: datetime, ask_again: AskAgain
    ) -> None:
        """A top-up payment failed: its payout is short again, its earmark no longer plans the top-up (never below
        what it holds), and ``ask_again`` puts it to the managers. A route change's top-up only gets a history line:
        the earmark still plans it. A repeated failure event changes nothing (``topup_failed:<payment>``)."""
        assert order.id is not None
        asked = await uow.money.entry(f"topup:{payment.payment_id}")
        account = await uow.money.account(order.id)
        if asked is None or asked.purpose is None or account is None:
            return
        entry = MoneyEntry(f"topup_failed:{payment.payment_id}", order.id, "topup_failed", asked.amount_rub, now,
                           asked.purpose, {"payment_id": payment.payment_id})  # fmt: skip
        if not await uow.money.record(entry):
            return
        detail: dict[str, object] = {"payment_id": payment.payment_id, "amount_rub": str(asked.amount_rub),
                                     "purpose": asked.purpose.value}  # fmt: skip
        await uow.orders.add_events(order.id, [OrderEvent(now, "topup_failed", detail)])
        payouts = await uow.money.payouts_of(order.id)
        payout = next((p for p in payouts if p.topup_payment_id == payment.payment_id), None)
        if payout is None or payout.state != PayoutState.AWAITING_TOPUP:
            return
        earmark = account.earmark(asked.purpose)
        earmark.planned = max(earmark.planned - asked.amount_rub, earmark.reserved)
        await uow.money.save_account(account)
        payout.state, payout.topup_payment_id = PayoutState.SHORT, None
        await uow.money.save_payout(payout)
        await ask_again(uow, order, account, payout)

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        """``checked``: a manager saw that the money paid out is not covered; the order's history says who."""
        return await answer_with(self._board, task_id, option, by, self._decided)

    async def _decided(self, uow: UnitOfWork, task: Task, option: str, by: str) -> None:
        question, now = RefundShortfall.from_payload(task.payload), self._clock.now()
        await notify_closed(uow, task, now)
        detail: dict[str, object] = {"payment_id": question.payment_id, "by": by}
        await uow.orders.add_events(question.order_id, [OrderEvent(now, "refund_short_checked", detail)])

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """Nobody looked in time: the owner is told, as for every office task; the record stays."""
        now = self._clock.now()
        if not await expire(uow, task, deadline, now):
            return
        await notify_closed(uow, task, now)
        question = RefundShortfall.from_payload(task.payload)
        detail: dict[str, object] = {"task_kind": KIND.value, "order_id": question.order_id}
        await self._alerts.raise_alert(uow, f"{TASK_ESCALATED}:{task.id}", TASK_ESCALATED, detail)
