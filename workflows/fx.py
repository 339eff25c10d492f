"""FX deviation: an outgoing payment in a foreign currency is held when the rate moved too far.

When the client's money clears, the CBR rate of each obligation's currency is recorded: the one
the scheduled run keeps fresh, if it was fetched lately. The clearing never asks the bank itself
(a slow or silent feed would hold the payment gateway's call); with no recent rate at hand (a
quiet spell, a shop's first foreign order) the payment is recorded at once and the next scheduled
run fetches the sheet and records its rate. When an obligation falls due, the rate is fetched
fresh and compared: a move beyond the threshold (2 % by default) holds it and asks the managers —
``absorb`` (pay at the new rate), ``topup`` (ask the client for the difference, computed in
roubles) or ``postpone`` (look again in a day). No decision in time goes to the owner. When the
feed is down the last good rate is used and the owner is told.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from workflows.alerts import TASK_ESCALATED, AlertDesk
from workflows.model import Obligation, ObligationState, Order, OrderEvent
from workflows.outside import Unavailable
from workflows.payloads import FxApproval
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.tasks import Deadline, Decision, Task, TaskBoard, answer_with, expire, notify_closed
from workflows.vocabulary import Assignee, TaskKind

log = logging.getLogger(__name__)

KIND = TaskKind.FX_APPROVAL
OPTIONS = ("absorb", "topup", "postpone")
FEED_DOWN_KEY = "fx_feed_down"
RATE_FRESH_FOR = timedelta(hours=2)
"""A stored rate fetched this recently is the rate of the moment: the bank sets one sheet a day, and the
scheduled run fetches it every few minutes while any foreign obligation is open."""


class FeedDown(Unavailable):
    """The rates feed did not give a usable sheet; ``reason`` is short and human."""


class RatesFeed(Protocol):
    async def latest(self) -> tuple[date, dict[str, Decimal]]:
        """The newest sheet: its date and roubles per one unit of each currency. Raises FeedDown."""
        ...


def deviation(paid_rate: Decimal, current_rate: Decimal) -> Decimal:
    """How far the rate moved since the client paid, relative to the paid rate:
    ``|current − paid| / paid``; either direction counts. ``paid_rate`` must be positive."""
    if paid_rate <= 0:
        raise ValueError(f"the paid rate must be positive, not {paid_rate}")
    return abs(current_rate - paid_rate) / paid_rate


def difference_rub(obligation: Obligation, current_rate: Decimal) -> Decimal:
    """What the move costs us in roubles (what a top-up asks of the client), to the kopeck."""
    assert obligation.rate_at_payment is not None
    moved = obligation.amount * (current_rate - obligation.rate_at_payment)
    return moved.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class FxWatch:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        board: TaskBoard,
        alerts: AlertDesk,
        feed: RatesFeed,
        threshold: Decimal,
        *,
        answer_within: timedelta = timedelta(hours=4),
        postpone_for: timedelta = timedelta(days=1),
        fresh_for: timedelta = RATE_FRESH_FOR,
    ) -> None:
        self._uow, self._clock, self._board, self._alerts, self._feed = uow, clock, board, alerts, feed
        self._threshold, self._answer_within, self._postpone_for = threshold, answer_within, postpone_for
        self._fresh_for = fresh_for

    async def refresh(self) -> bool:
        """Fetch the newest sheet and keep it; on failure tell the owner (once per episode)."""
        try:
            sheet_date, rates = await self._feed.latest()
        except FeedDown as error:
            log.warning("FX feed down: %s", error.reason)
            async with self._uow() as uow:
                await self._alerts.raise_alert(uow, FEED_DOWN_KEY, FEED_DOWN_KEY, {"reason": error.reason})
                await uow.commit()
            return False
        async with self._uow() as uow:
            await uow.fx.store(sheet_date, rates, self._clock.now())
            await self._alerts.resolve(uow, FEED_DOWN_KEY)
            await uow.commit()
        return True

    async def record_at_payment(self, uow: UnitOfWork, order: Order) -> None:
        """Inside the clearing transaction: the rate each obligation's currency has now, when a recent
        fetch gives it; the others wait for the next scheduled run (:meth:`record_awaited`)."""
        assert order.id is not None
        now = self._clock.now()
        for obligation in order.obligations:
            if obligation.rate_at_payment is not None:
                continue  # a second payment of the same order does not move the reference
            rate = await self._fresh_rate(uow, obligation.currency, now)
            if rate is None:
                awaited: dict[str, object] = {"payee": obligation.payee, "currency": obligation.currency}
                await uow.orders.add_events(order.id, [OrderEvent(now, "fx_rate_awaited", awaited)])
                continue
            await self._record(uow, order.id, obligation, rate)

    async def record_awaited(self, limit: int = 100) -> int:
        """Scheduled, after a refresh: the rate at payment of obligations whose money cleared while no
        recent rate was at hand — the sheet just fetched, or the last good one when the feed is down (as
        a clearing always did). One with no rate at all yet waits for a later run. Returns how many."""
        recorded = 0
        async with self._uow() as uow:
            awaiting = await uow.orders.awaiting_rate(limit)
            for order_id in sorted({order_id for order_id, _ in awaiting}):
                await uow.locks.hold(f"order:{order_id}:payments")  # as a clearing of the order does
                order = await uow.orders.get(order_id)
                assert order is not None
                ids = {o.id for i, o in awaiting if i == order_id}
                for obligation in order.obligations:
                    if obligation.id not in ids or obligation.rate_at_payment is not None:
                        continue  # recorded meanwhile by another clearing of the order
                    rate = await self._rate(uow, obligation.currency)
                    if rate is not None:
                        await self._record(uow, order_id, obligation, rate)
                        recorded += 1
            await uow.commit()
        return recorded

    async def _record(self, uow: UnitOfWork, order_id: int, obligation: Obligation, rate: Decimal) -> None:
        await uow.orders.save_obligation(replace(obligation, rate_at_payment=rate))
        detail: dict[str, object] = {"payee": obligation.payee, "currency": obligation.currency, "rate": str(rate)}
        await uow.orders.add_events(order_id, [OrderEvent(self._clock.now(), "fx_rate_recorded", detail)])

    async def check_due(self, limit: int = 100) -> int:
        """Scheduled: keep rates fresh while any foreign-currency obligation is open, and compare
        every due one with the fresh rate; returns how many were looked at. A shop with no such
        obligations never calls the bank."""
        async with self._uow(read_only=True) as uow:
            watched = await uow.orders.watched_currencies()
        if not watched:
            return 0
        await self.refresh()  # a failed fetch leaves the last good rate in place
        await self.record_awaited(limit)
        async with self._uow() as uow:
            due = await uow.orders.obligations_due(self._clock.now(), limit)
            for order_id, obligation in due:
                await self._check(uow, order_id, obligation)
            await uow.commit()
        return len(due)

    async def _check(self, uow: UnitOfWork, order_id: int, obligation: Obligation) -> None:
        now = self._clock.now()
        paid = obligation.rate_at_payment
        current = await self._rate(uow, obligation.currency)
        assert paid is not None
        if current is None:
            return  # no rate at all yet: stays pending, the feed alert is already out
        moved = deviation(paid, current)
        shown = moved.quantize(Decimal("0.0001"))
        detail: dict[str, object] = {
            "obligation_id": obligation.id, "payee": obligation.payee, "currency": obligation.currency,
            "amount": str(obligation.amount), "rate_at_payment": str(paid), "rate_now": str(current),
            "deviation": str(shown),
        }  # fmt: skip
        if moved <= self._threshold:
            await uow.orders.save_obligation(replace(obligation, state=ObligationState.RELEASED, rate_at_due=current))
            await uow.orders.add_events(order_id, [OrderEvent(now, "obligation_released", detail)])
            return
        await uow.orders.save_obligation(replace(obligation, state=ObligationState.HELD, rate_at_due=current))
        order = await uow.orders.get(order_id)
        assert order is not None
        assert obligation.id is not None
        approval = FxApproval(
            order_id, order.external_id, obligation.id, obligation.payee, obligation.currency, obligation.amount,
            paid, current, shown, difference_rub(obligation, current),
        )  # fmt: skip
        await self._ask(uow, approval, Assignee.MANAGERS)
        await uow.orders.add_events(order_id, [OrderEvent(now, "obligation_held", detail)])

    async def _ask(self, uow: UnitOfWork, approval: FxApproval, who: str) -> Task:
        now = self._clock.now()
        task = Task(
            None, KIND, f"order:{approval.order_id}:obligation:{approval.obligation_id}", who, OPTIONS,
            now + self._answer_within, now, payload=approval.to_payload(),
        )  # fmt: skip
        return await self._board.open_for_office(uow, task)

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        return await answer_with(self._board, task_id, option, by, self._decided)

    async def _decided(self, uow: UnitOfWork, task: Task, option: str, by: str) -> None:
        now = self._clock.now()
        approval = FxApproval.from_payload(task.payload)
        order_id, obligation_id = approval.order_id, approval.obligation_id
        order = await uow.orders.get(order_id)
        assert order is not None
        obligation = next(o for o in order.obligations if o.id == obligation_id)
        if option == "absorb":
            changed = replace(obligation, state=ObligationState.RELEASED)
        elif option == "topup":
            topup = max(Decimal(0), approval.difference_rub)
            changed = replace(obligation, state=ObligationState.TOPUP, topup_rub=topup)
        else:
            changed = replace(obligation, state=ObligationState.PENDING, due_at=now + self._postpone_for)
        await uow.orders.save_obligation(changed)
        detail = {"obligation_id": obligation_id, "decision": option, "by": by}
        if changed.topup_rub is not None:
            detail["topup_rub"] = str(changed.topup_rub)
        await uow.orders.add_events(order_id, [OrderEvent(now, "fx_decision", detail)])
        await notify_closed(uow, task, now)

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """No manager decided in time: the owner decides (the payment stays held meanwhile)."""
        now = self._clock.now()
        if not await expire(uow, task, deadline, now):
            return
        await notify_closed(uow, task, now)
        if task.assignee == Assignee.OWNER:
            return  # the owner's own question ran out: it stays held and listed in /tasks
        approval = FxApproval.from_payload(task.payload)
        await self._ask(uow, replace(approval, escalated=True), Assignee.OWNER)
        key = f"{TASK_ESCALATED}:{task.id}"
        detail: dict[str, object] = {"task_kind": KIND.value, "order_id": approval.order_id}
        await self._alerts.raise_alert(uow, key, TASK_ESCALATED, detail)

    async def _fresh_rate(self, uow: UnitOfWork, currency: str, now: datetime) -> Decimal | None:
        if currency.upper() == "RUB":
            return Decimal(1)
        return await uow.fx.latest_fetched_since(currency.upper(), now - self._fresh_for)

    async def _rate(self, uow: UnitOfWork, currency: str) -> Decimal | None:
        if currency.upper() == "RUB":
            return Decimal(1)
        found = await uow.fx.latest(currency.upper())
        return None if found is None else found[1]
